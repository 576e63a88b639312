"""``callsim`` with no subcommand: open the desktop fake caller."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from app.resources import icon_path

ORGANIZATION = "CallSim"
APPLICATION = "callsim"
DESKTOP_FILE_ID = "io.github.callsim.CallSim"  # packaging/linux/<id>.desktop
# The per-user data folder's own name (GenericDataLocation/<this>), so that it reads
# ".../callsim", not Qt's "<organisation>/<application>" ("CallSim/callsim"). The one
# definition: the window records sessions under it and the doctor's Qt probe reports it.
DATA_FOLDER = APPLICATION


def default_data_dir() -> Path:
    """The per-user data folder, e.g. ~/.local/share/callsim."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation)
    return Path(base) / DATA_FOLDER if base else Path.home() / f".{DATA_FOLDER}"


def default_sessions_root() -> Path:
    """Where live sessions are recorded (per user)."""
    return default_data_dir() / "sessions"


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
