"""A captured answer (take): where its WAV is, how long, how it ended. No Qt."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.audio.wav import AudioFileError, read_engine_audio
from app.core.clock import ENGINE_RATE_HZ

FloatArray = npt.NDArray[np.float32]


@dataclass
class Take:
    """One recording: where it is, how long, how it ended."""

    operation_id: str
    path: Path
    samples: int
    delivered: bool
    ended_words: str = ""
    code: str = ""
    audio: FloatArray | None = field(default=None, repr=False)

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.samples / ENGINE_RATE_HZ

    def title(self) -> str:
        """The list's line for this take."""
        kept = "" if self.delivered else "  (not delivered)"
        words = f" — {self.ended_words}" if self.ended_words else ""
        return f"{self.duration_s:5.2f} s{words}  [{self.code}]{kept}"

    def load(self) -> FloatArray:
        """The take's samples (read once from its WAV)."""
        if self.audio is None:
            try:
                self.audio = read_engine_audio(self.path)
            except AudioFileError:
                self.audio = np.zeros(0, dtype=np.float32)
        return self.audio
