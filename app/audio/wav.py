"""WAV reading and the streaming recording writer (PCM16 mono 16 kHz, graph-spec.md §7)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

from app.core import events as ev
from app.core.clock import ENGINE_RATE_HZ
from app.core.dsp.resample import resample_all

FloatArray = npt.NDArray[np.float32]


class AudioFileError(Exception):
    """A WAV (or other audio file) could not be read; the message names the file and why."""


def read_audio(path: Path) -> tuple[FloatArray, int]:
    """Read any soundfile-readable file as float32 (frames[, channels]) and its rate."""
    if not path.is_file():
        raise AudioFileError(f"{path}: no such file")
    try:
        data, rate_hz = sf.read(str(path), dtype="float32", always_2d=False)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioFileError(f"{path}: not a readable audio file ({exc})") from exc
    return np.asarray(data, dtype=np.float32), int(rate_hz)


def read_engine_audio(path: Path) -> FloatArray:
    """Read a file and convert it to the engine's 16 kHz mono float32."""
    data, rate_hz = read_audio(path)
    return resample_all(data, rate_hz)


def write_wav(path: Path, samples: FloatArray, rate_hz: int = ENGINE_RATE_HZ) -> None:
    """Write mono float samples as PCM16 WAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), samples, rate_hz, subtype="PCM_16", format="WAV")


class RecordingWriter:
    """Writes every recording of a call to ``directory/<operation id>.wav`` as it is captured.

    Fed with engine events (only RecordingChunk / RecordingFinished matter). Each chunk is
    flushed, which rewrites the WAV header, so a crash loses at most the chunk in flight
    (DESIGN.md §3). Not thread-safe by itself: call ``handle`` from one thread.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._open: dict[str, sf.SoundFile] = {}
        self.finished: dict[str, Path] = {}
        self._lock = threading.Lock()

    def path_for(self, operation_id: str) -> Path:
        """Where the recording of ``operation_id`` is (or will be) written."""
        return self.directory / f"{operation_id}.wav"

    def handle(self, event: ev.Event) -> None:
        """Write a chunk, or close a finished recording; ignore other events."""
        if isinstance(event, ev.RecordingChunk):
            with self._lock:
                f = self._open.get(event.operation_id)
                if f is None:
                    self.directory.mkdir(parents=True, exist_ok=True)
                    f = sf.SoundFile(
                        str(self.path_for(event.operation_id)),
                        mode="w",
                        samplerate=ENGINE_RATE_HZ,
                        channels=1,
                        subtype="PCM_16",
                        format="WAV",
                    )
                    self._open[event.operation_id] = f
                f.buffer_write(event.pcm16, dtype="int16")
                f.flush()
        elif isinstance(event, ev.RecordingFinished):
            with self._lock:
                f = self._open.pop(event.operation_id, None)
                if f is None and event.total_samples == 0:
                    # Nothing was captured: still leave a valid, empty WAV for the bot to fetch.
                    self.directory.mkdir(parents=True, exist_ok=True)
                    write_wav(self.path_for(event.operation_id), np.zeros(0, dtype=np.float32))
                elif f is not None:
                    f.close()
                self.finished[event.operation_id] = self.path_for(event.operation_id)

    def close(self) -> None:
        """Close any recording still open (e.g. the app is quitting mid-take)."""
        with self._lock:
            for f in self._open.values():
                f.close()
            self._open.clear()
