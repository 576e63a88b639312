"""The desktop app's names, per-user data folder and settings file (one definition).

The window records sessions under the data folder and the doctor's Qt probe reports it; both
import it from here, so that neither has to import the other (docs/architecture.md §1).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

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
