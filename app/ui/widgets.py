"""Small painted widgets: the level meter, the live waveform, a take's waveform with playhead."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QEvent, QLineF, QObject, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from app.core.dsp.levels import SILENCE_FLOOR_DBFS

FloatArray = npt.NDArray[np.float32]

# The meter spans the range where speech lives on a headset: -60 dBFS is room noise, the top
# is digital full scale.
METER_FLOOR_DBFS = -60.0
# Peaks per second in the live waveform (app.session.live sends one peak per 10 ms).
ENVELOPE_PER_S = 100
LIVE_WAVEFORM_S = 6.0

BACKGROUND = QColor("#1e1f24")
GRID = QColor("#3a3c44")
WAVE = QColor("#4fc3f7")
PLAYHEAD = QColor("#ffca28")
TEXT = QColor("#e8e8e8")
# A take whose loudest 10 ms stays below this is called silent in words: -60 dBFS is the
# meter's floor (room noise on a headset), nothing a listener would take for an answer.
SILENT_TAKE_PEAK = 10 ** (METER_FLOOR_DBFS / 20)
# Inputs a mouse wheel changes by accident while the user scrolls the form past them.
WHEEL_GUARDED = (QComboBox, QAbstractSpinBox, QAbstractSlider)


def peak_to_dbfs(peak: float) -> float:
    """Peak amplitude to dBFS, floored like the engine's levels."""
    return SILENCE_FLOOR_DBFS if peak <= 0 else max(SILENCE_FLOOR_DBFS, 20 * np.log10(peak))


class LevelMeter(QWidget):
    """A horizontal dBFS bar (green, amber near clipping, red at the top) with a peak hold."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.level_dbfs = SILENCE_FLOOR_DBFS
        self.hold_dbfs = SILENCE_FLOOR_DBFS
        self.setMinimumHeight(16)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Microphone level (peak, dBFS)")

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        """Preferred size."""
        return QSize(200, 18)

    def set_level(self, level_dbfs: float) -> None:
        """Show a new peak level; the hold decays by 0.5 dB per update (about 12 dB/s)."""
        before = (self._x(self.level_dbfs), self._x(self.hold_dbfs))
        self.level_dbfs = level_dbfs
        self.hold_dbfs = max(level_dbfs, self.hold_dbfs - 0.5)
        # Repaint only when the bar or the hold moves by a pixel: a silent input sits on the
        # floor, and 25 identical repaints a second cost CPU for nothing (issue 8, idle CPU).
        after = (self._x(self.level_dbfs), self._x(self.hold_dbfs))
        if any(abs(a - b) >= 0.5 for a, b in zip(before, after, strict=True)):
            self.update()

    def _x(self, level_dbfs: float) -> float:
        frac = (max(METER_FLOOR_DBFS, min(0.0, level_dbfs)) - METER_FLOOR_DBFS) / -METER_FLOOR_DBFS
        return frac * self.width()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        """Paint the bar."""
        p = QPainter(self)
        p.fillRect(self.rect(), BACKGROUND)
        x = self._x(self.level_dbfs)
        colour = QColor("#66bb6a")
        if self.level_dbfs > -6:
            colour = QColor("#ef5350")
        elif self.level_dbfs > -12:
            colour = QColor("#ffca28")
        p.fillRect(QRectF(0, 2, x, self.height() - 4), colour)
        p.setPen(QPen(QColor("#eeeeee"), 2))
        hx = self._x(self.hold_dbfs)
        p.drawLine(QPointF(hx, 1), QPointF(hx, self.height() - 1))
        p.setPen(GRID)
        for db in range(int(METER_FLOOR_DBFS), 1, 12):
            gx = self._x(db)
            p.drawLine(QPointF(gx, self.height() - 4), QPointF(gx, self.height()))
        p.end()


class LiveWaveform(QWidget):
    """The last few seconds of microphone peaks, scrolling."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.peaks: deque[float] = deque(maxlen=int(LIVE_WAVEFORM_S * ENVELOPE_PER_S))
        self._shows_bars = False  # the last paint drew at least one bar
        self.setMinimumHeight(48)
        self.setToolTip(f"Microphone, last {LIVE_WAVEFORM_S:g} s as the engine hears it")

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        """Preferred size."""
        return QSize(240, 60)

    def add_peaks(self, peaks: FloatArray) -> None:
        """Append peaks (one per 10 ms); repaint only if a bar is, or was, tall enough to see."""
        self.peaks.extend(float(v) for v in peaks)
        visible = bool(len(self.peaks)) and max(self.peaks) >= self._min_visible_peak()
        # A silent input draws only the mid line, whatever scrolls under it: skip those repaints
        # (issue 8, idle CPU), but paint once more when the last visible bar scrolls out.
        if visible or self._shows_bars:
            self.update()

    def clear(self) -> None:
        """Forget everything shown."""
        self.peaks.clear()
        self.update()

    def _min_visible_peak(self) -> float:
        """The smallest peak whose bar reaches half a pixel beyond the mid line."""
        return 0.5 / max(1.0, self.height() / 2 - 1)

    def bar_lines(self) -> list[QLineF]:
        """One vertical line per peak tall enough to see (the mid line hides the others)."""
        n = self.peaks.maxlen or 1
        if not self.peaks:
            return []
        mid = self.height() / 2
        values = np.minimum(1.0, np.fromiter(self.peaks, dtype=np.float64, count=len(self.peaks)))
        heights = values * (mid - 1)
        shown = np.flatnonzero(heights >= 0.5)
        xs = (n - len(values) + shown) * (self.width() / n)
        return [
            QLineF(x, mid - h, x, mid + h)
            for x, h in zip(xs.tolist(), heights[shown].tolist(), strict=True)
        ]

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        """Paint the envelope as mirrored bars, in one drawLines call."""
        p = QPainter(self)
        p.fillRect(self.rect(), BACKGROUND)
        mid = self.height() / 2
        p.setPen(GRID)
        p.drawLine(QPointF(0, mid), QPointF(self.width(), mid))
        lines = self.bar_lines()
        self._shows_bars = bool(lines)
        if lines:
            step = self.width() / (self.peaks.maxlen or 1)
            p.setPen(QPen(WAVE, max(1.0, step)))
            p.drawLines(lines)
        p.end()


class TakeWaveform(QWidget):
    """A whole take's waveform with a playhead (fraction 0..1)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.envelope: FloatArray = np.zeros(0, dtype=np.float32)
        self.playhead: float | None = None
        self.loaded = False
        self.setMinimumHeight(70)

    def caption(self) -> str:
        """Words over the box when there is no wave to see ("" when there is one)."""
        if not self.loaded:
            return "No take selected."
        if not len(self.envelope):
            return "Empty take: 0 samples were recorded."
        peak = float(self.envelope.max())
        if peak < SILENT_TAKE_PEAK:
            return f"Silent take: its loudest moment is {peak_to_dbfs(peak):.0f} dBFS."
        return ""

    def set_samples(self, samples: FloatArray) -> None:
        """Show ``samples`` (any length), reduced to one peak per 10 ms."""
        n = len(samples) // 160
        if n:
            self.envelope = np.abs(samples[: n * 160]).reshape(n, 160).max(axis=1)
        else:
            self.envelope = np.abs(samples).astype(np.float32)
        self.playhead = None
        self.loaded = True
        self.update()

    def clear(self) -> None:
        """Show no take."""
        self.envelope = np.zeros(0, dtype=np.float32)
        self.playhead = None
        self.loaded = False
        self.update()

    def set_playhead(self, fraction: float | None) -> None:
        """Move the playhead (None hides it)."""
        self.playhead = fraction
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        """Paint the envelope and the playhead."""
        p = QPainter(self)
        p.fillRect(self.rect(), BACKGROUND)
        w, h = self.width(), self.height()
        mid = h / 2
        if len(self.envelope):
            cols = max(1, w)
            idx = np.linspace(0, len(self.envelope), cols + 1).astype(int)
            top = QPolygonF()
            bottom = QPolygonF()
            for c in range(cols):
                seg = self.envelope[idx[c] : max(idx[c] + 1, idx[c + 1])]
                v = float(seg.max()) if len(seg) else 0.0
                top.append(QPointF(c, mid - min(1.0, v) * (mid - 2)))
                bottom.prepend(QPointF(c, mid + min(1.0, v) * (mid - 2)))
            poly = QPolygonF(top)
            for i in range(bottom.size()):
                poly.append(bottom.at(i))
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(WAVE)
            p.drawPolygon(poly)
        caption = self.caption()
        if caption:
            p.setPen(TEXT)
            p.drawText(QRectF(self.rect()), int(Qt.AlignmentFlag.AlignCenter), caption)
        if self.playhead is not None:
            x = self.playhead * w
            p.setPen(QPen(PLAYHEAD, 2))
            p.drawLine(QPointF(x, 0), QPointF(x, h))
        p.end()


class Banner(QLabel):
    """A warning strip across the top of the window (hidden when empty)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setStyleSheet(
            "QLabel { background: #fff3cd; color: #5c4400; border: 1px solid #e0c36a;"
            " padding: 6px; font-weight: bold; }"
        )
        self.hide()

    def show_message(self, text: str) -> None:
        """Show ``text`` (hide when empty)."""
        self.setText(text)
        self.setVisible(bool(text))


def file_row(line_edit: QLineEdit, on_browse: Callable[[], None]) -> QWidget:
    """A path field with a "Browse…" button beside it, as one form row widget."""
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    browse = QPushButton("Browse…")
    browse.clicked.connect(on_browse)
    layout.addWidget(line_edit, 1)
    layout.addWidget(browse)
    return row


class WheelGuard(QObject):
    """Wheel events over an unfocused combo, spin box or slider scroll the form instead.

    The event goes to the scroll bar of the nearest scroll area around the input (the form's),
    as if the pointer were over empty form; once the user clicked or tabbed into an input, the
    wheel changes it as usual.
    """

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        """Hand the wheel to the enclosing scroll area unless ``watched`` has the focus."""
        if (
            event.type() != QEvent.Type.Wheel
            or not isinstance(watched, QWidget)
            or watched.hasFocus()
        ):
            return False
        parent = watched.parentWidget()
        while parent is not None and not isinstance(parent, QAbstractScrollArea):
            parent = parent.parentWidget()
        if parent is not None:
            QApplication.sendEvent(parent.verticalScrollBar(), event)
        return True


def install_wheel_guard(root: QWidget, guard: WheelGuard) -> None:
    """Guard every combo, spin box and slider under ``root`` (a wheel no longer focuses them)."""
    for kind in WHEEL_GUARDED:
        for widget in root.findChildren(kind):
            widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            widget.installEventFilter(guard)
