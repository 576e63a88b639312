"""The whole flow through the widgets, on a file-backed fake microphone and speaker."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QFileDialog

from app.audio.devices import AudioStatus, InputDevice, probe_audio
from app.audio.fake import FakeOutputDevice, FileInputDevice
from app.core import events as ev
from app.core.clock import ENGINE_RATE_HZ
from app.scenario.model import load_scenario
from app.scenario.output import event_record
from app.scenario.runner import run_scenario
from app.session.export import SessionSnapshot, relocate_recordings
from app.ui.app import open_settings
from app.ui.main_window import WINDOW_TITLE, InputChoice, MainWindow

SPEECH = Path(__file__).parents[1] / "data" / "speech" / "us_female_callback.wav"
STEP_S = 0.05
WAIT_MS = 10_000

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


class Rig:
    """The window with a pumped microphone and speaker, so a test decides how time passes."""

    def __init__(self, qtbot, tmp_path: Path, status: AudioStatus | None = None) -> None:
        self.qtbot = qtbot
        self.mic: FileInputDevice | None = None
        self.speaker = FakeOutputDevice(ENGINE_RATE_HZ, realtime=False)
        self.window = MainWindow(
            open_settings(tmp_path / "settings.ini"),
            audio_status=status or AudioStatus(False, "no audio devices found", "test"),
            input_factory=self._make_input,
            output_factory=lambda device: self.speaker,
            sessions_root=tmp_path / "sessions",
        )
        qtbot.addWidget(self.window)
        self.window.show()
        qtbot.waitExposed(self.window)

    def _make_input(self, choice: InputChoice) -> InputDevice:
        assert choice.kind == "file"
        self.mic = FileInputDevice(Path(choice.path), realtime=False)
        return self.mic

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of microphone audio happen, the speaker in step."""
        session = self.window.session
        assert session is not None and self.mic is not None
        for _ in range(round(seconds / STEP_S)):
            pumped = self.mic.pump_seconds(STEP_S)
            self.qtbot.waitUntil(lambda n=pumped: session.settled(n), timeout=WAIT_MS)
            session.wait_engine()
            self.speaker.pump(round(STEP_S * ENGINE_RATE_HZ))

    def records(self, kind: str) -> list[dict]:
        return [r for r in self.window.log.records if r["kind"] == kind]


@pytest.fixture
def rig(qtbot, tmp_path: Path) -> Rig:
    return Rig(qtbot, tmp_path)


def test_title_and_no_device_banner(qtbot, tmp_path: Path) -> None:
    def no_portaudio():
        raise OSError("PortAudio library not found")

    status = probe_audio(importer=no_portaudio)
    rig = Rig(qtbot, tmp_path, status)
    window = rig.window
    assert window.windowTitle().startswith("CallSim — ") and window.windowTitle() == WINDOW_TITLE
    assert window.banner.isVisible()
    assert "PortAudio library not found" in window.banner.text()
    assert "libportaudio2" in window.banner.text()
    items = [window.input_combo.itemText(i) for i in range(window.input_combo.count())]
    assert items == ["WAV file as microphone", "Silence"]
    assert window.input_combo.currentText() == "WAV file as microphone"


def test_full_flow_stop_key_log_replay_export(rig: Rig, qtbot, tmp_path: Path, monkeypatch) -> None:
    window, form = rig.window, rig.window.form
    window.input_combo.setCurrentIndex(window.input_combo.findText("WAV file as microphone"))
    window.input_file.setText(str(SPEECH))
    form.initial_silence.slider.setValue(5)
    form.max_silence.slider.setValue(3)
    form.max_duration.slider.setValue(30)
    assert form.max_duration.spin.value() == 30
    qtbot.mouseClick(form.stop_tone_buttons["#"], Qt.MouseButton.LeftButton)
    form.client_context.setText("ui-flow")
    preview = json.loads(form.preview.toPlainText())
    assert preview["maxSilenceTimeoutInSeconds"] == 3 and preview["stopTones"] == ["#"]
    assert form.error.text() == ""

    qtbot.mouseClick(window.send_record, Qt.MouseButton.LeftButton)
    assert window.session is not None and window.session.running
    qtbot.waitUntil(lambda: len(rig.records("response")) == 1, timeout=WAIT_MS)
    response = rig.records("response")[0]
    assert response["status"] == 200 and "/operations/" in response["headers"]["Location"]

    rig.advance(3.0)  # beep, then the caller speaks
    qtbot.mouseClick(window.keypad.buttons["#"], Qt.MouseButton.LeftButton)
    rig.advance(0.5)
    qtbot.waitUntil(lambda: len(rig.records("notification")) == 1, timeout=WAIT_MS)
    note = rig.records("notification")[0]
    info = note["payload"]["value"][0]["resourceData"]["resultInfo"]
    assert (info["code"], info["subcode"]) == (200, 8514)
    assert "stop tone: # pressed" in window.countdowns.ending.text()
    assert "200/8514" in window.countdowns.ending.text()
    ended = next(e for e in window.events if isinstance(e, ev.OperationEnded))
    key = next(e for e in window.events if isinstance(e, ev.KeyPressed))
    assert ended.sample_index == key.sample_index  # the recording stops at the key press

    # The log lists responses and notifications (engine events only on request), shows the
    # JSON of a selected row and filters.
    assert [r["kind"] for r in window.log.visible_records()] == ["response", "notification"]
    assert len(window.log.records) > 2
    window.log.filter_kind.setCurrentIndex(window.log.filter_kind.findData("notification"))
    assert [r["kind"] for r in window.log.visible_records()] == ["notification"]
    row = next(
        i
        for i in range(window.log.tree.topLevelItemCount())
        if not window.log.tree.topLevelItem(i).isHidden()
    )
    window.log.tree.setCurrentItem(window.log.tree.topLevelItem(row))
    assert json.loads(window.log.details.toPlainText()) == note

    # Replay the take: it reaches the speaker and the playhead runs to the end.
    window.tabs.setCurrentWidget(window.takes)
    assert len(window.takes.takes) == 1
    take = window.takes.takes[0]
    assert take.samples == ended.recording_samples > 0
    qtbot.mouseClick(window.takes.play_button, Qt.MouseButton.LeftButton)
    rig.speaker.pump(take.samples)
    qtbot.waitUntil(lambda: window.takes.waveform.playhead == 1.0, timeout=WAIT_MS)
    played = rig.speaker.played()[-take.samples :]
    assert np.allclose(played, take.load(), atol=1e-6)

    # Export the session through the menu; compare with what the engine produced.
    export_dir = tmp_path / "export"
    # The save dialog names a new folder (a folder picker could not create one).
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(export_dir), ""))
    window.save_session_action.trigger()
    assert str(export_dir) in window.statusBar().currentMessage()
    assert export_dir.as_uri() in window.output_link.text()
    snapshot: SessionSnapshot = window.session.snapshot()
    engine_notes = [event_record(e) for e in snapshot.events if isinstance(e, ev.Notification)]
    exported = json.loads((export_dir / "notifications.json").read_text("utf-8"))
    assert engine_notes == rig.records("notification")
    # The saved copy's recordingLocation points at its own recordings/ (app/session/export.py).
    saved_wavs = {op: export_dir / "recordings" / f"{op}.wav" for op in snapshot.recordings}
    assert exported == relocate_recordings(engine_notes, snapshot.recordings, saved_wavs)
    assert saved_wavs[take.operation_id].resolve().as_uri() in json.dumps(exported)
    responses = json.loads((export_dir / "responses.json").read_text("utf-8"))
    assert responses == [response]
    assert (export_dir / "recordings" / f"{take.operation_id}.wav").read_bytes() == (
        take.path.read_bytes()
    )
    replay = run_scenario(load_scenario(export_dir / "scenario.toml"))
    assert [(e.sample_index, e.subcode) for e in replay.endings] == [(ended.sample_index, 8514)]


def test_validation_error_inline_matches_the_400(rig: Rig, qtbot) -> None:
    window, form = rig.window, rig.window.form
    form.max_silence.spin.setValue(0)
    expected = "maxSilenceTimeoutInSeconds must be an integer between 1 and 120."
    assert form.error.text() == f"Graph would answer 400: {expected}"
    assert "ffebee" in form.max_silence.spin.styleSheet()
    assert form.max_silence.slider.value() == 1  # the slider stays in range
    form.client_context.setText("x" * 257)
    # Every problem at once, the one Graph's 400 carries first (issue 9, point 2).
    assert form.error.text().splitlines() == [
        f"Graph would answer 400: {expected}",
        "then: clientContext must be a string of at most 256 characters.",
    ]

    window.input_combo.setCurrentIndex(window.input_combo.findText("WAV file as microphone"))
    window.input_file.setText(str(SPEECH))
    qtbot.mouseClick(window.send_record, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(rig.records("response")) == 1, timeout=WAIT_MS)
    response = rig.records("response")[0]
    assert response["status"] == 400
    assert response["body"]["error"]["message"] == expected

    form.max_silence.spin.setValue(4)
    assert "clientContext must be a string of at most 256 characters." in form.error.text()
    form.client_context.setText("ok")
    assert form.error.text() == ""
    assert form.max_silence.spin.styleSheet() == ""


def test_keyboard_keys_and_hang_up(rig: Rig, qtbot) -> None:
    window = rig.window
    window.input_combo.setCurrentIndex(window.input_combo.findText("WAV file as microphone"))
    window.input_file.setText(str(SPEECH))
    qtbot.mouseClick(window.start_button, Qt.MouseButton.LeftButton)
    window.keypad.set_mode("out-of-band")
    rig.advance(0.2)
    window.activateWindow()
    qtbot.keyClick(window, "5")
    qtbot.keyClick(window, "#")
    rig.advance(0.4)
    qtbot.waitUntil(
        lambda: [e.key for e in window.events if isinstance(e, ev.KeyPressed)] == ["5", "#"],
        timeout=WAIT_MS,
    )
    keys = [e for e in window.events if isinstance(e, ev.KeyPressed)]
    assert all(e.sources == frozenset({"outOfBand"}) for e in keys)
    qtbot.mouseClick(window.hangup_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: window.session is not None and not window.session.running, timeout=WAIT_MS
    )
    assert any(isinstance(e, ev.CallEnded) for e in window.events)
    assert window.start_button.isEnabled() and not window.hangup_button.isEnabled()


def test_settings_are_restored(qtbot, tmp_path: Path) -> None:
    rig = Rig(qtbot, tmp_path)
    window, form = rig.window, rig.window.form
    window.input_combo.setCurrentIndex(window.input_combo.findText("WAV file as microphone"))
    window.input_file.setText(str(SPEECH))
    form.max_duration.slider.setValue(42)
    form.stop_tone_buttons["*"].setChecked(True)
    form.play_beep.setChecked(False)
    form.client_context.setText("remember me")
    window.keypad.set_mode("in-band")
    # The offscreen screen is 800x800 and restoreGeometry keeps a window on its screen, so
    # only the height is free to check; the dock layout is the other half of the layout.
    window.resize(window.width(), 700)
    keypad_dock = window.findChild(QDockWidget, "keypadDock")
    keypad_dock.hide()
    window.close()

    again = Rig(qtbot, tmp_path).window
    assert again.input_combo.currentText() == "WAV file as microphone"
    assert again.input_file.text() == str(SPEECH)
    assert again.form.max_duration.value == 42
    assert again.form.stop_tone_buttons["*"].isChecked()
    assert not again.form.play_beep.isChecked()
    assert again.form.client_context.text() == "remember me"
    assert again.keypad.mode == "in-band"
    assert again.height() == 700
    assert not again.findChild(QDockWidget, "keypadDock").isVisible()
    assert again.form.record_body() == form.record_body()


def test_typing_in_fields_does_not_press_keys(rig: Rig, qtbot) -> None:
    window, form = rig.window, rig.window.form
    pressed: list[str] = []
    window.keypad.key_pressed.connect(lambda key, mode: pressed.append(key))
    form.client_context.setFocus()
    qtbot.keyClicks(form.client_context, "A1#")
    assert form.client_context.text() == "A1#"
    spin = form.max_duration.spin
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "42")
    assert spin.value() == 42 and form.max_duration.slider.value() == 42
    assert pressed == []


def test_other_bot_actions_from_their_buttons(rig: Rig, qtbot) -> None:
    window, form = rig.window, rig.window.form
    window.input_combo.setCurrentIndex(window.input_combo.findText("WAV file as microphone"))
    window.input_file.setText(str(SPEECH))
    assert form.sample_combo.count() > 0, "resources/prompts has the bundled samples"
    form.prompt_kind.setCurrentIndex(form.prompt_kind.findData("sample"))
    uri = json.loads(form.preview.toPlainText())["prompts"][0]["mediaInfo"]["uri"]
    assert uri.startswith("file://") and uri.endswith(".wav")
    qtbot.mouseClick(window.send_subscribe, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(window.send_play, Qt.MouseButton.LeftButton)
    rig.advance(0.3)
    qtbot.mouseClick(window.keypad.buttons["7"], Qt.MouseButton.LeftButton)
    rig.advance(0.3)
    qtbot.mouseClick(window.send_cancel, Qt.MouseButton.LeftButton)
    rig.advance(0.2)
    qtbot.waitUntil(lambda: len(rig.records("notification")) == 2, timeout=WAIT_MS)
    responses = rig.records("response")
    assert [(r["action"], r["status"]) for r in responses] == [
        ("subscribeToTone", 200),
        ("playPrompt", 200),
        ("cancelMediaProcessing", 200),
    ]
    summaries = [r["summary"] for r in rig.records("notification")]
    assert summaries[0].startswith("toneInfo 7")
    assert "playPrompt failed 400/8508" in summaries[1]
    started = [e for e in window.events if isinstance(e, ev.PlaybackStarted)]
    assert [e.what for e in started] == ["prompt"]


def test_drop_media_button_fails_the_recording_with_8513(rig: Rig, qtbot) -> None:
    window, form = rig.window, rig.window.form
    window.input_combo.setCurrentIndex(window.input_combo.findText("WAV file as microphone"))
    window.input_file.setText(str(SPEECH))
    form.initial_silence.slider.setValue(10)
    form.max_silence.slider.setValue(10)
    button = window.drop_media_button
    assert not button.isEnabled()
    qtbot.mouseClick(window.send_record, Qt.MouseButton.LeftButton)
    assert button.isEnabled() and not button.isDown()
    rig.advance(1.0)
    session = window.session
    assert session is not None
    # A click (press and release) drops nothing for longer than the click (README: "while it
    # is pressed the call hears nothing").
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert not session.media_dropped
    qtbot.mousePress(button, Qt.MouseButton.LeftButton)
    assert button.isDown() and session.media_dropped
    rig.advance(2.5)
    qtbot.waitUntil(lambda: len(rig.records("notification")) == 1, timeout=WAIT_MS)
    info = rig.records("notification")[0]["payload"]["value"][0]["resourceData"]["resultInfo"]
    assert (info["code"], info["subcode"]) == (500, 8513)
    assert "500/8513" in window.countdowns.ending.text()
    qtbot.mouseRelease(button, Qt.MouseButton.LeftButton)
    assert not session.media_dropped
    qtbot.mouseClick(window.hangup_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not session.running, timeout=WAIT_MS)
    assert not button.isEnabled()


def realtime_silence_window(
    qtbot, tmp_path: Path, mics: list[FileInputDevice] | None = None
) -> MainWindow:
    """The window on "Silence" from a real-time microphone named "Test microphone" (each one
    the window opens is appended to ``mics``), with a speaker that never blocks."""

    def realtime_input(choice: InputChoice) -> InputDevice:
        mic = FileInputDevice(None, realtime=True, name="Test microphone")
        if mics is not None:
            mics.append(mic)
        return mic

    window = MainWindow(
        open_settings(tmp_path / "settings.ini"),
        audio_status=AudioStatus(True, "", ""),
        input_factory=realtime_input,
        output_factory=lambda device: FakeOutputDevice(ENGINE_RATE_HZ, realtime=False),
        sessions_root=tmp_path / "sessions",
    )
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.input_combo.setCurrentIndex(window.input_combo.findText("Silence"))
    return window


def test_a_stalled_microphone_shows_a_banner_until_it_delivers_again(qtbot, tmp_path: Path) -> None:
    mics: list[FileInputDevice] = []
    window = realtime_silence_window(qtbot, tmp_path, mics)
    assert not window.banner.isVisible()
    qtbot.mouseClick(window.start_button, Qt.MouseButton.LeftButton)
    session = window.session
    assert session is not None and session.running
    qtbot.waitUntil(lambda: session.fed_samples > 0, timeout=WAIT_MS)
    mics[0].hold()
    qtbot.waitUntil(window.banner.isVisible, timeout=WAIT_MS)
    text = window.banner.text()
    assert "Test microphone" in text and "no audio" in text and "8513" in text
    mics[0].release()
    qtbot.waitUntil(lambda: not window.banner.isVisible(), timeout=WAIT_MS)
    qtbot.mouseClick(window.hangup_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not session.running, timeout=WAIT_MS)
