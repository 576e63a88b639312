"""What the caller hears: a small mixer shared by the real speaker and the fake one.

Clips (prompt, beep, keypad tones, replayed takes) are resampled to the output rate on the
thread that queues them; the output callback only sums the pending slices into its buffer
and returns (docs/design.md rule 2), holding the lock for microseconds.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.core.dsp.resample import resample_all, to_mono_float32

FloatArray = npt.NDArray[np.float32]


@dataclass(slots=True)
class _Clip:
    tag: str
    samples: FloatArray
    position: int = 0


class Mixer:
    """Sums queued mono clips at ``rate_hz``; ``render`` is called by the output device."""

    def __init__(self, rate_hz: int) -> None:
        self.rate_hz = rate_hz
        self._clips: list[_Clip] = []
        self._lock = threading.Lock()
        self._progress: dict[str, tuple[int, int]] = {}
        self.rendered_frames = 0

    def play(self, samples: npt.ArrayLike, rate_hz: int, tag: str, *, gain: float = 1.0) -> None:
        """Queue ``samples`` (any rate) to start now; a clip with the same tag is replaced."""
        x = resample_all(to_mono_float32(samples), rate_hz, self.rate_hz)
        if gain != 1.0:
            x = x * np.float32(gain)
        clip = _Clip(tag, np.ascontiguousarray(x, dtype=np.float32))
        with self._lock:
            self._clips = [c for c in self._clips if c.tag != tag]
            self._clips.append(clip)
            self._progress[tag] = (0, len(clip.samples))

    def stop(self, tag: str | None = None) -> None:
        """Stop the clip called ``tag`` (every clip when None)."""
        with self._lock:
            if tag is None:
                self._clips = []
            else:
                self._clips = [c for c in self._clips if c.tag != tag]

    def playing(self, tag: str) -> bool:
        """True while the clip called ``tag`` still has samples to play."""
        with self._lock:
            return any(c.tag == tag for c in self._clips)

    def progress(self, tag: str) -> tuple[int, int] | None:
        """(frames played, total frames) of the last clip called ``tag``, or None."""
        with self._lock:
            return self._progress.get(tag)

    def render(self, n_frames: int) -> FloatArray:
        """The next ``n_frames`` of output (audio thread: no allocation beyond the result)."""
        out = np.zeros(n_frames, dtype=np.float32)
        with self._lock:
            keep: list[_Clip] = []
            for clip in self._clips:
                take = min(n_frames, len(clip.samples) - clip.position)
                if take > 0:
                    out[:take] += clip.samples[clip.position : clip.position + take]
                    clip.position += take
                self._progress[clip.tag] = (clip.position, len(clip.samples))
                if clip.position < len(clip.samples):
                    keep.append(clip)
            self._clips = keep
            self.rendered_frames += n_frames
        np.clip(out, -1.0, 1.0, out=out)
        return out
