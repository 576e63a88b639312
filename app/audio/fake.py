"""File-backed stand-ins for the microphone and the speaker, with the real devices' interface.

``FileInputDevice`` plays a WAV (or an array, or nothing = silence) as the microphone: blocks
come out of ``read`` exactly as from ``SoundDeviceInput``. It runs either in real time (a
pacing thread, for the GUI's "WAV file as microphone" input) or manually (``pump``), so a
test decides exactly how much audio exists. After the track ends the microphone stays open
and delivers silence, like a muted real one.

``FakeOutputDevice`` renders its mixer in real time or on ``pump`` and can keep what it
played, so a test can check that the prompt reached the "speaker".
"""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.audio.mixer import Mixer
from app.audio.wav import read_audio
from app.core.clock import ENGINE_RATE_HZ

FloatArray = npt.NDArray[np.float32]

# 20 ms blocks: what a PortAudio stream with blocksize=0 typically delivers on PulseAudio.
DEFAULT_BLOCK_S = 0.02


class _Paced:
    """Start and stop of the wall-clock thread that runs a fake device in real-time mode."""

    _thread_name = "fake-device"

    def _init_pacing(self, realtime: bool) -> None:
        self.realtime = realtime
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the pacing thread (real-time mode only; otherwise ``pump`` drives it)."""
        if not self.realtime or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self._thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the pacing thread."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(2.0)

    def _run(self) -> None:
        raise NotImplementedError


class FileInputDevice(_Paced):
    """A microphone that plays a track (then silence); real-time or pumped by hand."""

    _thread_name = "file-microphone"

    def __init__(
        self,
        source: Path | npt.ArrayLike | None = None,
        *,
        rate_hz: int | None = None,
        block_frames: int | None = None,
        realtime: bool = True,
        loop: bool = False,
        name: str | None = None,
    ) -> None:
        if source is None:
            track = np.zeros((0, 1), dtype=np.float32)
            self.rate_hz = rate_hz or ENGINE_RATE_HZ
            self.name = name or "Silence"
        elif isinstance(source, Path | str):
            data, file_rate_hz = read_audio(Path(source))
            track = data if data.ndim == 2 else data[:, None]
            self.rate_hz = file_rate_hz
            self.name = name or f"File: {Path(source).name}"
        else:
            arr = np.asarray(source, dtype=np.float32)
            track = arr if arr.ndim == 2 else arr[:, None]
            self.rate_hz = rate_hz or ENGINE_RATE_HZ
            self.name = name or "Array"
        self.track: FloatArray = np.ascontiguousarray(track, dtype=np.float32)
        self.channels = int(self.track.shape[1]) if self.track.ndim == 2 else 1
        self.block_frames = block_frames or max(1, round(self.rate_hz * DEFAULT_BLOCK_S))
        self._init_pacing(realtime)
        self.loop = loop
        self.position = 0  # frames delivered so far (the device's clock)
        # Where in the track the next frame comes from: it stands still while paused and goes
        # back to 0 on restart, while ``position`` (the clock) keeps counting.
        self.track_position = 0
        self.paused = False
        self._queue: queue.SimpleQueue[FloatArray] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._held = False

    @property
    def overflows(self) -> int:
        """A file never overflows."""
        return 0

    @property
    def track_frames(self) -> int:
        """Length of the track in frames (0 for silence)."""
        return int(self.track.shape[0])

    @property
    def finished(self) -> bool:
        """True once the whole track has been delivered (never when looping)."""
        return not self.loop and self.track_position >= self.track_frames

    def set_paused(self, paused: bool) -> None:
        """Pause the track (silence is delivered meanwhile: the device keeps time) or resume."""
        with self._lock:
            self.paused = paused

    def restart(self) -> None:
        """Play the track again from its start."""
        with self._lock:
            self.track_position = 0

    def set_loop(self, loop: bool) -> None:
        """Loop the track (or play it once, then silence)."""
        with self._lock:
            self.loop = loop
            if loop and self.track_frames:
                self.track_position %= self.track_frames

    def _next(self, n: int) -> FloatArray:
        """The next ``n`` frames of the track (silence while paused); call with the lock held."""
        if self.paused:
            return np.zeros((n, self.channels), dtype=np.float32)
        out = self._frames(self.track_position, n)
        self.track_position += n
        if self.loop and self.track_frames:
            self.track_position %= self.track_frames
        return out

    def _frames(self, start: int, n: int) -> FloatArray:
        total = self.track_frames
        if total and self.loop:
            idx = (np.arange(start, start + n) % total).astype(np.int64)
            return self.track[idx]
        out = np.zeros((n, self.channels), dtype=np.float32)
        if start < total:
            part = self.track[start : start + n]
            out[: len(part)] = part
        return out

    def pump(self, n_frames: int) -> int:
        """Deliver ``n_frames`` more frames now, in blocks; returns frames delivered so far."""
        with self._lock:
            remaining = n_frames
            while remaining > 0:
                n = min(self.block_frames, remaining)
                self._queue.put(self._next(n))
                self.position += n
                remaining -= n
            return self.position

    def pump_seconds(self, seconds: float) -> int:
        """``pump`` by duration."""
        return self.pump(round(seconds * self.rate_hz))

    def hold(self) -> None:
        """Stop delivering, as an unplugged or hung device does, until ``release``.

        Real-time mode: nothing is captured meanwhile, so the track resumes where it stopped.
        """
        with self._lock:
            self._held = True

    def release(self) -> None:
        """Deliver again after ``hold``."""
        with self._lock:
            self._held = False

    def read(self, timeout_s: float) -> FloatArray | None:
        """The next block, or None after ``timeout_s``."""
        try:
            return self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def _run(self) -> None:
        # The wall clock paces the file like a sound card's crystal would; the engine still
        # counts samples, so a late wake-up only delivers a bigger batch.
        t0 = time.monotonic()
        start = self.position
        block_s = self.block_frames / self.rate_hz
        while not self._stop.is_set():
            with self._lock:
                if self._held:
                    # Re-anchor the clock: a held device captures nothing.
                    t0, start = time.monotonic(), self.position
                due = start + int((time.monotonic() - t0) * self.rate_hz)
                while self.position + self.block_frames <= due:
                    self._queue.put(self._next(self.block_frames))
                    self.position += self.block_frames
                # Sleep until the next block is due, not a fixed half block: each wake-up of a
                # Python thread costs CPU, and an idle desktop call is measured (README).
                wait_s = (self.position + self.block_frames - due) / self.rate_hz
            self._stop.wait(min(block_s, max(wait_s, 0.001)))


class FakeOutputDevice(_Paced):
    """A speaker that renders its mixer in real time or on ``pump``, optionally keeping it."""

    _thread_name = "fake-speaker"

    def __init__(
        self,
        rate_hz: int = ENGINE_RATE_HZ,
        *,
        realtime: bool = True,
        keep: bool = True,
        block_frames: int | None = None,
        name: str = "No output (silent)",
    ) -> None:
        self.name = name
        self.mixer = Mixer(rate_hz)
        self._init_pacing(realtime)
        self.keep = keep
        self.block_frames = block_frames or max(1, round(rate_hz * DEFAULT_BLOCK_S))
        self._played: list[FloatArray] = []
        self._lock = threading.Lock()

    def pump(self, n_frames: int) -> None:
        """Render ``n_frames`` now."""
        remaining = n_frames
        while remaining > 0:
            n = min(self.block_frames, remaining)
            block = self.mixer.render(n)
            if self.keep:
                with self._lock:
                    self._played.append(block)
            remaining -= n

    def played(self) -> FloatArray:
        """Everything rendered so far (if ``keep``), at the mixer's rate."""
        with self._lock:
            if not self._played:
                return np.zeros(0, dtype=np.float32)
            return np.concatenate(self._played)

    def _run(self) -> None:
        t0 = time.monotonic()
        done = 0
        rate = self.mixer.rate_hz
        while not self._stop.is_set():
            due = int((time.monotonic() - t0) * rate)
            if due - done >= self.block_frames:
                n = (due - done) // self.block_frames * self.block_frames
                self.pump(n)
                done += n
            # Until the next block is due (as FileInputDevice._run: one wake-up per block).
            wait_s = (done + self.block_frames - due) / rate
            self._stop.wait(min(self.block_frames / rate, max(wait_s, 0.001)))
