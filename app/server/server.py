"""The local Graph-compatible endpoint: CallSim plays the cloud for a calling bot.

A bot points its Graph base URL at ``{base_url}/v1.0`` (or ``/beta``) and uses the documented
calls API: create or answer a call, run recordResponse and its neighbours, download the
recording, hang up. Each call gets its own engine (``EngineHost``, on a shared pool of engine
threads) whose events become the notifications POSTed to the bot's callbackUri (``Notifier``).
The aiohttp server and the notification client share one asyncio event loop on a thread of its
own; ``start()`` returns once the socket listens, so a GUI or a test can use ``base_url`` at once.

The work is split by idea: ``routes.py`` (the aiohttp handlers: request → registry → Graph
response), ``lifecycle.py`` (the call registry: creating, answering, ending and forgetting calls,
their timers and engines), ``announcer.py`` (engine events and call states → notifications) and
``notifier.py`` (delivery). This module is the facade that wires them and runs the loop thread.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from aiohttp import web

from app.audio.prompts import DEFAULT_PROMPT_MAX_BYTES, make_prompt_loader
from app.core.call import CallConfig
from app.core.media import DEFAULT_PROMPT_TIMEOUT_S, PromptLoader
from app.server.announcer import Announcer
from app.server.caller import CallerPacer, CallerScript, scripted_caller_factory
from app.server.calls import CallerFactory, ServerCall
from app.server.events import ServerEvent
from app.server.faults import DownloadFault, NotificationFault
from app.server.http_guard import MAX_BODY_BYTES, GraphAppRunner, RequestGuard
from app.server.lifecycle import (
    DEFAULT_ANSWER_DELAY_S,
    DEFAULT_KEEPALIVE_TIMEOUT_S,
    DEFAULT_RING_TIMEOUT_S,
    ENGINE_ANSWER_TIMEOUT_S,
    CallRegistry,
)
from app.server.notifier import DeliveryRecord, Notifier, NotifyOptions
from app.server.recordings import DEFAULT_RECORDING_TTL_S, RecordingStore
from app.server.routes import GraphRoutes

log = logging.getLogger(__name__)

# On stop, notifications still in flight get this long before they are dropped.
STOP_GRACE_S = 1.0


class GraphServer:
    """A local stand-in for ``graph.microsoft.com`` calls: start(), base_url, stop().

    ``caller_factory(call)`` is called on the server's event-loop thread when a call becomes
    established and returns the call's ``Caller`` (default: a silent scripted caller).
    ``on_event(event)`` receives every ``ServerEvent`` (deliveries, requests, call states,
    engine events) on the event-loop thread: keep it cheap, e.g. put the event in a queue.
    ``allowed_origins``: web-page origins that may call the endpoint (all others get 403; see
    ``app/server/http_guard.py``). An ended call is freed ``recording_ttl_s`` after it ends.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        caller_factory: CallerFactory | None = None,
        recordings_dir: Path | None = None,
        recording_ttl_s: float = DEFAULT_RECORDING_TTL_S,
        on_event: Callable[[ServerEvent], None] | None = None,
        call_config: CallConfig | None = None,
        prompt_base_dir: Path | None = None,
        answer_delay_s: float = DEFAULT_ANSWER_DELAY_S,
        ring_timeout_s: float = DEFAULT_RING_TIMEOUT_S,
        keepalive_timeout_s: float = DEFAULT_KEEPALIVE_TIMEOUT_S,
        notify: NotifyOptions | None = None,
        allowed_origins: Iterable[str] = (),
        prompt_loader: PromptLoader | None = None,
        prompt_timeout_s: float = DEFAULT_PROMPT_TIMEOUT_S,
        prompt_max_bytes: int = DEFAULT_PROMPT_MAX_BYTES,
        engine_answer_timeout_s: float = ENGINE_ANSWER_TIMEOUT_S,
        ssl_context: ssl.SSLContext | None = None,
        faults: Iterable[NotificationFault | DownloadFault] = (),
    ) -> None:
        self.host = host
        # HTTPS when given (app/server/tls.py: Graph clients need https for auth and Location).
        self._ssl_context = ssl_context
        self.port = port
        self._pacer: CallerPacer | None = None
        if caller_factory is None:
            self._pacer = CallerPacer()
            caller_factory = scripted_caller_factory(CallerScript.silence(), self._pacer)
        self._own_recordings_dir = recordings_dir is None
        self._recordings_dir = recordings_dir
        self._on_event = on_event
        call_config = call_config or CallConfig()
        faults = list(faults)  # app/server/faults.py: on demand, for a bot's tests
        self._notifier = Notifier(
            notify,
            on_record=self._emit,
            faults=[f for f in faults if isinstance(f, NotificationFault)],
        )
        self._recordings = RecordingStore(delete_expired_files=recordings_dir is None)
        # Prompts load on worker threads (app/engine/host.py), bounded as README "Fidelity" says.
        prompt_loader = prompt_loader or make_prompt_loader(
            prompt_base_dir, timeout_s=prompt_timeout_s, max_bytes=prompt_max_bytes
        )
        self._registry = CallRegistry(
            announcer=Announcer(
                self._notifier, self._recordings, legacy_resource=call_config.legacy_resource
            ),
            emit=self._emit,
            caller_factory=caller_factory,
            call_config=call_config,
            prompt_loader=prompt_loader,
            prompt_timeout_s=prompt_timeout_s,
            answer_delay_s=answer_delay_s,
            ring_timeout_s=ring_timeout_s,
            keepalive_timeout_s=keepalive_timeout_s,
            recording_ttl_s=recording_ttl_s,
            engine_answer_timeout_s=engine_answer_timeout_s,
        )
        # Web pages may reach a loopback port too: see app/server/http_guard.py.
        self._guard = RequestGuard(allowed_origins)
        self._routes = GraphRoutes(
            registry=self._registry,
            recordings=self._recordings,
            guard=self._guard,
            emit=self._emit,
            graph_base_url=self.graph_base_url,
            download_faults=[f for f in faults if isinstance(f, DownloadFault)],
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._base_url = ""

    # ------------------------------------------------------------------ lifecycle (any thread)

    def start(self, timeout_s: float = 10.0) -> GraphServer:
        """Start the event-loop thread; return once the socket listens (raises if it cannot)."""
        if self._recordings_dir is None:
            self._recordings_dir = Path(tempfile.mkdtemp(prefix="callsim-recordings-"))
        self._thread = threading.Thread(target=self._thread_main, name="graph-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise TimeoutError(f"the Graph endpoint did not start within {timeout_s:g} s")
        if self._start_error is not None:
            raise self._start_error
        return self

    def stop(self, timeout_s: float = 10.0, *, grace_s: float = STOP_GRACE_S) -> None:
        """End every live call, give notifications ``grace_s``, close the socket and the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(grace_s), loop)
        try:
            future.result(timeout_s)
        except Exception:  # stop() must always stop; the log says what went wrong
            log.exception("Graph endpoint shutdown failed")
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout_s)
        if self._pacer is not None:
            self._pacer.stop()
        if self._own_recordings_dir and self._recordings_dir is not None:
            shutil.rmtree(self._recordings_dir, ignore_errors=True)

    @property
    def base_url(self) -> str:
        """``http://host:port``, or ``https://`` with an SSL context (valid after start())."""
        return self._base_url

    def graph_base_url(self, version: str = "v1.0") -> str:
        """The Graph base URL a bot should use: ``{base_url}/v1.0`` or ``{base_url}/beta``."""
        return f"{self._base_url}/{version}"

    @property
    def recordings_dir(self) -> Path:
        """Where recordings are written (``<dir>/<call id>/<operation id>.wav``)."""
        assert self._recordings_dir is not None, "start() first"
        return self._recordings_dir

    @property
    def recording_closer(self) -> Executor:
        """The one thread that fsyncs and closes finished recordings; a call's notifications
        after a finished take wait for it (app/server/lifecycle.py)."""
        return self._registry.recording_closer

    @property
    def running(self) -> bool:
        """True while the event-loop thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    # The call timers live in the registry; these read and set them there.

    @property
    def answer_delay_s(self) -> float:
        """How long after establishing a call the fake caller picks up."""
        return self._registry.answer_delay_s

    @answer_delay_s.setter
    def answer_delay_s(self, value: float) -> None:
        self._registry.answer_delay_s = value

    @property
    def ring_timeout_s(self) -> float:
        """How long an incoming call rings before it ends unanswered."""
        return self._registry.ring_timeout_s

    @ring_timeout_s.setter
    def ring_timeout_s(self, value: float) -> None:
        self._registry.ring_timeout_s = value

    @property
    def keepalive_timeout_s(self) -> float:
        """How long a call lives without keepAlive."""
        return self._registry.keepalive_timeout_s

    @keepalive_timeout_s.setter
    def keepalive_timeout_s(self, value: float) -> None:
        self._registry.keepalive_timeout_s = value

    @property
    def recording_ttl_s(self) -> float:
        """How long an ended call (and its recordings) is kept."""
        return self._registry.recording_ttl_s

    @recording_ttl_s.setter
    def recording_ttl_s(self, value: float) -> None:
        self._registry.recording_ttl_s = value

    @property
    def engine_answer_timeout_s(self) -> float:
        """How long a request waits for its call's engine before it fails 500."""
        return self._registry.engine_answer_timeout_s

    @engine_answer_timeout_s.setter
    def engine_answer_timeout_s(self, value: float) -> None:
        self._registry.engine_answer_timeout_s = value

    def calls(self) -> list[ServerCall]:
        """Every call not yet forgotten (ended ones are kept for --recording-ttl), oldest first."""
        return self._registry.calls()

    def call(self, call_id: str) -> ServerCall | None:
        """The call with this id (any GUID form), or None."""
        return self._registry.call(call_id)

    def incoming_call(
        self,
        callback_uri: str,
        *,
        caller_display_name: str = "CallSim caller",
        caller_phone: str = "+15550100",
        tenant_id: str | None = None,
        timeout_s: float = 5.0,
    ) -> ServerCall:
        """Offer an incoming call to the bot at ``callback_uri`` (thread-safe; not on the loop).

        The bot is POSTed a ``created`` notification with ``state: incoming`` and answers with
        ``POST .../answer`` (or rejects it) within the ring timeout.
        """
        loop = self._loop
        if loop is None:
            raise RuntimeError("start() the server first")
        future = asyncio.run_coroutine_threadsafe(
            self._registry.incoming(callback_uri, caller_display_name, caller_phone, tenant_id),
            loop,
        )
        return future.result(timeout_s)

    def run_on_loop(self, fn: Callable[[], Any], timeout_s: float = 5.0) -> Any:
        """Run ``fn()`` on the server's event loop and return its result (thread-safe)."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("start() the server first")

        async def call() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout_s)

    # ------------------------------------------------------------------ the loop thread

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._startup())
        except BaseException as exc:  # reported to start()'s caller
            self._start_error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _startup(self) -> None:
        await self._notifier.open()
        app = web.Application(middlewares=[self._routes.middleware], client_max_size=MAX_BODY_BYTES)
        self._routes.add_to(app)
        runner = GraphAppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, ssl_context=self._ssl_context)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            await self._notifier.close(0)
            raise
        self._runner = runner
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        port = sockets[0].getsockname()[1] if sockets else self.port
        self.port = int(port)
        self._guard.bind(self.host, self.port)
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self._ssl_context is not None else "http"
        self._base_url = f"{scheme}://{host}:{self.port}"
        self._registry.bind(self._base_url, self.recordings_dir)

    async def _shutdown(self, grace_s: float) -> None:
        deadline = await self._registry.end_all(grace_s)
        await self._notifier.close(max(0.0, deadline - time.monotonic()))
        await self._registry.stop_all()
        if self._runner is not None:
            await self._runner.cleanup()

    def _emit(self, event: ServerEvent) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:  # a broken observer must not break the endpoint
            log.exception("on_event callback failed")


__all__ = [
    "DEFAULT_ANSWER_DELAY_S",
    "DEFAULT_KEEPALIVE_TIMEOUT_S",
    "DEFAULT_RING_TIMEOUT_S",
    "ENGINE_ANSWER_TIMEOUT_S",
    "DeliveryRecord",
    "GraphServer",
    "NotifyOptions",
    "ServerCall",
]
