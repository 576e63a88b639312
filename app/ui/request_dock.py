"""The left dock: the bot's request form and the Graph endpoint, with the send buttons under them.

The form and the endpoint scroll on their own; the send buttons stay below the scroll area, so
"Send recordResponse" is on screen at any window size (issue 9, point 2).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.resources import sample_prompts
from app.ui.endpoint_panel import EndpointPanel
from app.ui.request_form import RequestForm


class RequestDock(QWidget):
    """Form + endpoint in a scroll area, the four send buttons below; emits ``send``."""

    send = Signal(str, object)  # action, body

    def __init__(self) -> None:
        super().__init__()
        inner = QWidget()
        il = QVBoxLayout(inner)
        il.setContentsMargins(0, 0, 0, 0)
        group = QGroupBox("Bot request (recordResponse)")
        gl = QVBoxLayout(group)
        self.form = RequestForm(sample_prompts())
        gl.addWidget(self.form, 1)
        il.addWidget(group, 1)
        self.endpoint_panel = EndpointPanel()
        il.addWidget(self.endpoint_panel)
        self.inner = inner
        scroll = QScrollArea()
        scroll.setObjectName("requestScroll")
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Wide enough for the form: no horizontal scroll bar on a fresh layout.
        bar = scroll.verticalScrollBar().sizeHint().width()
        scroll.setMinimumWidth(max(360, inner.minimumSizeHint().width() + bar + 4))
        self.scroll_area = scroll
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll, 1)
        layout.addLayout(self._send_buttons())

    def _send_buttons(self) -> QGridLayout:
        grid = QGridLayout()
        self.send_record = QPushButton("Send recordResponse")
        self.send_record.setObjectName("sendRecordResponse")
        self.send_record.setStyleSheet("QPushButton { font-weight: bold; padding: 6px; }")
        self.send_play = QPushButton("playPrompt")
        self.send_cancel = QPushButton("cancelMediaProcessing")
        self.send_subscribe = QPushButton("subscribeToTone")
        grid.addWidget(self.send_record, 0, 0, 1, 3)
        grid.addWidget(self.send_play, 1, 0)
        grid.addWidget(self.send_cancel, 1, 1)
        grid.addWidget(self.send_subscribe, 1, 2)
        form = self.form
        for button, action, body_of in (
            (self.send_record, "recordResponse", form.record_body),
            (self.send_play, "playPrompt", form.play_prompt_body),
            (self.send_cancel, "cancelMediaProcessing", form.cancel_body),
            (self.send_subscribe, "subscribeToTone", form.subscribe_body),
        ):
            button.clicked.connect(lambda _=False, a=action, b=body_of: self._send(a, b()))
        return grid

    def _send(self, action: str, body: Any) -> None:
        self.send.emit(action, body)
