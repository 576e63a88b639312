"""The Graph endpoint panel's widgets, and the plumbing between the endpoint and the window.

The server's event-loop thread never touches a widget: ``ServedCaller`` (the GUI as a served
call's caller) and the incoming-call worker post immutable values to the window's inbox, which
the window drains on its poll timer (docs/architecture.md).
"""

from __future__ import annotations

import queue
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
)

from app.core import events as ev
from app.ui.widgets import Banner


class EndpointPanel(QGroupBox):
    """The toggle, the URL to copy, the status line, the incoming-call row and a banner."""

    def __init__(self) -> None:
        super().__init__("Graph endpoint (for a real bot)")
        layout = QVBoxLayout(self)
        self.toggle = QCheckBox("Serve a local Graph endpoint; calls use this caller")
        self.toggle.setObjectName("endpointToggle")
        row = QHBoxLayout()
        self.url = QLineEdit()
        self.url.setReadOnly(True)
        self.url.setPlaceholderText("off")
        self.copy = QPushButton("Copy")
        self.copy.setEnabled(False)
        row.addWidget(self.url, 1)
        row.addWidget(self.copy)
        self.status = QLabel("")
        self.status.setObjectName("endpointStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        incoming = QHBoxLayout()
        self.incoming_url = QLineEdit()
        self.incoming_url.setObjectName("incomingCallbackUrl")
        self.incoming_url.setPlaceholderText("the bot's callback URL, e.g. https://bot/api/calls")
        self.incoming_url.setToolTip(
            "Where the bot receives notifications: the incoming call is offered there, and the "
            "bot answers (or rejects) it through this endpoint."
        )
        self.incoming_button = QPushButton("Incoming call to bot")
        self.incoming_button.setObjectName("incomingCall")
        self.incoming_button.setEnabled(False)
        incoming.addWidget(self.incoming_url, 1)
        incoming.addWidget(self.incoming_button)
        self.banner = Banner()
        self.banner.setObjectName("endpointBanner")
        # Issue 13: HTTPS like the real service, and faults on demand, as `callsim serve`
        # takes them (--tls, --fault); read when the endpoint is switched on.
        # Short text: the side panel must fit a 1280 px wide window (tests/ui, the xvfb test).
        self.tls = QCheckBox("HTTPS (test CA)")
        self.tls.setToolTip(
            "A test CA is made when the endpoint starts; the status line names its file"
        )
        self.tls.setObjectName("endpointTls")
        self.faults = QLineEdit()
        self.faults.setObjectName("endpointFaults")
        self.faults.setPlaceholderText("faults, e.g. delay:3:8509 drop:8514 download:401")
        self.faults.setToolTip(
            "Space-separated, as `callsim serve --fault`: delay:SECONDS[:MATCH], "
            "duplicate|drop|reorder[:MATCH], fail:N:STATUS[:MATCH], download:401|404|500, "
            "cut:BYTES (README, Faults on demand)."
        )
        layout.addWidget(self.toggle)
        layout.addWidget(self.tls)
        layout.addWidget(self.faults)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(QLabel("Bot's callback URL (for an incoming call):"))
        layout.addLayout(incoming)
        layout.addWidget(self.banner)
        self.copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.url.text()))


def server_options(panel: EndpointPanel) -> tuple[dict[str, Any], str]:
    """GraphServer keyword arguments from the panel's TLS box and faults line, and a note.

    Raises ValueError with a one-line message for a bad fault (shown in the panel's banner).
    """
    from app.server.faults import parse_fault

    options: dict[str, Any] = {"faults": [parse_fault(s) for s in panel.faults.text().split()]}
    note = ""
    if panel.tls.isChecked():
        import tempfile
        from pathlib import Path

        from app.server.tls import make_test_certificates

        certs = make_test_certificates(Path(tempfile.mkdtemp(prefix="callsim-tls-")))
        options["ssl_context"] = certs.server_context
        note = f" Trust the CA {certs.ca_file} (NODE_EXTRA_CA_CERTS, SSL_CERT_FILE...)."
    return options, note


@dataclass(frozen=True)
class IncomingOffer:
    """What offering an incoming call to the bot gave (from the worker thread to the window)."""

    callback_url: str
    call_id: str | None  # None: the endpoint could not offer it, ``error`` says why
    error: str = ""


class ServedCaller:
    """The GUI as the caller of a served call (``app.server.caller.Caller``).

    Runs on the server's event-loop thread, so it only posts to the window's inbox; the
    window attaches its microphone and keypad on its own thread (docs/design.md rule 3).
    """

    def __init__(self, call: Any, inbox: queue.SimpleQueue[tuple[str, Any]]) -> None:
        self.call = call
        self.inbox = inbox
        # Subscribed here, on the loop thread, before the bot can hear "established": no engine
        # event of the call (say, the answer to the bot's first action) slips between the
        # pick-up and the window's attaching, which happens at its next poll.
        self.events: queue.SimpleQueue[ev.Event] = call.host.subscribe()

    def start(self) -> None:
        """The served call is established."""
        self.inbox.put(("attach", (self.call, self.events)))

    def stop(self) -> None:
        """The served call ended."""
        self.inbox.put(("detach", self.call.call_id))


def offer_error(exc: BaseException) -> str:
    """Why an incoming call could not be offered, in one line."""
    if isinstance(exc, TimeoutError):
        return "the endpoint did not create the call in time (is it still running?)"
    if isinstance(exc, ValueError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def attempts(n: int) -> str:
    return "1 attempt" if n == 1 else f"{n} attempts"
