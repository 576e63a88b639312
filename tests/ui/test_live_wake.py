"""The live call's GUI costs (issue 12, issue 8 item 2): woken by engine events, quiet between.

- An engine event reaches ``window.events`` without the poll timer (app/ui/event_wake.py), so an
  ending is on screen as soon as the engine decides it, not up to a 40 ms tick later.
- A poll on a running call repaints the clock label alone: the status bar and its other labels
  stay as they are (app/ui/status_area.py, fixed-size opaque labels).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QWidget

from app.core import events as ev
from tests.ui.test_main_window import realtime_silence_window

WAIT_MS = 10_000

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


def test_an_engine_event_reaches_the_window_without_the_poll_timer(qtbot, tmp_path: Path) -> None:
    window = realtime_silence_window(qtbot, tmp_path)
    assert window.start_call()
    session = window.session
    assert session is not None
    qtbot.waitUntil(lambda: session.heard_samples > 0, timeout=WAIT_MS)
    window.poll()  # follows the call's engine from the first poll on
    window.poll_timer.stop()
    body = {"playBeep": False, "maxRecordDurationInSeconds": 1, "stopTones": ["#"]}
    window.send_action("recordResponse", body)
    qtbot.waitUntil(
        lambda: any(isinstance(e, ev.CaptureStarted) for e in window.events), timeout=WAIT_MS
    )
    window.press_key("#", "out-of-band")
    qtbot.waitUntil(
        lambda: any(isinstance(e, ev.OperationEnded) for e in window.events), timeout=WAIT_MS
    )
    ended = [e for e in window.events if isinstance(e, ev.OperationEnded)]
    assert [e.subcode for e in ended] == [8514]
    assert window.event_wake.wakes >= 2
    window.hang_up()


class _Paints(QObject):
    """Counts paint events per widget."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[QWidget, int] = {}

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Paint and isinstance(watched, QWidget):
            self.counts[watched] = self.counts.get(watched, 0) + 1
        return False


def test_a_poll_repaints_the_clock_alone_not_the_status_bar(qtbot, tmp_path: Path) -> None:
    window = realtime_silence_window(qtbot, tmp_path)
    assert window.start_call()
    session = window.session
    assert session is not None
    window.poll_timer.stop()
    status = window.statusBar()
    clock = window.status_area.time_label
    paints = _Paints()
    clock.installEventFilter(paints)
    # The first polls after the start lay the status bar out (a new folder label, …).
    qtbot.waitUntil(lambda: session.fed_samples > 0, timeout=WAIT_MS)
    window.poll()
    qtbot.waitUntil(lambda: paints.counts.get(clock, 0) >= 1, timeout=WAIT_MS)
    paints.counts.clear()
    for widget in (status, window.overflow_label):
        widget.installEventFilter(paints)
    shown: list[str] = []
    for _ in range(10):
        fed = session.fed_samples
        qtbot.waitUntil(lambda fed=fed: session.fed_samples > fed, timeout=WAIT_MS)
        window.poll()
        shown.append(clock.text())
        qtbot.waitUntil(lambda: paints.counts.get(clock, 0) >= len(set(shown)), timeout=WAIT_MS)
    assert len(set(shown)) == 10  # the clock moved at every poll, and was repainted
    assert paints.counts.get(status, 0) <= 3  # not at every poll
    assert paints.counts.get(window.overflow_label, 0) <= 3
    window.hang_up()
