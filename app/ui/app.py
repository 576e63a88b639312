"""``callsim`` with no subcommand: open the desktop fake caller."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

ORGANIZATION = "CallSim"
APPLICATION = "callsim"


def open_settings(settings_path: Path | None) -> QSettings:
    """An INI QSettings at ``settings_path``, or the per-user default."""
    if settings_path is not None:
        settings_path.parent.mkdir(parents=True, exist_ok=True)
        return QSettings(str(settings_path), QSettings.Format.IniFormat)
    return QSettings(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION
    )


def run_gui(settings_path: Path | None) -> int:
    """Open the main window and run the Qt event loop; returns the exit status."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    QApplication.setOrganizationName(ORGANIZATION)
    QApplication.setApplicationName(APPLICATION)
    from app.ui.main_window import MainWindow

    window = MainWindow(open_settings(settings_path))
    window.show()
    return int(app.exec())
