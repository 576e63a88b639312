"""The Graph endpoint in the window: the bots' calls, each an entry of the call list.

With the endpoint on, the server's event-loop thread queues its events (deliveries, the bot's
requests, call states) and served calls into one inbox, and a worker thread offers incoming
calls; the window's poll drains the inbox here (docs/design.md rules 1-3). A served call that
is established becomes the live call (``LiveCall.attach``); the rows of a call nobody picked up
yet go to an entry of their own; nothing of another call is cleared.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from typing import Any

from app.core import events as ev
from app.session.live import drain_queue
from app.ui.audio_io import AudioIO
from app.ui.call_list_panel import CallListPanel
from app.ui.endpoint_panel import (
    EndpointPanel,
    IncomingOffer,
    ServedCaller,
    attempts,
    offer_error,
    server_options,
)
from app.ui.live_call import LiveCall

# The endpoint's records are kept this many at most, so that a served call's rows from before
# the caller picks up (the bot's POST, "establishing", their deliveries) survive the log's
# reset when the window attaches to it; a few hundred calls' worth [I].
SERVER_BACKLOG = 2000


class BotCalls:
    """Starts and stops the endpoint, follows its calls and offers, attaches served calls."""

    def __init__(
        self, panel: EndpointPanel, live: LiveCall, audio: AudioIO, call_list: CallListPanel
    ) -> None:
        self.panel = panel
        self.live = live
        self.audio = audio
        self.call_list = call_list
        self.server: Any = None  # app.server.server.GraphServer while the endpoint is on
        # Everything the endpoint's threads tell the window, in the order they said it:
        # ("server", ServerEvent), ("attach", (call, events queue)), ("detach", call id),
        # ("incoming", IncomingOffer).
        self.inbox: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._backlog: deque[Any] = deque(maxlen=SERVER_BACKLOG)
        self.served_call_id: str | None = None
        self._attached_calls: set[str] = set()  # their engine events come from the session
        self._offers: dict[str, str] = {}  # call id -> callback URL, calls the button offered
        self._offer_states: dict[str, str] = {}  # call id -> its last Graph state
        self._offer_thread: threading.Thread | None = None
        self._offer_pending = False  # from the click until the worker's IncomingOffer is drained
        panel.toggle.toggled.connect(self.set_enabled)
        panel.incoming_button.clicked.connect(self.offer_incoming_call)
        panel.incoming_url.returnPressed.connect(self.offer_incoming_call)

    # -- on and off ----------------------------------------------------------------------------

    def set_enabled(self, enabled: bool) -> None:
        """Start or stop the local Graph endpoint whose calls this window plays the caller of."""
        panel = self.panel
        if enabled and self.server is None:
            from app.server.server import GraphServer

            inbox = self.inbox

            def caller_factory(call: Any) -> ServedCaller:
                """Runs on the server's event-loop thread."""
                return ServedCaller(call, inbox)

            def on_event(event: Any) -> None:
                """Runs on the server's event-loop thread: enqueue the immutable event only."""
                inbox.put(("server", event))

            try:
                options, tls_note = server_options(panel)  # --tls, --fault
                server = GraphServer(caller_factory=caller_factory, on_event=on_event, **options)
                self.server = server.start()
            except Exception as exc:  # port in use, aiohttp missing: say so, stay off
                self.server = None
                panel.status.setText(f"Cannot start the endpoint: {exc}")
                panel.toggle.setChecked(False)
                return
            if not self.live.running:
                self.live.log_origin_wall_s = time.time()
            panel.url.setText(self.server.graph_base_url("v1.0"))
            panel.copy.setEnabled(True)
            panel.banner.show_message("")
            panel.status.setText(
                "Point the bot's Graph base URL here; when it places or answers a call, this "
                "window is the caller." + tls_note
            )
        elif not enabled and self.server is not None:
            server, self.server = self.server, None
            server.stop()
            panel.url.clear()
            panel.copy.setEnabled(False)
            panel.status.setText("")
            panel.banner.show_message("")
            self._offers.clear()
            self._offer_states.clear()
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.panel.incoming_button.setEnabled(self.server is not None and not self._offer_pending)

    def request_for(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """An endpoint row of the bot's HTTP request: its method and URL (bodies are not kept)."""
        if record["kind"] != "http" or self.server is None:
            return None
        base = self.server.graph_base_url("v1.0").removesuffix("/v1.0")
        return {"method": record["method"], "url": f"{base}{record['path']}"}

    # -- offering an incoming call -------------------------------------------------------------

    def offer_incoming_call(self) -> None:
        """Offer an incoming call to the bot's callback URL; it answers or rejects over HTTP."""
        server, panel = self.server, self.panel
        url = panel.incoming_url.text().strip()
        if server is None:
            panel.banner.show_message("Turn the Graph endpoint on first.")
            return
        if self._offer_pending:
            return
        if not url:
            panel.banner.show_message(
                "Enter the bot's callback URL: the incoming call is offered there."
            )
            return
        panel.banner.show_message("")
        panel.status.setText(f"Offering an incoming call to {url} …")
        inbox = self.inbox

        def offer() -> None:
            """Runs on its own thread: incoming_call blocks until the endpoint made the call."""
            try:
                call = server.incoming_call(url)
            except Exception as exc:  # a bad URL, a stopped endpoint: reported, never raised
                inbox.put(("incoming", IncomingOffer(url, None, offer_error(exc))))
            else:
                inbox.put(("incoming", IncomingOffer(url, call.call_id)))

        self._offer_pending = True
        self._offer_thread = threading.Thread(target=offer, name="incoming-call", daemon=True)
        self._offer_thread.start()
        self._update_buttons()

    # -- the poll ------------------------------------------------------------------------------

    def drain(self) -> None:
        """Everything the endpoint's threads queued since the last poll, in order."""
        rows: list[dict[str, Any]] = []
        for kind, payload in drain_queue(self.inbox):
            if kind == "server":
                record = self._on_server_event(payload)
                if record is not None:
                    rows.append(record)
                continue
            # Rows so far belong before what follows (an attach starts a new call entry).
            self._add_rows(rows)
            rows = []
            if kind == "attach":
                self._attach(*payload)
            elif kind == "detach" and payload == self.served_call_id and self.live.session:
                self.live.finish()
            elif kind == "incoming":
                self._on_offer(payload)
        self._add_rows(rows)

    def _add_rows(self, rows: list[dict[str, Any]]) -> None:
        """Endpoint rows go to their call's entry (by call id), else to the live call's."""
        for record in rows:
            call_id = record.get("callId")
            entry = self.call_list.find(call_id) if call_id else self.live.entry
            if entry is None:
                # A bot's call nobody picked up yet (offered, ringing): an entry of its own.
                title = f"bot call {str(call_id)[:8]}" if call_id else "endpoint"
                entry = self.call_list.new_entry(title, "bot", None, str(call_id or ""))
                entry.live = False
                self.call_list.refresh_labels()
            self.call_list.add_rows(entry, [record])

    def _on_server_event(self, event: Any) -> dict[str, Any] | None:
        """One endpoint event: follow the offered calls; return its log record (None: skip)."""
        from app.server.events import EngineEvent

        if isinstance(event, EngineEvent):
            if event.call_id in self._attached_calls:
                return None  # the session's own subscription logs this call's engine events
            return event.to_json()  # another call's (its t is that call's sample clock)
        self._backlog.append(event)
        self._follow_calls(event)
        return self._record(event)

    def _record(self, event: Any) -> dict[str, Any]:
        """The endpoint's record of ``event`` plus ``t``: seconds from the current call's start."""
        t = round(event.wall_time_s - self.live.log_origin_wall_s, 3)
        return {"t": t, **event.to_json()}

    def _follow_calls(self, event: Any) -> None:
        """Say in the endpoint panel how the served call and the offered calls are doing."""
        from app.server.events import CallStateChanged
        from app.server.notifier import DeliveryRecord

        panel = self.panel
        call_id = getattr(event, "call_id", None)
        url = self._offers.get(call_id) if call_id is not None else None
        if isinstance(event, DeliveryRecord):
            if url is not None and self._offer_states.get(event.call_id) == "incoming":
                self._show_offer_delivery(event, url)
            elif event.outcome == "failed":
                panel.banner.show_message(
                    f"A notification could not be delivered to the bot at {event.url}: "
                    f"{event.error} (gave up after {attempts(event.attempt)})."
                )
            return
        if not isinstance(event, CallStateChanged):
            return
        served = event.call_id == self.served_call_id and self.server is not None
        if served and event.state == "terminated":
            panel.status.setText(f"Served call {event.call_id} ended ({event.reason}).")
        if url is None:
            return
        previous = self._offer_states.get(event.call_id)
        self._offer_states[event.call_id] = event.state
        short = event.call_id[:8]
        if event.state == "establishing":
            panel.banner.show_message("")
            panel.status.setText(f"The bot answered incoming call {short}; connecting …")
        elif event.state == "terminated":
            del self._offers[event.call_id]
            if previous == "incoming" and event.reason == "bot hung up":
                panel.status.setText(f"The bot rejected incoming call {short}.")
            elif previous == "incoming":
                panel.status.setText(f"Incoming call {short} ended unanswered.")
                panel.banner.show_message(
                    f"The bot at {url} did not answer incoming call {short} ({event.reason})."
                )

    def _show_offer_delivery(self, record: Any, url: str) -> None:
        short = record.call_id[:8]
        banner = self.panel.banner
        if record.outcome == "delivered":
            banner.show_message("")
            self.panel.status.setText(
                f"Incoming call {short} reached the bot (HTTP {record.status} in "
                f"{record.latency_ms:.0f} ms); waiting for it to answer …"
            )
        elif record.outcome == "retrying":
            banner.show_message(
                f"The bot's callback {url} did not take incoming call {short}: {record.error}. "
                f"Retrying in {record.retry_in_s or 0:.1f} s (attempt {record.attempt})."
            )
        else:
            banner.show_message(
                f"The bot's callback {url} did not take incoming call {short}: {record.error}. "
                f"Gave up after {attempts(record.attempt)}; the call ends unanswered."
            )

    def _on_offer(self, offer: IncomingOffer) -> None:
        """The worker thread is done offering: say how it went."""
        self._offer_pending = False
        self._update_buttons()
        if self.server is None:
            return  # the endpoint was turned off meanwhile: nothing left to follow
        panel = self.panel
        if offer.call_id is None:
            message = f"Incoming call to {offer.callback_url} failed: {offer.error}"
            panel.status.setText(message)
            panel.banner.show_message(message)
            return
        self._offers[offer.call_id] = offer.callback_url
        self._offer_states[offer.call_id] = "incoming"
        panel.status.setText(
            f"Offered incoming call {offer.call_id[:8]} to {offer.callback_url}; "
            "waiting for the bot to answer …"
        )
        # Its deliveries may have been drained before this reply: follow them now.
        for event in list(self._backlog):
            if getattr(event, "call_id", None) == offer.call_id:
                self._follow_calls(event)

    def _attach(self, call: Any, events_q: queue.SimpleQueue[ev.Event]) -> None:
        """A served call is established: our microphone and keypad become its caller."""
        if self.live.session is not None and self.live.session.running:
            self.live.session.stop()
        try:
            microphone = self.audio.open_input()
        except Exception as exc:
            call.host.unsubscribe(events_q)
            self.panel.status.setText(f"Cannot open the input for the served call: {exc}")
            return
        # The entry that held this call's rows before the pick-up gives way to the live one
        # (the backlog replays those rows into it).
        self.call_list.remove_unanswered(call.call_id)
        entry = self.live.attach(call, events_q, microphone)
        self.served_call_id = call.call_id
        self._attached_calls.add(call.call_id)
        self.call_list.add_rows(
            entry,
            [self._record(e) for e in self._backlog if getattr(e, "call_id", None) == call.call_id],
        )
        self.call_list.show_entry(entry)
        self.panel.status.setText(f"Served call {call.call_id} is live.")
        self.live.changed()
