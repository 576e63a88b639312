"""A 120 s take on the real input stream while the GUI thread is kept busy: no overflows.

The audio callback only copies into a queue (docs/design.md rule 2) and the input stream has
PortAudio's "high" latency, so a GUI thread holding the GIL most of the time must not make the
device drop audio. The overflow count is the device's own (status.input_overflow).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer

from app.audio.wav import read_engine_audio, write_wav
from app.core import events as ev
from app.core.clock import ENGINE_RATE_HZ
from app.ui.app import open_settings
from app.ui.main_window import MainWindow
from tests.support.sound_server import SOCKET

SPEECH = Path(__file__).parents[1] / "data" / "speech" / "gb_male_account.wav"
TAKE_S = 120
BUSY_EVERY_MS = 10
BUSY_FOR_S = 0.008  # the GUI thread holds the GIL ~80 % of the time

pytestmark = [pytest.mark.audio, pytest.mark.slow, pytest.mark.qt_log_ignore("propagateSizeHints")]


def test_120_s_take_with_a_busy_gui_has_no_input_overflows(
    sound_server: None, qtbot, tmp_path: Path
) -> None:
    answer = tmp_path / "answer.wav"
    write_wav(answer, read_engine_audio(SPEECH))  # 4.2 s of speech with short pauses
    window = MainWindow(open_settings(tmp_path / "settings.ini"), sessions_root=tmp_path / "s")
    qtbot.addWidget(window)
    window.show()
    assert window.input_combo.currentData()[0] == "device"
    form = window.form
    form.play_beep.setChecked(False)
    form.initial_silence.slider.setValue(10)
    form.max_silence.slider.setValue(10)
    form.max_duration.slider.setValue(TAKE_S)

    busy_ticks = {"n": 0}

    def busy() -> None:
        # Pure Python work plus a synchronous repaint: the GIL is held, the event loop blocked.
        end = time.perf_counter() + BUSY_FOR_S
        x = 0
        while time.perf_counter() < end:
            x += 1
        window.timeline.repaint()
        busy_ticks["n"] += 1

    hog = QTimer()
    hog.setInterval(BUSY_EVERY_MS)
    hog.timeout.connect(busy)
    env = {**os.environ, "PULSE_SERVER": f"unix:{SOCKET}"}
    feeder = subprocess.Popen(
        [
            "bash",
            "-c",
            'while :; do paplay --latency-msec=20 --device=vmic_feed "$0" || exit 1; done',
            str(answer),
        ],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        qtbot.mouseClick(window.send_record, Qt.MouseButton.LeftButton)
        hog.start()
        qtbot.waitUntil(
            lambda: any(isinstance(e, ev.OperationEnded) for e in window.events),
            timeout=(TAKE_S + 30) * 1000,
        )
    finally:
        hog.stop()
        os.killpg(feeder.pid, signal.SIGTERM)
        feeder.wait(timeout=10)

    session = window.session
    assert session is not None
    ended = next(e for e in window.events if isinstance(e, ev.OperationEnded))
    capture = next(e for e in window.events if isinstance(e, ev.CaptureStarted))
    assert (ended.code, ended.subcode) == (200, 8515)
    assert ended.sample_index == capture.sample_index + TAKE_S * ENGINE_RATE_HZ
    assert ended.recording_samples == TAKE_S * ENGINE_RATE_HZ
    print(
        f"\n120 s take: input overflows {session.overflows}, busy GUI ticks {busy_ticks['n']}, "
        f"status bar '{window.overflow_label.text()}'"
    )
    assert busy_ticks["n"] > TAKE_S * 1000 / BUSY_EVERY_MS / 4  # the GUI really was busy
    assert session.overflows == 0
    assert window.overflow_label.text() == "input overflows: 0"
