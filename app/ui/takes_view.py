"""Captured answers: a list of takes with reason and duration, a waveform, replay with playhead."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.ui.models.takes import Take
from app.ui.widgets import TakeWaveform

__all__ = ["Take", "TakesView"]

FloatArray = npt.NDArray[np.float32]


class TakesView(QWidget):
    """Lists takes; emits play/stop/export requests for the selected one.

    A thin view over a list of takes it does not own (``show_takes``: a ``CallEntry``'s
    ``takes``, which the exports and the tests read too); it keeps no copy. The owner appends
    or updates a take, then calls ``take_added`` or ``take_changed``.
    """

    play_requested = Signal(object)
    stop_requested = Signal()
    export_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        split = QSplitter(Qt.Orientation.Horizontal)
        self.list = QListWidget()
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        self.heading = QLabel("Select a take to see and replay it.")
        self.heading.setWordWrap(True)
        self.waveform = TakeWaveform()
        buttons = QHBoxLayout()
        self.play_button = QPushButton("▶ Play")
        self.stop_button = QPushButton("■ Stop")
        self.export_button = QPushButton("Export WAV…")
        for b in (self.play_button, self.stop_button, self.export_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        rl.addWidget(self.heading)
        rl.addWidget(self.waveform, 1)
        rl.addLayout(buttons)
        split.addWidget(self.list)
        split.addWidget(right)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        layout.addWidget(split)
        self.takes: list[Take] = []
        self.list.currentRowChanged.connect(self._select)
        self.play_button.clicked.connect(self._play)
        self.stop_button.clicked.connect(self.stop_requested)
        self.export_button.clicked.connect(self._export)
        self._update_buttons()

    def clear(self) -> None:
        """Show an empty list of its own (the previously shown list is left as it is)."""
        self.show_takes([])

    def show_takes(self, takes: list[Take]) -> None:
        """Show ``takes``, bound without a copy; the last one is selected."""
        self.takes = takes
        self.list.clear()
        self.waveform.clear()
        self.heading.setText("Select a take to see and replay it.")
        for i, take in enumerate(takes):
            self.list.addItem(QListWidgetItem(f"Take {i + 1}: {take.title()}"))
        if takes:
            self.list.setCurrentRow(len(takes) - 1)
        self._update_buttons()

    def add_take(self, take: Take) -> None:
        """Append a take to the shown list and select it (a view used on its own)."""
        self.takes.append(take)
        self.take_added()

    def take_added(self) -> None:
        """The owner appended a take: list it and select it."""
        take = self.takes[-1]
        self.list.addItem(QListWidgetItem(f"Take {len(self.takes)}: {take.title()}"))
        self.list.setCurrentRow(len(self.takes) - 1)

    def take_changed(self, operation_id: str) -> None:
        """The owner filled in how a take's operation ended: show its new title."""
        for i, take in enumerate(self.takes):
            if take.operation_id == operation_id:
                self.list.item(i).setText(f"Take {i + 1}: {take.title()}")
                if self.list.currentRow() == i:
                    self._select(i)

    def current(self) -> Take | None:
        """The selected take."""
        row = self.list.currentRow()
        return self.takes[row] if 0 <= row < len(self.takes) else None

    def _select(self, row: int) -> None:
        take = self.current()
        if take is not None:
            self.heading.setText(f"Take {row + 1} · {take.operation_id}\n{take.title()}")
            self.waveform.set_samples(take.load())
        self._update_buttons()

    def _update_buttons(self) -> None:
        enabled = self.current() is not None
        for b in (self.play_button, self.stop_button, self.export_button):
            b.setEnabled(enabled)

    def _play(self) -> None:
        take = self.current()
        if take is not None:
            self.play_requested.emit(take)

    def _export(self) -> None:
        take = self.current()
        if take is not None:
            self.export_requested.emit(take)
