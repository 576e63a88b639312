"""Launch the real app (``run_gui``) on the current display, play a short call, screenshot it.

Usage: python -m tests.support.screenshot_app OUT.png --settings S.ini --sessions DIR

The window is driven through its widgets: a speech WAV as the microphone, a prompt file, a
recordResponse with a 2 s max silence, a key press; the screenshot is taken from the X
server's root window (what a user would see) once the operation has ended, then the app quits.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QApplication

from app.audio.wav import read_engine_audio, write_wav
from app.core import events as ev
from app.core.clock import ENGINE_RATE_HZ
from app.ui.app import run_gui
from app.ui.main_window import MainWindow

SPEECH = Path(__file__).parents[1] / "data" / "speech" / "us_female_callback.wav"
SAMPLE_PROMPT = Path(__file__).parents[2] / "resources" / "prompts" / "leave-message.wav"
ANSWER_DELAY_S = 3
GIVE_UP_MS = 30_000
AFTER_END_MS = 600  # let the timeline scroll past the ending before the picture


def _window(app: QApplication) -> MainWindow | None:
    return next((w for w in app.topLevelWidgets() if isinstance(w, MainWindow)), None)


def main(argv: list[str] | None = None) -> int:
    """Run the demo; exit status 0 when the screenshot was saved."""
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--settings", type=Path, required=True)
    parser.add_argument("--sessions", type=Path, required=True)
    args = parser.parse_args(argv)
    app = QApplication(sys.argv[:1])
    # The caller answers once the prompt and beep are over (about 3 s), like a real one.
    answer = args.sessions / "answer.wav"
    speech = read_engine_audio(SPEECH)
    write_wav(
        answer, np.concatenate([np.zeros(ANSWER_DELAY_S * ENGINE_RATE_HZ, np.float32), speech])
    )
    prompt = args.sessions / "leave-message.wav"
    if SAMPLE_PROMPT.is_file():
        shutil.copyfile(SAMPLE_PROMPT, prompt)
    else:
        t = np.arange(round(0.8 * ENGINE_RATE_HZ)) / ENGINE_RATE_HZ
        write_wav(prompt, (0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32))
    saved = {"ok": False}

    def drive() -> None:
        window = _window(app)
        if window is None:
            QTimer.singleShot(100, drive)
            return
        window.sessions_root = args.sessions
        window.resize(1280, 720)  # a laptop or a projector: the size the layout is for
        window.input_combo.setCurrentIndex(window.input_combo.findText("WAV file as microphone"))
        window.input_file.setText(str(answer))
        form = window.form
        form.prompt_kind.setCurrentIndex(form.prompt_kind.findData("file"))
        form.prompt_file.setText(str(prompt))
        form.max_silence.slider.setValue(2)
        form.initial_silence.slider.setValue(5)
        form.max_duration.slider.setValue(20)
        form.stop_tone_buttons["#"].setChecked(True)
        form.client_context.setText("demo-step-1")
        window.send_record.click()
        QTimer.singleShot(5000, lambda: window.keypad.press("5"))
        QTimer.singleShot(100, lambda: wait_for_end(window))

    def wait_for_end(window: MainWindow) -> None:
        if any(isinstance(e, ev.OperationEnded) for e in window.events):
            QTimer.singleShot(AFTER_END_MS, lambda: shoot(window))
        else:
            QTimer.singleShot(100, lambda: wait_for_end(window))

    def shoot(window: MainWindow) -> None:
        window.tabs.setCurrentWidget(window.log)
        tree = window.log.tree
        last = tree.topLevelItem(tree.topLevelItemCount() - 1)
        if last is not None:
            tree.setCurrentItem(last)  # show the notification's JSON
        window.repaint()
        app.processEvents()
        screen = QGuiApplication.primaryScreen()
        shot = screen.grabWindow(0).toImage()  # the X root window: real pixels
        frame = window.frameGeometry()
        shot = shot.copy(frame)
        # A palette of 256 colours keeps the README image small and loses nothing visible.
        small = shot.convertToFormat(
            QImage.Format.Format_Indexed8,
            Qt.ImageConversionFlag.ThresholdDither | Qt.ImageConversionFlag.AvoidDither,
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        saved["ok"] = small.save(str(args.out), "PNG")
        window.close()

    QTimer.singleShot(0, drive)
    QTimer.singleShot(GIVE_UP_MS, app.quit)
    rc = run_gui(args.settings)
    return 0 if saved["ok"] and rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
