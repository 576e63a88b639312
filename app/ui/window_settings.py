"""What the window remembers between runs: its layout, the devices, the last request, the keypad.

Kept in the app's QSettings file (app/ui/paths.py says where); restored at start, saved on
close.
"""

from __future__ import annotations

import json

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLineEdit, QMainWindow

from app.ui.caller_panel import CallerAudioPanel
from app.ui.keypad import Keypad
from app.ui.request_form import RequestForm


def restore_settings(
    s: QSettings,
    window: QMainWindow,
    caller: CallerAudioPanel,
    form: RequestForm,
    keypad: Keypad,
    incoming_url: QLineEdit,
) -> None:
    """Put back what ``save_settings`` wrote (a fresh install: a size that fits the screen)."""
    geometry = s.value("window/geometry")
    if isinstance(geometry, QByteArray):
        window.restoreGeometry(geometry)
    else:
        screen = QGuiApplication.primaryScreen()
        area = screen.availableGeometry() if screen is not None else None
        if area is not None:
            window.resize(min(1400, area.width()), min(900, area.height()))
    state = s.value("window/state")
    if isinstance(state, QByteArray):
        window.restoreState(state)
    kind = s.value("audio/input_kind", "")
    name = s.value("audio/input_name", "")
    for i in range(caller.input_combo.count()):
        k, device = caller.input_combo.itemData(i)
        if k == kind and (device is None or device.name == name):
            caller.input_combo.setCurrentIndex(i)
            break
    caller.input_file.setText(str(s.value("audio/input_file", "")))
    out_name = s.value("audio/output_name", None)
    if out_name is not None:
        for i in range(caller.output_combo.count()):
            device = caller.output_combo.itemData(i)
            if (device.name if device is not None else "") == out_name:
                caller.output_combo.setCurrentIndex(i)
                break
    try:
        form_state = json.loads(str(s.value("request/form", "{}")))
    except ValueError:
        form_state = {}
    if isinstance(form_state, dict):
        form.set_state(form_state)
    keypad.set_mode(str(s.value("keypad/mode", "both")))
    incoming_url.setText(str(s.value("endpoint/incoming_callback", "")))


def save_settings(
    s: QSettings,
    window: QMainWindow,
    caller: CallerAudioPanel,
    form: RequestForm,
    keypad: Keypad,
    incoming_url: QLineEdit,
) -> None:
    """Write devices, the last request and the window layout."""
    s.setValue("window/geometry", window.saveGeometry())
    s.setValue("window/state", window.saveState())
    kind, device = caller.input_combo.currentData()
    s.setValue("audio/input_kind", kind)
    s.setValue("audio/input_name", device.name if device else "")
    s.setValue("audio/input_file", caller.input_file.text())
    output = caller.output_combo.currentData()
    s.setValue("audio/output_name", output.name if output is not None else "")
    s.setValue("request/form", json.dumps(form.state()))
    s.setValue("keypad/mode", keypad.mode)
    s.setValue("endpoint/incoming_callback", incoming_url.text().strip())
    s.sync()
