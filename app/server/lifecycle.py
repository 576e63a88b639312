"""The call registry of the local Graph endpoint: every served call from creation to forgetting.

A call is created by the bot (outgoing) or offered to it (incoming), answered or rejected,
established after ``answer_delay_s``, kept alive by keepAlive, and ended by the bot, the caller,
the engine or a timer (ring, keepAlive, service stop). Each call has its own engine
(``EngineHost``, run by the registry's ``EnginePool``) whose events come back to the loop here;
its notifications go to the ``Announcer`` (``app/server/announcer.py``). An ended call stays
(for its recordings) for ``recording_ttl_s``, then is forgotten. Everything here runs on the
server's event-loop thread; ``app/server/routes.py`` calls it after parsing a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from app.audio.wav import attach_recording_writer
from app.core import events as ev
from app.core.call import Call, CallConfig
from app.core.media import PromptLoader
from app.engine.host import EngineHost
from app.engine.pool import EnginePool
from app.graph import payloads
from app.graph.calls import (
    AnswerRequest,
    CreateCallRequest,
    MediaConfig,
    RejectRequest,
    check_url,
)
from app.graph.errors import GraphError
from app.graph.results import CALL_END_RESULTS, CallEnd
from app.server.announcer import Announcer
from app.server.calls import CallerFactory, ServerCall
from app.server.events import (
    CallAdded,
    CallState,
    CallStateChanged,
    EngineEvent,
    ServerEvent,
)

log = logging.getLogger(__name__)

# A bot placing a call hears "establishing" at once and "established" when the fake caller
# picks up, this long after (the real ring time depends on the callee) [I].
DEFAULT_ANSWER_DELAY_S = 0.5
# call-answer.md: "The current timeout value is 15 seconds for regular scenarios."
DEFAULT_RING_TIMEOUT_S = 15.0
# docs/graph-contract.md §9.3: keepAlive at least every 45 minutes or the call ends.
DEFAULT_KEEPALIVE_TIMEOUT_S = 45 * 60.0
# The engine answers an action in microseconds; longer means its thread is stuck.
ENGINE_ANSWER_TIMEOUT_S = 10.0
# The call-state reason shown in the log for each way a call ends.
_END_TEXTS = {
    CallEnd.CALLER_HUNG_UP: "caller hung up",
    CallEnd.BOT_HUNG_UP: "bot hung up",
    CallEnd.REJECTED: "bot rejected the call",
    CallEnd.KEEP_ALIVE_TIMEOUT: "no keepAlive within the timeout",
    CallEnd.NOT_ANSWERED: "not answered within the ring timeout",
    CallEnd.SERVICE_STOPPED: "the endpoint stopped",
}


class CallRegistry:
    """The served calls and their timers (used on the server's event-loop thread only).

    ``bind()`` (once the socket listens) gives the addresses new calls need; the timing
    attributes may be read from any thread.
    """

    def __init__(
        self,
        *,
        announcer: Announcer,
        emit: Callable[[ServerEvent], None],
        caller_factory: CallerFactory,
        call_config: CallConfig,
        prompt_loader: PromptLoader,
        prompt_timeout_s: float,
        answer_delay_s: float,
        ring_timeout_s: float,
        keepalive_timeout_s: float,
        recording_ttl_s: float,
        engine_answer_timeout_s: float,
    ) -> None:
        self._announcer = announcer
        self._emit = emit
        self._caller_factory = caller_factory
        self._call_config = call_config
        self._prompt_loader = prompt_loader
        self._prompt_timeout_s = prompt_timeout_s
        self.answer_delay_s = answer_delay_s
        self.ring_timeout_s = ring_timeout_s
        self.keepalive_timeout_s = keepalive_timeout_s
        self.recording_ttl_s = recording_ttl_s
        self.engine_answer_timeout_s = engine_answer_timeout_s
        self._calls: dict[str, ServerCall] = {}
        # Every call's engine runs on these few threads, not one thread per call: 100 threads
        # waking 20 times a second cost more than their DSP (app/engine/pool.py).
        self.engine_pool = EnginePool(name="engine")
        # Finished takes are fsynced and closed here, not on the engine worker (one thread:
        # first in first out, so a call's events queued behind its take's close leave after
        # it; ``_engine_listener``). RecordingWriter says why.
        self.recording_closer = ThreadPoolExecutor(1, thread_name_prefix="recording-close")
        # Engine events on their way to the loop, in the order the engines emitted them; one
        # wake-up of the loop carries all that came meanwhile (``_engine_listener``).
        self._inbox: deque[tuple[ServerCall, ev.Event]] = deque()
        self._inbox_lock = threading.Lock()
        self._inbox_woken = False
        self._background: set[asyncio.Task[None]] = set()
        self._base_url = ""
        self._recordings_dir: Path | None = None

    def bind(self, base_url: str, recordings_dir: Path) -> None:
        """The endpoint's ``http://host:port`` and where calls write recordings."""
        self._base_url = base_url
        self._recordings_dir = recordings_dir

    # ------------------------------------------------------------------ queries

    def calls(self) -> list[ServerCall]:
        """Every call not yet forgotten, oldest first."""
        return list(self._calls.values())

    def call(self, call_id: str) -> ServerCall | None:
        """The call with this id (any GUID form), or None."""
        return self._calls.get(payloads.canonical_id(call_id))

    def live_count(self) -> int:
        """How many calls have not ended."""
        return sum(1 for c in self._calls.values() if c.state != "terminated")

    def live(self, raw_id: str) -> ServerCall:
        """The call a request names; 404 once it has ended or the bot released it."""
        call = self._calls.get(payloads.canonical_id(raw_id))
        if call is None or call.gone:
            raise GraphError(
                404, "NotFound", f"Call '{raw_id[:80]}' was not found; it may have ended."
            )
        return call

    # ------------------------------------------------------------------ what the bot asks

    def create(self, req: CreateCallRequest) -> ServerCall:
        """The bot places a call: it is establishing at once, established after the delay."""
        call = self._new_call(
            direction="outgoing",
            state="establishing",
            callback_uri=req.callback_uri,
            media_config=req.media_config,
            modalities=req.requested_modalities,
            echoed=req.echoed,
        )
        self._begin_establishing(call)
        return call

    def hang_up(self, call: ServerCall) -> None:
        """The bot deletes the call (the engine reports the end)."""
        call.released = True
        for name in ("establish", "ring", "keepalive"):
            call.cancel_timer(name)
        call.host.hang_up("bot")

    def answer(self, call: ServerCall, req: AnswerRequest) -> None:
        """The bot answers an incoming call."""
        if call.direction != "incoming":
            raise GraphError(
                405,
                "MethodNotAllowed",
                "answer applies to incoming calls only; this call was placed by the bot.",
            )
        if call.state != "incoming":
            raise GraphError(
                409,
                "Conflict",
                f"Action not valid in the current call state (8585): the call is {call.state}.",
            )
        call.cancel_timer("ring")
        if req.callback_uri is not None:
            call.callback_uri = req.callback_uri
        call.media_config = req.media_config
        call.modalities = req.accepted_modalities
        self._begin_establishing(call)

    def reject(self, call: ServerCall, req: RejectRequest) -> None:
        """The bot rejects an incoming call."""
        if call.direction != "incoming":
            raise GraphError(
                405,
                "MethodNotAllowed",
                "reject applies to incoming calls only; use DELETE to end a call the bot placed.",
            )
        if call.state != "incoming":
            raise GraphError(
                409,
                "Conflict",
                f"Action not valid in the current call state (8585): the call is {call.state}; "
                "use DELETE to end an answered call.",
            )
        call.cancel_timer("ring")
        if req.callback_uri is not None:
            call.callback_uri = req.callback_uri
        call.released = True
        call.host.hang_up("bot", reason=CallEnd.REJECTED)

    def keep_alive(self, call: ServerCall) -> None:
        """keepAlive: the call's keepAlive timer starts over."""
        if call.state not in ("establishing", "established"):
            raise _not_established(call, "keepAlive")
        self._reset_keepalive(call)

    async def media_action(
        self,
        call: ServerCall,
        action: str,
        raw: bytes,
        *,
        request_id: str,
        client_request_id: str,
        date: str,
    ) -> ev.ActionResponse:
        """A media action (recordResponse, playPrompt, ...) answered by the call's engine."""
        if call.state != "established":
            raise _not_established(call, action)
        if not call.service_hosted:
            raise GraphError(
                400,
                "BadRequest",
                f"Invalid media mode (8500): {action} needs a call created or answered with "
                "serviceHostedMediaConfig; this call uses appHostedMediaConfig.",
            )
        response: ev.ActionResponse = await self._engine(
            call.host.action(
                action,
                raw,
                request_id=request_id,
                client_request_id=client_request_id,
                date=date,
            )
        )
        return response

    async def operation_resource(self, call: ServerCall, op_id: str) -> dict[str, Any] | None:
        """The operation's current JSON from the call's engine, or None if it has no such one."""
        resource: dict[str, Any] | None = await self._engine(
            call.host.submit(lambda c: c.operation_resource(op_id))
        )
        return resource

    async def _engine(self, future: Any) -> Any:
        """Await an EngineHost future without blocking the loop (bounded)."""
        try:
            # On timeout the future is cancelled: the engine skips it (app/engine/host.py).
            return await asyncio.wait_for(asyncio.wrap_future(future), self.engine_answer_timeout_s)
        except TimeoutError:
            raise GraphError(
                500,
                "UnknownError",
                "Unknown internal server error (the call's engine is not answering).",
            ) from None

    # ------------------------------------------------------------------ what CallSim does

    async def incoming(
        self, callback_uri: str, display_name: str, phone: str, tenant_id: str | None
    ) -> ServerCall:
        """Offer an incoming call to the bot; it rings for ``ring_timeout_s``."""
        try:
            check_url(callback_uri, "callback_uri")
        except GraphError as err:
            raise ValueError(err.message) from None
        echoed: dict[str, Any] = {
            "source": payloads.participant_info(display_name=display_name, phone=phone)
        }
        if tenant_id is not None:
            echoed["tenantId"] = tenant_id
        call = self._new_call(
            direction="incoming",
            state="incoming",
            callback_uri=callback_uri,
            media_config=None,
            modalities=("audio",),
            echoed=echoed,
        )
        self._emit(CallStateChanged(call.call_id, "incoming", "offered to the bot", time.time()))
        self._announcer.call_state(call, "created", call.resource())
        loop = asyncio.get_running_loop()
        call.timers["ring"] = loop.call_later(
            self.ring_timeout_s, self._end_by_service, call, CallEnd.NOT_ANSWERED
        )
        return call

    async def end_all(self, grace_s: float) -> float:
        """Hang up every live call and wait up to ``grace_s`` for them to end; the deadline."""
        live = [c for c in self._calls.values() if c.state != "terminated"]
        for call in live:
            call.host.hang_up("caller", reason=CallEnd.SERVICE_STOPPED)
        deadline = time.monotonic() + grace_s
        while any(c.state != "terminated" for c in live) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return deadline

    async def stop_all(self) -> None:
        """Cancel every timer and stop every call's caller and engine threads."""
        for call in self._calls.values():
            for name in list(call.timers):
                call.cancel_timer(name)
        await asyncio.gather(
            *(asyncio.to_thread(self._stop_call_threads, c) for c in self._calls.values())
        )
        await asyncio.to_thread(self.engine_pool.stop)
        await asyncio.to_thread(self.recording_closer.shutdown)

    @staticmethod
    def _stop_call_threads(call: ServerCall) -> None:
        if call.caller is not None:
            call.caller.stop()
        call.host.stop()

    def _new_call(
        self,
        *,
        direction: str,
        state: CallState,
        callback_uri: str,
        media_config: MediaConfig | None,
        modalities: tuple[str, ...],
        echoed: dict[str, Any],
    ) -> ServerCall:
        call_id = payloads.new_id()
        config = replace(self._call_config, graph_base_url=f"{self._base_url}/v1.0")
        base = self._base_url
        core = Call(
            config,
            call_id=call_id,
            recording_location=lambda op_id: f"{base}/recordings/{op_id}",
        )
        host = EngineHost(
            core,
            name=f"engine-{call_id[:8]}",
            prompt_loader=self._prompt_loader,
            prompt_timeout_s=self._prompt_timeout_s,
            pool=self.engine_pool,
        )
        assert self._recordings_dir is not None
        call_dir = self._recordings_dir / call_id
        call = ServerCall(
            call_id=call_id,
            direction="incoming" if direction == "incoming" else "outgoing",
            state=state,
            callback_uri=callback_uri,
            media_config=media_config,
            modalities=modalities,
            echoed=echoed,
            host=host,
            recordings_dir=call_dir,
        )
        # The writer is attached first, so a recording is complete on disk before the
        # notification announcing it is queued (``_engine_listener``).
        attach_recording_writer(host, call_dir, closer=self.recording_closer)
        host.add_listener(self._engine_listener(call))
        host.start()
        self._calls[call_id] = call
        self._emit(CallAdded(call_id, call.direction, callback_uri, time.time()))
        return call

    def _engine_listener(self, call: ServerCall) -> Callable[[ev.Event], None]:
        """A listener run on the call's engine thread: hands events to the loop, nothing more.

        The recording writer listens first, so a take's file is complete for readers before
        its ``RecordingFinished`` gets here (its fsync comes later, on the recording closer,
        ``RecordingWriter``). The loop is woken only if no wake-up is pending: waking it costs
        the engine thread a system call and, with it, its turn at the interpreter
        (app/engine/pool.py), once per event of 100 calls before.
        """
        loop = asyncio.get_running_loop()

        def on_engine_event(event: ev.Event) -> None:
            if not isinstance(event, ev.RecordingChunk):
                to_loop(event)

        def to_loop(event: ev.Event) -> None:
            with self._inbox_lock:
                self._inbox.append((call, event))
                wake = not self._inbox_woken
                self._inbox_woken = True
            if wake:
                with contextlib.suppress(RuntimeError):  # the loop is closing: nothing to tell
                    loop.call_soon_threadsafe(self._take_inbox)

        return on_engine_event

    def _take_inbox(self) -> None:
        with self._inbox_lock:
            items = list(self._inbox)
            self._inbox.clear()
            self._inbox_woken = False
        for call, event in items:
            try:
                self._on_engine_event(call, event)
            except Exception:  # as a callback of its own would: logged, the others go on
                log.exception("handling %s of call %s failed", type(event).__name__, call.call_id)

    def _on_engine_event(self, call: ServerCall, event: ev.Event) -> None:
        if isinstance(event, ev.Notification):
            self._announcer.engine_notification(call, event)
        elif isinstance(event, ev.CallEnded):
            self._ended(call, _end_text(CallEnd(event.reason)))
        self._emit(EngineEvent(call.call_id, event))

    def _set_state(self, call: ServerCall, state: CallState, reason: str) -> None:
        call.state = state
        self._emit(CallStateChanged(call.call_id, state, reason, time.time()))

    def _begin_establishing(self, call: ServerCall) -> None:
        self._set_state(
            call, "establishing", "placed" if call.direction == "outgoing" else "answered"
        )
        self._announcer.call_state(
            call, "updated", payloads.call_resource(call_id=call.call_id, state="establishing")
        )
        loop = asyncio.get_running_loop()
        call.timers["establish"] = loop.call_later(self.answer_delay_s, self._establish, call)

    def _establish(self, call: ServerCall) -> None:
        call.timers.pop("establish", None)
        if call.state != "establishing" or call.gone:
            return
        self._set_state(call, "established", "caller picked up")
        call.established_wall_s = time.time()
        self._announcer.call_state(
            call,
            "updated",
            payloads.call_resource(
                call_id=call.call_id, state="established", direction=call.direction
            ),
        )
        self._reset_keepalive(call)
        try:
            call.caller = self._caller_factory(call)
            call.caller.start()
        except Exception:
            log.exception("the caller of call %s could not start; it stays silent", call.call_id)

    def _reset_keepalive(self, call: ServerCall) -> None:
        call.cancel_timer("keepalive")
        loop = asyncio.get_running_loop()
        call.timers["keepalive"] = loop.call_later(
            self.keepalive_timeout_s, self._end_by_service, call, CallEnd.KEEP_ALIVE_TIMEOUT
        )

    def _end_by_service(self, call: ServerCall, reason: CallEnd) -> None:
        if call.gone:
            return
        log.info("call %s ends: %s", call.call_id, reason.value)
        call.released = True
        call.host.hang_up("bot", reason=reason)

    def _ended(self, call: ServerCall, reason: str) -> None:
        if call.state == "terminated":
            return
        for name in list(call.timers):
            call.cancel_timer(name)
        call.ended_wall_s = time.time()
        self._set_state(call, "terminated", reason)
        loop = asyncio.get_running_loop()
        call.timers["expire"] = loop.call_later(self.recording_ttl_s, self._forget, call)
        task = loop.create_task(asyncio.to_thread(self._stop_call_threads, call))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _forget(self, call: ServerCall) -> None:
        """Free an ended call once its recordings expire (--recording-ttl after the end).

        Until then GET on the call already answers 404 (it is gone), but its recordings stay
        downloadable; afterwards nothing refers to the call, so its engine is freed.
        """
        call.timers.pop("expire", None)
        self._announcer.forget(call.call_id)
        self._calls.pop(call.call_id, None)


def _not_established(call: ServerCall, action: str) -> GraphError:
    return GraphError(
        409,
        "Conflict",
        f"Call not established (8501): {action} needs an established call; this call is "
        f"{call.state}. Wait for the 'established' notification.",
    )


def _end_text(reason: CallEnd) -> str:
    """How a call ended, for the log: the reason and its resultInfo code/subcode."""
    result = CALL_END_RESULTS[reason]
    text = _END_TEXTS[reason]
    return f"{text}, resultInfo {result.code}/{result.subcode}" if result is not None else text
