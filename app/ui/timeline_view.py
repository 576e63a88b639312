"""The live timeline: one lane per thing that happens, the last seconds scrolling left.

It paints a ``app.core.timeline.Timeline`` (spans folded from engine events) against the
engine's "now" (samples fed). Nothing here decides anything: it only draws (DESIGN.md rule 1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.core.clock import ENGINE_RATE_HZ
from app.core.timeline import Span, Timeline


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
BACKGROUND = QColor("#1e1f24")
TEXT = QColor("#e8e8e8")
GRID = QColor("#33353d")
ENDING = QColor("#ff5252")


class TimelineView(QWidget):
    """Paints lanes of spans, key ticks, timer countdowns and endings."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.timeline = Timeline()
        self.now_samples: Callable[[], int] = lambda: 0
        self.window_s = DEFAULT_WINDOW_S
        self.ending_labels: dict[str, str] = {}  # operation id -> "8509 max silence"
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(HEADER_PX + 18 * len(LANES))

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        """Preferred size."""
        return QSize(800, HEADER_PX + 34 * len(LANES))

    def reset(self, timeline: Timeline, now_samples: Callable[[], int]) -> None:
        """Show a new call's timeline."""
        self.timeline = timeline
        self.now_samples = now_samples
        self.ending_labels = {}
        self.update()

    def _now(self) -> int:
        latest = max((s.start for s in self.timeline.spans), default=0)
        return max(self.now_samples(), latest)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        """Paint everything from scratch (a few hundred primitives at most)."""
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), BACKGROUND)
        now = self._now()
        window = round(self.window_s * ENGINE_RATE_HZ)
        t0 = max(0, now - window + window // 10)  # keep 10 % of room right of "now"
        plot_w = max(1, self.width() - LABEL_WIDTH_PX - 8)
        lane_h = (self.height() - HEADER_PX) / len(LANES)

        def x_of(sample: int) -> float:
            return LABEL_WIDTH_PX + (sample - t0) / window * plot_w

        small = QFont(self.font())
        small.setPointSizeF(max(7.0, self.font().pointSizeF() * 0.85))
        p.setFont(small)
        # Seconds grid.
        px_per_s = plot_w / self.window_s
        label_every = next((n for n in (1, 2, 5, 10, 30) if n * px_per_s >= 40), 60)
        first_s = t0 // ENGINE_RATE_HZ
        for s in range(int(first_s), int((t0 + window) // ENGINE_RATE_HZ) + 1):
            x = x_of(s * ENGINE_RATE_HZ)
            if x < LABEL_WIDTH_PX:
                continue
            p.setPen(GRID)
            p.drawLine(QPointF(x, HEADER_PX), QPointF(x, self.height()))
            if s % label_every == 0:
                p.setPen(TEXT)
                p.drawText(QPointF(x + 2, HEADER_PX - 6), f"{s} s")
        # Lane titles and separators.
        for i, lane in enumerate(LANES):
            y = HEADER_PX + i * lane_h
            p.setPen(GRID)
            p.drawLine(QPointF(0, y), QPointF(self.width(), y))
            swatch = QRectF(6, y + lane_h / 2 - 5, 10, 10)
            p.fillRect(swatch, QColor(lane.colour))
            p.setPen(TEXT)
            p.drawText(
                QRectF(22, y, LABEL_WIDTH_PX - 24, lane_h),
                int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft),
                lane.title,
            )
        p.setClipRect(QRectF(LABEL_WIDTH_PX, 0, plot_w + 8, self.height()))
        rows = {lane.key: i for i, lane in enumerate(LANES)}
        for span in self.timeline.spans:
            row = rows.get(span.lane)
            if row is None:
                continue
            self._paint_span(p, span, row, lane_h, now, x_of)
        # Keys: a tick and the key's name.
        key_row = rows["keys"]
        for at, key, sources in self.timeline.keys:
            x = x_of(at)
            y = HEADER_PX + key_row * lane_h
            p.setPen(QPen(QColor(LANE_COLOURS["keys"]), 3))
            p.drawLine(QPointF(x, y + 3), QPointF(x, y + lane_h - 3))
            p.setPen(TEXT)
            suffix = "" if len(sources) > 1 else (" (in)" if "inBand" in sources else " (out)")
            p.drawText(QPointF(x + 4, y + lane_h * 0.7), f"{key}{suffix}")
        # Endings: a red line across every lane with the code.
        for at, reason, subcode, op_id in self.timeline.endings:
            x = x_of(at)
            p.setPen(QPen(ENDING, 2, Qt.PenStyle.DashLine))
            p.drawLine(QPointF(x, HEADER_PX), QPointF(x, self.height()))
            label = self.ending_labels.get(op_id, f"{subcode} {reason}")
            p.setPen(ENDING)
            bold = QFont(small)
            bold.setBold(True)
            p.setFont(bold)
            p.drawText(QPointF(x + 4, HEADER_PX + 12), label)
            p.setFont(small)
        # Now.
        xn = x_of(now)
        p.setPen(QPen(QColor("#ffffff"), 1))
        p.drawLine(QPointF(xn, HEADER_PX), QPointF(xn, self.height()))
        p.end()

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
