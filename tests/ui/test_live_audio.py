"""The live path for real: the app's sounddevice streams on a virtual microphone and speaker.

A PulseAudio daemon (tests/support/virtual_audio.sh) provides ``vmic`` (fed from a WAV with
paplay) and ``vspeaker`` (recorded with parecord). The window opens its real PortAudio
streams on them exactly as on a desktop. Skipped, with the reason, where no sound server can
start.
"""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.audio.wav import read_audio, read_engine_audio, write_wav
from app.core import events as ev
from app.core.call import Call
from app.core.clock import ENGINE_RATE_HZ
from app.core.dsp.resample import resample_all
from app.core.media import BEEP_FREQ_HZ
from app.ui.app import open_settings
from app.ui.main_window import MainWindow
from tests.support.sound_server import capture_speaker, feed_microphone

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
