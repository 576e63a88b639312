"""The Qt half of ``callsim doctor`` (app/doctor.py), run in a child process.

It reports Qt's version, where its plugins are, and the settings file and data folder the GUI
uses, then starts a ``QGuiApplication``: when no platform plugin loads, Qt aborts the process,
which is why the doctor runs this in a child and reads what it printed before.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from PySide6 import QtCore, __version__
from PySide6.QtGui import QGuiApplication

from app.ui.app import APPLICATION, ORGANIZATION, default_data_dir, open_settings


def probe_qt(emit: Callable[..., Any]) -> None:
    """Call ``emit(**values)`` with what Qt knows, then with the platform it loaded."""
    QtCore.QCoreApplication.setOrganizationName(ORGANIZATION)
    QtCore.QCoreApplication.setApplicationName(APPLICATION)
    emit(
        qt_version=QtCore.qVersion(),
        pyside_version=__version__,
        plugins_dir=QtCore.QLibraryInfo.path(QtCore.QLibraryInfo.LibraryPath.PluginsPath),
        settings_file=open_settings(None).fileName(),  # the GUI's own per-user settings
        data_dir=str(default_data_dir()),  # where the window records its sessions
    )
    app = QGuiApplication(sys.argv[:1])  # aborts the process when no platform plugin loads
    emit(platform=app.platformName())
