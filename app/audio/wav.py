"""WAV reading and the streaming recording writer (PCM16 mono 16 kHz, docs/graph-contract.md §7)."""

from __future__ import annotations

import logging
import os
import threading
import wave
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
import numpy.typing as npt
import soundfile as sf

from app.core import events as ev
from app.core.clock import ENGINE_RATE_HZ
from app.core.dsp.resample import StreamResampler, resample_all

if TYPE_CHECKING:  # the host imports the engine's whole stack: not needed to read WAVs
    from app.engine.host import EngineHost

FloatArray = npt.NDArray[np.float32]

log = logging.getLogger(__name__)


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


class EngineAudioReader:
    """Reads a file block by block as 16 kHz mono float32: flat memory for clips of any length.

    The samples are those of ``read_engine_audio`` to the bit: the same float32 decoding, the
    same channel mean, and soxr's streaming resampler gives what its one-shot call gives
    (checked for 8, 16, 44.1 and 48 kHz in tests/audio). The file is opened here, so a missing or
    unreadable file fails at once with the same message as ``read_audio``.
    """

    # Input frames decoded per ``read``: 64 Ki frames is 1.4-4 s of audio, large enough that
    # per-call overhead does not show, small enough to keep memory flat.
    READ_FRAMES = 65_536

    def __init__(self, path: Path, read_frames: int = READ_FRAMES) -> None:
        if not path.is_file():
            raise AudioFileError(f"{path}: no such file")
        try:
            self._file: sf.SoundFile | None = sf.SoundFile(str(path))
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise AudioFileError(f"{path}: not a readable audio file ({exc})") from exc
        self.path = path
        self.rate_hz = int(self._file.samplerate)
        self._read_frames = read_frames
        self._resampler = StreamResampler(self.rate_hz)
        self.ended = False

    def read(self) -> FloatArray:
        """The next engine-rate samples (possibly none); ``ended`` is set after the last ones."""
        if self._file is None:
            return np.zeros(0, dtype=np.float32)
        try:
            data = self._file.read(self._read_frames, dtype="float32", always_2d=False)
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            self.close()
            raise AudioFileError(f"{self.path}: not a readable audio file ({exc})") from exc
        if len(data):
            return self._resampler.process(data)
        self.close()
        return self._resampler.flush()

    def close(self) -> None:
        """Release the file (also done when its end is read)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self.ended = True


def write_wav(path: Path, samples: FloatArray, rate_hz: int = ENGINE_RATE_HZ) -> None:
    """Write mono float samples as PCM16 WAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), samples, rate_hz, subtype="PCM_16", format="WAV")


class GrowingWav:
    """One PCM16 mono WAV at the engine rate that grows block by block, complete after each.

    ``append`` writes the block, then patches the RIFF and data chunk sizes in the header (the
    standard library's ``wave`` does both in ``writeframes``) and hands the bytes to the OS: a
    killed process leaves a file every WAV reader opens (the page cache survives it). An fsync
    per block would guard against power loss only, at about 0.2 s per 120 s of 100 ms blocks
    (measured with strace), so the file is fsync'ed once, on ``close``. Not thread-safe: the
    owner serialises ``append``, ``read`` and ``close``.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.frames = 0
        self._file: BinaryIO = path.open("wb")
        # Both stay open until ``close``: no context manager fits.
        self._wave = wave.open(self._file, "wb")  # noqa: SIM115
        self._wave.setnchannels(1)
        self._wave.setsampwidth(2)
        self._wave.setframerate(ENGINE_RATE_HZ)

    def append(self, pcm16: bytes) -> None:
        """Append little-endian PCM16 samples; the file on disk is a complete WAV afterwards."""
        self._wave.writeframes(pcm16)  # appends, then patches the two sizes
        self._file.flush()
        self.frames += len(pcm16) // 2

    def read(self, start: int, stop: int) -> npt.NDArray[np.int16]:
        """Samples ``start:stop`` as written so far, read back from the file (not kept here)."""
        stop = min(stop, self.frames)
        if stop <= start:
            return np.zeros(0, dtype=np.int16)
        with wave.open(str(self.path), "rb") as r:
            r.setpos(start)
            return np.frombuffer(r.readframes(stop - start), dtype="<i2").astype(np.int16)

    def finish(self) -> None:
        """Finish the header (an empty file gets its 44 bytes here) and hand it to the OS: the
        file is complete for every reader from now on; only the fsync is left for ``close``."""
        if not self._file.closed:
            self._wave.close()  # flushes; leaves the file open, as wave did not open it

    def close(self) -> None:
        """``finish``, fsync once, close."""
        if self._file.closed:
            return
        self.finish()
        os.fsync(self._file.fileno())
        self._file.close()


class RecordingWriter:
    """Writes every recording of a call to ``directory/<operation id>.wav`` as it is captured.

    Fed with engine events (only RecordingChunk / RecordingFinished matter). Each recording is
    a ``GrowingWav``: after every chunk the file on disk is a complete WAV, so a crash loses only
    the audio not yet committed (docs/design.md §3). The bytes are those soundfile wrote (a
    44-byte PCM header; tests/audio checks).
    Thread-safe: the engine thread writes, and any thread may ``close`` (the app quitting).

    A finished take's header is finished on the thread that handles the events, before the
    listeners after this one see ``RecordingFinished``: from then on the file is complete for
    every reader (it is in the page cache), so it may be announced at once. With a ``closer``
    (one thread, first in first out) its fsync and close happen there instead: an fsync takes
    about 1.4 ms on a quiet disk and over 100 ms on a busy one, which on the local endpoint's
    one engine worker made 100 calls ending together wait for each other's disks (README "Local
    Graph endpoint"). The fsync guards against power loss only, which the announcement does not
    need to wait for: the bot downloads the file from this process.
    """

    def __init__(self, directory: Path, *, closer: Executor | None = None) -> None:
        self.directory = directory
        self._open: dict[str, GrowingWav] = {}
        self.finished: dict[str, Path] = {}
        self._lock = threading.Lock()
        self._closer = closer

    def path_for(self, operation_id: str) -> Path:
        """Where the recording of ``operation_id`` is (or will be) written."""
        return self.directory / f"{operation_id}.wav"

    def handle(self, event: ev.Event) -> None:
        """Write a chunk, or close a finished recording; ignore other events."""
        if isinstance(event, ev.RecordingChunk):
            with self._lock:
                entry = self._open.get(event.operation_id)
                if entry is None:
                    entry = self._open[event.operation_id] = self._create(event.operation_id)
                entry.append(event.pcm16)
        elif isinstance(event, ev.RecordingFinished):
            with self._lock:
                entry = self._open.pop(event.operation_id, None)
                if entry is None and event.total_samples == 0:
                    # Nothing was captured: still leave a valid, empty WAV for the bot to fetch.
                    entry = self._create(event.operation_id)
                if entry is not None:
                    entry.finish()  # complete for readers before anyone announces it
                    if self._closer is None:
                        entry.close()
                    else:  # out of the lock's dict already: only the closer touches it now
                        try:
                            self._closer.submit(_close_logged, entry)
                        except RuntimeError:  # the closer was shut down (stopping): close here
                            entry.close()
                self.finished[event.operation_id] = self.path_for(event.operation_id)

    def close(self) -> None:
        """Close any recording still open (e.g. the app is quitting mid-take)."""
        with self._lock:
            for entry in self._open.values():
                entry.close()
            self._open.clear()

    def _create(self, operation_id: str) -> GrowingWav:
        return GrowingWav(self.path_for(operation_id))


def _close_logged(wav: GrowingWav) -> None:
    """Close ``wav`` on a closer thread, where nobody awaits the result: a failure is logged."""
    try:
        wav.close()
    except OSError:
        log.exception("closing the recording %s failed", wav.path)


def attach_recording_writer(
    host: EngineHost, directory: Path, *, closer: Executor | None = None
) -> RecordingWriter:
    """Write the host's recordings into ``directory`` as they are captured (engine thread);
    finished takes are closed on ``closer`` if given (``RecordingWriter``)."""
    writer = RecordingWriter(directory, closer=closer)
    host.add_listener(writer.handle)
    return writer
