"""The desktop fake caller: pick a microphone, play the bot, press keys, watch the timers.

Threading (docs/design.md rules 1-3): the window never touches the engine's state. It sends
commands to a ``LiveSession`` (thread-safe) and, on a QTimer, drains the immutable events and
level blocks the session's threads queued. The timer only polls and repaints. With the Graph
endpoint on, the server's event-loop thread queues its events (deliveries, the bot's requests,
call states) and served calls into one inbox, and a worker thread offers incoming calls; the
same timer drains them.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.audio import alsa_quiet
from app.audio.devices import (
    AudioStatus,
    AudioUnavailableError,
    DeviceInfo,
    InputDevice,
    OutputDevice,
    SoundDeviceInput,
    SoundDeviceOutput,
    probe_audio,
)
from app.audio.fake import FakeOutputDevice, FileInputDevice
from app.audio.supervisor import RETRY_INTERVAL_S, DeviceEvent, running_supervisor
from app.core import events as ev
from app.core.clock import ENGINE_RATE_HZ
from app.core.timeline import Timeline
from app.graph.errors import GraphError
from app.graph.requests import RecordResponseRequest, parse_record_response
from app.graph.results import RESULTS, Ending
from app.resources import example_scenarios, sample_prompts
from app.scenario.model import Scenario, ScenarioError, load_scenario
from app.scenario.output import event_record
from app.session.export import (
    request_record,
)
from app.session.live import LiveSession, drain_queue
from app.ui.call_list_panel import CallListPanel
from app.ui.caller_panel import CallerAudioPanel
from app.ui.countdowns import TIMER_LANES, CountdownPanel
from app.ui.diagnostics import show_diagnostics
from app.ui.endpoint_panel import (
    EndpointPanel,
    IncomingOffer,
    ServedCaller,
    attempts,
    offer_error,
    server_options,
)
from app.ui.exports import Exports
from app.ui.keypad import Keypad
from app.ui.log_view import LogView
from app.ui.models.calls import CallEntry
from app.ui.paths import DATA_FOLDER, default_data_dir, default_sessions_root
from app.ui.player import ScenarioPlayer
from app.ui.request_form import RequestForm
from app.ui.script import LiveScript
from app.ui.takes_view import Take, TakesView
from app.ui.texts import code_text, ending_in_words
from app.ui.timeline_view import TimelineView
from app.ui.widgets import (
    Banner,
    WheelGuard,
    install_wheel_guard,
    peak_to_dbfs,
)

WINDOW_TITLE = "CallSim — fake caller for Graph recordResponse"
# 25 polls a second: smooth countdowns and meters, and well under the ~100 ms a user notices.
POLL_INTERVAL_MS = 40
REPLAY_TAG = "replay"
STOP_TONE_SUBCODE = RESULTS[Ending.STOP_TONE].subcode
# The endpoint's records are kept this many at most, so that a served call's rows from before
# the caller picks up (the bot's POST, "establishing", their deliveries) survive the log's
# reset when the window attaches to it; a few hundred calls' worth [I].
SERVER_BACKLOG = 2000
__all__ = [
    "DATA_FOLDER",
    "TIMER_LANES",
    "CountdownPanel",
    "MainWindow",
    "default_data_dir",
    "default_sessions_root",
]


@dataclass(frozen=True)
class InputChoice:
    """What the user picked as the microphone."""

    kind: str  # "device", "file" or "silence"
    device: DeviceInfo | None = None
    path: str = ""


InputFactory = Callable[[InputChoice], InputDevice]
OutputFactory = Callable[[DeviceInfo | None], OutputDevice]


def default_input_factory(choice: InputChoice) -> InputDevice:
    """Real microphone, WAV file played in real time, or silence."""
    if choice.kind == "device" and choice.device is not None:
        return SoundDeviceInput(choice.device)  # by name: indices change after a re-init
    if choice.kind == "file":
        return FileInputDevice(Path(choice.path), realtime=True)
    return FileInputDevice(None, realtime=True)


def default_output_factory(device: DeviceInfo | None) -> OutputDevice:
    """Real speaker, or a silent stand-in that keeps time."""
    if device is not None:
        return SoundDeviceOutput(device)
    return FakeOutputDevice(ENGINE_RATE_HZ, realtime=True, keep=False)


class MainWindow(QMainWindow):
    """The fake caller's main window."""

    def __init__(
        self,
        settings: QSettings,
        *,
        audio_status: AudioStatus | None = None,
        input_factory: InputFactory | None = None,
        output_factory: OutputFactory | None = None,
        sessions_root: Path | None = None,
    ) -> None:
        super().__init__()
        self.setWindowTitle(WINDOW_TITLE)
        self.setObjectName("CallSimMainWindow")
        self.settings = settings
        # Before anything opens PortAudio: libasound's messages are counted, not printed.
        self.alsa = alsa_quiet.install()
        self.audio = audio_status if audio_status is not None else probe_audio()
        self.input_factory = input_factory or default_input_factory
        self.output_factory = output_factory or default_output_factory
        self.sessions_root = sessions_root or default_sessions_root()
        self.session: LiveSession | None = None
        self._events_q: Any = None
        # Every call of this window (the GUI's own and the bots'), each with its history; the
        # views show the selected one. ``live_call`` is the one the session feeds.
        self.live_call: CallEntry | None = None
        self._sent: list[tuple[str, Any]] = []  # (action, body) awaiting their responses
        self._requests_by_op: dict[str, RecordResponseRequest] = {}
        self._last_request: dict[str, Any] | None = None
        self._last_response: ev.ActionResponse | None = None
        self._keys_at: dict[int, str] = {}  # key press sample -> key
        self._stop_tone_endings: dict[int, ev.OperationEnded] = {}
        self.speaker: OutputDevice | None = None
        self.server: Any = None  # app.server.server.GraphServer while the endpoint is on
        # Everything the endpoint's threads tell the window, in the order they said it:
        # ("server", ServerEvent), ("attach", (call, events queue)), ("detach", call id),
        # ("incoming", IncomingOffer).
        self._server_inbox: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._server_backlog: deque[Any] = deque(maxlen=SERVER_BACKLOG)
        self._served_call_id: str | None = None
        self._attached_calls: set[str] = set()  # their engine events come from the session
        # Wall time of the log's t = 0 for endpoint rows: the current call's start.
        self._log_origin_wall_s = time.time()
        self._offers: dict[str, str] = {}  # call id -> callback URL, calls the button offered
        self._offer_states: dict[str, str] = {}  # call id -> its last Graph state
        self._offer_thread: threading.Thread | None = None
        self._offer_pending = False  # from the click until the worker's IncomingOffer is drained
        self._playing_take: Take | None = None
        # The audio supervisor's reports (lost, retrying, reopened, switched), subscribed once
        # a stream went through it; the devices currently lost, by role ("input", "output").
        self._device_events: queue.SimpleQueue[DeviceEvent] | None = None
        self._devices_lost: dict[str, DeviceEvent] = {}
        # File → Open and the presets: the opened scenario playing live (composition).
        self.player = ScenarioPlayer(self)
        self._wheel_guard = WheelGuard(self)
        self._app_log: list[str] = []  # status messages, in order (for the bug report)

        self._build_ui()
        self.statusBar().messageChanged.connect(self._log_status)
        self._restore_settings()
        self._open_speaker()
        self.poll_timer = QTimer(self)
        self.poll_timer.setInterval(POLL_INTERVAL_MS)
        self.poll_timer.timeout.connect(self.poll)
        self.poll_timer.start()

    @property
    def events(self) -> list[ev.Event]:
        """Every engine event of the live (or last) call, in order."""
        return self.live_call.events if self.live_call is not None else []

    @property
    def script(self) -> LiveScript | None:
        """The opened scenario's entries still to play (None: nothing opened is playing)."""
        return self.player.script

    @property
    def timeline_model(self) -> Timeline:
        """The live (or last) call's timeline."""
        return self.live_call.timeline if self.live_call is not None else Timeline()

    # ================================================================== building

    def _build_ui(self) -> None:
        self.banner = Banner()
        self.banner.setObjectName("audioBanner")
        self.banner.show_message(self._device_banner())
        self._stall_banner_shown = False

        # Centre: countdowns + timeline above, log and takes below.
        centre = QWidget()
        cl = QVBoxLayout(centre)
        cl.setContentsMargins(4, 4, 4, 4)
        cl.addWidget(self.banner)
        split = QSplitter(Qt.Orientation.Vertical)
        split.setObjectName("centreSplitter")
        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.setSpacing(2)
        self.countdowns = CountdownPanel()
        self.timeline = TimelineView()
        self.log = LogView()
        self.log.request_for = self.request_for_record
        self.takes = TakesView()
        # The call list (a plain model) and the picker that points these views at one call.
        self.call_list = CallListPanel(self.log, self.takes, self.timeline, self.countdowns)
        self.calls = self.call_list.calls
        self.call_picker = self.call_list.picker
        tl.addWidget(self.countdowns)
        tl.addLayout(self._build_timeline_bar())
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
        cl.addWidget(split, 1)
        self.setCentralWidget(centre)
        self.centre_splitter = split

        # Left dock: the bot's request (its form scrolls on its own; the send buttons stay
        # under it, always on screen) and the Graph endpoint below the form.
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self._build_request_group(), 1)
        ll.addWidget(self._build_endpoint_group())
        scroll = QScrollArea()
        scroll.setObjectName("requestScroll")
        scroll.setWidgetResizable(True)
        scroll.setWidget(left)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Wide enough for the form: no horizontal scroll bar on a fresh layout.
        bar = scroll.verticalScrollBar().sizeHint().width()
        scroll.setMinimumWidth(max(360, left.minimumSizeHint().width() + bar + 4))
        self.request_scroll = scroll
        request_panel = QWidget()
        rl = QVBoxLayout(request_panel)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(scroll, 1)
        rl.addLayout(self._build_send_buttons())
        dock = QDockWidget("Bot request", self)
        dock.setObjectName("callDock")
        dock.setWidget(request_panel)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)

        # Right dock: the caller (audio in and out, call buttons, meters) and the keypad.
        self.keypad = Keypad()
        self.keypad.install_shortcuts(self)
        self.keypad.key_pressed.connect(self.press_key)
        caller = QWidget()
        kl = QVBoxLayout(caller)
        kl.setContentsMargins(2, 2, 2, 2)
        kl.addWidget(self._build_audio_group())
        kl.addWidget(self.keypad, 1)
        kdock = QDockWidget("Caller", self)
        kdock.setObjectName("keypadDock")
        kdock.setWidget(caller)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, kdock)
        # Room goes to the timeline; a saved layout (restoreState) overrides this.
        self.resizeDocks([dock, kdock], [400, 300], Qt.Orientation.Horizontal)
        self.docks = (dock, kdock)

        # Status bar.
        self.time_label = QLabel("no call")
        self.overflow_label = QLabel("input overflows: 0")
        self.overflow_label.setObjectName("overflowLabel")
        self.underrun_label = QLabel("")
        self.underrun_label.setObjectName("underrunLabel")
        self.underrun_label.setToolTip(
            "Speaker underruns the sound system reported (ALSA); they are counted here instead "
            "of printed in the terminal"
        )
        self.output_link = QLabel("")
        self.output_link.setObjectName("outputLink")
        self.output_link.setOpenExternalLinks(True)
        self.output_link.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.folder_label = QLabel("")
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.statusBar().addPermanentWidget(self.output_link)
        self.statusBar().addPermanentWidget(self.time_label)
        self.statusBar().addPermanentWidget(self.overflow_label)
        # Issue 12 hook: the microphone's measured input latency (app/audio/devices.py).
        self.input_latency_label = QLabel("")
        self.input_latency_label.setObjectName("inputLatencyLabel")
        self.statusBar().addPermanentWidget(self.input_latency_label)
        self.statusBar().addPermanentWidget(self.underrun_label)
        self.statusBar().addWidget(self.folder_label, 1)
        self.exports = Exports(
            self, self.settings, self.statusBar(), self.output_link, self._app_log
        )

        self._build_menus()
        self.log.export_requested.connect(self._export_record)
        self.log.message.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.takes.play_requested.connect(self.play_take)
        self.takes.stop_requested.connect(self.stop_replay)
        self.takes.export_requested.connect(self._export_take)
        install_wheel_guard(left, self._wheel_guard)
        install_wheel_guard(caller, self._wheel_guard)
        self._update_call_buttons()

    def _build_timeline_bar(self) -> QHBoxLayout:
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        self.follow_live = QCheckBox("Follow live")
        self.follow_live.setObjectName("followLive")
        self.follow_live.setChecked(True)
        self.follow_live.setToolTip('Keep "now" in view; the wheel on the timeline scrolls back')
        zoom_out = QToolButton()
        zoom_out.setText("−")
        zoom_out.setToolTip("Zoom out (Ctrl + wheel)")
        zoom_in = QToolButton()
        zoom_in.setText("+")
        zoom_in.setToolTip("Zoom in (Ctrl + wheel)")
        back = QToolButton()
        back.setText("◀")
        back.setToolTip("Scroll back (wheel)")
        forward = QToolButton()
        forward.setText("▶")
        forward.setToolTip("Scroll forward (wheel)")
        self.timeline_span = QLabel("")
        bar.addWidget(QLabel("Call:"))
        bar.addWidget(self.call_picker)
        bar.addWidget(QLabel("Timeline:"))
        for widget in (back, forward, zoom_out, zoom_in):
            bar.addWidget(widget)
        bar.addWidget(self.follow_live)
        bar.addWidget(self.timeline_span)
        bar.addStretch(1)
        self.follow_live.toggled.connect(self.timeline.set_follow_live)
        zoom_in.clicked.connect(lambda: self.timeline.zoom(0.8))
        zoom_out.clicked.connect(lambda: self.timeline.zoom(1.25))
        back.clicked.connect(lambda: self.timeline.scroll_s(-self.timeline.window_s / 2))
        forward.clicked.connect(lambda: self.timeline.scroll_s(self.timeline.window_s / 2))
        self.timeline.view_changed.connect(self._timeline_view_changed)
        self._timeline_view_changed()
        return bar

    def _timeline_view_changed(self) -> None:
        self.follow_live.blockSignals(True)
        self.follow_live.setChecked(self.timeline.follow_live)
        self.follow_live.blockSignals(False)
        self.timeline_span.setText(f"{self.timeline.window_s:g} s shown")

    def _device_banner(self) -> str:
        """What the banner says about the audio devices found at start (empty: all is well)."""
        if self.audio.available and not self.audio.problem:
            return ""
        if self.audio.banner:
            return self.audio.banner
        return f"{self.audio.problem}. Fix: {self.audio.fix}." if self.audio.problem else ""

    def _build_audio_group(self) -> QGroupBox:
        panel = CallerAudioPanel(self.audio, self._browse_input)
        self.caller_panel = panel
        # The window's names for the panel's widgets (tests and the other panels use them).
        self.input_combo, self.input_file = panel.input_combo, panel.input_file
        self.output_combo = panel.output_combo
        self.wav_controls, self.wav_position = panel.wav_controls, panel.wav_position
        self.wav_pause, self.wav_restart, self.wav_loop = (
            panel.wav_pause,
            panel.wav_restart,
            panel.wav_loop,
        )
        self.start_button, self.hangup_button = panel.start_button, panel.hangup_button
        self.drop_media_button = panel.drop_media_button
        self.meter, self.wave = panel.meter, panel.wave
        self.input_combo.currentIndexChanged.connect(self._input_changed)
        self.output_combo.currentIndexChanged.connect(lambda _: self._open_speaker())
        self.start_button.clicked.connect(self.start_call)
        self.hangup_button.clicked.connect(self.hang_up)
        self.drop_media_button.pressed.connect(lambda: self.set_media_dropped(True))
        self.drop_media_button.released.connect(lambda: self.set_media_dropped(False))
        self.wav_pause.toggled.connect(self._wav_pause)
        self.wav_restart.clicked.connect(self._wav_restart)
        self.wav_loop.toggled.connect(self._wav_loop)
        self._input_changed()
        return panel

    def _file_microphone(self) -> FileInputDevice | None:
        session = self.session
        if session is not None and isinstance(session.microphone, FileInputDevice):
            return session.microphone
        return None

    def _wav_pause(self, paused: bool) -> None:
        self.wav_pause.setText("Play" if paused else "Pause")
        mic = self._file_microphone()
        if mic is not None:
            mic.set_paused(paused)

    def _wav_restart(self) -> None:
        mic = self._file_microphone()
        if mic is not None:
            mic.restart()
            self.statusBar().showMessage(f"{mic.name}: playing again from 0.0 s.", 4000)

    def _wav_loop(self, loop: bool) -> None:
        mic = self._file_microphone()
        if mic is not None:
            mic.set_loop(loop)

    def _show_wav_position(self) -> None:
        mic = self._file_microphone()
        if mic is None or not mic.track_frames:
            name = Path(self.input_file.text().strip()).name
            self.wav_position.setText(name)
            return
        rate = mic.rate_hz
        at_s = min(mic.track_position, mic.track_frames) / rate
        state = " (paused)" if mic.paused else (" (ended)" if mic.finished else "")
        self.wav_position.setText(
            f"{mic.name.removeprefix('File: ')} {at_s:.1f} / {mic.track_frames / rate:.1f} s{state}"
        )

    def _build_endpoint_group(self) -> QGroupBox:
        panel = EndpointPanel()
        self.endpoint_panel = panel
        # The window's names for the panel's widgets (tests use them).
        self.endpoint_toggle, self.endpoint_url = panel.toggle, panel.url
        self.endpoint_copy, self.endpoint_status = panel.copy, panel.status
        self.incoming_url, self.incoming_button = panel.incoming_url, panel.incoming_button
        self.endpoint_banner = panel.banner
        self.endpoint_toggle.toggled.connect(self.set_endpoint_enabled)
        self.incoming_button.clicked.connect(self.offer_incoming_call)
        self.incoming_url.returnPressed.connect(self.offer_incoming_call)
        return panel

    def _build_request_group(self) -> QGroupBox:
        group = QGroupBox("Bot request (recordResponse)")
        layout = QVBoxLayout(group)
        self.form = RequestForm(sample_prompts())
        layout.addWidget(self.form, 1)
        return group

    def _build_send_buttons(self) -> QGridLayout:
        grid = QGridLayout()
        self.send_record = QPushButton("Send recordResponse")
        self.send_record.setObjectName("sendRecordResponse")
        self.send_record.setStyleSheet("QPushButton { font-weight: bold; padding: 6px; }")
        self.send_play = QPushButton("playPrompt")
        self.send_cancel = QPushButton("cancelMediaProcessing")
        self.send_subscribe = QPushButton("subscribeToTone")
        grid.addWidget(self.send_record, 0, 0, 1, 3)
        grid.addWidget(self.send_play, 1, 0)
        grid.addWidget(self.send_cancel, 1, 1)
        grid.addWidget(self.send_subscribe, 1, 2)
        self.send_record.clicked.connect(
            lambda: self.send_action("recordResponse", self.form.record_body())
        )
        self.send_play.clicked.connect(
            lambda: self.send_action("playPrompt", self.form.play_prompt_body())
        )
        self.send_cancel.clicked.connect(
            lambda: self.send_action("cancelMediaProcessing", self.form.cancel_body())
        )
        self.send_subscribe.clicked.connect(
            lambda: self.send_action("subscribeToTone", self.form.subscribe_body())
        )
        return grid

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = QAction("Open scenario or saved session…", self)
        self.open_action.setShortcut("Ctrl+O")
        self.open_action.triggered.connect(lambda: self.open_scenario(None))
        file_menu.addAction(self.open_action)
        # On the menu bar, not in File: the first thing a new user is told to open.
        self.presets_menu = self.menuBar().addMenu("&Presets")
        self.presets_menu.setToolTip("One small scenario per ending (8508-8536), played live")
        self.preset_actions: dict[str, QAction] = {}
        for path in example_scenarios():
            action = QAction(path.stem, self)
            with contextlib.suppress(ScenarioError, OSError):
                action.setToolTip(load_scenario(path).description)
            action.triggered.connect(lambda _=False, p=path: self.open_scenario(p))
            self.presets_menu.addAction(action)
            self.preset_actions[path.stem] = action
        self.presets_menu.setToolTipsVisible(True)
        file_menu.addSeparator()
        self.save_session_action = QAction("Save session to folder…", self)
        self.save_session_action.setShortcut("Ctrl+S")
        self.save_session_action.triggered.connect(lambda: self.save_session_to(None))
        file_menu.addAction(self.save_session_action)
        self.bug_report_action = QAction("Save bug report (zip)…", self)
        self.bug_report_action.triggered.connect(lambda: self.save_bug_report(None))
        file_menu.addAction(self.bug_report_action)
        file_menu.addSeparator()
        for title, handler in (
            ("Export last request…", self._export_last_request),
            ("Export last response…", self._export_last_response),
            ("Export notifications…", self._export_notifications),
            ("Export selected take (WAV)…", lambda: self._export_take(self.takes.current())),
        ):
            action = QAction(title, self)
            action.triggered.connect(handler)
            file_menu.addAction(action)
        file_menu.addSeparator()
        quit_action = QAction("Quit", self)
        quit_action.setShortcut("Ctrl+Q")
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        call_menu = self.menuBar().addMenu("&Call")
        self.new_call_action = QAction("New call", self)
        self.new_call_action.setShortcut("Ctrl+N")
        self.new_call_action.setToolTip("Hang up the current call (if any) and start a new one")
        self.new_call_action.triggered.connect(self.new_call)
        self.clear_action = QAction("Clear log and takes", self)
        self.clear_action.triggered.connect(self.clear_views)
        call_menu.addAction(self.new_call_action)
        call_menu.addAction(self.clear_action)

        view = self.menuBar().addMenu("&View")
        self.view_menu = view
        for dock in self.docks:
            # Closable docks: their toggle actions are enabled only then (Qt disables them
            # for a dock that cannot be closed).
            dock.setFeatures(
                QDockWidget.DockWidgetFeature.DockWidgetMovable
                | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                | QDockWidget.DockWidgetFeature.DockWidgetClosable
            )
            view.addAction(dock.toggleViewAction())
        view.addSeparator()
        self.presenter_action = QAction("Presenter mode (large countdowns)", self)
        self.presenter_action.setCheckable(True)
        self.presenter_action.setShortcut("F11")
        self.presenter_action.toggled.connect(self.set_presenter_mode)
        view.addAction(self.presenter_action)
        self.follow_action = QAction("Timeline follows live", self)
        self.follow_action.setCheckable(True)
        self.follow_action.setChecked(True)
        self.follow_action.toggled.connect(self.follow_live.setChecked)
        self.follow_live.toggled.connect(self.follow_action.setChecked)
        view.addAction(self.follow_action)
        for title, factor, key in (
            ("Zoom timeline in", 0.8, "Ctrl+="),
            ("Zoom timeline out", 1.25, "Ctrl+-"),
        ):
            action = QAction(title, self)
            action.setShortcut(key)
            action.triggered.connect(lambda _=False, f=factor: self.timeline.zoom(f))
            view.addAction(action)
        self.diagnostics_action = QAction("Diagnostics…", self)  # `callsim doctor`'s report
        self.diagnostics_action.triggered.connect(lambda: show_diagnostics(self))
        self.menuBar().addMenu("&Help").addAction(self.diagnostics_action)

    def _log_status(self, text: str) -> None:
        if text:
            self._app_log.append(f"{time.strftime('%H:%M:%S')} {text}")

    def set_presenter_mode(self, on: bool) -> None:
        """Large countdowns and ending for a projector; the log and takes get out of the way."""
        self.countdowns.set_presenter(on)
        self.centre_splitter.setSizes([3, 1] if on else [3, 2])
        if self.presenter_action.isChecked() != on:
            self.presenter_action.setChecked(on)

    # ================================================================== devices

    def input_choice(self) -> InputChoice:
        """The microphone the user picked."""
        kind, device = self.input_combo.currentData()
        return InputChoice(kind, device, self.input_file.text().strip())

    def _input_changed(self, *_: object) -> None:
        kind, device = self.input_combo.currentData()
        self.caller_panel.show_file_rows(kind == "file")
        session = self.session
        if session is None or not session.running:
            return
        mic = session.microphone
        if kind == "device" and device is not None and isinstance(mic, SoundDeviceInput):
            if device.name == mic.name:
                return
            try:
                mic.switch_to(device.name)
            except Exception as exc:  # the device is gone or refuses the rate: keep the old one
                self.statusBar().showMessage(f"Cannot switch the microphone: {exc}", 8000)
            else:
                self._devices_lost.pop("input", None)
        else:
            self.statusBar().showMessage("Hang up to use a file or silence as the input.", 8000)
        self._select_device(self.input_combo, mic.name, lambda d: d[1])

    def _select_device(self, combo: QComboBox, name: str, device_of: Any) -> None:
        """Show ``name`` as picked in ``combo`` without reacting to it."""
        for i in range(combo.count()):
            device = device_of(combo.itemData(i))
            if device is not None and device.name == name:
                combo.blockSignals(True)
                combo.setCurrentIndex(i)
                combo.blockSignals(False)
                return

    def _browse_input(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "WAV file as microphone", self.input_file.text(), "Audio (*.wav *.flac *.ogg)"
        )
        if path:
            self.input_file.setText(path)

    def _open_speaker(self) -> None:
        if self.session is not None and self.session.running:
            # Mid-call: the session plays through this speaker object; move its stream.
            device = self.output_combo.currentData()
            speaker = self.speaker
            if isinstance(speaker, SoundDeviceOutput) and device is not None:
                if device.name != speaker.name:
                    try:
                        speaker.switch_to(device.name)
                    except Exception as exc:  # gone or refuses the rate: keep the old one
                        self.statusBar().showMessage(f"Cannot switch the speaker: {exc}", 8000)
                    else:
                        self._devices_lost.pop("output", None)
            else:
                self.statusBar().showMessage("Hang up to change to this output.", 8000)
            if isinstance(speaker, SoundDeviceOutput):
                self._select_device(self.output_combo, speaker.name, lambda d: d)
            return
        if self.speaker is not None:
            self.speaker.stop()
            self.speaker = None
        device = self.output_combo.currentData()
        try:
            self.speaker = self.output_factory(device)
            self.speaker.start()
        except (AudioUnavailableError, Exception) as exc:  # PortAudioError: show, go silent
            self.statusBar().showMessage(f"Cannot open the speaker: {exc}", 8000)
            self.speaker = default_output_factory(None)
            self.speaker.start()

    # ================================================================== Graph endpoint

    def set_endpoint_enabled(self, enabled: bool) -> None:
        """Start or stop the local Graph endpoint whose calls this window plays the caller of."""
        if enabled and self.server is None:
            from app.server.server import GraphServer

            inbox = self._server_inbox

            def caller_factory(call: Any) -> ServedCaller:
                """Runs on the server's event-loop thread."""
                return ServedCaller(call, inbox)

            def on_event(event: Any) -> None:
                """Runs on the server's event-loop thread: enqueue the immutable event only."""
                inbox.put(("server", event))

            try:
                options, tls_note = server_options(self.endpoint_panel)  # --tls, --fault
                server = GraphServer(caller_factory=caller_factory, on_event=on_event, **options)
                self.server = server.start()
            except Exception as exc:  # port in use, aiohttp missing: say so, stay off
                self.server = None
                self.endpoint_status.setText(f"Cannot start the endpoint: {exc}")
                self.endpoint_toggle.setChecked(False)
                return
            if self.session is None or not self.session.running:
                self._log_origin_wall_s = time.time()
            self.endpoint_url.setText(self.server.graph_base_url("v1.0"))
            self.endpoint_copy.setEnabled(True)
            self.endpoint_banner.show_message("")
            self.endpoint_status.setText(
                "Point the bot's Graph base URL here; when it places or answers a call, this "
                "window is the caller." + tls_note
            )
        elif not enabled and self.server is not None:
            server, self.server = self.server, None
            server.stop()
            self.endpoint_url.clear()
            self.endpoint_copy.setEnabled(False)
            self.endpoint_status.setText("")
            self.endpoint_banner.show_message("")
            self._offers.clear()
            self._offer_states.clear()
        self._update_endpoint_buttons()

    def _update_endpoint_buttons(self) -> None:
        self.incoming_button.setEnabled(self.server is not None and not self._offer_pending)

    def offer_incoming_call(self) -> None:
        """Offer an incoming call to the bot's callback URL; it answers or rejects over HTTP."""
        server = self.server
        url = self.incoming_url.text().strip()
        if server is None:
            self.endpoint_banner.show_message("Turn the Graph endpoint on first.")
            return
        if self._offer_pending:
            return
        if not url:
            self.endpoint_banner.show_message(
                "Enter the bot's callback URL: the incoming call is offered there."
            )
            return
        self.endpoint_banner.show_message("")
        self.endpoint_status.setText(f"Offering an incoming call to {url} …")
        inbox = self._server_inbox

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
        self._update_endpoint_buttons()

    def _drain_server_inbox(self) -> None:
        rows: list[dict[str, Any]] = []
        for kind, payload in drain_queue(self._server_inbox):
            if kind == "server":
                record = self._on_server_event(payload)
                if record is not None:
                    rows.append(record)
                continue
            # Rows so far belong before what follows (an attach starts a new call entry).
            self._add_server_rows(rows)
            rows = []
            if kind == "attach":
                self._attach_served_call(*payload)
            elif kind == "detach" and payload == self._served_call_id and self.session:
                self._finish_session()
            elif kind == "incoming":
                self._on_offer(payload)
        self._add_server_rows(rows)

    def _add_server_rows(self, rows: list[dict[str, Any]]) -> None:
        """Endpoint rows go to their call's entry (by call id), else to the live call's."""
        for record in rows:
            call_id = record.get("callId")
            entry = self.call_list.find(call_id) if call_id else self.live_call
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
        self._server_backlog.append(event)
        self._follow_calls(event)
        return self._server_record(event)

    def _server_record(self, event: Any) -> dict[str, Any]:
        """The endpoint's record of ``event`` plus ``t``: seconds from the current call's start."""
        t = round(event.wall_time_s - self._log_origin_wall_s, 3)
        return {"t": t, **event.to_json()}

    def _follow_calls(self, event: Any) -> None:
        """Say in the endpoint panel how the served call and the offered calls are doing."""
        from app.server.events import CallStateChanged
        from app.server.notifier import DeliveryRecord

        call_id = getattr(event, "call_id", None)
        url = self._offers.get(call_id) if call_id is not None else None
        if isinstance(event, DeliveryRecord):
            if url is not None and self._offer_states.get(event.call_id) == "incoming":
                self._show_offer_delivery(event, url)
            elif event.outcome == "failed":
                self.endpoint_banner.show_message(
                    f"A notification could not be delivered to the bot at {event.url}: "
                    f"{event.error} (gave up after {attempts(event.attempt)})."
                )
            return
        if not isinstance(event, CallStateChanged):
            return
        served = event.call_id == self._served_call_id and self.server is not None
        if served and event.state == "terminated":
            self.endpoint_status.setText(f"Served call {event.call_id} ended ({event.reason}).")
        if url is None:
            return
        previous = self._offer_states.get(event.call_id)
        self._offer_states[event.call_id] = event.state
        short = event.call_id[:8]
        if event.state == "establishing":
            self.endpoint_banner.show_message("")
            self.endpoint_status.setText(f"The bot answered incoming call {short}; connecting …")
        elif event.state == "terminated":
            del self._offers[event.call_id]
            if previous == "incoming" and event.reason == "bot hung up":
                self.endpoint_status.setText(f"The bot rejected incoming call {short}.")
            elif previous == "incoming":
                self.endpoint_status.setText(f"Incoming call {short} ended unanswered.")
                self.endpoint_banner.show_message(
                    f"The bot at {url} did not answer incoming call {short} ({event.reason})."
                )

    def _show_offer_delivery(self, record: Any, url: str) -> None:
        short = record.call_id[:8]
        if record.outcome == "delivered":
            self.endpoint_banner.show_message("")
            self.endpoint_status.setText(
                f"Incoming call {short} reached the bot (HTTP {record.status} in "
                f"{record.latency_ms:.0f} ms); waiting for it to answer …"
            )
        elif record.outcome == "retrying":
            self.endpoint_banner.show_message(
                f"The bot's callback {url} did not take incoming call {short}: {record.error}. "
                f"Retrying in {record.retry_in_s or 0:.1f} s (attempt {record.attempt})."
            )
        else:
            self.endpoint_banner.show_message(
                f"The bot's callback {url} did not take incoming call {short}: {record.error}. "
                f"Gave up after {attempts(record.attempt)}; the call ends unanswered."
            )

    def _on_offer(self, offer: IncomingOffer) -> None:
        """The worker thread is done offering: say how it went."""
        self._offer_pending = False
        self._update_endpoint_buttons()
        if self.server is None:
            return  # the endpoint was turned off meanwhile: nothing left to follow
        if offer.call_id is None:
            message = f"Incoming call to {offer.callback_url} failed: {offer.error}"
            self.endpoint_status.setText(message)
            self.endpoint_banner.show_message(message)
            return
        self._offers[offer.call_id] = offer.callback_url
        self._offer_states[offer.call_id] = "incoming"
        self.endpoint_status.setText(
            f"Offered incoming call {offer.call_id[:8]} to {offer.callback_url}; "
            "waiting for the bot to answer …"
        )
        # Its deliveries may have been drained before this reply: follow them now.
        for event in list(self._server_backlog):
            if getattr(event, "call_id", None) == offer.call_id:
                self._follow_calls(event)

    def _attach_served_call(self, call: Any, events_q: queue.SimpleQueue[ev.Event]) -> None:
        """A served call is established: our microphone and keypad become its caller."""
        if self.session is not None and self.session.running:
            self.session.stop()
        try:
            microphone = self.input_factory(self.input_choice())
        except Exception as exc:
            call.host.unsubscribe(events_q)
            self.endpoint_status.setText(f"Cannot open the input for the served call: {exc}")
            return
        folder = self.new_session_folder()
        # The entry that held this call's rows before the pick-up gives way to the live one
        # (the backlog replays those rows into it).
        self.call_list.remove_unanswered(call.call_id)
        replaced = self.live_call if self.live_call is not None and self.live_call.live else None
        self._reset_views(f"bot call {call.call_id[:8]}", "bot", folder, call.call_id)
        if replaced is not None:
            replaced.live = False
            self.statusBar().showMessage(
                f"The bot's call took the caller; {replaced.title} ended and stays in the call "
                "list with its log and takes.",
                10000,
            )
        session = LiveSession(
            microphone, self.speaker, folder, manage_speaker=False, host=call.host
        )
        self._events_q = events_q
        session.start()
        self.session = session
        self._served_call_id = call.call_id
        self._attached_calls.add(call.call_id)
        # The call's endpoint rows from before the pick-up stay, at negative times.
        self._log_origin_wall_s = time.time()
        entry = self.live_call
        assert entry is not None
        self.call_list.add_rows(
            entry,
            [
                self._server_record(e)
                for e in self._server_backlog
                if getattr(e, "call_id", None) == call.call_id
            ],
        )
        entry.now_samples = lambda: session.fed_samples
        self.call_list.show_entry(entry)
        self.folder_label.setText(f"served call {call.call_id} · session: {folder}")
        self.endpoint_status.setText(f"Served call {call.call_id} is live.")
        self._update_call_buttons()

    # ================================================================== the call

    def new_call(self) -> bool:
        """Hang up the current call (its session folder stays) and start a new one."""
        self.end_live_call()
        self.player.stop()
        return self.start_call()

    def end_live_call(self) -> None:
        """Hang up the live call, wait for its engine and show its last events."""
        if self.session is not None and self.session.running:
            self.session.hang_up()
            self.session.wait_engine()
            self._finish_session()

    def clear_views(self) -> None:
        """Clear the shown call's log and takes, as the user asked (the session folder stays)."""
        self.call_list.clear_current()
        self.statusBar().showMessage(
            "Log and takes cleared (the session folder keeps everything).", 6000
        )

    def open_scenario(self, path: Path | None) -> Scenario | None:
        """Load a scenario or a saved session and play it live (``ScenarioPlayer.open``)."""
        return self.player.open(path)

    def start_call(self) -> bool:
        """Open the microphone and start a new call (a new session folder)."""
        if self.session is not None and self.session.running:
            return True
        options, pending_folder = self.player.take_pending()
        choice = self.input_choice()
        if choice.kind == "file" and not Path(choice.path).is_file():
            self.statusBar().showMessage("Choose a WAV file to play as the microphone.", 8000)
            return False
        try:
            microphone = self.input_factory(choice)
        except Exception as exc:  # a device that vanished, a bad file: say so, keep running
            QMessageBox.warning(self, "CallSim", f"Cannot open the input:\n{exc}")
            return False
        folder = pending_folder or self.new_session_folder()
        number = self.calls.count("gui") + 1
        self._reset_views(f"GUI call {number}", "gui", folder, "")
        session = LiveSession(microphone, self.speaker, folder, options, manage_speaker=False)
        if isinstance(microphone, FileInputDevice):
            microphone.set_loop(self.wav_loop.isChecked())
            self.wav_pause.setChecked(False)
        self._events_q = session.subscribe()
        try:
            session.start()
        except Exception as exc:
            session.stop()
            QMessageBox.warning(self, "CallSim", f"Cannot start the microphone:\n{exc}")
            return False
        self.session = session
        self._log_origin_wall_s = time.time()
        entry = self.live_call
        assert entry is not None
        entry.call_id = session.call_id
        entry.now_samples = lambda: session.fed_samples
        self.call_list.show_entry(entry)
        self.folder_label.setText(f"session: {folder}")
        self._update_call_buttons()
        return True

    def new_session_folder(self) -> Path:
        """A fresh folder name under the sessions root (not created)."""
        folder = self.sessions_root / time.strftime("%Y%m%d-%H%M%S")
        n = 1
        while folder.exists():
            n += 1
            folder = self.sessions_root / f"{time.strftime('%Y%m%d-%H%M%S')}-{n}"
        return folder

    def hang_up(self) -> None:
        """The caller hangs up."""
        if self.session is not None and self.session.running:
            self.session.hang_up()

    def set_media_dropped(self, dropped: bool) -> None:
        """Drop the caller's media (a network loss) while ``dropped``, or send it again."""
        if self.session is None or not self.session.running:
            return
        self.session.set_media_dropped(dropped)
        self.statusBar().showMessage(
            "Caller media dropped: the call hears nothing." if dropped else "Caller media back.",
            4000,
        )

    def send_action(self, action: str, body: dict[str, Any]) -> None:
        """The bot sends ``action``; a call is started first if none is live."""
        if (self.session is None or not self.session.running) and not self.start_call():
            return
        assert self.session is not None
        self._sent.append((action, body))
        self._last_request = request_record(
            self.session.call.config.graph_base_url,
            self.session.call_id,
            self.session.fed_samples,
            action,
            body,
        )
        if self.live_call is not None:
            self.live_call.request_records.append(self._last_request)
        self.session.action(action, body)

    def request_for_record(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """The request behind a log row, for "copy as curl" (None: the row is not a request).

        A response row is the answer to this window's n-th request (the engine answers in
        order); an endpoint row of the bot's HTTP request is its method and URL (the endpoint
        does not keep bodies).
        """
        if record["kind"] == "response":
            # Rows hand out copies of their records: find this one by value.
            responses = [r for r in self.log.records if r["kind"] == "response"]
            index = next((i for i, r in enumerate(responses) if r == record), None)
            shown = self.calls.current
            requests = shown.request_records if shown is not None else []
            if index is not None and index < len(requests):
                request = requests[index]
                if request["action"] == record.get("action"):
                    return request
            return None
        if record["kind"] == "http" and self.server is not None:
            base = self.server.graph_base_url("v1.0").removesuffix("/v1.0")
            return {"method": record["method"], "url": f"{base}{record['path']}"}
        return None

    def press_key(self, key: str, mode: str) -> None:
        """The caller presses a key on the keypad."""
        if self.session is None or not self.session.running:
            self.statusBar().showMessage("Start a call to send keys.", 4000)
            if self.speaker is not None:
                from app.core.dsp.dtmf import dtmf_tone

                self.speaker.mixer.play(dtmf_tone(key, 0.1), ENGINE_RATE_HZ, f"key:{key}")
            return
        self.session.press_key(key, mode)  # type: ignore[arg-type]

    def show_call(self, index: int) -> None:
        """Show the ``index``-th call's timeline, log, takes and ending (nothing is cleared)."""
        self.call_list.show_call(index)

    def _reset_views(self, title: str, origin: str, folder: Path | None, call_id: str) -> None:
        """A new call begins: a new entry (the others keep their history)."""
        if self.live_call is not None:
            self.live_call.live = False
        self._sent = []
        self._requests_by_op = {}
        self._last_request = None
        self._last_response = None
        self._keys_at = {}
        self._stop_tone_endings = {}
        self.wave.clear()
        self.live_call = self.call_list.new_entry(title, origin, folder, call_id)
        self.call_list.refresh_labels()

    def _update_call_buttons(self) -> None:
        live = self.session is not None and self.session.running
        self.start_button.setEnabled(not live)
        self.hangup_button.setEnabled(live)
        self.drop_media_button.setEnabled(live)
        if not live:
            self.drop_media_button.setDown(False)
        # A live call can move to another microphone or speaker (devices only: a file or
        # silence starts with a new call); the supervisor re-opens the stream by name.
        mic = self.session.microphone if self.session is not None else None
        self.input_combo.setEnabled(not live or isinstance(mic, SoundDeviceInput))
        self.input_file.setEnabled(not live)
        self.output_combo.setEnabled(not live or isinstance(self.speaker, SoundDeviceOutput))
        self.start_button.setText("Start call" if not live else "Call in progress")

    # ================================================================== polling

    def poll(self) -> None:
        """Timer: drain events and levels, repaint. Decides nothing (docs/design.md rule 1)."""
        self._drain_server_inbox()
        self._drain_device_events()
        self.player.play_due()
        self._show_wav_position()
        if self.alsa is not None and (self.alsa.underruns or self.alsa.other):
            self.underrun_label.setText(f"speaker underruns: {self.alsa.underruns}")
        session = self.session
        if session is not None and self._events_q is not None:
            levels = drain_queue(session.levels)
            if levels:
                peaks = np.concatenate([b.peaks for b in levels])
                if len(peaks):
                    self.meter.set_level(peak_to_dbfs(float(peaks[-10:].max())))
                    self.wave.add_peaks(peaks)
            events = drain_queue(self._events_q)
            if events:
                self._handle_events(events)
            now = session.fed_samples
            shown = self.calls.current
            if shown is not None:
                self.countdowns.show_timers(shown.timeline, shown.now_samples())
            self.timeline.tick()
            lag_s = (session.heard_samples - now) / ENGINE_RATE_HZ
            state = "live" if session.running else "ended"
            self.time_label.setText(f"call {state} · t = {now / ENGINE_RATE_HZ:7.2f} s")
            self.time_label.setToolTip(f"engine lag behind the microphone: {lag_s:.3f} s")
            overflows = session.overflows
            self.overflow_label.setText(f"input overflows: {overflows}")
            style = "color: #c62828;" if overflows else ""
            if self.overflow_label.styleSheet() != style:  # re-polishing costs, even unchanged
                self.overflow_label.setStyleSheet(style)
            latency_s = getattr(session.microphone, "latency_s", None)
            if latency_s is not None:
                self.input_latency_label.setText(f"input latency: {1e3 * latency_s:.0f} ms")
            if session.error is not None or session.host.error is not None:
                self.banner.show_message(
                    f"The live session stopped: {session.error or session.host.error}"
                )
            else:
                self._show_stall(session)
        else:
            self._show_stall(None)
        self._update_playhead()

    def _drain_device_events(self) -> None:
        """The audio supervisor's reports: which devices are lost now (for the banner)."""
        if self._device_events is None:
            supervisor = running_supervisor()
            if supervisor is None:
                return
            self._device_events = supervisor.subscribe()
        for event in drain_queue(self._device_events):
            what = "microphone" if event.role == "input" else "speaker"
            if event.state in ("lost", "retrying"):
                self._devices_lost[event.role] = event
            else:  # reopened, switched, or closed by its owner: not lost any more
                self._devices_lost.pop(event.role, None)
                done = {"reopened": "is back", "switched": "is now in use"}.get(event.state)
                if done is not None:
                    self.statusBar().showMessage(f"The {what} ({event.name}) {done}.", 8000)

    def _show_stall(self, session: LiveSession | None) -> None:
        """Banner while a device is lost or the microphone delivers nothing; cleared after."""
        stalled_s = session.stalled_s if session is not None and session.running else 0.0
        mic_lost = self._devices_lost.get("input")
        speaker_lost = self._devices_lost.get("output")
        retrying = f"CallSim retries every {RETRY_INTERVAL_S:g} s"
        parts: list[str] = []
        if session is not None and stalled_s > 0.0:
            timeout_s = session.call.config.media_timeout_s
            cause = ""
            advice = "Check the device, or hang up."
            if mic_lost is not None:
                cause = f" ({mic_lost.detail}; {retrying}, attempt {mic_lost.attempts})"
                advice = "Pick another microphone, or hang up."
            parts.append(
                f"The microphone ({session.microphone.name}) has delivered no audio for "
                f"{stalled_s:.1f} s{cause}. The call gets no media meanwhile: Graph fails a "
                f"running operation with 500/8513 after {timeout_s:g} s. {advice}"
            )
        elif mic_lost is not None:
            parts.append(
                f"The microphone ({mic_lost.name}) was lost: {mic_lost.detail}. {retrying}."
            )
        if speaker_lost is not None:
            parts.append(
                f"The speaker ({speaker_lost.name}) was lost: {speaker_lost.detail}. {retrying};"
                " the call goes on without sound. You can pick another output."
            )
        if parts:
            self.banner.show_message(" ".join(parts))
            self._stall_banner_shown = True
        elif self._stall_banner_shown:
            self.banner.show_message(self._device_banner())
            self._stall_banner_shown = False

    def _handle_events(self, events: list[ev.Event]) -> None:
        entry = self.live_call
        assert entry is not None
        entry.events.extend(events)
        shown = self.call_list.shown(entry)
        ended_call = False
        for event in events:
            entry.timeline.add(event)
            if isinstance(event, ev.ActionResponse):
                self._on_response(event)
            elif isinstance(event, ev.OperationStarted):
                entry.since_sample = event.sample_index
                entry.ending_text = f"{event.kind} running …"
                entry.ending_ok = None
                if shown:
                    self.countdowns.operation_started(event.kind, event.sample_index)
            elif isinstance(event, ev.KeyPressed):
                self._keys_at[event.sample_index] = event.key
                # A stop tone ends the operation before the key's own event is released
                # (after its merge window), so say which key it was once it is known.
                waiting = self._stop_tone_endings.pop(event.sample_index, None)
                if waiting is not None:
                    self._on_ended(waiting)
            elif isinstance(event, ev.RecordingFinished):
                assert self.session is not None
                take = Take(
                    event.operation_id,
                    self.session.writer.path_for(event.operation_id),
                    event.total_samples,
                    event.delivered,
                )
                self.call_list.add_take(entry, take)
            elif isinstance(event, ev.OperationEnded):
                self._on_ended(event)
            elif isinstance(event, ev.CallEnded):
                ended_call = True
        self.call_list.add_rows(entry, [r for r in map(event_record, events) if r is not None])
        if ended_call:
            self._finish_session()

    def _on_response(self, event: ev.ActionResponse) -> None:
        action, body = self._sent.pop(0) if self._sent else (event.action, None)
        self._last_response = event
        if event.status == 200 and event.operation_id and action == "recordResponse":
            with contextlib.suppress(GraphError):  # a 200 always parsed; be safe anyway
                self._requests_by_op[event.operation_id] = parse_record_response(body)

    def _on_ended(self, event: ev.OperationEnded) -> None:
        request = self._requests_by_op.get(event.operation_id)
        key = self._keys_at.get(event.sample_index)
        if event.subcode == STOP_TONE_SUBCODE and key is None:
            self._stop_tone_endings[event.sample_index] = event
        words = ending_in_words(event, request, key)
        code = code_text(event)
        short = "dropped" if event.status == "dropped" else f"{event.code}/{event.subcode}"
        entry = self.live_call
        assert entry is not None
        entry.ending_labels[event.operation_id] = f"{words} — {short}"
        entry.ending_ok = event.status == "completed"
        entry.ending_text = f"{event.kind} ended: {words}  —  {code}"
        self.call_list.take_ended(entry, event.operation_id, words, code)
        if self.call_list.shown(entry):
            self.call_list.show_ending(entry)

    def _finish_session(self) -> None:
        if self.session is not None:
            self.session.stop()
            # Whatever the flush produced after the hang-up is still shown.
            entry = self.live_call
            if self._events_q is not None and entry is not None:
                rest = drain_queue(self._events_q)
                if rest:
                    entry.events.extend(rest)
                    for event in rest:
                        entry.timeline.add(event)
                    records = [r for r in map(event_record, rest) if r is not None]
                    self.call_list.add_rows(entry, records)
            if entry is not None:
                entry.live = False
                final = self.session.fed_samples
                entry.now_samples = lambda: final
                self.call_list.refresh_labels()
        self._update_call_buttons()

    # ================================================================== takes

    def play_take(self, take: Take) -> None:
        """Replay a take on the speaker."""
        if self.speaker is None:
            return
        self._playing_take = take
        self.speaker.mixer.play(take.load(), ENGINE_RATE_HZ, REPLAY_TAG)

    def stop_replay(self) -> None:
        """Stop replaying."""
        if self.speaker is not None:
            self.speaker.mixer.stop(REPLAY_TAG)
        self._playing_take = None
        self.takes.waveform.set_playhead(None)

    def _update_playhead(self) -> None:
        if self._playing_take is None or self.speaker is None:
            return
        progress = self.speaker.mixer.progress(REPLAY_TAG)
        if progress is None or self.takes.current() is not self._playing_take:
            return
        played, total = progress
        self.takes.waveform.set_playhead(played / total if total else None)
        if total and played >= total:
            self._playing_take = None

    # ================================================================== exports

    def report_written(self, what: str, path: Path) -> None:
        """Say in the status bar what was written where, with a link to open its folder."""
        self.exports.report_written(what, path)

    @property
    def last_output(self) -> Path | None:
        """The last file an export wrote."""
        return self.exports.last_output

    def _export_last_request(self) -> None:
        self.exports.export_request(self._last_request)

    def _export_last_response(self) -> None:
        self.exports.export_response(self._last_response)

    def _export_notifications(self) -> None:
        shown = self.calls.current  # the call on screen, which may be an older one
        self.exports.export_notifications(shown.events if shown is not None else [])

    def _export_record(self, record: dict[str, Any]) -> None:
        self.exports.export_record(record)

    def _export_take(self, take: Take | None) -> None:
        self.exports.export_take(take)

    def save_session_to(self, folder: Path | None) -> Path | None:
        """Save the session (scenario + caller.wav + every export) into ``folder`` (ask if None)."""
        return self.exports.save_session(self.session, folder)

    def save_bug_report(self, out: Path | None, doctor_text: str | None = None) -> Path | None:
        """Zip the session folder, the window's log and `callsim doctor` into ``out`` (ask)."""
        return self.exports.bug_report(self.session, out, doctor_text)

    # ================================================================== settings

    def _restore_settings(self) -> None:
        s = self.settings
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:
            screen = QGuiApplication.primaryScreen()
            area = screen.availableGeometry() if screen is not None else None
            if area is not None:
                self.resize(min(1400, area.width()), min(900, area.height()))
        state = s.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        kind = s.value("audio/input_kind", "")
        name = s.value("audio/input_name", "")
        for i in range(self.input_combo.count()):
            k, device = self.input_combo.itemData(i)
            if k == kind and (device is None or device.name == name):
                self.input_combo.setCurrentIndex(i)
                break
        self.input_file.setText(str(s.value("audio/input_file", "")))
        out_name = s.value("audio/output_name", None)
        if out_name is not None:
            for i in range(self.output_combo.count()):
                device = self.output_combo.itemData(i)
                if (device.name if device is not None else "") == out_name:
                    self.output_combo.setCurrentIndex(i)
                    break
        try:
            form_state = json.loads(str(s.value("request/form", "{}")))
        except ValueError:
            form_state = {}
        if isinstance(form_state, dict):
            self.form.set_state(form_state)
        self.keypad.set_mode(str(s.value("keypad/mode", "both")))
        self.incoming_url.setText(str(s.value("endpoint/incoming_callback", "")))

    def save_settings(self) -> None:
        """Write devices, the last request and the window layout."""
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        choice = self.input_choice()
        s.setValue("audio/input_kind", choice.kind)
        s.setValue("audio/input_name", choice.device.name if choice.device else "")
        s.setValue("audio/input_file", self.input_file.text())
        device = self.output_combo.currentData()
        s.setValue("audio/output_name", device.name if device is not None else "")
        s.setValue("request/form", json.dumps(self.form.state()))
        s.setValue("keypad/mode", self.keypad.mode)
        s.setValue("endpoint/incoming_callback", self.incoming_url.text().strip())
        s.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """Save settings, stop the call and the speaker."""
        self.save_settings()
        self.poll_timer.stop()
        if self.session is not None:
            self.session.stop()
            self.session = None  # release the engine (and its native resampler) now
        self.set_endpoint_enabled(False)
        if self.speaker is not None:
            self.speaker.stop()
        supervisor = running_supervisor()
        if supervisor is not None and self._device_events is not None:
            supervisor.unsubscribe(self._device_events)
        super().closeEvent(event)
