"""The caller's audio panel: input and output, the WAV file's controls, call buttons, meters.

Widgets only: the window connects them to the session (it owns the call, the devices and the
supervisor's reports); the panel holds no call state.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QWidget,
)

from app.audio.devices import AudioStatus
from app.ui.widgets import LevelMeter, LiveWaveform, file_row

FILE_INPUT = "WAV file as microphone"
# Device names can be long: combos keep the dock this narrow, the open list shows them whole.
DEVICE_NAME_CHARS = 16


class CallerAudioPanel(QGroupBox):
    """Input, output, the WAV file's Pause/Restart/Loop/position, call buttons, level, wave."""

    def __init__(self, audio: AudioStatus, on_browse: Callable[[], None]) -> None:
        super().__init__("Caller audio")
        form = QFormLayout(self)
        self.form = form
        self.input_combo = QComboBox()
        self.input_combo.setObjectName("inputCombo")
        for device in audio.inputs:
            self.input_combo.addItem(f"Microphone: {device.label}", ("device", device))
        self.input_combo.addItem(FILE_INPUT, ("file", None))
        self.input_combo.addItem("Silence", ("silence", None))
        if audio.default_input is not None:
            for i, device in enumerate(audio.inputs):
                if device.index == audio.default_input:
                    self.input_combo.setCurrentIndex(i)
        elif not audio.inputs:
            self.input_combo.setCurrentIndex(self.input_combo.findText(FILE_INPUT))
        form.addRow("Input", self.input_combo)
        self.input_file = QLineEdit()
        self.input_file.setPlaceholderText("a WAV file played as the microphone")
        self.input_file_row = file_row(self.input_file, on_browse)
        form.addRow("File", self.input_file_row)
        self.output_combo = QComboBox()
        self.output_combo.setObjectName("outputCombo")
        for device in audio.outputs:
            self.output_combo.addItem(f"Speaker: {device.label}", device)
        self.output_combo.addItem("No output (silent)", None)
        if audio.default_output is not None:
            for i, device in enumerate(audio.outputs):
                if device.index == audio.default_output:
                    self.output_combo.setCurrentIndex(i)
        elif not audio.outputs:
            self.output_combo.setCurrentIndex(self.output_combo.count() - 1)
        form.addRow("Output", self.output_combo)
        for combo in (self.input_combo, self.output_combo):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(DEVICE_NAME_CHARS)
        self.wav_controls = self._wav_controls()
        form.addRow("", self.wav_controls)
        form.addRow("", self.wav_position)
        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start call")
        self.start_button.setObjectName("startCall")
        self.hangup_button = QPushButton("Hang up")
        self.hangup_button.setToolTip("The caller hangs up")
        self.hangup_button.setObjectName("hangUp")
        self.drop_media_button = QPushButton("Drop media")
        self.drop_media_button.setObjectName("dropMedia")
        self.drop_media_button.setToolTip(
            "While held down, the caller's media does not reach the call (a network loss): the "
            "engine hears nothing and time goes on. After the media timeout (2 s), Graph fails "
            "a running operation with 500/8513. Release it and the media is back."
        )
        for button in (self.start_button, self.hangup_button, self.drop_media_button):
            buttons.addWidget(button)
        form.addRow(buttons)
        self.meter = LevelMeter()
        self.wave = LiveWaveform()
        self.wave.setMinimumHeight(36)
        form.addRow("Level", self.meter)
        form.addRow("Waveform", self.wave)

    def _wav_controls(self) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        self.wav_pause = QToolButton()
        self.wav_pause.setObjectName("wavPause")
        self.wav_pause.setText("Pause")
        self.wav_pause.setCheckable(True)
        self.wav_pause.setToolTip("Pause the file: the microphone sends silence meanwhile")
        self.wav_restart = QToolButton()
        self.wav_restart.setObjectName("wavRestart")
        self.wav_restart.setText("Restart")
        self.wav_restart.setToolTip("Play the file again from its start")
        self.wav_loop = QCheckBox("Loop")
        self.wav_loop.setObjectName("wavLoop")
        self.wav_position = QLabel("")
        self.wav_position.setObjectName("wavPosition")
        # A long file name must not widen the dock: the label takes what is left.
        self.wav_position.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        for widget in (self.wav_pause, self.wav_restart, self.wav_loop):
            layout.addWidget(widget)
        layout.addStretch(1)
        return row

    def show_file_rows(self, visible: bool) -> None:
        """The file's path, controls and position only for the "WAV file" input."""
        for row in (self.input_file_row, self.wav_controls, self.wav_position):
            self.form.setRowVisible(row, visible)
