"""CallSim inside a bot's own tests: the local Graph endpoint started in-process, and waits.

    with LocalGraph(wav="answer.wav") as graph:
        bot.graph_base_url = graph.graph_url          # http://127.0.0.1:PORT/v1.0
        ...                                           # the bot places a call, records, hangs up
        ended = graph.wait_for_operation_end()        # the engine's ending, e.g. 200/8514
        graph.wait_for_delivery(call_id=ended.call_id, summary_contains="8514")

The pytest plugin (``app/pytest_plugin.py``, registered as a ``pytest11`` entry point) wraps
this in the ``callsim_graph`` fixture. Everything the endpoint reports (requests, call states,
engine events, each notification delivery attempt) is kept in ``events``, in arrival order;
the ``wait_for_*`` helpers block on a condition until a matching one arrives, or raise
``TimeoutError`` naming what was awaited. The moto / pytest-httpserver model: no mocks, a real
HTTP server on 127.0.0.1 the bot talks to with its own HTTP client.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from app.core import events as ev
from app.core.call import CallConfig
from app.server.caller import CallerPacer, CallerScript, StartOn, scripted_caller_factory
from app.server.events import CallStateChanged, EngineEvent, ServerEvent
from app.server.notifier import DeliveryRecord
from app.server.server import GraphServer

E = TypeVar("E")

DEFAULT_WAIT_S = 30.0


@dataclass(frozen=True, slots=True)
class OperationEnd:
    """An operation's ending on a served call (the engine's ``OperationEnded``)."""

    call_id: str
    event: ev.OperationEnded

    @property
    def result(self) -> str:
        """``code/subcode``, e.g. ``200/8514``."""
        return f"{self.event.code}/{self.event.subcode}"


class LocalGraph:
    """The local Graph endpoint with a scripted caller, started in this process.

    ``scenario``: a scenario file whose ``[[caller]]`` entries play in every call and whose
    ``[call]`` options apply (its ``[[bot]]`` entries are ignored: the test's bot is the bot);
    ``wav``: a caller who plays this file; neither: a silent caller. ``caller_start`` and
    ``speed`` are ``callsim serve``'s ``--caller-start`` and ``--speed``; ``tls=True`` serves
    HTTPS (``base_url`` is ``https://...``) with a CA whose certificate is ``ca_file``;
    ``faults`` are notification faults as ``callsim serve --fault`` takes them. Further
    keyword arguments go to ``GraphServer`` (``answer_delay_s``, ``notify``...).
    """

    def __init__(
        self,
        *,
        scenario: Path | str | None = None,
        wav: Path | str | None = None,
        recordings_dir: Path | None = None,
        caller_start: StartOn = "established",
        speed: float = 1.0,
        tls: bool = False,
        faults: Sequence[str] = (),
        **server_kwargs: Any,
    ) -> None:
        if scenario is not None and wav is not None:
            raise ValueError("give a scenario or a wav, not both")
        call_config: CallConfig | None = server_kwargs.pop("call_config", None)
        prompt_base_dir = server_kwargs.pop("prompt_base_dir", None)
        if scenario is not None:
            from app.scenario.model import load_scenario

            loaded = load_scenario(scenario)
            script = CallerScript.from_scenario(loaded)
            options = loaded.call
            # The scenario's [call] options, as `callsim serve --scenario` applies them.
            if call_config is None:
                call_config = replace(
                    CallConfig(),
                    lenient_prompts=options.lenient_prompts,
                    hangup_delivers_recording=options.hangup_delivers_recording,
                    media_timeout_s=options.media_timeout_s,
                    in_band_detection=options.in_band_detection,
                )
                if options.vad:
                    call_config = replace(call_config, vad=options.vad)
            prompt_base_dir = prompt_base_dir or loaded.base_dir
        elif wav is not None:
            script = CallerScript.from_wav(Path(wav))
        else:
            script = CallerScript.silence()
        self.script = script
        # HTTPS with a test CA made now (app/server/tls.py); the bot trusts ``ca_file``.
        self._tls_dir: Path | None = None
        self.ca_file: Path | None = None
        if tls:
            from app.server.tls import make_test_certificates

            self._tls_dir = Path(tempfile.mkdtemp(prefix="callsim-tls-"))
            certs = make_test_certificates(self._tls_dir)
            self.ca_file = certs.ca_file
            server_kwargs["ssl_context"] = certs.server_context
        from app.server.faults import parse_fault

        specs = [*(loaded.endpoint_faults if scenario is not None else ()), *faults]
        server_kwargs["faults"] = [parse_fault(spec) for spec in specs]
        self.events: list[ServerEvent] = []
        self._changed = threading.Condition()
        self._pacer = CallerPacer()
        self.server = GraphServer(
            caller_factory=scripted_caller_factory(
                script, self._pacer, speed=speed, start_on=caller_start
            ),
            recordings_dir=recordings_dir,
            on_event=self._on_event,
            call_config=call_config,
            prompt_base_dir=prompt_base_dir,
            **server_kwargs,
        )

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> LocalGraph:
        """Listen on 127.0.0.1 (a free port); returns once requests can be sent."""
        try:
            self.server.start()
        except BaseException:
            self._pacer.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop serving; notifications still in flight get a short grace, then are dropped."""
        try:
            self.server.stop(grace_s=0.2)
        finally:
            self._pacer.stop()
            if self._tls_dir is not None:
                shutil.rmtree(self._tls_dir, ignore_errors=True)

    def __enter__(self) -> LocalGraph:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.server.base_url

    @property
    def graph_url(self) -> str:
        """The Graph base URL a bot is pointed at: ``http://127.0.0.1:PORT/v1.0``."""
        return self.server.graph_base_url("v1.0")

    @property
    def recordings_dir(self) -> Path:
        """Where the served recordings are written."""
        return self.server.recordings_dir

    # ------------------------------------------------------------------ events and waits

    def _on_event(self, event: ServerEvent) -> None:
        # On the server's event-loop thread: append and wake the waiters, nothing more.
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def wait_for(
        self,
        kind: type[E],
        predicate: Callable[[E], bool] = lambda _: True,
        *,
        timeout_s: float = DEFAULT_WAIT_S,
        what: str = "",
        start: int = 0,
    ) -> E:
        """The first event of ``kind`` (from index ``start``) for which ``predicate`` holds."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            index = start
            while True:
                while index < len(self.events):
                    event = self.events[index]
                    index += 1
                    if isinstance(event, kind) and predicate(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"no {what or kind.__name__} within {timeout_s:g} s "
                        f"({len(self.events)} endpoint events so far)"
                    )
                self._changed.wait(left)

    def wait_for_operation_end(
        self, call_id: str | None = None, *, timeout_s: float = DEFAULT_WAIT_S
    ) -> OperationEnd:
        """The next operation ending (of ``call_id`` if given) on the engine's sample clock."""
        found = self.wait_for(
            EngineEvent,
            lambda e: (
                isinstance(e.event, ev.OperationEnded) and (call_id is None or e.call_id == call_id)
            ),
            timeout_s=timeout_s,
            what="operation ending",
        )
        assert isinstance(found.event, ev.OperationEnded)
        return OperationEnd(found.call_id, found.event)

    def wait_for_delivery(
        self,
        call_id: str | None = None,
        *,
        summary_contains: str = "",
        delivered: bool = True,
        timeout_s: float = DEFAULT_WAIT_S,
    ) -> DeliveryRecord:
        """A notification delivery attempt to the bot's callback (a 2xx one if ``delivered``)."""

        def matches(record: DeliveryRecord) -> bool:
            ok = record.status is not None and 200 <= record.status < 300
            return (
                (call_id is None or record.call_id == call_id)
                and summary_contains in record.summary
                and (ok or not delivered)
            )

        what = f"notification delivery{f' of {summary_contains!r}' if summary_contains else ''}"
        return self.wait_for(DeliveryRecord, matches, timeout_s=timeout_s, what=what)

    def wait_for_call_state(
        self, state: str, call_id: str | None = None, *, timeout_s: float = DEFAULT_WAIT_S
    ) -> CallStateChanged:
        """The call (or any call) reaching ``state`` (``established``, ``terminated``...)."""
        return self.wait_for(
            CallStateChanged,
            lambda e: e.state == state and (call_id is None or e.call_id == call_id),
            timeout_s=timeout_s,
            what=f"call state {state!r}",
        )

    def deliveries(self, call_id: str | None = None) -> list[DeliveryRecord]:
        """Every delivery attempt so far (of ``call_id`` if given), in order."""
        with self._changed:
            return [
                e
                for e in self.events
                if isinstance(e, DeliveryRecord) and (call_id is None or e.call_id == call_id)
            ]
