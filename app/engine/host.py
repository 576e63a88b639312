"""The engine host: runs a core ``Call`` on its own thread (or a pool's) and fans its events out.

Every other thread (the audio callback's drain, the GUI, the HTTP server's event loop) talks to
the engine only through ``EngineHost``: commands go in through one queue, immutable events come
out through one queue per subscriber (docs/design.md rules 1-3). Nothing here touches Qt.

The engine thread cannot die: each command runs under its own ``try``. A failure is logged and
kept in ``failures``; an action's caller gets the exception through its future, and a call
whose engine raised ends at once with its ``terminated`` notification (its state can no longer
be trusted), while every other call, on its own host, goes on. A future its asker cancelled
(e.g. the HTTP endpoint gave up waiting) is skipped: the action is not applied. Prompts are
loaded on worker threads (``prompt_loader``), never on the engine's, with a deadline and a size
cap (README "Fidelity"; docs/graph-contract.md §4).

Given an ``EnginePool`` (app/engine/pool.py), the host has no thread of its own: the pool's
workers run its queued commands, in order and one at a time, together with many other calls'.
The local Graph endpoint does this (100 threads for 100 calls cost more than their DSP); the
desktop app keeps one host on its own thread.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy.typing as npt

from app.core import events as ev
from app.core.call import Call
from app.core.clock import ENGINE_RATE_HZ
from app.core.inputs import ActionName, BotAction, HangUpBy
from app.core.media import (
    DEFAULT_PROMPT_TIMEOUT_S,
    LoadedPrompt,
    PromptLoader,
    PromptLoadError,
)
from app.engine.blas import limit_blas_threads
from app.graph import payloads
from app.graph.results import CALL_END_RESULTS, CallEnd

if TYPE_CHECKING:
    from app.engine.pool import EnginePool

log = logging.getLogger(__name__)

T = TypeVar("T")


# Commands into the engine thread: frozen values, so a command cannot change after it is queued
# (docs/architecture.md §3 "app/core": threads hand immutable values through queues). An
# array or a body inside one is handed over, not copied: the sender must not touch it again.
@dataclass(frozen=True, slots=True)
class Feed:
    samples: npt.ArrayLike
    rate_hz: int
    analyse_now: bool = False


@dataclass(frozen=True, slots=True)
class NoMedia:
    n_samples: int


@dataclass(frozen=True, slots=True)
class PressKey:
    key: str
    out_of_band: bool
    in_band: bool
    duration_s: float


@dataclass(frozen=True, slots=True)
class Act:
    action: BotAction
    future: Future[ev.ActionResponse]


@dataclass(frozen=True, slots=True)
class EndCall:
    by: HangUpBy
    reason: CallEnd | None


@dataclass(frozen=True, slots=True)
class PromptResult:
    key: str
    result: LoadedPrompt | PromptLoadError


@dataclass(frozen=True, slots=True)
class RunOnCall:
    fn: Callable[[Call], Any]
    future: Future[Any]


@dataclass(frozen=True, slots=True)
class Stop:
    pass


Command = Feed | NoMedia | PressKey | Act | EndCall | PromptResult | RunOnCall | Stop
_STOP = Stop()


class EngineHost:
    """Owns one ``Call`` and runs it on a dedicated thread, or on ``pool``'s workers (all
    methods are thread-safe)."""

    def __init__(
        self,
        call: Call,
        *,
        name: str = "engine",
        prompt_loader: PromptLoader | None = None,
        prompt_timeout_s: float = DEFAULT_PROMPT_TIMEOUT_S,
        pool: EnginePool | None = None,
    ) -> None:
        """``prompt_loader``: load prompts with it on worker threads, each result due within
        ``prompt_timeout_s`` (later: 8536); None keeps the call's own (inline) loading.
        ``pool``: run on its workers instead of a thread of this host's own."""
        self.call = call
        self.name = name
        self._commands: queue.SimpleQueue[Command] = queue.SimpleQueue()
        self._subscribers: list[queue.SimpleQueue[ev.Event]] = []
        self._listeners: list[Callable[[ev.Event], None]] = []
        self._lock = threading.Lock()
        self._pool = pool
        self._thread = (
            None if pool is not None else threading.Thread(target=self._run, name=name, daemon=True)
        )
        # Pool mode: ``_scheduled`` is True while the host is in the pool's ready queue or on a
        # worker (so never on two at once); ``_queue_lock`` makes that flag and the queue's
        # emptiness one decision. ``_finished`` is set once Stop has run.
        self._queue_lock = threading.Lock()
        self._started = False
        self._scheduled = False
        self._urgent_waiting = 0  # queued analyse_now feeds (pool mode; under _queue_lock)
        self._finished = threading.Event()
        self._fed_samples = 0
        self._decision_sample: int | None = None
        self._error: BaseException | None = None
        # Every failure of a command or listener, as "kind: exception" (engine thread appends).
        self.failures: list[str] = []
        self.overflows = 0
        self._prompt_loader = prompt_loader
        self._prompt_timeout_s = prompt_timeout_s
        self._prompts_answered: set[str] = set()  # request keys whose result was queued
        if prompt_loader is not None:
            call.load_prompts_via(self._request_prompt)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> EngineHost:
        """Start the engine thread (or hand the commands queued so far to the pool)."""
        limit_blas_threads()  # also when used as a library (app/engine/blas.py says why)
        if self._thread is not None:
            self._thread.start()
            return self
        with self._queue_lock:
            self._started = True
            schedule = not self._commands.empty() and not self._scheduled
            self._scheduled = self._scheduled or schedule
        if schedule:
            assert self._pool is not None
            self._pool.schedule(self)
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Finish the commands already queued, then stop the thread (or leave the pool)."""
        if self.running:
            self._put(_STOP)
            if self._thread is not None:
                self._thread.join(timeout_s)
            else:
                self._finished.wait(timeout_s)

    @property
    def running(self) -> bool:
        """True while the engine thread is alive (on a pool: started and not stopped)."""
        if self._thread is not None:
            return self._thread.is_alive()
        return self._started and not self._finished.is_set()

    @property
    def error(self) -> BaseException | None:
        """The last exception a command or listener raised (the thread itself goes on)."""
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

    def feed(
        self, samples: npt.ArrayLike, rate_hz: int = ENGINE_RATE_HZ, *, analyse_now: bool = False
    ) -> None:
        """Queue caller audio; the array must not be modified afterwards (pass a copy).
        ``analyse_now``: analyse it without gathering first (``Call.feed``)."""
        self._put(Feed(samples, rate_hz, analyse_now))

    @property
    def decision_sample(self) -> int | None:
        """``Call.decision_sample`` after the last command run (written by the engine thread
        only, an int reference: any thread may read it, one command stale at most)."""
        return self._decision_sample

    def feed_no_media(self, n_samples: int) -> None:
        """Queue a stretch of time with no media from the caller."""
        self._put(NoMedia(n_samples))

    def press_key(
        self, key: str, *, out_of_band: bool = True, in_band: bool = False, duration_s: float = 0.1
    ) -> None:
        """Queue a key press by the caller."""
        self._put(PressKey(key, out_of_band, in_band, duration_s))

    def action(
        self,
        action: ActionName | str,
        body: object,
        *,
        request_id: str | None = None,
        client_request_id: str | None = None,
        date: str | None = None,
    ) -> Future[ev.ActionResponse]:
        """Queue a bot action; the future resolves to its synchronous response."""
        future: Future[ev.ActionResponse] = Future()
        bot_action = BotAction(action, body, request_id, client_request_id, date)
        self._put(Act(bot_action, future))
        return future

    def hang_up(self, by: HangUpBy = "caller", *, reason: CallEnd | None = None) -> None:
        """Queue the end of the call (``reason``: see ``Call.hang_up``)."""
        self._put(EndCall(by, reason))

    def flush(self) -> Future[None]:
        """Analyse everything fed so far without look-ahead (end of input)."""
        return self.submit(lambda call: call.flush())

    def submit(self, fn: Callable[[Call], T]) -> Future[T]:
        """Run ``fn(call)`` on the engine thread; the future holds its result."""
        future: Future[T] = Future()
        self._put(RunOnCall(fn, future))
        return future

    def _put(self, cmd: Command) -> None:
        pool = self._pool
        if pool is None:
            self._commands.put(cmd)
            return
        urgent = isinstance(cmd, Feed) and cmd.analyse_now
        with self._queue_lock:
            if self._finished.is_set():
                return  # stopped: nothing runs it (as a stopped thread would not)
            self._commands.put(cmd)
            self._urgent_waiting += urgent
            schedule = self._started and not self._scheduled
            self._scheduled = self._scheduled or schedule
        if schedule:
            pool.schedule(self, urgent=urgent)
        elif urgent and self._started:
            pool.expedite(self)

    @property
    def has_urgent(self) -> bool:
        """Whether a feed that decides a due timer (``analyse_now``) waits in the queue: the
        pool runs this host before the others' routine feeds (app/engine/pool.py)."""
        return self._urgent_waiting > 0

    # -- the engine thread (or a pool worker) --------------------------------------------------

    def _run(self) -> None:
        while True:
            cmd = self._commands.get()
            if isinstance(cmd, Stop):
                break
            self._step(cmd)

    def run_queued(self, max_commands: int) -> bool:
        """Run up to ``max_commands`` queued commands (a pool worker); True if more wait.

        Until it returns, no other worker takes this host (``_scheduled`` stays True).
        """
        for _ in range(max_commands):
            try:
                cmd = self._commands.get_nowait()
            except queue.Empty:
                break
            if isinstance(cmd, Stop):
                with self._queue_lock:
                    self._finished.set()
                    self._scheduled = False
                return False
            self._step(cmd)
            if isinstance(cmd, Feed) and cmd.analyse_now:
                with self._queue_lock:
                    self._urgent_waiting -= 1
        with self._queue_lock:
            if self._commands.empty():
                self._scheduled = False
                return False
        return True

    def _step(self, cmd: Command) -> None:
        call = self.call
        try:
            self._execute(call, cmd)
        except Exception as exc:  # this command failed; the thread serves the next one
            self._failed(_COMMAND_NAMES[type(cmd)], exc)
            self._end_after_failure(call)
        self._fed_samples = call.fed_samples
        self._decision_sample = call.decision_sample
        self._publish(call.drain())

    def _execute(self, call: Call, cmd: Command) -> None:
        match cmd:
            case Feed(samples, rate_hz, analyse_now):
                call.feed(samples, rate_hz, analyse_now=analyse_now)
            case NoMedia(n_samples):
                call.feed_no_media(n_samples)
            case PressKey(key, out_of_band, in_band, duration_s):
                call.press_key(key, out_of_band=out_of_band, in_band=in_band, duration_s=duration_s)
            case Act(action, future):
                if not future.set_running_or_notify_cancel():
                    return  # the asker gave up (and answered an error): not applied
                try:
                    response = call.action(
                        action.name,
                        action.body,
                        request_id=action.request_id,
                        client_request_id=action.client_request_id,
                        date=action.date,
                    )
                except Exception as exc:
                    future.set_exception(exc)
                    raise
                future.set_result(response)
            case EndCall(by, reason):
                call.hang_up(by, reason=reason)
            case PromptResult(key, result):
                call.prompt_loaded(key, result)
            case RunOnCall(fn, future):
                if not future.set_running_or_notify_cancel():
                    return
                try:
                    result = fn(call)
                except Exception as exc:  # the asker's function failed, not the call
                    self._failed("call", exc)
                    future.set_exception(exc)
                    return
                future.set_result(result)
            case Stop():
                pass

    def _failed(self, kind: str, exc: BaseException) -> None:
        self._error = exc
        self.failures.append(f"{kind}: {exc!r}")
        log.error("%s: %s failed: %r", self.name, kind, exc, exc_info=exc)

    def _end_after_failure(self, call: Call) -> None:
        """The call's engine raised: end the call, with its terminated notification."""
        if call.ended:
            return
        reason = CallEnd.SERVICE_STOPPED
        try:
            call.hang_up("bot", reason=reason)
            return
        except Exception as exc:  # its state is broken: say it ended without its help
            self._failed("hangup after failure", exc)
        call.ended = True
        at = call.fed_samples
        resource = payloads.call_resource(
            call_id=call.call_id, state="terminated", result=CALL_END_RESULTS[reason]
        )
        envelope = payloads.call_state_changed(
            call.call_id, "deleted", resource, legacy_resource=call.config.legacy_resource
        )
        self._publish(
            [
                *call.drain(),
                ev.Notification(
                    at, call.call_id, json.dumps(envelope), "call terminated (engine failure)"
                ),
                ev.CallEnded(at, "bot", reason.value),
            ]
        )

    # -- prompt loading (worker threads) ---------------------------------------------------

    def _request_prompt(self, key: str, uri: str) -> None:
        """Start loading ``uri`` (engine thread); its result comes back as a command."""
        loader = self._prompt_loader
        assert loader is not None
        lock = threading.Lock()

        def answer(result: LoadedPrompt | PromptLoadError) -> None:
            with lock:  # the first of the worker and the deadline wins
                if key in self._prompts_answered:
                    return
                self._prompts_answered.add(key)
            self._put(PromptResult(key, result))

        def work() -> None:
            try:
                result = loader(uri)
            except Exception as exc:  # a loader bug fails this operation (500/8511) only
                log.error("%s: prompt loader failed on %s: %r", self.name, uri, exc, exc_info=exc)
                result = PromptLoadError("play", f"{uri}: the prompt loader failed ({exc!r})")
            deadline.cancel()
            answer(result)

        timeout_s = self._prompt_timeout_s
        deadline = threading.Timer(
            timeout_s,
            answer,
            (PromptLoadError("download", f"{uri}: not loaded within {timeout_s:g} s"),),
        )
        deadline.daemon = True
        deadline.start()
        threading.Thread(target=work, name=f"{self.name}-prompt", daemon=True).start()

    def _publish(self, events: list[ev.Event]) -> None:
        if not events:
            return
        with self._lock:
            subscribers = list(self._subscribers)
            listeners = list(self._listeners)
        for event in events:
            for fn in listeners:
                try:
                    fn(event)
                except Exception as exc:  # one broken listener must not stop the others
                    self._failed(f"listener {getattr(fn, '__qualname__', fn)!s}", exc)
            for q in subscribers:
                q.put(event)


# The kind named in ``failures`` ("action: ...", "feed: ..."): the names the tuples had.
_COMMAND_NAMES: dict[type, str] = {
    Feed: "feed",
    NoMedia: "no_media",
    PressKey: "key",
    Act: "action",
    EndCall: "hangup",
    PromptResult: "prompt",
    RunOnCall: "call",
    Stop: "stop",
}
