"""The live path for real: the app's sounddevice streams on a virtual microphone and speaker.

A PulseAudio daemon (tests/support/virtual_audio.sh) provides ``vmic`` (fed from a WAV with
paplay) and ``vspeaker`` (recorded with parecord). The window opens its real PortAudio
streams on them exactly as on a desktop. Skipped, with the reason, where no sound server can
start.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.audio.supervisor import running_supervisor
from app.audio.wav import read_audio, read_engine_audio, write_wav
from app.core import events as ev
from app.core.call import Call
from app.core.clock import ENGINE_RATE_HZ
from app.core.dsp.resample import resample_all
from app.core.media import BEEP_FREQ_HZ
from app.session.live import drain_queue
from app.ui.app import open_settings
from app.ui.main_window import MainWindow
from tests.support.sound_server import (
    capture_speaker,
    feed_microphone,
    start_sound_server,
    stop_sound_server,
)

SPEECH = Path(__file__).parents[1] / "data" / "speech" / "us_female_callback.wav"
PROMPT_FREQ_HZ = 440.0
PROMPT_S = 0.6
MAX_SILENCE_S = 2
WAIT_MS = 20_000

pytestmark = [pytest.mark.audio, pytest.mark.qt_log_ignore("propagateSizeHints")]


def _offline_speech_span(track: np.ndarray) -> tuple[int, int]:
    """Where the engine's VAD puts the answer when fed the same audio headless."""
    call = Call()
    call.action("recordResponse", {"playBeep": False, "maxSilenceTimeoutInSeconds": 2})
    call.feed(track)
    call.flush()
    events = call.drain()
    start = next(e.sample_index for e in events if isinstance(e, ev.SpeechStarted))
    end = [e.sample_index for e in events if isinstance(e, ev.SpeechEnded)][-1]
    return start, end


def _band_energy(x: np.ndarray, rate_hz: int, freq_hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1 / rate_hz)
    band = (freqs > freq_hz - 20) & (freqs < freq_hz + 20)
    return float(spectrum[band].sum() / spectrum.sum())


def test_spoken_answer_then_silence_ends_8509_and_prompt_reaches_speaker(
    sound_server: None, qtbot, tmp_path: Path
) -> None:
    speech = read_engine_audio(SPEECH)
    mic_wav = tmp_path / "answer.wav"
    write_wav(mic_wav, resample_all(speech, ENGINE_RATE_HZ, 48_000), 48_000)
    prompt = tmp_path / "prompt.wav"
    t = np.arange(round(PROMPT_S * ENGINE_RATE_HZ)) / ENGINE_RATE_HZ
    write_wav(prompt, (0.4 * np.sin(2 * np.pi * PROMPT_FREQ_HZ * t)).astype(np.float32))

    window = MainWindow(open_settings(tmp_path / "settings.ini"), sessions_root=tmp_path / "s")
    qtbot.addWidget(window)
    window.show()
    assert not window.banner.isVisible(), window.banner.text()
    assert window.input_combo.currentData()[0] == "device"
    assert window.output_combo.currentData() is not None
    form = window.form
    form.prompt_kind.setCurrentIndex(form.prompt_kind.findData("file"))
    form.prompt_file.setText(str(prompt))
    form.max_silence.slider.setValue(MAX_SILENCE_S)
    form.initial_silence.slider.setValue(10)
    form.max_duration.slider.setValue(30)
    assert form.error.text() == ""

    speaker_wav = tmp_path / "speaker.wav"
    recorder = capture_speaker(speaker_wav)
    try:
        qtbot.waitUntil(
            lambda: speaker_wav.exists() and speaker_wav.stat().st_size > 10_000, timeout=WAIT_MS
        )
        qtbot.mouseClick(window.send_record, Qt.MouseButton.LeftButton)
        session = window.session
        assert session is not None and session.running
        qtbot.waitUntil(
            lambda: any(isinstance(e, ev.CaptureStarted) for e in window.events), timeout=WAIT_MS
        )
        fed_at_play = session.heard_samples
        player = feed_microphone(mic_wav)
        qtbot.waitUntil(
            lambda: any(isinstance(e, ev.OperationEnded) for e in window.events), timeout=WAIT_MS
        )
        player.wait(timeout=10)
    finally:
        recorder.send_signal(signal.SIGINT)
        recorder.wait(timeout=10)

    ended = next(e for e in window.events if isinstance(e, ev.OperationEnded))
    assert (ended.status, ended.code, ended.subcode) == ("completed", 200, 8509)
    assert "max silence: 2 s pause after speech" in window.countdowns.ending.text()
    started = next(e for e in window.events if isinstance(e, ev.SpeechStarted))
    stopped = [e for e in window.events if isinstance(e, ev.SpeechEnded)][-1]
    # The ending is exactly max silence after the last speech; the speech is where the same
    # audio puts it headless (to two 20 ms frames: 48 kHz → 16 kHz resampling differs a
    # little from the 16 kHz original), and it began when paplay started (device latency).
    assert ended.sample_index == stopped.sample_index + MAX_SILENCE_S * ENGINE_RATE_HZ
    offline_start, offline_end = _offline_speech_span(speech)
    assert abs((stopped.sample_index - started.sample_index) - (offline_end - offline_start)) <= 640
    assert 0 <= started.sample_index - (fed_at_play + offline_start) <= 0.3 * ENGINE_RATE_HZ
    notes = [r for r in window.log.records if r["kind"] == "notification"]
    info = notes[-1]["payload"]["value"][0]["resourceData"]["resultInfo"]
    assert info["subcode"] == 8509
    assert window.session is not None and window.session.overflows == 0

    # The prompt and then the beep reached the (virtual) speaker.
    played, rate_hz = read_audio(speaker_wav)
    loud = np.flatnonzero(np.abs(played) > 0.05)
    assert len(loud), "nothing reached the speaker"
    first = loud[0]
    prompt_part = played[first : first + round(0.5 * rate_hz)]
    assert _band_energy(prompt_part, rate_hz, PROMPT_FREQ_HZ) > 0.8
    after = played[first + round((PROMPT_S + 0.05) * rate_hz) : first + round(0.85 * rate_hz)]
    assert _band_energy(after, rate_hz, BEEP_FREQ_HZ) > 0.8


def _ended(window: MainWindow) -> list[ev.OperationEnded]:
    return [e for e in window.events if isinstance(e, ev.OperationEnded)]


def test_sound_server_restart_mid_call_reopens_the_streams_and_records_an_answer(
    sound_server: None, qtbot, tmp_path: Path
) -> None:
    """The sound server dies one second into a recordResponse: 8513 and a banner saying the
    microphone is lost and retried; it comes back: the streams reopen by themselves, the
    banner clears, the gap is one no_media entry, and the next answer is recorded normally."""
    speech = read_engine_audio(SPEECH)
    mic_wav = tmp_path / "answer.wav"
    write_wav(mic_wav, resample_all(speech, ENGINE_RATE_HZ, 48_000), 48_000)
    window = MainWindow(open_settings(tmp_path / "settings.ini"), sessions_root=tmp_path / "s")
    qtbot.addWidget(window)
    window.show()
    form = window.form
    form.prompt_kind.setCurrentIndex(form.prompt_kind.findData("none"))
    form.play_beep.setChecked(False)
    form.max_silence.slider.setValue(MAX_SILENCE_S)
    form.initial_silence.slider.setValue(10)
    form.max_duration.slider.setValue(30)
    assert form.error.text() == ""
    qtbot.mouseClick(window.send_record, Qt.MouseButton.LeftButton)
    session = window.session
    assert session is not None and session.running
    qtbot.waitUntil(lambda: session.heard_samples > ENGINE_RATE_HZ, timeout=WAIT_MS)
    supervisor = running_supervisor()
    assert supervisor is not None
    reports = supervisor.subscribe()

    stopped_at = time.monotonic()
    try:
        stop_sound_server()
        # The banner names the device, says the stream is gone and that CallSim retries.
        qtbot.waitUntil(
            lambda: (
                "retries every 0.5 s" in window.banner.text()
                and "has delivered no audio" in window.banner.text()
            ),
            timeout=WAIT_MS,
        )
        assert window.banner.isVisible()
        qtbot.waitUntil(lambda: bool(_ended(window)), timeout=WAIT_MS)
    finally:
        start_sound_server()  # always: other engineers' audio tests share this server
    started_at = time.monotonic()
    qtbot.waitUntil(lambda: not window.banner.isVisible(), timeout=WAIT_MS)
    recovered_s = time.monotonic() - started_at
    print(f"server down {started_at - stopped_at:.2f} s; streams back after {recovered_s:.2f} s")
    # Both streams were lost and both reopened (a re-init closes every stream).
    states = {(r.role, r.state) for r in drain_queue(reports)}
    assert {("input", "lost"), ("output", "lost")} <= states
    assert {("input", "reopened"), ("output", "reopened")} <= states
    assert supervisor.reinits >= 1  # the restarted server's devices needed a new PortAudio
    supervisor.unsubscribe(reports)
    [first] = _ended(window)
    assert (first.status, first.code, first.subcode) == ("failed", 500, 8513)
    assert window.session is session and session.running and session.error is None

    # The stalled time is one no_media gap in the session, as the watchdog sends it.
    session.wait_engine()
    gaps = [entry for entry in session.snapshot().input_log if entry[1] == "no_media"]
    assert len(gaps) == 1
    assert gaps[0][2]["samples"] >= 2 * ENGINE_RATE_HZ

    # A normal answer through the restarted server, on the same call.
    qtbot.mouseClick(window.send_record, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: sum(isinstance(e, ev.CaptureStarted) for e in window.events) == 2,
        timeout=WAIT_MS,
    )
    player = feed_microphone(mic_wav)
    qtbot.waitUntil(lambda: len(_ended(window)) == 2, timeout=WAIT_MS)
    player.wait(timeout=10)
    second = _ended(window)[1]
    assert (second.status, second.code, second.subcode) == ("completed", 200, 8509)
    finished = [e for e in window.events if isinstance(e, ev.RecordingFinished)]
    recording, _ = read_audio(session.writer.path_for(finished[-1].operation_id))
    assert np.abs(recording).max() > 0.05  # the spoken answer, not silence
    assert not window.banner.isVisible()


def test_another_microphone_and_speaker_can_be_picked_mid_call(
    sound_server: None, qtbot, tmp_path: Path
) -> None:
    window = MainWindow(open_settings(tmp_path / "settings.ini"), sessions_root=tmp_path / "s")
    qtbot.addWidget(window)
    window.show()
    assert window.start_call()
    session = window.session
    assert session is not None
    qtbot.waitUntil(lambda: session.heard_samples > 0.2 * ENGINE_RATE_HZ, timeout=WAIT_MS)
    assert window.input_combo.isEnabled() and window.output_combo.isEnabled()
    mic, speaker = session.microphone, window.speaker
    other_in = next(
        i
        for i in range(window.input_combo.count())
        if window.input_combo.itemData(i)[0] == "device"
        and window.input_combo.itemData(i)[1].name != mic.name
    )
    other_out = next(
        i
        for i in range(window.output_combo.count())
        if window.output_combo.itemData(i) is not None
        and window.output_combo.itemData(i).name != speaker.name
    )
    wanted_in = window.input_combo.itemData(other_in)[1].name
    wanted_out = window.output_combo.itemData(other_out).name
    window.input_combo.setCurrentIndex(other_in)
    window.output_combo.setCurrentIndex(other_out)
    # Same objects (the session keeps them), now on the other devices, and audio flows on.
    assert session.microphone is mic and mic.name == wanted_in
    assert window.speaker is speaker and speaker.name == wanted_out
    heard = session.heard_samples
    qtbot.waitUntil(lambda: session.heard_samples > heard + 0.5 * ENGINE_RATE_HZ, timeout=WAIT_MS)
    assert session.stalled_s == 0.0 and not window.banner.isVisible()
    # A file cannot replace a device mid-call: the pick is undone.
    window.input_combo.setCurrentIndex(window.input_combo.findText("WAV file as microphone"))
    assert window.input_combo.currentData()[1].name == wanted_in
    window.hang_up()
    qtbot.waitUntil(lambda: not session.running, timeout=WAIT_MS)
