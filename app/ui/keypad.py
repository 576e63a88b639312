"""The caller's DTMF keypad: 16 keys, mouse or keyboard, sent in band, out of band or both."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QGridLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

# The standard 4x4 DTMF layout (rows 697..941 Hz, columns 1209..1633 Hz).
KEYPAD_ROWS = ("123A", "456B", "789C", "*0#D")
MODES = (
    ("both", "In band + out of band"),
    ("in-band", "In band (tone in the audio)"),
    ("out-of-band", "Out of band (RFC 4733 event)"),
)


class Keypad(QWidget):
    """Emits ``key_pressed(key, mode)`` for clicks and for 0-9 * # A-D typed on the window."""

    key_pressed = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        grid = QGridLayout()
        grid.setSpacing(6)
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.buttons: dict[str, QPushButton] = {}
        for r, row in enumerate(KEYPAD_ROWS):
            for c, key in enumerate(row):
                button = QPushButton(key)
                button.setFont(font)
                button.setMinimumSize(48, 38)
                button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
                button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
                button.setToolTip(f"Press {key} (keyboard: {key})")
                button.clicked.connect(lambda _=False, k=key: self.press(k))
                grid.addWidget(button, r, c)
                self.buttons[key] = button
        layout.addLayout(grid)
        layout.addWidget(QLabel("Send keys:"))
        self.mode_group = QButtonGroup(self)
        self.mode_buttons: dict[str, QRadioButton] = {}
        for mode, title in MODES:
            radio = QRadioButton(title)
            self.mode_group.addButton(radio)
            self.mode_buttons[mode] = radio
            layout.addWidget(radio)
        self.mode_buttons["both"].setChecked(True)
        self.last_key = QLabel("")
        self.last_key.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.last_key)
        layout.addStretch(1)
        self._shortcuts: list[QShortcut] = []

    def install_shortcuts(self, window: QWidget) -> None:
        """Make 0-9 * # A-D on ``window`` press keys (text fields keep their typing)."""
        for key in "".join(KEYPAD_ROWS):
            shortcut = QShortcut(QKeySequence(key), window)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(lambda k=key: self.press(k))
            self._shortcuts.append(shortcut)

    @property
    def mode(self) -> str:
        """The selected mode: "both", "in-band" or "out-of-band"."""
        for mode, radio in self.mode_buttons.items():
            if radio.isChecked():
                return mode
        return "both"

    def set_mode(self, mode: str) -> None:
        """Select a mode by name (unknown names are ignored)."""
        if mode in self.mode_buttons:
            self.mode_buttons[mode].setChecked(True)

    def press(self, key: str) -> None:
        """Press ``key`` as the caller."""
        self.last_key.setText(f"last key: {key}")
        self.key_pressed.emit(key, self.mode)
