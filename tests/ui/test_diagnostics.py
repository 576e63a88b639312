"""Help → Diagnostics: the doctor's report, real probes, in a dialog with a working Copy."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from app.audio.devices import AudioStatus
from app.ui.app import open_settings
from app.ui.diagnostics import COLLECTING, DiagnosticsDialog
from app.ui.main_window import MainWindow

REPORT_WAIT_MS = 120_000  # the probes start Qt and PortAudio in child processes

pytestmark = [pytest.mark.slow, pytest.mark.qt_log_ignore("propagateSizeHints")]


def test_dialog_shows_the_real_report_and_copies_it(qtbot) -> None:
    dialog = DiagnosticsDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.text.toPlainText() == COLLECTING and not dialog.copy_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.ready, timeout=REPORT_WAIT_MS)
    report = dialog.text.toPlainText()
    assert "qt platform" in report and "plugin 'offscreen' loads" in report
    assert "portaudio" in report and "endpoint port" in report
    assert report.splitlines()[-1].startswith("CallSim can run here")
    assert dialog.text.isReadOnly()
    QGuiApplication.clipboard().setText("")
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == report


def test_help_menu_opens_the_dialog(qtbot, tmp_path: Path) -> None:
    window = MainWindow(
        open_settings(tmp_path / "settings.ini"),
        audio_status=AudioStatus(False, "no audio devices found", "test"),
        sessions_root=tmp_path / "sessions",
    )
    qtbot.addWidget(window)
    menus = [a.text() for a in window.menuBar().actions()]
    assert "&Help" in menus
    window.diagnostics_action.trigger()
    dialogs = window.findChildren(DiagnosticsDialog)
    assert len(dialogs) == 1 and dialogs[0].isVisible()
    qtbot.waitUntil(lambda: dialogs[0].ready, timeout=REPORT_WAIT_MS)
    dialogs[0].close()
