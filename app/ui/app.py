"""``callsim`` with no subcommand: open the desktop fake caller."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from app.resources import icon_path

ORGANIZATION = "CallSim"
APPLICATION = "callsim"
DESKTOP_FILE_ID = "io.github.callsim.CallSim"  # packaging/linux/<id>.desktop


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
    # The same SVG as the desktop entry's icon (packaging/linux); Qt's svg plugin draws it.
    QApplication.setWindowIcon(QIcon(str(icon_path())))
    # Wayland and X11 match the window to packaging/linux/*.desktop by this name.
    QApplication.setDesktopFileName(DESKTOP_FILE_ID)
    from app.ui.main_window import MainWindow

    window = MainWindow(open_settings(settings_path))
    window.show()
    return int(app.exec())
