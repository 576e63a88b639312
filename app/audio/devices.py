"""Sound devices through sounddevice (PortAudio): listing, the microphone, the speaker.

sounddevice is imported lazily, so the app opens without PortAudio (the Linux wheel does not
bundle it: ``import sounddevice`` raises ``OSError: PortAudio library not found``). Every
problem becomes an ``AudioStatus`` with a one-line fix the UI shows as a banner.

The input callback copies each block into a queue, counts overflows and returns (docs/design.md
rule 2, python-sounddevice's examples); the drain runs on another thread (app.session.live).
"""

from __future__ import annotations

import queue
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from app.audio.mixer import Mixer
from app.audio.supervisor import StreamSpec, started_supervisor, supervisor_for

FloatArray = npt.NDArray[np.float32]

PORTAUDIO_FIX = (
    "install PortAudio: libportaudio2 (Debian/Ubuntu: sudo apt install libportaudio2), "
    "portaudio (Fedora: sudo dnf install portaudio; macOS: brew install portaudio)"
)
NO_DEVICE_FIX = (
    "start a sound server (PulseAudio or PipeWire; on Debian/Ubuntu also install "
    "libasound2-plugins) or plug in a headset, then restart CallSim"
)
FILE_INPUT_HINT = "Meanwhile you can use a WAV file as the microphone."

# PortAudio's "high" latency (typically 100-200 ms of buffering) lets the input stream ride
# out GIL pauses of a busy GUI without overflowing; the engine counts samples, so latency only
# delays what the UI shows, never when an ending happens.
INPUT_LATENCY = "high"
OUTPUT_LATENCY = "high"  # same reasoning: a busy GUI must not starve the speaker
# The speaker's callback runs Python (the mixer) once per block: PortAudio's own choice on
# PulseAudio is ~9 ms, 115 wake-ups a second and a quarter of an idle desktop call's CPU (README
# "Live latency and idle CPU"). 40 ms blocks are a sixth of the "high" buffering above, so what
# the caller hears starts no more than one block later.
OUTPUT_BLOCK_S = 0.04


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """One PortAudio device as listed to the user."""

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_rate_hz: int

    @property
    def label(self) -> str:
        """Name shown in the device pickers."""
        return f"{self.name} ({self.hostapi})"


@dataclass(frozen=True, slots=True)
class AudioStatus:
    """Whether live audio works here; if not, what is wrong and how to fix it."""

    available: bool
    problem: str = ""
    fix: str = ""
    inputs: tuple[DeviceInfo, ...] = field(default_factory=tuple)
    outputs: tuple[DeviceInfo, ...] = field(default_factory=tuple)
    default_input: int | None = None
    default_output: int | None = None
    portaudio_version: str = ""

    @property
    def banner(self) -> str:
        """The sentence the UI shows when live audio is not available."""
        if self.available:
            return ""
        return f"No live audio: {self.problem}. Fix: {self.fix}. {FILE_INPUT_HINT}"


class AudioUnavailableError(Exception):
    """sounddevice cannot be used; ``status`` says why and how to fix it."""

    def __init__(self, status: AudioStatus) -> None:
        super().__init__(status.banner)
        self.status = status


def _import_sounddevice() -> ModuleType:
    import sounddevice

    module: ModuleType = sounddevice
    return module


def load_sounddevice(importer: Callable[[], ModuleType] | None = None) -> ModuleType:
    """Import sounddevice, turning a missing PortAudio into AudioUnavailableError."""
    try:
        return (importer or _import_sounddevice)()
    except OSError as exc:
        # sounddevice raises OSError("PortAudio library not found") when libportaudio is absent.
        problem = str(exc) or "PortAudio library not found"
        raise AudioUnavailableError(AudioStatus(False, problem, PORTAUDIO_FIX)) from exc
    except ImportError as exc:
        problem = f"the sounddevice package is missing ({exc})"
        fix = "reinstall CallSim's dependencies (uv sync)"
        raise AudioUnavailableError(AudioStatus(False, problem, fix)) from exc


def probe_audio(importer: Callable[[], ModuleType] | None = None) -> AudioStatus:
    """List devices; never raises: a missing library or device is a status with a fix."""
    try:
        sd = load_sounddevice(importer)
    except AudioUnavailableError as exc:
        return exc.status

    def listing(sd: ModuleType) -> tuple[list[Any], list[str], str, tuple[int | None, int | None]]:
        raw = list(sd.query_devices())
        hostapis = [h["name"] for h in sd.query_hostapis()]
        return raw, hostapis, str(sd.get_portaudio_version()[1]), _defaults(sd)

    supervisor = started_supervisor(sd)
    try:
        # Through the supervisor once it runs: it may be re-initialising PortAudio right now.
        raw, hostapis, version, defaults = (
            supervisor.call(listing) if supervisor is not None else listing(sd)
        )
    except Exception as exc:  # PortAudioError and friends: report, do not crash the GUI
        return AudioStatus(False, f"PortAudio failed to list devices ({exc})", NO_DEVICE_FIX)
    devices = [
        DeviceInfo(
            index=int(d["index"]) if "index" in d else i,
            name=str(d["name"]),
            hostapi=hostapis[int(d["hostapi"])] if int(d["hostapi"]) < len(hostapis) else "",
            max_input_channels=int(d["max_input_channels"]),
            max_output_channels=int(d["max_output_channels"]),
            default_rate_hz=int(d["default_samplerate"]),
        )
        for i, d in enumerate(raw)
    ]
    inputs = tuple(d for d in devices if d.max_input_channels > 0)
    outputs = tuple(d for d in devices if d.max_output_channels > 0)
    if not inputs and not outputs:
        return AudioStatus(
            False, "no audio devices found", NO_DEVICE_FIX, portaudio_version=version
        )
    default_in, default_out = defaults
    return AudioStatus(
        True,
        "" if inputs else "no microphone found",
        "" if inputs else NO_DEVICE_FIX,
        inputs,
        outputs,
        default_in if any(d.index == default_in for d in inputs) else None,
        default_out if any(d.index == default_out for d in outputs) else None,
        version,
    )


def _defaults(sd: ModuleType) -> tuple[int | None, int | None]:
    try:
        pair = list(sd.default.device)
    except Exception:
        return None, None
    values: list[int | None] = []
    for item in pair[:2]:
        values.append(int(item) if isinstance(item, int | np.integer) and item >= 0 else None)
    while len(values) < 2:
        values.append(None)
    return values[0], values[1]


class InputDevice(Protocol):
    """A microphone: blocks of (frames, channels) float32 at ``rate_hz`` come out of ``read``."""

    name: str
    rate_hz: int
    channels: int

    @property
    def overflows(self) -> int:
        """Input overflows (lost audio) reported by the device so far."""
        ...

    def start(self) -> None:
        """Start capturing."""
        ...

    def stop(self) -> None:
        """Stop capturing (idempotent)."""
        ...

    def read(self, timeout_s: float) -> FloatArray | None:
        """The next captured block, or None if none came within ``timeout_s``."""
        ...


class OutputDevice(Protocol):
    """A speaker that plays whatever its mixer renders."""

    name: str
    mixer: Mixer

    def start(self) -> None:
        """Start playing."""
        ...

    def stop(self) -> None:
        """Stop playing (idempotent)."""
        ...


def _resolve(
    sd: ModuleType, device: int | str | DeviceInfo | None, role: str
) -> tuple[str, str, int]:
    """(name, host API, default rate) of ``device`` as PortAudio lists it now."""
    if isinstance(device, DeviceInfo):
        return device.name, device.hostapi, device.default_rate_hz
    info = sd.query_devices(device, role)
    hostapis = [h["name"] for h in sd.query_hostapis()]
    api = int(info["hostapi"])
    return (
        str(info["name"]),
        hostapis[api] if api < len(hostapis) else "",
        int(info["default_samplerate"]),
    )


class SoundDeviceInput:
    """The real microphone: a sounddevice InputStream whose callback only copies.

    The stream is opened by the audio supervisor (app.audio.supervisor), which re-opens it
    when its device or sound server comes back; the device is kept by name, so ``device`` may
    be a ``DeviceInfo`` from ``probe_audio``, a name, an index (as listed now) or None.
    """

    def __init__(
        self,
        device: int | str | DeviceInfo | None = None,
        *,
        rate_hz: int | None = None,
        channels: int = 1,
        block_frames: int = 0,
        importer: Callable[[], ModuleType] | None = None,
    ) -> None:
        self._sd = load_sounddevice(importer)
        self._supervisor = supervisor_for(self._sd)
        name, hostapi, default_rate_hz = self._supervisor.call(
            lambda sd: _resolve(sd, device, "input")
        )
        self.name = name
        self.hostapi = hostapi
        self.rate_hz = int(rate_hz or default_rate_hz)
        self.channels = channels
        self._block_frames = block_frames
        self._queue: queue.SimpleQueue[FloatArray] = queue.SimpleQueue()
        self._overflows = 0
        self._latency_s: float | None = None
        self._stream_id: int | None = None

    @property
    def overflows(self) -> int:
        """Input overflows counted in the callback."""
        return self._overflows

    @property
    def latency_s(self) -> float | None:
        """Measured input latency: the age of a block's oldest sample when it was handed over.

        From PortAudio's timestamps in the last callback (now − the first sample's capture
        time), and at least the block's own length where the host API reports no capture time
        (ALSA through PulseAudio often does not). None before the first block.
        """
        return self._latency_s

    def _callback(self, indata: FloatArray, frames: int, time: Any, status: Any) -> None:
        # Audio thread: copy, count, return. Nothing else (docs/design.md rule 2); the latency is
        # two float reads and one attribute write, no allocation, no lock.
        if status.input_overflow:
            self._overflows += 1
        self._queue.put(indata.copy())
        self._latency_s = max(time.currentTime - time.inputBufferAdcTime, frames / self.rate_hz)

    def start(self) -> None:
        """Open and start the stream (through the supervisor)."""
        if self._stream_id is not None:
            return
        spec = StreamSpec(
            "input",
            self.name,
            self.hostapi,
            self.rate_hz,
            self.channels,
            self._block_frames,
            INPUT_LATENCY,
            self._callback,
        )
        self._stream_id = self._supervisor.open(spec)

    def switch_to(self, name: str) -> None:
        """Capture from the device called ``name`` from now on (same rate and channels)."""
        if self._stream_id is None:
            raise RuntimeError("the microphone is not started")
        self._supervisor.switch(self._stream_id, name)
        self.name = name

    def stop(self) -> None:
        """Stop and close the stream."""
        stream_id, self._stream_id = self._stream_id, None
        if stream_id is not None:
            self._supervisor.close(stream_id)

    def read(self, timeout_s: float) -> FloatArray | None:
        """The next block the callback copied, or None after ``timeout_s``."""
        try:
            return self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return None


class SoundDeviceOutput:
    """The real speaker: a sounddevice OutputStream whose callback renders the mixer.

    Opened, re-opened after a loss, and switched by the audio supervisor, like the microphone.
    """

    def __init__(
        self,
        device: int | str | DeviceInfo | None = None,
        *,
        rate_hz: int | None = None,
        importer: Callable[[], ModuleType] | None = None,
    ) -> None:
        self._sd = load_sounddevice(importer)
        self._supervisor = supervisor_for(self._sd)
        name, hostapi, default_rate_hz = self._supervisor.call(
            lambda sd: _resolve(sd, device, "output")
        )
        self.name = name
        self.hostapi = hostapi
        self.mixer = Mixer(int(rate_hz or default_rate_hz))
        self._stream_id: int | None = None
        self.underflows = 0

    def _callback(self, outdata: FloatArray, frames: int, time: Any, status: Any) -> None:
        # Audio thread: copy the mixer's next slice out and return.
        if status.output_underflow:
            self.underflows += 1
        outdata[:, 0] = self.mixer.render(frames)

    def start(self) -> None:
        """Open and start the stream (through the supervisor)."""
        if self._stream_id is not None:
            return
        spec = StreamSpec(
            "output",
            self.name,
            self.hostapi,
            self.mixer.rate_hz,
            1,
            round(self.mixer.rate_hz * OUTPUT_BLOCK_S),
            OUTPUT_LATENCY,
            self._callback,
        )
        self._stream_id = self._supervisor.open(spec)

    def switch_to(self, name: str) -> None:
        """Play on the device called ``name`` from now on (same mixer, same rate)."""
        if self._stream_id is None:
            raise RuntimeError("the speaker is not started")
        self._supervisor.switch(self._stream_id, name)
        self.name = name

    def stop(self) -> None:
        """Stop and close the stream."""
        stream_id, self._stream_id = self._stream_id, None
        if stream_id is not None:
            self._supervisor.close(stream_id)


def sounddevice_imported() -> bool:
    """True once sounddevice is imported (a sound server started later is not seen)."""
    return "sounddevice" in sys.modules
