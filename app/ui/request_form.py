"""The bot's request: a form, a live preview of the exact JSON body, inline Graph errors.

The body is built by ``app.graph``'s own models (``to_body``) and checked by its own parser,
so the preview is byte for byte what the simulated bot POSTs and the inline error is the
message the 400 would carry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.graph.errors import GraphError
from app.graph.requests import (
    DEFAULT_INITIAL_SILENCE_TIMEOUT_S,
    DEFAULT_MAX_RECORD_DURATION_S,
    DEFAULT_MAX_SILENCE_TIMEOUT_S,
    TIMER_MAX_S,
    TIMER_MIN_S,
    CancelMediaProcessingRequest,
    MediaPrompt,
    PlayPromptRequest,
    RecordResponseRequest,
    SubscribeToToneRequest,
    parse_record_response,
)
from app.ui.keypad import KEYPAD_ROWS
from app.ui.widgets import file_row as file_row_widget

PROMPT_KINDS = (
    ("none", "No prompt"),
    ("sample", "Bundled sample"),
    ("file", "File…"),
    ("uri", "URI"),
)
# The spin boxes accept values outside Graph's 1..120 on purpose: a developer can type 0 or
# 150 and see the 400 Graph would answer, inline and then in the log if sent anyway.
SPIN_MAX_S = 999
ERROR_STYLE = "color: #c62828; font-weight: bold;"
INVALID_SPIN_STYLE = "QSpinBox { background: #ffebee; color: #b71c1c; }"
# A selected stop tone must read as "on" at a glance and on a projector: filled, bold, framed.
STOP_TONE_STYLE = (
    "QToolButton { border: 1px solid #9e9e9e; border-radius: 3px; padding: 2px; }"
    "QToolButton:checked { background: #1565c0; color: white; font-weight: bold;"
    " border: 2px solid #0d47a1; }"
)
# The error area keeps this many lines whether or not there is an error, so that an error
# appearing does not push the preview (and the send buttons under it) down.
ERROR_LINES = 4
# Body fields a Graph 400 message may name, and what stands in for each while looking for the
# next error (the documented default, or leaving the optional field out).
_FIELD_FALLBACKS: dict[str, Any] = {
    "initialSilenceTimeoutInSeconds": DEFAULT_INITIAL_SILENCE_TIMEOUT_S,
    "maxSilenceTimeoutInSeconds": DEFAULT_MAX_SILENCE_TIMEOUT_S,
    "maxRecordDurationInSeconds": DEFAULT_MAX_RECORD_DURATION_S,
    "clientContext": None,
    "stopTones": None,
    "prompts": None,
}


def all_errors(body: dict[str, Any]) -> list[str]:
    """Every 400 message ``body`` would get, one field at a time, in Graph's order.

    Graph reports the first problem only; after each one the field it names is set to its
    default (or left out) and the body checked again, so the user sees every problem at once.
    """
    body = dict(body)
    messages: list[str] = []
    for _ in range(len(_FIELD_FALLBACKS) + 1):
        try:
            parse_record_response(body)
        except GraphError as err:
            messages.append(err.message)
            field = next((name for name in _FIELD_FALLBACKS if name in err.message), None)
            if field is None or field not in body:
                break
            if _FIELD_FALLBACKS[field] is None:
                del body[field]
            else:
                body[field] = _FIELD_FALLBACKS[field]
        else:
            break
    return messages


class TimerField(QWidget):
    """A slider (1..120 s) and a spin box kept in step; ``value`` is the spin box's."""

    changed = Signal()

    def __init__(self, json_name: str, default_s: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.json_name = json_name
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(TIMER_MIN_S, TIMER_MAX_S)
        self.slider.setValue(default_s)
        self.spin = QSpinBox()
        self.spin.setRange(0, SPIN_MAX_S)
        self.spin.setSuffix(" s")
        self.spin.setValue(default_s)
        self.spin.setAccessibleName(json_name)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)
        self.slider.valueChanged.connect(self._from_slider)
        self.spin.valueChanged.connect(self._from_spin)

    def _from_slider(self, value: int) -> None:
        self.spin.setValue(value)  # the spin box's own signal reports the change

    def _from_spin(self, value: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(max(TIMER_MIN_S, min(TIMER_MAX_S, value)))
        self.slider.blockSignals(False)
        self.changed.emit()

    @property
    def value(self) -> int:
        """Seconds as typed (may be outside 1..120)."""
        return self.spin.value()

    def set_value(self, value: int) -> None:
        """Set seconds."""
        self.spin.setValue(value)

    def mark_invalid(self, invalid: bool) -> None:
        """Colour the spin box when Graph would refuse its value."""
        self.spin.setStyleSheet(INVALID_SPIN_STYLE if invalid else "")


class RequestForm(QWidget):
    """Everything in a recordResponse body; ``changed`` fires on any edit."""

    changed = Signal()

    def __init__(self, sample_prompts: list[Path], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sample_prompts = sample_prompts
        outer = QVBoxLayout(self)
        form = QFormLayout()
        outer.addLayout(form)

        self.prompt_kind = QComboBox()
        for kind, title in PROMPT_KINDS:
            self.prompt_kind.addItem(title, kind)
        if not sample_prompts:
            index = self.prompt_kind.findData("sample")
            self.prompt_kind.model().item(index).setEnabled(False)  # type: ignore[attr-defined]
        form.addRow("Prompt", self.prompt_kind)
        self.sample_combo = QComboBox()
        for path in sample_prompts:
            self.sample_combo.addItem(path.stem, str(path))
        form.addRow("Sample", self.sample_combo)
        self.prompt_file = QLineEdit()
        self.prompt_file.setPlaceholderText("WAV, mono, 16-bit, 16 kHz")
        file_row = file_row_widget(self.prompt_file, self._browse_prompt)
        form.addRow("File", file_row)
        self.prompt_uri = QLineEdit()
        self.prompt_uri.setPlaceholderText("https://… or file:///…")
        form.addRow("URI", self.prompt_uri)
        self._prompt_rows = {"sample": self.sample_combo, "file": file_row, "uri": self.prompt_uri}
        self._form = form

        self.play_beep = QCheckBox("playBeep")
        self.play_beep.setChecked(True)
        self.barge_in = QCheckBox("bargeInAllowed")
        checks = QHBoxLayout()
        checks.addWidget(self.play_beep)
        checks.addWidget(self.barge_in)
        checks.addStretch(1)
        form.addRow("", checks)

        self.initial_silence = TimerField(
            "initialSilenceTimeoutInSeconds", DEFAULT_INITIAL_SILENCE_TIMEOUT_S
        )
        self.max_silence = TimerField("maxSilenceTimeoutInSeconds", DEFAULT_MAX_SILENCE_TIMEOUT_S)
        self.max_duration = TimerField("maxRecordDurationInSeconds", DEFAULT_MAX_RECORD_DURATION_S)
        form.addRow("Initial silence", self.initial_silence)
        form.addRow("Max silence", self.max_silence)
        form.addRow("Max duration", self.max_duration)
        self.timers = (self.initial_silence, self.max_silence, self.max_duration)

        tones = QWidget()
        grid = QGridLayout(tones)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(2)
        self.stop_tone_buttons: dict[str, QToolButton] = {}
        for r, row in enumerate(KEYPAD_ROWS):
            for c, key in enumerate(row):
                button = QToolButton()
                button.setText(key)
                button.setCheckable(True)
                button.setMinimumWidth(30)
                button.setStyleSheet(STOP_TONE_STYLE)
                button.setToolTip(f"End the recording when the caller presses {key}")
                grid.addWidget(button, r, c)
                self.stop_tone_buttons[key] = button
        form.addRow("stopTones", tones)

        self.client_context = QLineEdit()
        self.client_context.setPlaceholderText("optional, up to 256 characters")
        form.addRow("clientContext", self.client_context)

        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.error.setFixedHeight(self.error.fontMetrics().lineSpacing() * ERROR_LINES + 4)
        outer.addWidget(self.error)
        outer.addWidget(QLabel("Body the bot will POST (recordResponse):"))
        self.preview = QPlainTextEdit()
        self.preview.setReadOnly(True)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        mono.setPointSizeF(max(8.0, QFont().pointSizeF() * 0.9))
        self.preview.setFont(mono)
        self.preview.setMinimumHeight(120)
        outer.addWidget(self.preview, 1)

        for signal in (
            self.prompt_kind.currentIndexChanged,
            self.sample_combo.currentIndexChanged,
            self.prompt_file.textChanged,
            self.prompt_uri.textChanged,
            self.play_beep.toggled,
            self.barge_in.toggled,
            self.client_context.textChanged,
        ):
            signal.connect(self._on_change)
        for timer in self.timers:
            timer.changed.connect(self._on_change)
        for button in self.stop_tone_buttons.values():
            button.toggled.connect(self._on_change)
        self._on_change()

    # -- reading the form ---------------------------------------------------------------------

    def prompt_uri_value(self) -> str | None:
        """The prompt's URI as the bot would send it, or None for no prompt."""
        kind = self.prompt_kind.currentData()
        if kind == "sample" and self.sample_combo.currentData():
            return Path(self.sample_combo.currentData()).resolve().as_uri()
        if kind == "file":
            text = self.prompt_file.text().strip()
            if not text:
                return ""
            path = Path(text).expanduser()
            return path.resolve().as_uri() if path.is_absolute() or path.exists() else text
        if kind == "uri":
            return self.prompt_uri.text().strip()
        return None

    def _prompts(self) -> tuple[MediaPrompt, ...]:
        uri = self.prompt_uri_value()
        return () if uri is None else (MediaPrompt(uri=uri),)

    def _context(self) -> str | None:
        return self.client_context.text() or None

    def record_request(self) -> RecordResponseRequest:
        """The form as Graph's request model (values not validated)."""
        return RecordResponseRequest(
            prompts=self._prompts(),
            barge_in_allowed=self.barge_in.isChecked(),
            initial_silence_timeout_s=self.initial_silence.value,
            max_silence_timeout_s=self.max_silence.value,
            max_record_duration_s=self.max_duration.value,
            play_beep=self.play_beep.isChecked(),
            stop_tones=tuple(k for k, b in self.stop_tone_buttons.items() if b.isChecked()),
            client_context=self._context(),
        )

    def record_body(self) -> dict[str, Any]:
        """The exact recordResponse body."""
        return self.record_request().to_body()

    def play_prompt_body(self) -> dict[str, Any]:
        """A playPrompt body with the form's prompt and clientContext."""
        return PlayPromptRequest(prompts=self._prompts(), client_context=self._context()).to_body()

    def cancel_body(self) -> dict[str, Any]:
        """A cancelMediaProcessing body with the form's clientContext."""
        return CancelMediaProcessingRequest(client_context=self._context()).to_body()

    def subscribe_body(self) -> dict[str, Any]:
        """A subscribeToTone body with the form's clientContext."""
        return SubscribeToToneRequest(client_context=self._context()).to_body()

    def validation_error(self) -> str:
        """The message Graph's 400 would carry for the current body, or ""."""
        errors = all_errors(self.record_body())
        return errors[0] if errors else ""

    def validation_errors(self) -> list[str]:
        """Every problem of the current body, the one Graph's 400 would carry first."""
        return all_errors(self.record_body())

    # -- reacting ---------------------------------------------------------------------------

    def _on_change(self, *_: object) -> None:
        kind = self.prompt_kind.currentData()
        for name, widget in self._prompt_rows.items():
            self._form.setRowVisible(widget, name == kind)
        body = self.record_body()
        self.preview.setPlainText(json.dumps(body, indent=2, ensure_ascii=False))
        errors = self.validation_errors()
        text = ""
        if errors:
            text = f"Graph would answer 400: {errors[0]}"
            text += "".join(f"\nthen: {more}" for more in errors[1:])
        self.error.setText(text)
        self.error.setToolTip(text)
        for timer in self.timers:
            timer.mark_invalid(any(timer.json_name in message for message in errors))
        self.changed.emit()

    def _browse_prompt(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Prompt WAV", self.prompt_file.text(), "WAV files (*.wav);;All files (*)"
        )
        if path:
            self.prompt_file.setText(path)

    def set_body(self, body: dict[str, Any]) -> None:
        """Fill the form from a recordResponse body (a scenario's); odd values are kept as typed.

        Values Graph would refuse are set too (a 400 scenario shows its error inline); a value
        of the wrong JSON type leaves its field as it was.
        """
        prompts = body.get("prompts") or []
        uri = None
        if isinstance(prompts, list) and prompts and isinstance(prompts[0], dict):
            info = prompts[0].get("mediaInfo")
            uri = info.get("uri") if isinstance(info, dict) else None
        if not isinstance(uri, str):
            self.prompt_kind.setCurrentIndex(self.prompt_kind.findData("none"))
        else:
            sample = next(
                (i for i, p in enumerate(self.sample_prompts) if p.resolve().as_uri() == uri), None
            )
            if sample is not None:
                self.sample_combo.setCurrentIndex(sample)
                self.prompt_kind.setCurrentIndex(self.prompt_kind.findData("sample"))
            else:
                self.prompt_uri.setText(uri)
                self.prompt_kind.setCurrentIndex(self.prompt_kind.findData("uri"))
        for box, name, default in (
            (self.play_beep, "playBeep", True),
            (self.barge_in, "bargeInAllowed", False),
        ):
            flag = body.get(name, default)
            box.setChecked(flag if isinstance(flag, bool) else default)
        defaults = (
            DEFAULT_INITIAL_SILENCE_TIMEOUT_S,
            DEFAULT_MAX_SILENCE_TIMEOUT_S,
            DEFAULT_MAX_RECORD_DURATION_S,
        )
        for timer, default_s in zip(self.timers, defaults, strict=True):
            value = body.get(timer.json_name, default_s)
            if isinstance(value, int) and not isinstance(value, bool):
                timer.set_value(max(0, min(SPIN_MAX_S, value)))
        tones = body.get("stopTones") or []
        for key, button in self.stop_tone_buttons.items():
            button.setChecked(isinstance(tones, list) and key in [str(t).upper() for t in tones])
        context = body.get("clientContext")
        self.client_context.setText(context if isinstance(context, str) else "")

    # -- settings -----------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """The form's state for QSettings."""
        return {
            "prompt_kind": self.prompt_kind.currentData(),
            "sample": self.sample_combo.currentText(),
            "prompt_file": self.prompt_file.text(),
            "prompt_uri": self.prompt_uri.text(),
            "play_beep": self.play_beep.isChecked(),
            "barge_in": self.barge_in.isChecked(),
            "timers": [t.value for t in self.timers],
            "stop_tones": [k for k, b in self.stop_tone_buttons.items() if b.isChecked()],
            "client_context": self.client_context.text(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state saved by ``state`` (missing or bad entries keep their defaults)."""
        index = self.prompt_kind.findData(state.get("prompt_kind"))
        if index >= 0:
            self.prompt_kind.setCurrentIndex(index)
        sample = self.sample_combo.findText(str(state.get("sample", "")))
        if sample >= 0:
            self.sample_combo.setCurrentIndex(sample)
        self.prompt_file.setText(str(state.get("prompt_file", "")))
        self.prompt_uri.setText(str(state.get("prompt_uri", "")))
        self.play_beep.setChecked(bool(state.get("play_beep", True)))
        self.barge_in.setChecked(bool(state.get("barge_in", False)))
        timers = state.get("timers")
        if isinstance(timers, list) and len(timers) == len(self.timers):
            for field, value in zip(self.timers, timers, strict=True):
                if isinstance(value, int):
                    field.set_value(value)
        tones = state.get("stop_tones", [])
        for key, button in self.stop_tone_buttons.items():
            button.setChecked(isinstance(tones, list) and key in tones)
        self.client_context.setText(str(state.get("client_context", "")))
