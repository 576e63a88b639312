"""The live timeline: one lane per thing that happens, the last seconds scrolling left.

It paints a ``app.core.timeline.Timeline`` (spans folded from engine events) against the
engine's "now" (samples fed). Nothing here decides anything: it only draws (docs/design.md rule 1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QLineF, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.core.clock import ENGINE_RATE_HZ
from app.core.timeline import Span, Timeline
from app.graph.results import RESULTS, describe


@dataclass(frozen=True)
class Lane:
    """One row of the timeline."""

    key: str
    title: str
    colour: str


# Colour per lane, picked to stay distinct for the common colour-vision deficiencies
# (Okabe-Ito palette) and on a projector.
LANES: tuple[Lane, ...] = (
    Lane("prompt", "Prompt", "#0072B2"),
    Lane("beep", "Beep", "#56B4E9"),
    Lane("capture", "Recording", "#D55E00"),
    Lane("speech", "Speech (VAD)", "#009E73"),
    Lane("keys", "Keys", "#CC79A7"),
    Lane("timer:initialSilence", "Initial silence", "#E69F00"),
    Lane("timer:maxSilence", "Max silence", "#F0E442"),
    Lane("timer:maxDuration", "Max duration", "#9E9EFF"),
)
LANE_COLOURS = {lane.key: lane.colour for lane in LANES}

LABEL_WIDTH_PX = 120
HEADER_PX = 22
DEFAULT_WINDOW_S = 20.0
# Zoom limits: 2 s shows single key presses apart; 10 min holds the longest take (120 s) and
# the pauses around it several times over.
MIN_WINDOW_S = 2.0
MAX_WINDOW_S = 600.0
ZOOM_STEP = 1.25
# One wheel notch (120 eighths of a degree) scrolls this fraction of the visible window.
SCROLL_PER_NOTCH = 0.1
LABEL_PAD_PX = 4
# While nothing moves but "now" (no span open, no new event), the view repaints at most every
# 1/8 s of call time instead of at every 25 Hz poll: the grid then steps ~6 px at a 20 s window,
# and the GUI thread's idle cost drops (issue 8: a call on silent input <= 10 % of a core).
IDLE_REPAINT_SAMPLES = ENGINE_RATE_HZ // 8
_WORDS_BY_SUBCODE = {spec.subcode: (ending, spec) for ending, spec in RESULTS.items()}


def ending_label(subcode: int, reason: str) -> str:
    """An ending in words and code when no richer label was given, e.g. "stop tone … 200/8514"."""
    found = _WORDS_BY_SUBCODE.get(subcode)
    if found is None:
        return f"{reason} — {subcode}"
    ending, spec = found
    return f"{describe(ending)} — {spec.code}/{spec.subcode}"


BACKGROUND = QColor("#1e1f24")
TEXT = QColor("#e8e8e8")
GRID = QColor("#33353d")
ENDING = QColor("#ff5252")


class TimelineView(QWidget):
    """Paints lanes of spans, key ticks, timer countdowns and endings.

    It follows "now" unless the user scrolls back (wheel, or ``scroll_s``); Ctrl + wheel zooms.
    ``view_changed`` tells the window to update its follow-live toggle.
    """

    view_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.timeline = Timeline()
        self.now_samples: Callable[[], int] = lambda: 0
        self.window_s = DEFAULT_WINDOW_S
        self.follow_live = True
        self.view_end_s = DEFAULT_WINDOW_S  # right edge of the window when not following
        self.ending_labels: dict[str, str] = {}  # operation id -> "max silence … — 200/8509"
        # Fonts, metrics and the lane-title column depend only on the font and the size:
        # built once, dropped on a font change or resize (they cost more than the spans).
        self._fonts: tuple[QFont, QFont, QFontMetricsF, QFontMetricsF] | None = None
        self._titles: QPixmap | None = None
        self._painted: tuple[int, int, int, int, bool] | None = None  # see needs_repaint
        self.paint_count = 0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(HEADER_PX + 14 * len(LANES))
        self.setToolTip("Wheel: scroll back in time · Ctrl + wheel: zoom")

    # -- the visible window --------------------------------------------------------------------

    def visible_range(self) -> tuple[int, int]:
        """(first, last) sample shown."""
        window = round(self.window_s * ENGINE_RATE_HZ)
        if self.follow_live:
            now = self._now()
            t0 = max(0, now - window + window // 10)  # keep 10 % of room right of "now"
        else:
            t0 = max(0, round(self.view_end_s * ENGINE_RATE_HZ) - window)
        return t0, t0 + window

    def set_follow_live(self, follow: bool) -> None:
        """Follow "now" (True) or stay where the user scrolled to."""
        if follow == self.follow_live:
            return
        if not follow:
            self.view_end_s = self.visible_range()[1] / ENGINE_RATE_HZ
        self.follow_live = follow
        self.update()
        self.view_changed.emit()

    def scroll_s(self, delta_s: float) -> None:
        """Move the window by ``delta_s`` (negative: back in time); reaching now follows it."""
        end_s = self.visible_range()[1] / ENGINE_RATE_HZ + delta_s
        live_end_s = self._now() / ENGINE_RATE_HZ + self.window_s * 0.1
        self.follow_live = end_s >= live_end_s
        self.view_end_s = max(self.window_s, min(end_s, live_end_s))
        self.update()
        self.view_changed.emit()

    def zoom(self, factor: float) -> None:
        """Show ``factor`` times as many seconds (keeping the right edge)."""
        end_s = self.visible_range()[1] / ENGINE_RATE_HZ
        self.window_s = max(MIN_WINDOW_S, min(MAX_WINDOW_S, self.window_s * factor))
        self.view_end_s = max(self.window_s, end_s)
        self.update()
        self.view_changed.emit()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt's name
        """Wheel scrolls in time; Ctrl + wheel zooms."""
        notches = event.angleDelta().y() / 120 or -event.angleDelta().x() / 120
        if not notches:
            event.ignore()
            return
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom(ZOOM_STEP ** (-notches))
        else:
            self.scroll_s(-notches * SCROLL_PER_NOTCH * self.window_s)
        event.accept()

    def label_width(self) -> float:
        """Width of the lane titles' column: the widest title fits whatever the font."""
        metrics = self._font_set()[2]
        widest = max(metrics.horizontalAdvance(lane.title) for lane in LANES)
        return max(float(LABEL_WIDTH_PX), 22 + widest + 8)

    def _font_set(self) -> tuple[QFont, QFont, QFontMetricsF, QFontMetricsF]:
        """(small, bold, small metrics, bold metrics), cached until the font changes."""
        if self._fonts is None:
            small = QFont(self.font())
            small.setPointSizeF(max(7.0, self.font().pointSizeF() * 0.85))
            bold = QFont(small)
            bold.setBold(True)
            self._fonts = (small, bold, QFontMetricsF(small), QFontMetricsF(bold))
        return self._fonts

    def _small_font(self) -> QFont:
        return self._font_set()[0]

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        """A new font (presenter mode, system settings) invalidates the cached fonts."""
        if event.type() == QEvent.Type.FontChange:
            self._fonts = None
            self._titles = None
            self._painted = None
        super().changeEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        """The title column's height follows the widget's."""
        self._titles = None
        self._painted = None
        super().resizeEvent(event)

    def needs_repaint(self) -> bool:
        """Whether the next poll should repaint: always while something is open or new arrived,
        otherwise once "now" moved IDLE_REPAINT_SAMPLES since the last paint."""
        tl = self.timeline
        busy = any(span.end is None for span in tl.spans)
        if self._painted is None or busy or self._painted[4]:
            return True
        now = self._now()
        counts = (len(tl.spans), len(tl.keys), len(tl.endings))
        if counts != self._painted[1:4]:
            return True
        return now - self._painted[0] >= IDLE_REPAINT_SAMPLES

    def tick(self) -> None:
        """The window's poll: repaint if ``needs_repaint``."""
        if self.needs_repaint():
            self.update()

    def axis_labels(self) -> list[tuple[float, str]]:
        """(left x, text) of every seconds label on the axis; each fits inside the widget."""
        t0, t1 = self.visible_range()
        label_x = self.label_width()
        plot_w = max(1.0, self.width() - label_x - 8)
        px_per_s = plot_w / self.window_s
        metrics = self._font_set()[2]
        widest = metrics.horizontalAdvance(f"{int(t1 // ENGINE_RATE_HZ)} s") + 8
        label_every = next(
            (n for n in (1, 2, 5, 10, 15, 30, 60, 120, 300) if n * px_per_s >= widest), 600
        )
        labels: list[tuple[float, str]] = []
        for s in range(int(t0 // ENGINE_RATE_HZ), int(t1 // ENGINE_RATE_HZ) + 1):
            if s % label_every:
                continue
            x = label_x + (s * ENGINE_RATE_HZ - t0) / (t1 - t0) * plot_w
            text = f"{s} s"
            if x < label_x or x + 2 + metrics.horizontalAdvance(text) > self.width():
                continue
            labels.append((x + 2, text))
        return labels

    def ending_label_rects(self) -> list[tuple[QRectF, str]]:
        """Where each visible ending's label is drawn: right of its line, or left if no room."""
        t0, t1 = self.visible_range()
        label_x = self.label_width()
        plot_w = max(1.0, self.width() - label_x - 8)
        metrics = self._font_set()[3]
        rects: list[tuple[QRectF, str]] = []
        for i, (at, reason, subcode, op_id) in enumerate(self.timeline.endings):
            if not t0 <= at <= t1:
                continue
            x = label_x + (at - t0) / (t1 - t0) * plot_w
            text = self.ending_labels.get(op_id) or ending_label(subcode, reason)
            w = metrics.horizontalAdvance(text) + 2
            left = x + LABEL_PAD_PX
            if left + w > self.width():
                left = max(label_x, x - LABEL_PAD_PX - w)
            if left + w > self.width():  # wider than the plot: elide to what fits
                text = metrics.elidedText(
                    text, Qt.TextElideMode.ElideRight, self.width() - left - LABEL_PAD_PX
                )
                w = metrics.horizontalAdvance(text) + 2
            top = HEADER_PX + 2 + (i % 2) * metrics.height()  # neighbours alternate rows
            rects.append((QRectF(left, top, w, metrics.height()), text))
        return rects

    def key_label_rects(self) -> list[tuple[QRectF, str]]:
        """Where each visible key's name is drawn: right of its tick, or left if no room.

        A key at the right edge (a view scrolled back, or zoomed) keeps its whole name on the
        left of its tick instead of being cut off by the widget's edge.
        """
        t0, t1 = self.visible_range()
        label_x = self.label_width()
        plot_w = max(1.0, self.width() - label_x - 8)
        lane_h = (self.height() - HEADER_PX) / len(LANES)
        y = HEADER_PX + [lane.key for lane in LANES].index("keys") * lane_h
        metrics = self._font_set()[2]
        rects: list[tuple[QRectF, str]] = []
        for at, key, sources in self.timeline.keys:
            if not t0 <= at <= t1:
                continue
            x = label_x + (at - t0) / (t1 - t0) * plot_w
            suffix = "" if len(sources) > 1 else (" (in)" if "inBand" in sources else " (out)")
            text = f"{key}{suffix}"
            w = metrics.horizontalAdvance(text) + 2
            left = x + LABEL_PAD_PX
            if left + w > self.width():
                left = max(label_x, x - LABEL_PAD_PX - w)
            rects.append((QRectF(left, y, w, lane_h), text))
        return rects

    def _bold_font(self) -> QFont:
        return self._font_set()[1]

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        """Preferred size."""
        return QSize(800, HEADER_PX + 34 * len(LANES))

    def reset(self, timeline: Timeline, now_samples: Callable[[], int]) -> None:
        """Show a new call's timeline."""
        self.timeline = timeline
        self.now_samples = now_samples
        self.ending_labels = {}
        self._painted = None
        self.update()

    def _now(self) -> int:
        latest = max((s.start for s in self.timeline.spans), default=0)
        return max(self.now_samples(), latest)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        """Paint the spans over the cached title column (a few hundred primitives at most)."""
        now = self._now()
        tl = self.timeline
        self._painted = (
            now,
            len(tl.spans),
            len(tl.keys),
            len(tl.endings),
            any(span.end is None for span in tl.spans),
        )
        self.paint_count += 1
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), BACKGROUND)
        t0, t1 = self.visible_range()
        window = t1 - t0
        label_x = self.label_width()
        plot_w = max(1.0, self.width() - label_x - 8)
        lane_h = (self.height() - HEADER_PX) / len(LANES)

        def x_of(sample: int) -> float:
            return label_x + (sample - t0) / window * plot_w

        small = self._small_font()
        p.setFont(small)
        # Seconds grid, in one call.
        grid = [
            QLineF(x, HEADER_PX, x, self.height())
            for s in range(int(t0 // ENGINE_RATE_HZ), int(t1 // ENGINE_RATE_HZ) + 1)
            if (x := x_of(s * ENGINE_RATE_HZ)) >= label_x
        ]
        p.setPen(GRID)
        p.drawLines(grid)
        p.setPen(TEXT)
        for x, text in self.axis_labels():
            p.drawText(QPointF(x, HEADER_PX - 6), text)
        # Lane titles and separators: the same picture until the font or the size changes.
        p.drawPixmap(0, 0, self._title_column(label_x, lane_h))
        p.setClipRect(QRectF(label_x, 0, plot_w + 8, self.height()))
        rows = {lane.key: i for i, lane in enumerate(LANES)}
        for span in self.timeline.spans:
            row = rows.get(span.lane)
            if row is None:
                continue
            self._paint_span(p, span, row, lane_h, now, x_of)
        # Keys: a tick, and the key's name beside it (left of it at the right edge).
        key_y = HEADER_PX + rows["keys"] * lane_h
        p.setPen(QPen(QColor(LANE_COLOURS["keys"]), 3))
        p.drawLines(
            [
                QLineF(x_of(at), key_y + 3, x_of(at), key_y + lane_h - 3)
                for at, _key, _sources in self.timeline.keys
            ]
        )
        p.setPen(TEXT)
        for rect, text in self.key_label_rects():
            p.drawText(rect, int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft), text)
        # Endings: a red line across every lane, its label in words and code on a dark plate.
        for at, _reason, _subcode, _op_id in self.timeline.endings:
            x = x_of(at)
            p.setPen(QPen(ENDING, 2, Qt.PenStyle.DashLine))
            p.drawLine(QPointF(x, HEADER_PX), QPointF(x, self.height()))
        p.setClipping(False)
        p.setFont(self._bold_font())
        for rect, text in self.ending_label_rects():
            p.fillRect(rect, BACKGROUND)
            p.setPen(ENDING)
            p.drawText(rect, int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft), text)
        p.setFont(small)
        # Now.
        xn = x_of(now)
        if label_x <= xn <= self.width():
            p.setPen(QPen(QColor("#ffffff"), 1))
            p.drawLine(QPointF(xn, HEADER_PX), QPointF(xn, self.height()))
        p.end()

    def _title_column(self, label_x: float, lane_h: float) -> QPixmap:
        """The lane separators and titles, painted once into a transparent pixmap."""
        if self._titles is None:
            ratio = self.devicePixelRatioF()
            pixmap = QPixmap(round(self.width() * ratio), round(self.height() * ratio))
            pixmap.setDevicePixelRatio(ratio)
            pixmap.fill(Qt.GlobalColor.transparent)
            p = QPainter(pixmap)
            p.setFont(self._small_font())
            for i, lane in enumerate(LANES):
                y = HEADER_PX + i * lane_h
                p.setPen(GRID)
                p.drawLine(QPointF(0, y), QPointF(self.width(), y))
                p.fillRect(QRectF(6, y + lane_h / 2 - 5, 10, 10), QColor(lane.colour))
                p.setPen(TEXT)
                p.drawText(
                    QRectF(22, y, label_x - 24, lane_h),
                    int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft),
                    lane.title,
                )
            p.end()
            self._titles = pixmap
        return self._titles

    def _paint_span(
        self,
        p: QPainter,
        span: Span,
        row: int,
        lane_h: float,
        now: int,
        x_of: Callable[[int], float],
    ) -> None:
        colour = QColor(LANE_COLOURS[span.lane])
        y = HEADER_PX + row * lane_h + 4
        h = lane_h - 8
        end = span.end if span.end is not None else now
        x0, x1 = x_of(span.start), x_of(max(end, span.start))
        is_timer = span.lane.startswith("timer:")
        if is_timer and span.deadline is not None:
            # The whole timer as an outline up to its deadline, the elapsed part filled: a
            # running timer visibly counts down; a restart starts a new outline.
            xd = x_of(span.deadline)
            outline = QColor(colour)
            outline.setAlpha(200 if span.end is None else 90)
            p.setPen(QPen(outline, 1, Qt.PenStyle.DashLine))
            p.setBrush(Qt.BrushStyle.NoBrush)
            if span.end is None:
                p.drawRoundedRect(QRectF(x0, y, max(2.0, xd - x0), h), 3, 3)
        fill = QColor(colour)
        fill.setAlpha(220 if span.end is None else 150)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(fill)
        p.drawRoundedRect(QRectF(x0, y, max(2.0, x1 - x0), h), 3, 3)
        if span.outcome in ("restarted", "expired", "stopped") and is_timer:
            p.setPen(QPen(QColor("#ffffff") if span.outcome != "expired" else ENDING, 2))
            p.drawLine(QPointF(x1, y - 2), QPointF(x1, y + h + 2))
        if is_timer and span.end is None and span.deadline is not None:
            left_s = max(0.0, (span.deadline - now) / ENGINE_RATE_HZ)
            p.setPen(TEXT)
            p.drawText(QPointF(x1 + 4, y + h * 0.75), f"{left_s:.1f} s")
