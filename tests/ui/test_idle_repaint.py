"""Issue 8 (idle CPU): a call on silent input repaints only what changes.

The CPU figure itself is a benchmark (tests/bench/bench_concurrency.py, the desktop app line);
these tests pin the mechanisms behind it without any clock: the live waveform and the level
meter skip repaints that would draw the same picture, and the timeline repaints at its idle
rate while nothing but "now" moves.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QFont, QPaintEvent
from PySide6.QtWidgets import QApplication

from app.core.timeline import Span, Timeline
from app.ui.timeline_view import IDLE_REPAINT_SAMPLES, TimelineView
from app.ui.widgets import LevelMeter, LiveWaveform


class CountingWaveform(LiveWaveform):
    """The real widget; counts its paints."""

    paints = 0

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        self.paints += 1
        super().paintEvent(event)


class CountingMeter(LevelMeter):
    """The real widget; counts its paints."""

    paints = 0

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        self.paints += 1
        super().paintEvent(event)


def _settle(qtbot, widget) -> None:  # type: ignore[no-untyped-def]
    """Show the widget and let its first paints happen."""
    widget.show()
    qtbot.waitExposed(widget)
    QApplication.processEvents()


def test_silent_peaks_do_not_repaint_the_live_waveform(qtbot) -> None:
    wave = CountingWaveform()
    qtbot.addWidget(wave)
    wave.resize(300, 60)
    _settle(qtbot, wave)
    before = wave.paints
    for _ in range(10):  # 10 polls of silence: nothing visible to draw
        wave.add_peaks(np.zeros(4, np.float32))
        QApplication.processEvents()
    assert wave.paints == before
    assert wave.bar_lines() == []

    wave.add_peaks(np.array([0.5, 0.0, 0.25], np.float32))  # speech: bars, one line each
    qtbot.waitUntil(lambda: wave.paints > before)
    lines = wave.bar_lines()
    assert len(lines) == 2
    assert lines[0].dy() > lines[1].dy() > 0  # the louder peak draws the taller bar

    # The bars scroll out under silence: painted until the last one is gone, then not again.
    for _ in range(200):
        wave.add_peaks(np.zeros(4, np.float32))
        QApplication.processEvents()
    assert wave.bar_lines() == []
    settled = wave.paints
    wave.add_peaks(np.zeros(4, np.float32))
    QApplication.processEvents()
    assert wave.paints == settled


def test_a_level_meter_on_the_floor_does_not_repaint(qtbot) -> None:
    meter = CountingMeter()
    qtbot.addWidget(meter)
    meter.resize(200, 18)
    _settle(qtbot, meter)
    for _ in range(200):  # let the hold decay to the floor
        meter.set_level(-100.0)
        QApplication.processEvents()
    before = meter.paints
    for _ in range(10):
        meter.set_level(-100.0)
        QApplication.processEvents()
    assert meter.paints == before
    meter.set_level(-20.0)
    qtbot.waitUntil(lambda: meter.paints > before)


def test_timeline_repaints_at_its_idle_rate_when_nothing_moves(qtbot) -> None:
    view = TimelineView()
    qtbot.addWidget(view)
    view.resize(700, 300)
    now = [5 * 16000]
    timeline = Timeline()
    view.reset(timeline, lambda: now[0])
    _settle(qtbot, view)
    assert not view.needs_repaint()  # just painted, nothing moved

    now[0] += IDLE_REPAINT_SAMPLES // 4  # a poll later: idle, so not yet
    assert not view.needs_repaint()
    now[0] += IDLE_REPAINT_SAMPLES  # the idle interval passed
    assert view.needs_repaint()
    view.repaint()
    assert not view.needs_repaint()

    timeline.keys.append((now[0], "5", ("outOfBand",)))  # something new: at once
    assert view.needs_repaint()
    view.repaint()
    timeline.spans.append(Span("timer:maxSilence", now[0], deadline=now[0] + 32000))
    view.repaint()
    now[0] += 1  # an open timer counts down: every poll
    assert view.needs_repaint()
    timeline.spans[-1].end = now[0]
    view.repaint()  # the paint that shows it closed
    assert not view.needs_repaint()


def test_timeline_cached_fonts_follow_a_font_change(qtbot) -> None:
    view = TimelineView()
    qtbot.addWidget(view)
    view.resize(700, 300)
    _settle(qtbot, view)
    narrow = view.label_width()
    big = QFont(view.font())
    big.setPointSizeF(view.font().pointSizeF() * 3)
    view.setFont(big)  # presenter mode enlarges the fonts
    assert view.label_width() > narrow
