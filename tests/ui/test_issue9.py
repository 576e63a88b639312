"""Issue 9, the desktop app for people: each point's behaviour, on real widgets offscreen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, QRect, QStandardPaths, Qt
from PySide6.QtGui import QGuiApplication, QImage, QWheelEvent
from PySide6.QtWidgets import QApplication, QWidget

from app.audio import alsa_quiet
from app.core import events as ev
from app.core.clock import ENGINE_RATE_HZ
from app.core.timeline import Timeline
from app.scenario.model import load_scenario
from app.scenario.runner import run_scenario
from app.ui.app import APPLICATION, ORGANIZATION
from app.ui.countdowns import FIRST_STEPS, FIRST_STEPS_PRESETS
from app.ui.main_window import default_sessions_root
from app.ui.timeline_view import TimelineView
from app.ui.widgets import TakeWaveform
from tests.ui.test_main_window import SPEECH, WAIT_MS, Rig

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")

LEFT = Qt.MouseButton.LeftButton
REPO = Path(__file__).parents[2]


def _wheel(widget: QWidget, notches: int = -1, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    """A real wheel event over the middle of ``widget`` (Qt propagates it as it would)."""
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(
        centre,
        QPointF(widget.mapToGlobal(centre.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        modifiers,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def _in_window(window: QWidget, widget: QWidget) -> QRect:
    return QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())


def _at_1280x720(rig: Rig, qtbot) -> None:
    rig.window.resize(1280, 720)
    qtbot.waitUntil(lambda: rig.window.size().width() == 1280, timeout=WAIT_MS)
    QApplication.processEvents()


def _file_input(rig: Rig, path: Path = SPEECH) -> None:
    window = rig.window
    window.input_combo.setCurrentIndex(window.input_combo.findText("WAV file as microphone"))
    window.input_file.setText(str(path))


# -- 1: the wheel scrolls the form, not the input under the pointer --------------------------


def test_wheel_over_unfocused_inputs_scrolls_the_form(qtbot, tmp_path: Path) -> None:
    rig = Rig(qtbot, tmp_path)
    _at_1280x720(rig, qtbot)
    window, form = rig.window, rig.window.form
    bar = window.request_scroll.verticalScrollBar()
    assert bar.maximum() > 0, "at 1280x720 the form scrolls on its own"
    window.send_record.setFocus()
    spin, slider, combo = form.max_duration.spin, form.max_silence.slider, form.prompt_kind
    before = (spin.value(), slider.value(), combo.currentIndex())
    for widget in (spin, slider, combo):
        _wheel(widget, -1)
    assert (spin.value(), slider.value(), combo.currentIndex()) == before
    assert bar.value() > 0  # the scroll area got the wheel
    spin.setFocus()
    _wheel(spin, 1)
    assert spin.value() == before[0] + 1  # a focused input still takes the wheel


# -- 2: everything needed on screen at 1280x720; errors shown all at once, no layout shift ----


def test_layout_at_1280x720_keeps_the_controls_on_screen(qtbot, tmp_path: Path) -> None:
    rig = Rig(qtbot, tmp_path)
    _at_1280x720(rig, qtbot)
    window = rig.window
    frame = window.rect()
    for widget in (
        window.send_record,
        window.send_play,
        window.send_cancel,
        window.send_subscribe,
        window.keypad,
        window.start_button,
        window.hangup_button,
        window.drop_media_button,
        window.countdowns,
        window.timeline,
        window.log,
    ):
        assert widget.isVisible()
        assert frame.contains(_in_window(window, widget)), widget
    for button in window.keypad.buttons.values():
        assert frame.contains(_in_window(window, button))
    # The send buttons are not inside the scrolling form: always visible whatever its scroll.
    assert not window.request_scroll.isAncestorOf(window.send_record)
    # The timer fields are in the visible part of the scroll area without scrolling.
    viewport = window.request_scroll.viewport()
    for timer in window.form.timers:
        top_left = timer.mapTo(viewport, QPoint(0, 0))
        assert viewport.rect().contains(QRect(top_left, timer.size()))

    form = window.form
    preview_y = form.preview.mapTo(window, QPoint(0, 0)).y()
    form.max_silence.spin.setValue(0)
    form.max_duration.spin.setValue(500)
    QApplication.processEvents()
    lines = form.error.text().splitlines()
    assert len(lines) == 2 and "maxSilenceTimeoutInSeconds" in lines[0]
    assert "maxRecordDurationInSeconds" in lines[1]
    assert "ffebee" in form.max_silence.spin.styleSheet()
    assert "ffebee" in form.max_duration.spin.styleSheet()
    assert form.preview.mapTo(window, QPoint(0, 0)).y() == preview_y  # nothing moved


# -- 4: the countdowns and headline forget the previous operation ----------------------------


def test_a_new_operation_clears_the_previous_ending_and_countdowns(qtbot, tmp_path) -> None:
    rig = Rig(qtbot, tmp_path)
    window, form = rig.window, rig.window.form
    _file_input(rig)
    form.stop_tone_buttons["#"].setChecked(True)
    form.initial_silence.slider.setValue(5)
    qtbot.mouseClick(window.send_record, LEFT)
    rig.advance(2.0)
    qtbot.mouseClick(window.keypad.buttons["#"], LEFT)
    rig.advance(0.5)
    qtbot.waitUntil(lambda: "200/8514" in window.countdowns.ending.text(), timeout=WAIT_MS)
    rig.advance(0.2)
    window.poll()
    stopped = {k: v.text() for k, v in window.countdowns.states.items()}
    assert "idle" not in stopped.values()

    qtbot.mouseClick(window.send_record, LEFT)
    rig.advance(0.1)
    qtbot.waitUntil(
        lambda: sum(isinstance(e, ev.OperationStarted) for e in window.events) == 2,
        timeout=WAIT_MS,
    )
    window.poll()
    assert "8514" not in window.countdowns.ending.text()
    assert window.countdowns.ending.text() == "recordResponse running …"
    assert all(v.text() != "0.0 s" for v in window.countdowns.values.values())
    assert set(window.countdowns.states.values()) != set(stopped.values())


# -- 5: WAV input controls ---------------------------------------------------------------------


def test_wav_input_pause_restart_loop_and_position(qtbot, tmp_path: Path) -> None:
    rig = Rig(qtbot, tmp_path)
    window = rig.window
    _file_input(rig)
    qtbot.mouseClick(window.start_button, LEFT)
    rig.advance(1.0)
    window.poll()
    mic = rig.mic
    assert mic is not None
    assert window.wav_position.text().startswith(f"{SPEECH.name} 1.0 / ")
    qtbot.mouseClick(window.wav_pause, LEFT)
    assert mic.paused
    rig.advance(0.5)
    assert mic.track_position == round(1.0 * mic.rate_hz)  # the file stood still
    qtbot.mouseClick(window.wav_pause, LEFT)
    qtbot.mouseClick(window.wav_restart, LEFT)
    rig.advance(0.2)
    window.poll()
    assert window.wav_position.text().startswith(f"{SPEECH.name} 0.2 / ")
    qtbot.mouseClick(window.wav_loop, LEFT)
    assert mic.loop
    rig.advance(mic.track_frames / mic.rate_hz)  # once round: back near the start
    assert not mic.finished and mic.track_position < round(0.3 * mic.rate_hz)
    qtbot.mouseClick(window.hangup_button, LEFT)


# -- 6: a timeline you can read ------------------------------------------------------------------


def test_timeline_scrolls_back_zooms_and_keeps_labels_inside(qtbot) -> None:
    view = TimelineView()
    qtbot.addWidget(view)
    view.resize(700, 300)
    view.show()
    timeline = Timeline()
    end_sample = 59 * ENGINE_RATE_HZ
    timeline.endings.append((end_sample, "stopToneDetected", 8514, "op-1"))
    view.reset(timeline, lambda: 60 * ENGINE_RATE_HZ)
    t0, t1 = view.visible_range()
    assert view.follow_live and t0 <= end_sample <= t1
    # The ending near the right edge: its label in words and code, fully inside the widget.
    ((rect, text),) = view.ending_label_rects()
    assert text == "stop tone pressed — 200/8514"
    assert QRect(view.rect()).contains(rect.toRect())
    labels = view.axis_labels()
    assert labels and all(text.endswith(" s") for _, text in labels)
    assert all(x >= view.label_width() for x, _ in labels)

    _wheel(view, 2)  # back in time
    assert not view.follow_live
    assert view.visible_range()[1] < t1
    _wheel(view, 1, Qt.KeyboardModifier.ControlModifier)  # zoom in
    assert view.window_s < 20.0
    view.set_follow_live(True)
    assert view.visible_range()[1] >= 60 * ENGINE_RATE_HZ


def test_a_key_at_the_timelines_right_edge_keeps_its_whole_name(qtbot) -> None:
    view = TimelineView()
    qtbot.addWidget(view)
    view.resize(700, 300)
    view.show()
    timeline = Timeline()
    view.reset(timeline, lambda: 60 * ENGINE_RATE_HZ)
    view.set_follow_live(False)  # scrolled to where the window ends at the last key
    t1 = view.visible_range()[1]
    timeline.keys.append((t1, "#", ("outOfBand",)))  # a key at the very end of the view
    timeline.keys.append((t1 - 10 * ENGINE_RATE_HZ, "5", ("inBand", "outOfBand")))
    rects = view.key_label_rects()
    assert [text for _, text in rects] == ["# (out)", "5"]
    widget = QRect(view.rect())
    for rect, _ in rects:
        assert widget.contains(rect.toRect()) and rect.left() >= view.label_width()
    (edge, _), (middle, _) = rects
    tick_x = view.width() - 8  # t1 is the plot's right end
    assert edge.right() <= tick_x  # the edge key's name moved left of its tick
    assert middle.left() > tick_x - 10 * ENGINE_RATE_HZ / (t1 - view.visible_range()[0]) * (
        tick_x - view.label_width()
    )  # a key with room keeps its name on the right of its tick


# -- 7: the View menu works; presenter mode ------------------------------------------------------


def test_view_menu_items_work_and_presenter_mode_enlarges(qtbot, tmp_path: Path) -> None:
    rig = Rig(qtbot, tmp_path)
    window = rig.window
    actions = [a for a in window.view_menu.actions() if not a.isSeparator()]
    assert actions and all(a.isEnabled() for a in actions)
    dock_action = window.docks[1].toggleViewAction()
    dock_action.trigger()
    assert not window.docks[1].isVisible()
    dock_action.trigger()
    assert window.docks[1].isVisible()
    size = window.countdowns.values["maxSilence"].font().pointSizeF()
    ending_size = window.countdowns.ending.font().pointSizeF()
    # README: "View → Presenter mode (F11) doubles the countdowns and the ending".
    assert window.presenter_action.shortcut().toString() == "F11"
    window.presenter_action.trigger()
    assert window.countdowns.values["maxSilence"].font().pointSizeF() >= 1.9 * size
    assert window.countdowns.ending.font().pointSizeF() >= 1.9 * ending_size
    window.follow_action.trigger()
    assert not window.timeline.follow_live and not window.follow_live.isChecked()
    # "... and zooms the timeline" (2 s to 10 min, README).
    zoom_in, zoom_out = (
        next(a for a in actions if a.text() == f"Zoom timeline {d}") for d in ("in", "out")
    )
    for _ in range(40):
        zoom_in.trigger()
    assert window.timeline.window_s == 2.0
    for _ in range(60):
        zoom_out.trigger()
    assert window.timeline.window_s == 600.0


# -- 9 and 13: feedback for copies; the JSON in a window of its own; copy as curl ----------------


def test_log_copy_says_so_json_window_and_copy_as_curl(qtbot, tmp_path: Path) -> None:
    rig = Rig(qtbot, tmp_path)
    window, log = rig.window, rig.window.log
    _file_input(rig)
    window.form.client_context.setText("curl-me")
    qtbot.mouseClick(window.send_record, LEFT)
    qtbot.waitUntil(lambda: len(rig.records("response")) == 1, timeout=WAIT_MS)
    log.tree.setCurrentItem(log.tree.topLevelItem(0))
    assert log.current_record()["kind"] == "response"
    qtbot.mouseClick(log.copy_button, LEFT)
    assert "Copied the response at " in window.statusBar().currentMessage()

    qtbot.mouseClick(log.enlarge_button, LEFT)
    (json_window,) = log.json_windows
    assert json_window.isVisible() and json_window.width() >= 700
    assert json.loads(json_window.text.toPlainText()) == log.current_record()

    assert log.curl_button.isEnabled()
    command = log.copy_curl()
    assert command == QGuiApplication.clipboard().text()
    assert command.startswith("curl -sS -X POST ") and "/recordResponse" in command
    assert "curl-me" in command and "Copied as curl" in window.statusBar().currentMessage()
    qtbot.mouseClick(window.hangup_button, LEFT)


# -- 10: a 400's innerError.date from the GUI is today's, not the Unix epoch ----------------------


def test_a_400_from_the_gui_is_dated_today(qtbot, tmp_path: Path) -> None:
    import datetime

    rig = Rig(qtbot, tmp_path)
    window = rig.window
    _file_input(rig)
    before = datetime.datetime.now(datetime.UTC).replace(microsecond=0, tzinfo=None)
    window.send_action("recordResponse", {"maxSilenceTimeoutInSeconds": 0})
    qtbot.waitUntil(lambda: len(rig.records("response")) == 1, timeout=WAIT_MS)
    response = rig.records("response")[0]
    assert response["status"] == 400
    date = datetime.datetime.fromisoformat(response["body"]["error"]["innerError"]["date"])
    assert before <= date.replace(tzinfo=None) <= before + datetime.timedelta(seconds=60)
    qtbot.mouseClick(window.hangup_button, LEFT)


# -- 11: the README's promise about an empty prompt URI is what the app does ---------------------


def test_empty_prompt_uri_is_a_400_as_the_readme_says(qtbot, tmp_path: Path) -> None:
    rig = Rig(qtbot, tmp_path)
    form = rig.window.form
    form.prompt_kind.setCurrentIndex(form.prompt_kind.findData("uri"))
    form.prompt_uri.setText("")
    assert "uri must be a non-empty string" in form.error.text()
    readme = (REPO / "README.md").read_text("utf-8")
    lines = readme.splitlines()
    row = next(line for line in lines if line.startswith("| Prompt with an unsupported URI"))
    assert "empty" not in row and "8511" in row  # an empty URI never reaches the prompt player
    empty_row = next(line for line in lines if "Empty or blank prompt URI" in line)
    assert "400" in empty_row


# -- 12: a selected stop tone stands out ----------------------------------------------------------


def test_selected_stop_tones_stand_out(qtbot, tmp_path: Path) -> None:
    rig = Rig(qtbot, tmp_path)
    buttons = rig.window.form.stop_tone_buttons
    buttons["#"].setChecked(True)

    def mean_rgb(widget: QWidget) -> np.ndarray:
        image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
        ptr = image.constBits()
        pixels = np.frombuffer(ptr, np.uint8, image.sizeInBytes()).reshape(-1, 4)[:, :3]
        return pixels.mean(axis=0)

    difference = np.abs(mean_rgb(buttons["#"]) - mean_rgb(buttons["*"])).sum()
    assert difference > 150


# -- 14: ALSA's messages are counted in the status bar --------------------------------------------


def test_alsa_messages_are_counted_in_the_status_bar(qtbot, tmp_path: Path) -> None:
    rig = Rig(qtbot, tmp_path)
    counter = rig.window.alsa
    if counter is None:
        pytest.skip("no libasound here")
    assert counter is alsa_quiet.counter()
    before = counter.underruns
    counter.record("snd_pcm_recover", "underrun occurred")
    rig.window.poll()
    assert rig.window.underrun_label.text() == f"speaker underruns: {before + 1}"


# -- 15: the data folder's name ------------------------------------------------------------------


def test_sessions_live_in_a_plain_callsim_data_folder(qapp) -> None:
    QApplication.setOrganizationName(ORGANIZATION)
    QApplication.setApplicationName(APPLICATION)
    root = default_sessions_root()
    generic = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation)
    assert root == Path(generic) / "callsim" / "sessions"
    assert "CallSim/callsim" not in root.as_posix()


def test_doctor_reports_the_folder_where_sessions_are_recorded(tmp_path: Path) -> None:
    # The doctor's Qt probe and the window share one definition (app.ui.app.default_data_dir).
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-m", "app", "doctor"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    lines = [t for t in done.stdout.splitlines() if t[6:].startswith("data folder ")]
    assert lines, done.stdout + done.stderr
    assert f"{tmp_path / 'callsim'} (sessions/ under it)" in lines[0]


# -- 16: a silent take says so --------------------------------------------------------------------


def test_silent_take_is_said_in_words(qtbot) -> None:
    wave = TakeWaveform()
    qtbot.addWidget(wave)
    assert wave.caption() == "No take selected."
    wave.set_samples(np.zeros(ENGINE_RATE_HZ, dtype=np.float32))
    assert wave.caption().startswith("Silent take")
    wave.set_samples(np.zeros(0, dtype=np.float32))
    assert wave.caption().startswith("Empty take")
    wave.set_samples(np.full(ENGINE_RATE_HZ, 0.3, dtype=np.float32))
    assert wave.caption() == ""


# -- 17: open a preset and watch it live; clear; bug report ---------------------------------------


def test_preset_plays_live_then_clear_and_bug_report(qtbot, tmp_path: Path) -> None:
    rig = Rig(qtbot, tmp_path)
    window = rig.window
    stems = set(window.preset_actions)
    assert {"8509-max-silence", "8514-stop-tone", "8515-max-duration"} <= stems
    window.preset_actions["8514-stop-tone"].trigger()
    form = window.form
    assert [k for k, b in form.stop_tone_buttons.items() if b.isChecked()] == ["*", "#"]
    assert form.client_context.text() == "ivr-name"
    assert window.session is not None and window.script is not None
    rig.advance(11.5)
    qtbot.waitUntil(lambda: len(rig.records("notification")) == 1, timeout=WAIT_MS)
    info = rig.records("notification")[0]["payload"]["value"][0]["resourceData"]["resultInfo"]
    assert (info["code"], info["subcode"]) == (200, 8514)
    assert "200/8514" in window.countdowns.ending.text()

    out = window.save_bug_report(tmp_path / "bug.zip", doctor_text="doctor report\n")
    assert out is not None and str(out) in window.statusBar().currentMessage()
    with zipfile.ZipFile(out) as bundle:
        names = set(bundle.namelist())
        assert {"README.txt", "app.log", "doctor.txt"} <= names
        assert any(n.startswith("session/recordings/") and n.endswith(".wav") for n in names)
        assert bundle.read("doctor.txt") == b"doctor report\n"

    qtbot.mouseClick(window.clear_button, LEFT)
    assert window.log.records == [] and window.takes.takes == []
    assert window.session.running  # clearing asks nothing of the call
    qtbot.mouseClick(window.hangup_button, LEFT)


def test_the_window_tells_a_new_user_how_to_get_each_ending(qtbot, tmp_path: Path) -> None:
    # "A user who never used Graph should be able to get an 8509, an 8514 and an 8515 from the
    # app in under two minutes without reading the README": the headline says where to click.
    rig = Rig(qtbot, tmp_path)
    window = rig.window
    headline = window.countdowns.ending.text()
    assert headline == FIRST_STEPS and "Presets" in headline
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    assert menus["Presets"] is window.presets_menu  # on the menu bar, not inside File
    offered = {a.text() for a in window.presets_menu.actions()}
    for code, stem in zip(("8509", "8514", "8515"), FIRST_STEPS_PRESETS, strict=True):
        assert stem in headline and stem in offered and stem.startswith(code)


# -- 3 and (c): a bot's call is an entry of the call list, shown properly; nothing is cleared ----


def test_bot_call_joins_the_call_list_without_clearing_the_gui_call(qtbot, tmp_path) -> None:
    from tests.server.support import create_body
    from tests.ui.test_endpoint_log import ReceiverThread, _op_done, _post

    rig = Rig(qtbot, tmp_path)
    window = rig.window
    _file_input(rig)
    window.form.stop_tone_buttons["#"].setChecked(True)
    qtbot.mouseClick(window.send_record, LEFT)
    rig.advance(2.0)
    qtbot.mouseClick(window.keypad.buttons["#"], LEFT)
    rig.advance(0.5)
    qtbot.waitUntil(lambda: len(rig.records("notification")) == 1, timeout=WAIT_MS)
    gui_call = window.calls.current
    assert gui_call is not None and gui_call.live and len(gui_call.takes) == 1
    gui_records = list(gui_call.records)

    qtbot.mouseClick(window.endpoint_toggle, LEFT)
    graph = window.endpoint_url.text()
    with ReceiverThread() as bot:
        try:
            status, call = _post(f"{graph}/communications/calls", create_body(bot.url()))
            assert status == 201
            qtbot.waitUntil(lambda: window._served_call_id == call["id"], timeout=WAIT_MS)
            body = {"playBeep": True, "maxSilenceTimeoutInSeconds": 5, "stopTones": ["#"]}
            status, operation = _post(
                f"{graph}/communications/calls/{call['id']}/recordResponse", body
            )
            assert status == 200
            rig.advance(0.2)  # the engine starts the operation as the caller's audio comes
            qtbot.waitUntil(
                lambda: window.countdowns.ending.text() == "recordResponse running …",
                timeout=WAIT_MS,
            )
            rig.advance(1.8)
            qtbot.mouseClick(window.keypad.buttons["#"], LEFT)
            rig.advance(0.5)
            qtbot.waitUntil(
                lambda: any(map(_op_done(operation["id"]), bot.items())), timeout=WAIT_MS
            )
            qtbot.waitUntil(lambda: len(window.takes.takes) == 1, timeout=WAIT_MS)
            qtbot.waitUntil(lambda: "200/8514" in window.countdowns.ending.text(), timeout=WAIT_MS)
        finally:
            window.endpoint_toggle.setChecked(False)

    # Two calls in the list; the GUI's kept everything, the bot's is shown.
    assert [c.origin for c in window.calls.calls] == ["gui", "bot"]
    assert window.call_picker.count() == 2
    assert not gui_call.live and gui_call.records[: len(gui_records)] == gui_records
    assert len(gui_call.takes) == 1
    bot_call = window.calls.current
    assert bot_call is not None and bot_call.call_id == call["id"]
    assert "stop tone: # pressed" in window.countdowns.ending.text()
    assert (
        window.takes.takes == bot_call.takes and bot_call.takes[0].operation_id == operation["id"]
    )
    label = window.timeline.ending_labels[operation["id"]]
    assert label.endswith("— 200/8514") and "stop tone" in label
    times = [r["t"] for r in window.log.records]
    assert times == sorted(times)

    # Selecting the GUI's call shows its log, takes and ending again.
    window.call_picker.setCurrentIndex(0)
    assert window.log.records == gui_call.records
    assert window.takes.takes == gui_call.takes
    assert "200/8514" in window.countdowns.ending.text()


def test_a_bot_calls_ending_is_worded_with_its_timer_like_the_guis(qtbot, tmp_path) -> None:
    """The bot's body reaches the engine over HTTP, not through the form: the ending still
    says which timer ran out and its value, as for the GUI's own call."""
    from tests.server.support import create_body
    from tests.ui.test_endpoint_log import ReceiverThread, _op_done, _post

    rig = Rig(qtbot, tmp_path)
    window = rig.window
    _file_input(rig)
    qtbot.mouseClick(window.endpoint_toggle, LEFT)
    graph = window.endpoint_url.text()
    with ReceiverThread() as bot:
        try:
            status, call = _post(f"{graph}/communications/calls", create_body(bot.url()))
            assert status == 201
            qtbot.waitUntil(lambda: window._served_call_id == call["id"], timeout=WAIT_MS)
            body = {
                "playBeep": False,
                "maxSilenceTimeoutInSeconds": 2,
                "maxRecordDurationInSeconds": 30,
            }
            url = f"{graph}/communications/calls/{call['id']}/recordResponse"
            status, operation = _post(url, body)
            assert status == 200
            done = _op_done(operation["id"])
            for _ in range(40):  # the answer (3.8 s), then 2 s of silence
                rig.advance(0.25)
                if any(map(done, bot.items())):
                    break
            qtbot.waitUntil(lambda: "200/8509" in window.countdowns.ending.text(), timeout=WAIT_MS)
        finally:
            window.endpoint_toggle.setChecked(False)
    bot_call = window.calls.current
    assert bot_call is not None and bot_call.origin == "bot"
    words = "max silence: 2 s pause after speech"
    assert window.countdowns.ending.text().startswith(f"recordResponse ended: {words}  —  200/8509")
    assert window.timeline.ending_labels[operation["id"]] == f"{words} — 200/8509"
    assert bot_call.takes[0].ended_words == words


def test_a_saved_session_opens_and_plays_live_to_the_same_ending(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    rig = Rig(qtbot, tmp_path)
    window, form = rig.window, rig.window.form
    _file_input(rig)
    form.stop_tone_buttons["#"].setChecked(True)
    form.client_context.setText("qa-bundle")
    qtbot.mouseClick(window.send_record, LEFT)
    rig.advance(2.0)
    qtbot.mouseClick(window.keypad.buttons["#"], LEFT)
    rig.advance(0.5)
    qtbot.waitUntil(lambda: len(rig.records("notification")) == 1, timeout=WAIT_MS)
    first = [e for e in window.events if isinstance(e, ev.OperationEnded)]
    saved = window.save_session_to(tmp_path / "bundle")
    assert saved is not None
    qtbot.mouseClick(window.hangup_button, LEFT)
    qtbot.waitUntil(lambda: not window.session.running, timeout=WAIT_MS)

    form.client_context.setText("something else")
    form.stop_tone_buttons["#"].setChecked(False)
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", lambda *a, **k: (str(saved / "scenario.toml"), "")
    )
    window.open_action.trigger()
    assert form.client_context.text() == "qa-bundle"
    assert form.stop_tone_buttons["#"].isChecked()
    rig.advance(3.0)
    qtbot.waitUntil(
        lambda: any(isinstance(e, ev.OperationEnded) for e in window.events), timeout=WAIT_MS
    )
    again = [e for e in window.events if isinstance(e, ev.OperationEnded)]
    assert [e.subcode for e in again] == [e.subcode for e in first] == [8514]
    # The opened session's entries go to the engine on their samples, as `callsim run` sends
    # them: the same endings at the same samples, live and headless (not a poll later).
    headless = run_scenario(load_scenario(saved / "scenario.toml")).endings
    assert [(e.sample_index, e.subcode) for e in again] == [
        (e.sample_index, e.subcode) for e in headless
    ]
    assert [e.sample_index for e in again] == [e.sample_index for e in first]
    assert [c.origin for c in window.calls.calls] == ["gui", "gui"]


def _play_preset(rig: Rig, qtbot, preset: str, n_endings: int, limit_s: float = 20.0):
    """Pick ``preset`` from the Presets menu and let the call run (pumped, like Rig.advance,
    except that the call may end by itself and the window stop it mid-step) until it gave
    ``n_endings`` operation endings; returns them and the call time it took."""
    from tests.ui.test_main_window import STEP_S

    window = rig.window
    window.preset_actions[preset].trigger()
    session = window.session
    assert session is not None and rig.mic is not None

    def endings() -> list[ev.OperationEnded]:
        return [e for e in window.events if isinstance(e, ev.OperationEnded)]

    for _ in range(round(limit_s / STEP_S)):
        if len(endings()) >= n_endings or not session.running:
            break
        pumped = rig.mic.pump_seconds(STEP_S)
        qtbot.waitUntil(lambda n=pumped: session.settled(n) or not session.running, timeout=WAIT_MS)
        taken = session.host.submit(lambda call: call.fed_samples)
        qtbot.waitUntil(lambda f=taken: f.done() or not session.running, timeout=WAIT_MS)
        rig.speaker.pump(round(STEP_S * ENGINE_RATE_HZ))
    qtbot.waitUntil(lambda: len(endings()) >= n_endings, timeout=WAIT_MS)
    return endings(), session.fed_samples / ENGINE_RATE_HZ


def _headless_endings(preset: str) -> list[ev.OperationEnded]:
    from app.resources import example_scenarios

    path = next(p for p in example_scenarios() if p.stem == preset)
    return run_scenario(load_scenario(path)).endings


@pytest.mark.parametrize(
    "preset", ["8513-media-timeout", "8528-hangup-delivers", "8515-max-duration"]
)
def test_a_preset_played_live_ends_on_the_same_samples_as_callsim_run(qtbot, tmp_path, preset):
    """Media gaps, hang-ups and the bot's actions are applied on the engine's sample clock
    (not at the next 40 ms poll), so the live call and the headless run agree exactly."""
    rig = Rig(qtbot, tmp_path)
    expected = _headless_endings(preset)
    live, _ = _play_preset(rig, qtbot, preset, len(expected))
    assert [(e.sample_index, e.subcode, e.status) for e in live] == [
        (e.sample_index, e.subcode, e.status) for e in expected
    ]
    rig.window.end_live_call()


def test_a_preset_on_a_real_time_microphone_ends_on_callsim_runs_sample(qtbot, tmp_path) -> None:
    """As the app runs it: the opened track plays in real time, and the session batches a
    real-time microphone's blocks (app/session/live.py); an entry still applies on its sample
    (the media gap of 8513: a gap begun one block early or late moves the ending)."""
    from app.audio.fake import FakeOutputDevice, FileInputDevice
    from app.ui.app import open_settings
    from app.ui.main_window import MainWindow

    window = MainWindow(
        open_settings(tmp_path / "settings.ini"),
        input_factory=lambda choice: FileInputDevice(Path(choice.path), realtime=True),
        output_factory=lambda device: FakeOutputDevice(ENGINE_RATE_HZ, realtime=True, keep=False),
        sessions_root=tmp_path / "sessions",
    )
    qtbot.addWidget(window)
    # The 8513 preset with its gap moved off the 20 ms block grid (the file microphone's).
    from app.resources import example_scenarios

    preset = next(p for p in example_scenarios() if p.stem == "8513-media-timeout")
    answer = (preset.parent / "audio" / "answer-22k.wav").resolve()
    text = preset.read_text("utf-8").replace('"audio/answer-22k.wav"', json.dumps(str(answer)))
    assert "at = 2.0\nno_media" in text
    scenario = tmp_path / "gap-off-grid.toml"
    scenario.write_text(text.replace("at = 2.0\nno_media", "at = 2.013\nno_media"), "utf-8")
    expected = run_scenario(load_scenario(scenario)).endings
    assert expected[0].sample_index == round(2.013 * ENGINE_RATE_HZ) + 2 * ENGINE_RATE_HZ
    window.open_scenario(scenario)

    def endings() -> list[ev.OperationEnded]:
        return [e for e in window.events if isinstance(e, ev.OperationEnded)]

    qtbot.waitUntil(lambda: len(endings()) == len(expected), timeout=4 * WAIT_MS)
    assert [(e.sample_index, e.subcode) for e in endings()] == [
        (e.sample_index, e.subcode) for e in expected
    ]
    window.end_live_call()


def test_every_reachable_ending_has_a_preset(qtbot, tmp_path) -> None:
    """ "Presets for each ending (8508-8536) in one menu": every subcode of the result table
    but the two no input reaches (docs/graph-contract.md §4: 8512, 9999) has one."""
    from app.graph.results import RESULTS

    window = Rig(qtbot, tmp_path).window
    offered = [a.text() for a in window.presets_menu.actions()]
    unreachable = {8512, 9999}
    for subcode in sorted({spec.subcode for spec in RESULTS.values()} - unreachable):
        assert any(stem.startswith(f"{subcode}-") for stem in offered), subcode


def test_a_new_user_gets_8509_8514_and_8515_from_the_presets(qtbot, tmp_path) -> None:
    """Issue 9: "A user who never used Graph should be able to get an 8509, an 8514 and an
    8515 from the app in under two minutes without reading the README". The headline points
    at the Presets menu (test_the_window_tells_a_new_user_how_to_get_each_ending); here the
    three presets it names are played one after the other, each ending as promised and in
    words, and the three calls together take well under two minutes of call time."""
    rig = Rig(qtbot, tmp_path)
    window = rig.window
    total_s = 0.0
    for preset, code, words in (
        ("8509-max-silence", "200/8509", "max silence: 2 s pause after speech"),
        ("8514-stop-tone", "200/8514", "stop tone: # pressed"),
        ("8515-max-duration", "200/8515", "max duration: 4 s recorded"),
    ):
        live, took_s = _play_preset(rig, qtbot, preset, 1)
        total_s += took_s
        rig.advance(0.5)  # a stop tone's key is named once its merge window has passed
        window.poll()
        headline = window.countdowns.ending.text()
        assert [e.subcode for e in live] == [int(code[4:])], preset
        assert words in headline and code in headline, headline
        # Where `callsim run` ends it (its prompt loads on a worker thread live: no later
        # than the next block here, where the test waits for the engine at every block).
        expected = _headless_endings(preset)
        assert abs(live[0].sample_index - expected[0].sample_index) <= 0.05 * ENGINE_RATE_HZ
    window.end_live_call()
    assert [c.origin for c in window.calls.calls] == ["gui", "gui", "gui"]
    assert total_s < 60.0, total_s


def test_new_call_keeps_the_previous_one_in_the_list(qtbot, tmp_path: Path) -> None:
    rig = Rig(qtbot, tmp_path)
    window = rig.window
    _file_input(rig)
    qtbot.mouseClick(window.send_record, LEFT)
    qtbot.waitUntil(lambda: len(rig.records("response")) == 1, timeout=WAIT_MS)
    first = window.calls.current
    window.new_call_action.trigger()
    assert window.session is not None and window.session.running
    assert len(window.calls.calls) == 2 and window.calls.current is not first
    assert not first.live and [r["kind"] for r in first.records].count("response") == 1
    assert rig.records("response") == []  # the new call's log starts empty
    assert window.call_picker.itemText(0) == "1 · GUI call 1 (ended)"
    assert window.call_picker.itemText(1) == "2 · GUI call 2 (live)"
    qtbot.mouseClick(window.hangup_button, LEFT)
