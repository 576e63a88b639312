"""The countdown cards: one per timer of the running operation, plus its ending in words.

Only the current operation's timers are shown: when a new operation starts (``operation_started``)
every card goes back to "waiting" and the ending line says what is running, so nothing from the
previous operation is left on screen. Presenter mode enlarges the cards and the ending.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.core.clock import ENGINE_RATE_HZ
from app.core.timeline import Span, Timeline
from app.ui.timeline_view import LANE_COLOURS

TIMER_LANES = (
    ("initialSilence", "Initial silence"),
    ("maxSilence", "Max silence"),
    ("maxDuration", "Max duration"),
)
NO_ENDING = "No operation has ended yet."
# The headline before the first call: how to get an ending without knowing Graph or reading
# the README (issue 9: 8509, 8514 and 8515 in under two minutes). The names are presets'.
FIRST_STEPS_PRESETS = ("8509-max-silence", "8514-stop-tone", "8515-max-duration")
FIRST_STEPS = (
    "New to Graph? Open the Presets menu and pick "
    + ", ".join(FIRST_STEPS_PRESETS[:-1])
    + f" or {FIRST_STEPS_PRESETS[-1]}: each plays a ready call to that ending. Or fill in the "
    "request on the right and press Send recordResponse."
)
# Font scale of the countdown values and of the ending, normal and for a projector.
VALUE_SCALE = 2.2
ENDING_SCALE = 1.4
PRESENTER_FACTOR = 2.0


class CountdownPanel(QWidget):
    """Big countdowns, one per timer, in the timeline's colours, plus the ending in words."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        row = QHBoxLayout()
        self.values: dict[str, QLabel] = {}
        self.states: dict[str, QLabel] = {}
        self.presenter = False
        self._base_point_size = self.font().pointSizeF()
        for timer, title in TIMER_LANES:
            box = QFrame()
            box.setFrameShape(QFrame.Shape.StyledPanel)
            colour = LANE_COLOURS[f"timer:{timer}"]
            box.setStyleSheet(
                f"QFrame {{ background: #1e1f24; border: 2px solid {colour}; border-radius: 6px; }}"
                "QLabel { border: none; }"
            )
            bl = QVBoxLayout(box)
            bl.setContentsMargins(6, 2, 6, 2)
            bl.setSpacing(0)
            name = QLabel(title)
            name.setStyleSheet(f"color: {colour}; font-weight: bold;")
            value = QLabel("—")
            value.setStyleSheet(f"color: {colour};")
            value.setAlignment(Qt.AlignmentFlag.AlignCenter)
            state = QLabel("idle")
            state.setStyleSheet("color: #bbbbbb;")
            state.setAlignment(Qt.AlignmentFlag.AlignCenter)
            bl.addWidget(name)
            bl.addWidget(value)
            bl.addWidget(state)
            row.addWidget(box)
            self.values[timer] = value
            self.states[timer] = state
        layout.addLayout(row)
        self.ending = QLabel(FIRST_STEPS)
        self.ending.setObjectName("endingHeadline")
        self.ending.setWordWrap(True)
        self.ending.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.ending)
        self.since = 0  # sample where the current operation started: older timers are history
        self._apply_fonts()

    def _apply_fonts(self) -> None:
        factor = PRESENTER_FACTOR if self.presenter else 1.0
        big = QFont(self.font())
        big.setPointSizeF(self._base_point_size * VALUE_SCALE * factor)
        big.setBold(True)
        for value in self.values.values():
            value.setFont(big)
        ending_font = QFont(self.font())
        ending_font.setPointSizeF(self._base_point_size * ENDING_SCALE * factor)
        ending_font.setBold(True)
        self.ending.setFont(ending_font)

    def set_presenter(self, on: bool) -> None:
        """Enlarge the countdowns and the ending for a projector (or back)."""
        self.presenter = on
        self._apply_fonts()

    def operation_started(self, kind: str, at_sample: int) -> None:
        """A new operation runs: forget the previous one's countdowns and ending."""
        self.since = at_sample
        for timer, _ in TIMER_LANES:
            self.values[timer].setText("—")
            self.states[timer].setText("waiting")
        self.ending.setText(f"{kind} running …")
        self.ending.setStyleSheet("")

    def show_timers(self, timeline: Timeline, now: int) -> None:
        """Refresh every countdown from the current operation's newest span of each timer."""
        latest: dict[str, Span] = {}
        for item in timeline.spans:
            if item.lane.startswith("timer:") and item.start >= self.since:
                latest[item.lane[6:]] = item
        for timer, _ in TIMER_LANES:
            span = latest.get(timer)
            if span is None:
                continue  # keeps "waiting" (or "idle" before any operation)
            if span.end is None and span.deadline is not None:
                left = max(0, span.deadline - now) / ENGINE_RATE_HZ
                self.values[timer].setText(f"{left:.1f} s")
                self.states[timer].setText("running")
            else:
                if span.outcome == "expired":
                    self.values[timer].setText("0.0 s")
                elif span.deadline is not None and span.end is not None:
                    left = max(0, span.deadline - span.end) / ENGINE_RATE_HZ
                    self.values[timer].setText(f"{left:.1f} s")
                self.states[timer].setText(span.outcome or "stopped")

    def reset(self) -> None:
        """Back to idle."""
        self.since = 0
        for timer, _ in TIMER_LANES:
            self.values[timer].setText("—")
            self.states[timer].setText("idle")
        self.ending.setText(NO_ENDING)
        self.ending.setStyleSheet("")
