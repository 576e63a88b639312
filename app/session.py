"""Composition root: runs a core ``Call`` on its own thread and fans its events out.

Every other thread (the audio callback's drain, the GUI, the HTTP server's event loop) talks to
the engine only through ``EngineHost``: commands go in through one queue, immutable events come
out through one queue per subscriber (DESIGN.md rules 1-3). Nothing here touches Qt.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy.typing as npt

from app.audio.wav import RecordingWriter
from app.blas import limit_blas_threads
from app.core import events as ev
from app.core.call import Call
from app.core.clock import ENGINE_RATE_HZ
from app.graph.results import CallEnd

T = TypeVar("T")

_STOP = object()


class EngineHost:
    """Owns one ``Call`` and runs it on a dedicated thread (all methods are thread-safe)."""

    def __init__(self, call: Call, *, name: str = "engine") -> None:
        self.call = call
        self._commands: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._subscribers: list[queue.SimpleQueue[ev.Event]] = []
        self._listeners: list[Callable[[ev.Event], None]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._fed_samples = 0
        self._error: BaseException | None = None
        self.overflows = 0

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> EngineHost:
        """Start the engine thread."""
        limit_blas_threads()  # also when used as a library (app/blas.py says why)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Finish the commands already queued, then stop the thread."""
        if self._thread.is_alive():
            self._commands.put(_STOP)
            self._thread.join(timeout_s)

    @property
    def running(self) -> bool:
        """True while the engine thread is alive."""
        return self._thread.is_alive()

    @property
    def error(self) -> BaseException | None:
        """The exception that stopped the engine thread, if any."""
        return self._error

    # -- fan-out ---------------------------------------------------------------------------

    def subscribe(self) -> queue.SimpleQueue[ev.Event]:
        """A queue that receives every event emitted from now on."""
        q: queue.SimpleQueue[ev.Event] = queue.SimpleQueue()
        with self._lock:
            self._subscribers.append(q)
        return q

    def unsubscribe(self, q: queue.SimpleQueue[ev.Event]) -> None:
        """Stop delivering events to ``q``."""
        with self._lock:
            if q in self._subscribers:
                self._subscribers.remove(q)

    def add_listener(self, fn: Callable[[ev.Event], None]) -> None:
        """Call ``fn(event)`` for every event, on the engine thread (keep it cheap)."""
        with self._lock:
            self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[ev.Event], None]) -> None:
        """Stop calling ``fn``."""
        with self._lock:
            if fn in self._listeners:
                self._listeners.remove(fn)

    # -- commands (any thread) ---------------------------------------------------------------

    @property
    def fed_samples(self) -> int:
        """Samples the engine has consumed (an int written by the engine thread only)."""
        return self._fed_samples

    def feed(self, samples: npt.ArrayLike, rate_hz: int = ENGINE_RATE_HZ) -> None:
        """Queue caller audio; the array must not be modified afterwards (pass a copy)."""
        self._commands.put(("feed", samples, rate_hz))

    def feed_no_media(self, n_samples: int) -> None:
        """Queue a stretch of time with no media from the caller."""
        self._commands.put(("no_media", n_samples))

    def press_key(
        self, key: str, *, out_of_band: bool = True, in_band: bool = False, duration_s: float = 0.1
    ) -> None:
        """Queue a key press by the caller."""
        self._commands.put(("key", key, out_of_band, in_band, duration_s))

    def action(self, action: str, body: object, **ids: str | None) -> Future[ev.ActionResponse]:
        """Queue a bot action; the future resolves to its synchronous response."""
        future: Future[ev.ActionResponse] = Future()
        self._commands.put(("action", action, body, ids, future))
        return future

    def hang_up(
        self, by: Literal["caller", "bot"] = "caller", *, reason: CallEnd | None = None
    ) -> None:
        """Queue the end of the call (``reason``: see ``Call.hang_up``)."""
        self._commands.put(("hangup", by, reason))

    def flush(self) -> Future[None]:
        """Analyse everything fed so far without look-ahead (end of input)."""
        return self.submit(lambda call: call.flush())

    def submit(self, fn: Callable[[Call], T]) -> Future[T]:
        """Run ``fn(call)`` on the engine thread; the future holds its result."""
        future: Future[T] = Future()
        self._commands.put(("call", fn, future))
        return future

    # -- the engine thread -------------------------------------------------------------------

    def _run(self) -> None:
        call = self.call
        try:
            while True:
                cmd = self._commands.get()
                if cmd is _STOP:
                    break
                kind = cmd[0]
                if kind == "feed":
                    call.feed(cmd[1], cmd[2])
                elif kind == "no_media":
                    call.feed_no_media(cmd[1])
                elif kind == "key":
                    call.press_key(cmd[1], out_of_band=cmd[2], in_band=cmd[3], duration_s=cmd[4])
                elif kind == "action":
                    _, action, body, ids, future = cmd
                    try:
                        future.set_result(call.action(action, body, **ids))
                    except Exception as exc:
                        future.set_exception(exc)
                elif kind == "hangup":
                    call.hang_up(cmd[1], reason=cmd[2])
                elif kind == "call":
                    _, fn, future = cmd
                    try:
                        future.set_result(fn(call))
                    except Exception as exc:
                        future.set_exception(exc)
                self._fed_samples = call.fed_samples
                self._publish(call.drain())
        except BaseException as exc:  # the GUI shows it; the recordings already written stay
            self._error = exc
            raise

    def _publish(self, events: list[ev.Event]) -> None:
        if not events:
            return
        with self._lock:
            subscribers = list(self._subscribers)
            listeners = list(self._listeners)
        for event in events:
            for fn in listeners:
                fn(event)
            for q in subscribers:
                q.put(event)


def attach_recording_writer(host: EngineHost, directory: Path) -> RecordingWriter:
    """Write the host's recordings into ``directory`` as they are captured (engine thread)."""
    writer = RecordingWriter(directory)
    host.add_listener(writer.handle)
    return writer
