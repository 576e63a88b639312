"""One thread owns PortAudio: it opens, closes and re-opens every stream, and re-initialises.

Why a thread of its own: a device that disappears (headset unplugged, PulseAudio or PipeWire
restarted) ends its stream for good, and PortAudio lists devices only when it initialises. The
only way back is ``sd._terminate(); sd._initialize()`` (python-sounddevice issues #3 and #125:
the maintainer's recommended way, there is no public re-init), which closes EVERY open stream
and renumbers the devices. So nothing else may call PortAudio meanwhile, every stream must be
re-opened after it, and a device is known by its name, never its index. The audio callbacks and
the GUI thread must not wait on that, so they talk to this thread through queues of immutable
values (docs/architecture.md: threads hand immutable values through queues):

- a stream's ``finished_callback`` (PortAudio's thread) puts a ``_Command("lost", ...)``;
- the streams' owners (GUI, live session) put open/close/switch commands and wait on a Future;
- subscribers (the GUI) get ``DeviceEvent`` values: lost, retrying, reopened, switched, and
  closed (a lost stream its owner closed: it is not looked for any more).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any, Literal

Role = Literal["input", "output"]
State = Literal["lost", "retrying", "reopened", "switched", "closed"]

# How often a lost device is looked for again. A re-init costs ~40 ms here (measured on the
# virtual PulseAudio server), so trying twice a second brings a returning device back well
# within 2 s of its sound server coming up, at a negligible cost while it is away.
RETRY_INTERVAL_S = 0.5
# A re-init also closes the streams that still work (e.g. the speaker, when only a USB
# microphone went away), which costs them a ~50 ms gap each time; while some stream still
# works, re-initialise at most this often.
REINIT_WITH_HEALTHY_S = 2.0
# How long a caller waits for the supervisor to open or close a stream for it.
COMMAND_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """What happened to a managed stream's device (for the UI's banner)."""

    role: Role
    name: str
    state: State
    detail: str = ""
    attempts: int = 0  # recovery attempts so far (``retrying``, ``reopened``)


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """How to (re)open a stream: the device by name, never by index (indices change)."""

    role: Role
    name: str
    hostapi: str  # "" when any host API will do
    rate_hz: int
    channels: int
    block_frames: int
    latency: str
    callback: Callable[..., None] = field(compare=False)


@dataclass(frozen=True, slots=True)
class _Command:
    kind: Literal["open", "close", "switch", "lost", "call"]
    stream_id: int = 0
    arg: Any = None  # open: StreamSpec; switch: device name; lost: token; call: a function
    reply: Future[Any] | None = field(default=None, compare=False)


class _Managed:
    """A stream the owner wants open (supervisor thread only)."""

    def __init__(self, spec: StreamSpec) -> None:
        self.spec = spec
        self.stream: Any = None
        self.token = 0  # which opening of it a "lost" report is about
        self.attempts = 0


class StreamSupervisor:
    """The one thread that calls PortAudio for streams (one per process: PortAudio is global)."""

    def __init__(self, sd: ModuleType) -> None:
        self._sd = sd
        self._commands: queue.SimpleQueue[_Command] = queue.SimpleQueue()
        self._managed: dict[int, _Managed] = {}  # supervisor thread only
        self._next_id = 0
        self._id_lock = threading.Lock()
        self._subscribers: list[queue.SimpleQueue[DeviceEvent]] = []
        self._subscribers_lock = threading.Lock()
        self._last_reinit = -REINIT_WITH_HEALTHY_S
        self._next_retry = 0.0
        self.reinits = 0  # how many times PortAudio was re-initialised (for tests and logs)
        self._thread = threading.Thread(target=self._run, name="audio-supervisor", daemon=True)
        self._thread.start()

    # -- any thread -------------------------------------------------------------------------

    def subscribe(self) -> queue.SimpleQueue[DeviceEvent]:
        """A queue of every DeviceEvent from now on."""
        q: queue.SimpleQueue[DeviceEvent] = queue.SimpleQueue()
        with self._subscribers_lock:
            self._subscribers.append(q)
        return q

    def unsubscribe(self, q: queue.SimpleQueue[DeviceEvent]) -> None:
        """Stop sending events to ``q``."""
        with self._subscribers_lock:
            if q in self._subscribers:
                self._subscribers.remove(q)

    def call(self, fn: Callable[[ModuleType], Any], timeout_s: float = COMMAND_TIMEOUT_S) -> Any:
        """Run ``fn(sounddevice)`` on the supervisor thread (never during a re-init)."""
        return self._ask(_Command("call", 0, fn, Future()), timeout_s)

    def open(self, spec: StreamSpec) -> int:
        """Open and start a stream; its id. Raises what PortAudio raised."""
        with self._id_lock:
            self._next_id += 1
            stream_id = self._next_id
        self._ask(_Command("open", stream_id, spec, Future()))
        return stream_id

    def close(self, stream_id: int) -> None:
        """Stop and close a stream; it is not re-opened any more."""
        self._ask(_Command("close", stream_id, None, Future()))

    def switch(self, stream_id: int, name: str) -> None:
        """Move a stream to the device called ``name`` (same rate); raises if it cannot open."""
        self._ask(_Command("switch", stream_id, name, Future()))

    def lost(self, stream_id: int, token: int) -> None:
        """A stream ended by itself (PortAudio's thread: only queues the report)."""
        self._commands.put(_Command("lost", stream_id, token))

    def _ask(self, command: _Command, timeout_s: float = COMMAND_TIMEOUT_S) -> Any:
        assert command.reply is not None
        self._commands.put(command)
        return command.reply.result(timeout_s)

    # -- supervisor thread -----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            wait_s = max(0.0, self._next_retry - time.monotonic()) if self._lost() else None
            try:
                command = self._commands.get(timeout=wait_s)
            except queue.Empty:
                self._recover()
                continue
            reply = command.reply
            try:
                result = self._handle(command)
            except BaseException as exc:  # the caller gets it (PortAudioError, bad name)
                if reply is not None:
                    reply.set_exception(exc)
            else:
                if reply is not None:
                    reply.set_result(result)
            if self._lost() and time.monotonic() >= self._next_retry:
                self._recover()

    def _handle(self, command: _Command) -> Any:
        if command.kind == "call":
            return command.arg(self._sd)
        if command.kind == "open":
            managed = _Managed(command.arg)
            self._start(command.stream_id, managed)
            self._managed[command.stream_id] = managed
            return None
        found = self._managed.get(command.stream_id)
        if found is None:  # closed already
            return None
        managed = found
        if command.kind == "close":
            del self._managed[command.stream_id]
            was_lost = managed.stream is None
            self._close(managed)
            if was_lost:  # no longer looked for: the UI stops saying so
                self._publish(managed, "closed", "")
        elif command.kind == "lost":
            if command.arg == managed.token and managed.stream is not None:
                self._close(managed)
                self._next_retry = time.monotonic()  # the first retry at once
                self._publish(managed, "lost", "its stream ended (device or sound server gone)")
        elif command.kind == "switch":
            # Same rate and channels: the drain's resampler and the mixer stay as they are.
            new = replace(managed.spec, name=str(command.arg), hostapi="")
            old_stream, old_spec, old_token = managed.stream, managed.spec, managed.token
            managed.stream = None
            managed.spec = new
            try:
                # A new token: the old stream's finished callback is stale from here on.
                self._start(command.stream_id, managed)
            except BaseException:
                managed.spec, managed.stream, managed.token = old_spec, old_stream, old_token
                raise
            if old_stream is not None:
                self._close_stream(old_stream)
            self._publish(managed, "switched", f"from {old_spec.name}")
        return None

    def _lost(self) -> list[tuple[int, _Managed]]:
        return [(i, m) for i, m in self._managed.items() if m.stream is None]

    def _recover(self) -> None:
        """One attempt: re-initialise PortAudio if allowed, then re-open what is closed."""
        now = time.monotonic()
        self._next_retry = now + RETRY_INTERVAL_S
        lost = self._lost()
        if not lost:
            return
        healthy = [m for m in self._managed.values() if m.stream is not None]
        if not healthy or now - self._last_reinit >= REINIT_WITH_HEALTHY_S:
            # Pa_Terminate closes every stream: close ours first, so no stale handle remains
            # and their finished callbacks are recognised as ours (stale token).
            for m in healthy:
                self._close(m)
            try:
                # sounddevice counts initialisations; a failed _initialize left it at 0.
                if getattr(self._sd, "_initialized", 1) > 0:
                    self._sd._terminate()
                self._sd._initialize()
            except Exception as exc:  # PortAudio failed to come back: try again later
                for m in self._managed.values():
                    self._publish(m, "retrying", f"PortAudio did not re-initialise ({exc})")
                return
            self._last_reinit = now
            self.reinits += 1
        for stream_id, managed in list(self._managed.items()):
            if managed.stream is not None:
                continue
            was_lost = any(m is managed for _, m in lost)
            if was_lost:
                managed.attempts += 1
            try:
                self._start(stream_id, managed)
            except Exception as exc:
                # A stream closed by the re-init that cannot come back is lost as well.
                self._publish(managed, "retrying" if was_lost else "lost", str(exc))
                continue
            if was_lost:
                self._publish(managed, "reopened", "")
                managed.attempts = 0

    def _start(self, stream_id: int, managed: _Managed) -> None:
        spec = managed.spec
        index = find_device(self._sd, spec.role, spec.name, spec.hostapi)
        managed.token += 1
        token = managed.token

        def finished() -> None:
            # PortAudio's thread: report only; the stream may be ours to close or a dead one.
            self.lost(stream_id, token)

        kind = self._sd.InputStream if spec.role == "input" else self._sd.OutputStream
        stream = kind(
            device=index,
            samplerate=spec.rate_hz,
            channels=spec.channels,
            dtype="float32",
            blocksize=spec.block_frames,
            latency=spec.latency,
            callback=spec.callback,
            finished_callback=finished,
        )
        try:
            stream.start()
        except BaseException:
            stream.close()
            raise
        managed.stream = stream

    def _close(self, managed: _Managed) -> None:
        stream, managed.stream = managed.stream, None
        managed.token += 1  # its finished callback is now stale
        if stream is not None:
            self._close_stream(stream)

    @staticmethod
    def _close_stream(stream: Any) -> None:
        try:
            stream.stop()
            stream.close()
        except Exception:  # a stream whose device vanished may refuse; it is gone anyway
            pass

    def _publish(self, managed: _Managed, state: State, detail: str) -> None:
        event = DeviceEvent(managed.spec.role, managed.spec.name, state, detail, managed.attempts)
        with self._subscribers_lock:
            subscribers = list(self._subscribers)
        for q in subscribers:
            q.put(event)


def find_device(sd: ModuleType, role: Role, name: str, hostapi: str = "") -> int:
    """The current index of the device called ``name`` (and on ``hostapi`` if given)."""
    channels_key = "max_input_channels" if role == "input" else "max_output_channels"
    hostapis = [h["name"] for h in sd.query_hostapis()]
    for i, d in enumerate(sd.query_devices()):
        api = hostapis[int(d["hostapi"])] if int(d["hostapi"]) < len(hostapis) else ""
        if str(d["name"]) == name and int(d[channels_key]) > 0 and hostapi in ("", api):
            return int(d["index"]) if "index" in d else i
    what = "microphone" if role == "input" else "speaker"
    raise LookupError(f"no {what} called {name!r} (unplugged, or its sound server is down)")


_supervisors: dict[int, StreamSupervisor] = {}
_supervisors_lock = threading.Lock()


def supervisor_for(sd: ModuleType) -> StreamSupervisor:
    """The process's supervisor for this sounddevice module (created on first use)."""
    with _supervisors_lock:
        found = _supervisors.get(id(sd))
        if found is None:
            found = _supervisors[id(sd)] = StreamSupervisor(sd)
        return found


def started_supervisor(sd: ModuleType) -> StreamSupervisor | None:
    """The supervisor for this sounddevice module if one was started, else None."""
    with _supervisors_lock:
        return _supervisors.get(id(sd))


def running_supervisor() -> StreamSupervisor | None:
    """The process's supervisor if any stream was opened through one (the UI subscribes)."""
    with _supervisors_lock:
        return next(iter(_supervisors.values()), None)
