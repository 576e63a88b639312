"""The window's centre: countdowns and the timeline above, the log and the takes below.

The call picker (app/ui/call_list_panel.py) points every view here at one call's history; this
file lays them out, drives the timeline's scroll/zoom/follow bar, clears the shown call when
the user asks, enlarges the countdowns for a projector and replays a take on the speaker.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.audio.devices import OutputDevice
from app.core.clock import ENGINE_RATE_HZ
from app.ui.call_list_panel import CallListPanel
from app.ui.countdowns import CountdownPanel
from app.ui.log_view import LogView
from app.ui.models.takes import Take
from app.ui.takes_view import TakesView
from app.ui.timeline_view import TimelineView
from app.ui.widgets import Banner

REPLAY_TAG = "replay"


class CentreArea(QWidget):
    """Banner, countdowns, timeline bar and timeline; the log and takes tabs with "Clear"."""

    def __init__(self, say: Callable[[str, int], None]) -> None:
        super().__init__()
        self.say = say  # the status bar's showMessage
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.banner = Banner()
        self.banner.setObjectName("audioBanner")
        layout.addWidget(self.banner)
        split = QSplitter(Qt.Orientation.Vertical)
        split.setObjectName("centreSplitter")
        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.setSpacing(2)
        self.countdowns = CountdownPanel()
        self.timeline = TimelineView()
        self.log = LogView()
        self.takes = TakesView()
        # The call list (a plain model) and the picker that points these views at one call.
        self.call_list = CallListPanel(self.log, self.takes, self.timeline, self.countdowns)
        tl.addWidget(self.countdowns)
        tl.addLayout(self._timeline_bar())
        tl.addWidget(self.timeline, 1)
        split.addWidget(top)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.log, "Notification log")
        self.tabs.addTab(self.takes, "Takes")
        clear = QToolButton()
        clear.setText("Clear")
        clear.setObjectName("clearLog")
        clear.setToolTip("Clear the log and the takes of this call (the session folder stays)")
        clear.clicked.connect(self.clear_views)
        self.tabs.setCornerWidget(clear)
        self.clear_button = clear
        split.addWidget(self.tabs)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        layout.addWidget(split, 1)
        self.splitter = split
        self.speaker_of: Callable[[], OutputDevice | None] = lambda: None
        self._playing_take: Take | None = None
        self.takes.play_requested.connect(self.play_take)
        self.takes.stop_requested.connect(self.stop_replay)

    def _timeline_bar(self) -> QHBoxLayout:
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        self.follow_live = QCheckBox("Follow live")
        self.follow_live.setObjectName("followLive")
        self.follow_live.setChecked(True)
        self.follow_live.setToolTip('Keep "now" in view; the wheel on the timeline scrolls back')
        buttons = []
        for text, tip, step in (
            (
                "◀",
                "Scroll back (wheel)",
                lambda: self.timeline.scroll_s(-self.timeline.window_s / 2),
            ),
            (
                "▶",
                "Scroll forward (wheel)",
                lambda: self.timeline.scroll_s(self.timeline.window_s / 2),
            ),
            ("−", "Zoom out (Ctrl + wheel)", lambda: self.timeline.zoom(1.25)),
            ("+", "Zoom in (Ctrl + wheel)", lambda: self.timeline.zoom(0.8)),
        ):
            button = QToolButton()
            button.setText(text)
            button.setToolTip(tip)
            button.clicked.connect(step)
            buttons.append(button)
        self.timeline_span = QLabel("")
        bar.addWidget(QLabel("Call:"))
        bar.addWidget(self.call_list.picker)
        bar.addWidget(QLabel("Timeline:"))
        for button in buttons:
            bar.addWidget(button)
        bar.addWidget(self.follow_live)
        bar.addWidget(self.timeline_span)
        bar.addStretch(1)
        self.follow_live.toggled.connect(self.timeline.set_follow_live)
        self.timeline.view_changed.connect(self._timeline_view_changed)
        self._timeline_view_changed()
        return bar

    def _timeline_view_changed(self) -> None:
        self.follow_live.blockSignals(True)
        self.follow_live.setChecked(self.timeline.follow_live)
        self.follow_live.blockSignals(False)
        self.timeline_span.setText(f"{self.timeline.window_s:g} s shown")

    def clear_views(self) -> None:
        """Clear the shown call's log and takes, as the user asked (the session folder stays)."""
        self.call_list.clear_current()
        self.say("Log and takes cleared (the session folder keeps everything).", 6000)

    def set_presenter(self, on: bool) -> None:
        """Large countdowns and ending for a projector; the log and takes get out of the way."""
        self.countdowns.set_presenter(on)
        self.splitter.setSizes([3, 1] if on else [3, 2])

    # -- replaying a take ----------------------------------------------------------------------

    def play_take(self, take: Take) -> None:
        """Replay a take on the speaker."""
        speaker = self.speaker_of()
        if speaker is None:
            return
        self._playing_take = take
        speaker.mixer.play(take.load(), ENGINE_RATE_HZ, REPLAY_TAG)

    def stop_replay(self) -> None:
        """Stop replaying."""
        speaker = self.speaker_of()
        if speaker is not None:
            speaker.mixer.stop(REPLAY_TAG)
        self._playing_take = None
        self.takes.waveform.set_playhead(None)

    def update_playhead(self) -> None:
        """Move the replayed take's playhead (from the poll)."""
        speaker = self.speaker_of()
        if self._playing_take is None or speaker is None:
            return
        progress = speaker.mixer.progress(REPLAY_TAG)
        if progress is None or self.takes.current() is not self._playing_take:
            return
        played, total = progress
        self.takes.waveform.set_playhead(played / total if total else None)
        if total and played >= total:
            self._playing_take = None
