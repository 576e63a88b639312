"""Wake the window's poll when the live call's engine emits an event, not at the next tick.

The poll timer (40 ms) paces meters and countdowns; an ending waiting for it would reach the
screen up to 40 ms late (issue 12 asks for 60 ms from click to ending shown, README "Live
latency"). The engine thread only sets a flag and emits a queued signal (docs/design.md rule 1:
the GUI decides nothing and reads only immutable events); the GUI thread then runs the poll,
which drains the events as it always does. One wake per burst of events, none for recording
chunks (ten a second during a capture, and nothing on screen depends on them at once).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from app.core import events as ev
from app.engine.host import EngineHost

# The listener runs before the host queues the event for subscribers (app/engine/host.py,
# _publish): a poll woken in between finds nothing, so one more follows this much later.
RECHECK_MS = 5


class EventWake(QObject):
    """Calls ``on_wake`` on the GUI thread soon after the followed engine emits an event."""

    woken = Signal()

    def __init__(self, on_wake: Callable[[], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._on_wake = on_wake
        self._host: EngineHost | None = None
        self._armed = threading.Event()  # set: a wake is on its way (engine thread sets)
        self.wakes = 0  # GUI thread: wakes delivered (for tests)
        self.woken.connect(self._wake, Qt.ConnectionType.QueuedConnection)

    def follow(self, host: EngineHost | None) -> None:
        """Wake on ``host``'s events from now on (None: on nobody's)."""
        if host is self._host:
            return
        if self._host is not None:
            self._host.remove_listener(self._on_event)
        self._host = host
        if host is not None:
            host.add_listener(self._on_event)

    def _on_event(self, event: ev.Event) -> None:
        # Engine thread: a flag and a queued signal, nothing else.
        if isinstance(event, ev.RecordingChunk) or self._armed.is_set():
            return
        self._armed.set()
        self.woken.emit()

    def _wake(self) -> None:
        self._armed.clear()
        self.wakes += 1
        self._on_wake()
        QTimer.singleShot(RECHECK_MS, self, self._recheck)

    def _recheck(self) -> None:
        self._on_wake()
