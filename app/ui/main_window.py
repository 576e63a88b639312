"""The desktop fake caller: pick a microphone, play the bot, press keys, watch the timers.

This file composes the panels and controllers, each in its own file, and holds no call state:

- ``RequestDock`` (left): the bot's request form, the Graph endpoint, the send buttons;
- ``CallerAudioPanel`` + ``Keypad`` (right), driven by ``AudioIO`` (devices, WAV controls);
- ``CentreArea``: countdowns, timeline, the call list, log and takes;
- ``LiveCall``: the live call's session and its ``CallEntry`` (a plain model);
- ``BotCalls``: the endpoint and the bots' calls; ``ScenarioPlayer``: File → Open, presets;
- ``StatusArea``, ``Exports``, ``WindowMenus``, ``window_settings``.

Threading (docs/design.md rules 1-3): the window never touches the engine's state. A QTimer
polls: the controllers drain the immutable events the session's and the endpoint's threads
queued, and the views repaint. The timer decides nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QDockWidget, QMainWindow, QVBoxLayout, QWidget

from app.audio import alsa_quiet
from app.audio.devices import AudioStatus, OutputDevice, probe_audio
from app.core import events as ev
from app.core.timeline import Timeline
from app.scenario.model import Scenario
from app.session.live import LiveSession
from app.ui.audio_io import (
    AudioIO,
    InputChoice,
    InputFactory,
    OutputFactory,
)
from app.ui.bot_calls import BotCalls
from app.ui.caller_panel import CallerAudioPanel
from app.ui.centre import CentreArea
from app.ui.countdowns import TIMER_LANES, CountdownPanel
from app.ui.event_wake import EventWake
from app.ui.exports import Exports
from app.ui.keypad import Keypad
from app.ui.live_call import LiveCall
from app.ui.menus import WindowMenus
from app.ui.models.calls import CallEntry
from app.ui.paths import DATA_FOLDER, default_data_dir, default_sessions_root
from app.ui.player import ScenarioPlayer
from app.ui.request_dock import RequestDock
from app.ui.script import LiveScript
from app.ui.status_area import StatusArea
from app.ui.widgets import WheelGuard, install_wheel_guard
from app.ui.window_settings import restore_settings, save_settings

WINDOW_TITLE = "CallSim — fake caller for Graph recordResponse"
# 25 polls a second: smooth countdowns and meters, and well under the ~100 ms a user notices.
POLL_INTERVAL_MS = 40
__all__ = [
    "DATA_FOLDER",
    "TIMER_LANES",
    "CountdownPanel",
    "InputChoice",
    "MainWindow",
    "default_data_dir",
    "default_sessions_root",
]


class MainWindow(QMainWindow):
    """The fake caller's main window: the panels, composed."""

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
        self._wheel_guard = WheelGuard(self)

        # Centre: countdowns + timeline above, log and takes below (and the call list).
        self.centre = centre = CentreArea(self.statusBar().showMessage)
        self.setCentralWidget(centre)
        self.banner, self.countdowns, self.timeline = (
            centre.banner,
            centre.countdowns,
            centre.timeline,
        )
        self.log, self.takes, self.tabs = centre.log, centre.takes, centre.tabs
        self.clear_button, self.centre_splitter = centre.clear_button, centre.splitter
        self.follow_live, self.timeline_span = centre.follow_live, centre.timeline_span
        self.call_list = centre.call_list
        self.calls, self.call_picker = self.call_list.calls, self.call_list.picker
        self.status_area = StatusArea(self.statusBar(), self.banner, self.audio)
        self.output_link = self.status_area.output_link
        self.underrun_label = self.status_area.underrun_label
        self.overflow_label = self.status_area.overflow_label
        self.input_latency_label = self.status_area.input_latency_label
        self.folder_label, self.time_label = (
            self.status_area.folder_label,
            self.status_area.time_label,
        )

        # Left dock: the bot's request (its form scrolls on its own; the send buttons stay
        # under it, always on screen) and the Graph endpoint below the form.
        self.request_dock = RequestDock()
        self.form, self.request_scroll = self.request_dock.form, self.request_dock.scroll_area
        self.send_record, self.send_play = (
            self.request_dock.send_record,
            self.request_dock.send_play,
        )
        self.send_cancel = self.request_dock.send_cancel
        self.send_subscribe = self.request_dock.send_subscribe
        dock = QDockWidget("Bot request", self)
        dock.setObjectName("callDock")
        dock.setWidget(self.request_dock)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)

        # Right dock: the caller (audio in and out, call buttons, meters) and the keypad.
        self.caller_panel = panel = CallerAudioPanel(
            self.audio, lambda: self.devices.browse_input(self)
        )
        self.devices = AudioIO(panel, self.statusBar(), input_factory, output_factory)
        self.input_combo, self.input_file = panel.input_combo, panel.input_file
        self.output_combo = panel.output_combo
        self.wav_controls, self.wav_position = panel.wav_controls, panel.wav_position
        self.wav_pause, self.wav_restart = panel.wav_pause, panel.wav_restart
        self.wav_loop, self.meter, self.wave = panel.wav_loop, panel.meter, panel.wave
        self.start_button, self.hangup_button = panel.start_button, panel.hangup_button
        self.drop_media_button = panel.drop_media_button
        self.keypad = Keypad()
        self.keypad.install_shortcuts(self)
        caller = QWidget()
        kl = QVBoxLayout(caller)
        kl.setContentsMargins(2, 2, 2, 2)
        kl.addWidget(panel)
        kl.addWidget(self.keypad, 1)
        kdock = QDockWidget("Caller", self)
        kdock.setObjectName("keypadDock")
        kdock.setWidget(caller)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, kdock)
        # Room goes to the timeline; a saved layout (restoreState) overrides this.
        self.resizeDocks([dock, kdock], [400, 300], Qt.Orientation.Horizontal)
        self.docks = (dock, kdock)

        # The controllers: the live call, the endpoint's calls, the opened scenario, exports.
        self.live = LiveCall(
            self.devices,
            self.call_list,
            self.statusBar(),
            self,
            sessions_root or default_sessions_root(),
        )
        self.live.wave, self.live.meter = self.wave, self.meter
        self.live.folder_label = self.folder_label
        self.live.changed = self.devices.update_buttons
        self.devices.session_of = lambda: self.live.session
        self.endpoint_panel = self.request_dock.endpoint_panel
        ep = self.endpoint_panel
        self.endpoint_toggle, self.endpoint_url = ep.toggle, ep.url
        self.endpoint_copy, self.endpoint_status = ep.copy, ep.status
        self.incoming_url, self.incoming_button = ep.incoming_url, ep.incoming_button
        self.endpoint_banner = ep.banner
        self.bot_calls = BotCalls(ep, self.live, self.devices, self.call_list)
        # File → Open and the presets: the opened scenario playing live (composition).
        self.player = ScenarioPlayer(self)
        self.live.take_pending = self.player.take_pending
        self.exports = Exports(
            self, self.settings, self.statusBar(), self.output_link, self.status_area.app_log
        )
        self.menus = menus = WindowMenus(self, self, self.docks, self.timeline, self.follow_live)
        self.open_action, self.presets_menu = menus.open_action, menus.presets_menu
        self.preset_actions, self.save_session_action = (
            menus.preset_actions,
            menus.save_session_action,
        )
        self.bug_report_action, self.new_call_action = (
            menus.bug_report_action,
            menus.new_call_action,
        )
        self.clear_action, self.view_menu = menus.clear_action, menus.view_menu
        self.presenter_action, self.follow_action = menus.presenter_action, menus.follow_action
        self.diagnostics_action = menus.diagnostics_action

        # Wiring: what the widgets ask for goes to the controller that does it.
        self.request_dock.send.connect(self.send_action)
        self.keypad.key_pressed.connect(self.press_key)
        self.start_button.clicked.connect(self.start_call)
        self.hangup_button.clicked.connect(self.hang_up)
        self.drop_media_button.pressed.connect(lambda: self.set_media_dropped(True))
        self.drop_media_button.released.connect(lambda: self.set_media_dropped(False))
        self.log.request_for = self.request_for_record
        self.log.export_requested.connect(self.exports.export_record)
        self.log.message.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.takes.export_requested.connect(self.exports.export_take)
        self.centre.speaker_of = lambda: self.devices.speaker
        install_wheel_guard(self.request_dock.inner, self._wheel_guard)
        install_wheel_guard(caller, self._wheel_guard)
        self.devices.update_buttons()

        restore_settings(self.settings, self, panel, self.form, self.keypad, self.incoming_url)
        self.devices.open_speaker()
        # An engine event wakes the poll at once (issue 12's live latency, app/ui/event_wake.py).
        self.event_wake = EventWake(self.poll, self)
        self.poll_timer = QTimer(self)
        self.poll_timer.setInterval(POLL_INTERVAL_MS)
        self.poll_timer.timeout.connect(self.poll)
        self.poll_timer.start()

    # ================================================================== what others read

    @property
    def session(self) -> LiveSession | None:
        """The live (or last) call's session."""
        return self.live.session

    @property
    def live_call(self) -> CallEntry | None:
        """The call entry the session feeds."""
        return self.live.entry

    @property
    def events(self) -> list[ev.Event]:
        """Every engine event of the live (or last) call, in order."""
        return self.live.entry.events if self.live.entry is not None else []

    @property
    def timeline_model(self) -> Timeline:
        """The live (or last) call's timeline."""
        return self.live.entry.timeline if self.live.entry is not None else Timeline()

    @property
    def script(self) -> LiveScript | None:
        """The opened scenario's entries still to play (None: nothing opened is playing)."""
        return self.player.script

    @property
    def speaker(self) -> OutputDevice | None:
        """The speaker every call and replay plays through."""
        return self.devices.speaker

    @property
    def server(self) -> Any:
        """The Graph endpoint while it is on (app.server.server.GraphServer), else None."""
        return self.bot_calls.server

    @property
    def _served_call_id(self) -> str | None:
        return self.bot_calls.served_call_id

    @property
    def sessions_root(self) -> Path:
        """Where new session folders go."""
        return self.live.sessions_root

    @sessions_root.setter
    def sessions_root(self, root: Path) -> None:
        self.live.sessions_root = root

    @property
    def last_output(self) -> Path | None:
        """The last file an export wrote."""
        return self.exports.last_output

    def input_choice(self) -> InputChoice:
        """The microphone the user picked."""
        return self.devices.input_choice()

    # ================================================================== the call

    def start_call(self) -> bool:
        """Open the microphone and start a new call (a new session folder)."""
        return self.live.start()

    def new_call(self) -> bool:
        """Hang up the current call (its session folder stays) and start a new one."""
        self.live.end()
        self.player.stop()
        return self.live.start()

    def end_live_call(self) -> None:
        """Hang up the live call, wait for its engine and show its last events."""
        self.live.end()

    def hang_up(self) -> None:
        """The caller hangs up."""
        self.live.hang_up()

    def set_media_dropped(self, dropped: bool) -> None:
        """Drop the caller's media while ``dropped`` ("Drop media" held), or send it again."""
        self.live.set_media_dropped(dropped)

    def send_action(self, action: str, body: Any) -> None:
        """The bot sends ``action``; a call is started first if none is live."""
        self.live.send_action(action, body)

    def note_request(self, action: str, body: Any, at_samples: int) -> None:
        """A request the opened scenario sent at ``at_samples`` (for the log and exports)."""
        self.live.note_request(action, body, at_samples)

    def press_key(self, key: str, mode: str) -> None:
        """The caller presses a key on the keypad."""
        self.live.press_key(key, mode)

    def new_session_folder(self) -> Path:
        """A fresh folder name under the sessions root (not created)."""
        return self.live.new_session_folder()

    def set_endpoint_enabled(self, enabled: bool) -> None:
        """Start or stop the local Graph endpoint whose calls this window plays the caller of."""
        self.bot_calls.set_enabled(enabled)

    def offer_incoming_call(self) -> None:
        """Offer an incoming call to the bot's callback URL."""
        self.bot_calls.offer_incoming_call()

    def open_scenario(self, path: Path | None) -> Scenario | None:
        """Load a scenario or a saved session and play it live (``ScenarioPlayer.open``)."""
        return self.player.open(path)

    def show_call(self, index: int) -> None:
        """Show the ``index``-th call's timeline, log, takes and ending (nothing is cleared)."""
        self.call_list.show_call(index)

    def clear_views(self) -> None:
        """Clear the shown call's log and takes, as the user asked (the session folder stays)."""
        self.centre.clear_views()

    def set_presenter_mode(self, on: bool) -> None:
        """Large countdowns and ending for a projector; the log and takes get out of the way."""
        self.centre.set_presenter(on)
        if self.presenter_action.isChecked() != on:
            self.presenter_action.setChecked(on)

    def request_for_record(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """The request behind a log row, for "copy as curl" (None: the row is not a request).

        A response row is the answer to this window's n-th request (the engine answers in
        order); an endpoint row of the bot's HTTP request is its method and URL.
        """
        if record["kind"] != "response":
            return self.bot_calls.request_for(record)
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

    # ================================================================== polling

    def poll(self) -> None:
        """Timer: drain events and levels, repaint. Decides nothing (docs/design.md rule 1)."""
        self.bot_calls.drain()
        self.devices.drain_device_events()
        self.player.play_due()
        self.devices.show_wav_position()
        self.status_area.show_alsa(self.alsa)
        session = self.session
        self.event_wake.follow(session.host if session is not None and session.running else None)
        if self.live.drain():
            assert session is not None
            shown = self.calls.current
            if shown is not None:
                self.countdowns.show_timers(shown.timeline, shown.now_samples())
            self.timeline.tick()
            self.status_area.show_session(session)
            if session.error is not None or session.host.error is not None:
                self.banner.show_message(
                    f"The live session stopped: {session.error or session.host.error}"
                )
            else:
                self.status_area.show_stall(session, self.devices.devices_lost)
        else:
            self.status_area.show_stall(None, self.devices.devices_lost)
        self.centre.update_playhead()

    # ================================================================== exports

    def report_written(self, what: str, path: Path) -> None:
        """Say in the status bar what was written where, with a link to open its folder."""
        self.exports.report_written(what, path)

    def export_last_request(self) -> None:
        """File → Export last request."""
        self.exports.export_request(self.live.last_request)

    def export_last_response(self) -> None:
        """File → Export last response."""
        self.exports.export_response(self.live.last_response)

    def export_notifications(self) -> None:
        """File → Export notifications (of the call on screen, which may be an older one)."""
        shown = self.calls.current
        self.exports.export_notifications(shown.events if shown is not None else [])

    def export_selected_take(self) -> None:
        """File → Export selected take."""
        self.exports.export_take(self.takes.current())

    def save_session_to(self, folder: Path | None) -> Path | None:
        """Save the session (scenario + caller.wav + every export) into ``folder`` (ask if None)."""
        return self.exports.save_session(self.session, folder)

    def save_bug_report(self, out: Path | None, doctor_text: str | None = None) -> Path | None:
        """Zip the session folder, the window's log and `callsim doctor` into ``out`` (ask)."""
        return self.exports.bug_report(self.session, out, doctor_text)

    # ================================================================== settings, closing

    def save_settings(self) -> None:
        """Write devices, the last request and the window layout."""
        save_settings(
            self.settings, self, self.caller_panel, self.form, self.keypad, self.incoming_url
        )

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """Save settings, stop the call and the speaker."""
        self.save_settings()
        self.poll_timer.stop()
        if self.live.session is not None:
            self.live.session.stop()
            self.live.session = None  # release the engine (and its native resampler) now
        self.bot_calls.set_enabled(False)
        self.devices.close()
        super().closeEvent(event)
