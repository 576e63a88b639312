"""``callsim`` with no subcommand: open the desktop fake caller."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from app.resources import icon_path
from app.ui.paths import (
    APPLICATION,
    DATA_FOLDER,
    DESKTOP_FILE_ID,
    ORGANIZATION,
    default_data_dir,
    default_sessions_root,
    open_settings,
)

__all__ = [
    "APPLICATION",
    "DATA_FOLDER",
    "DESKTOP_FILE_ID",
    "ORGANIZATION",
    "default_data_dir",
    "default_sessions_root",
    "open_settings",
    "run_gui",
]


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
