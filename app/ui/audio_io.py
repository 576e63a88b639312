"""The caller's devices: which microphone and speaker, the WAV input's controls, lost devices.

Owns the speaker (the GUI's call and every replay play through it) and the audio supervisor's
reports; the caller panel (app/ui/caller_panel.py) only shows them. A live call can move to
another device (the supervisor re-opens the stream by name); a file or silence as the input
starts with a new call.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QComboBox, QFileDialog, QStatusBar, QWidget

from app.audio.devices import (
    AudioUnavailableError,
    DeviceInfo,
    InputDevice,
    OutputDevice,
    SoundDeviceInput,
    SoundDeviceOutput,
)
from app.audio.fake import FakeOutputDevice, FileInputDevice
from app.audio.supervisor import DeviceEvent, running_supervisor
from app.core.clock import ENGINE_RATE_HZ
from app.session.live import LiveSession, drain_queue
from app.ui.caller_panel import CallerAudioPanel


@dataclass(frozen=True)
class InputChoice:
    """What the user picked as the microphone."""

    kind: str  # "device", "file" or "silence"
    device: DeviceInfo | None = None
    path: str = ""


InputFactory = Callable[[InputChoice], InputDevice]
OutputFactory = Callable[[DeviceInfo | None], OutputDevice]


def default_input_factory(choice: InputChoice) -> InputDevice:
    """Real microphone, WAV file played in real time, or silence."""
    if choice.kind == "device" and choice.device is not None:
        return SoundDeviceInput(choice.device)  # by name: indices change after a re-init
    if choice.kind == "file":
        return FileInputDevice(Path(choice.path), realtime=True)
    return FileInputDevice(None, realtime=True)


def default_output_factory(device: DeviceInfo | None) -> OutputDevice:
    """Real speaker, or a silent stand-in that keeps time."""
    if device is not None:
        return SoundDeviceOutput(device)
    return FakeOutputDevice(ENGINE_RATE_HZ, realtime=True, keep=False)


def select_device(combo: QComboBox, name: str, device_of: Any) -> None:
    """Show ``name`` as picked in ``combo`` without reacting to it."""
    for i in range(combo.count()):
        device = device_of(combo.itemData(i))
        if device is not None and device.name == name:
            combo.blockSignals(True)
            combo.setCurrentIndex(i)
            combo.blockSignals(False)
            return


class AudioIO:
    """The microphone choice, the speaker, the WAV input's controls and the lost devices."""

    def __init__(
        self,
        panel: CallerAudioPanel,
        status: QStatusBar,
        input_factory: InputFactory | None = None,
        output_factory: OutputFactory | None = None,
    ) -> None:
        self.panel = panel
        self.status = status
        # The live (or last) call's session (the window points this at its live call).
        self.session_of: Callable[[], LiveSession | None] = lambda: None
        self.input_factory = input_factory or default_input_factory
        self.output_factory = output_factory or default_output_factory
        self.speaker: OutputDevice | None = None
        # The audio supervisor's reports (lost, retrying, reopened, switched), subscribed once
        # a stream went through it; the devices currently lost, by role ("input", "output").
        self.device_events: queue.SimpleQueue[DeviceEvent] | None = None
        self.devices_lost: dict[str, DeviceEvent] = {}
        panel.input_combo.currentIndexChanged.connect(self.input_changed)
        panel.output_combo.currentIndexChanged.connect(lambda _: self.open_speaker())
        panel.wav_pause.toggled.connect(self.wav_pause)
        panel.wav_restart.clicked.connect(self.wav_restart)
        panel.wav_loop.toggled.connect(self.wav_loop)
        self.input_changed()

    def _live(self) -> LiveSession | None:
        session = self.session_of()
        return session if session is not None and session.running else None

    # -- the microphone ------------------------------------------------------------------------

    def input_choice(self) -> InputChoice:
        """The microphone the user picked."""
        kind, device = self.panel.input_combo.currentData()
        return InputChoice(kind, device, self.panel.input_file.text().strip())

    def open_input(self) -> InputDevice:
        """The picked microphone, opened by the factory (raises what the device raises)."""
        return self.input_factory(self.input_choice())

    def input_changed(self, *_: object) -> None:
        """The user picked another input: mid-call, move a device's stream to it."""
        kind, device = self.panel.input_combo.currentData()
        self.panel.show_file_rows(kind == "file")
        session = self._live()
        if session is None:
            return
        mic = session.microphone
        if kind == "device" and device is not None and isinstance(mic, SoundDeviceInput):
            if device.name == mic.name:
                return
            try:
                mic.switch_to(device.name)
            except Exception as exc:  # the device is gone or refuses the rate: keep the old one
                self.status.showMessage(f"Cannot switch the microphone: {exc}", 8000)
            else:
                self.devices_lost.pop("input", None)
        else:
            self.status.showMessage("Hang up to use a file or silence as the input.", 8000)
        select_device(self.panel.input_combo, mic.name, lambda d: d[1])

    def browse_input(self, parent: QWidget) -> None:
        """Ask for the WAV file played as the microphone."""
        path, _ = QFileDialog.getOpenFileName(
            parent,
            "WAV file as microphone",
            self.panel.input_file.text(),
            "Audio (*.wav *.flac *.ogg)",
        )
        if path:
            self.panel.input_file.setText(path)

    # -- the speaker ---------------------------------------------------------------------------

    def open_speaker(self) -> None:
        """Open the picked speaker (mid-call: move the live stream to it)."""
        if self._live() is not None:
            # Mid-call: the session plays through this speaker object; move its stream.
            device = self.panel.output_combo.currentData()
            speaker = self.speaker
            if isinstance(speaker, SoundDeviceOutput) and device is not None:
                if device.name != speaker.name:
                    try:
                        speaker.switch_to(device.name)
                    except Exception as exc:  # gone or refuses the rate: keep the old one
                        self.status.showMessage(f"Cannot switch the speaker: {exc}", 8000)
                    else:
                        self.devices_lost.pop("output", None)
            else:
                self.status.showMessage("Hang up to change to this output.", 8000)
            if isinstance(speaker, SoundDeviceOutput):
                select_device(self.panel.output_combo, speaker.name, lambda d: d)
            return
        if self.speaker is not None:
            self.speaker.stop()
            self.speaker = None
        device = self.panel.output_combo.currentData()
        try:
            self.speaker = self.output_factory(device)
            self.speaker.start()
        except (AudioUnavailableError, Exception) as exc:  # PortAudioError: show, go silent
            self.status.showMessage(f"Cannot open the speaker: {exc}", 8000)
            self.speaker = default_output_factory(None)
            self.speaker.start()

    # -- the WAV file as the microphone --------------------------------------------------------

    def file_microphone(self) -> FileInputDevice | None:
        """The session's microphone when it is a file."""
        session = self.session_of()
        # An opened scenario's microphone wraps the file (app/ui/script.py): its controls too.
        mic = getattr(session.microphone, "inner", None) if session is not None else None
        mic = mic if mic is not None else (session.microphone if session is not None else None)
        return mic if isinstance(mic, FileInputDevice) else None

    def wav_pause(self, paused: bool) -> None:
        """Pause or play the WAV input."""
        self.panel.wav_pause.setText("Play" if paused else "Pause")
        mic = self.file_microphone()
        if mic is not None:
            mic.set_paused(paused)

    def wav_restart(self) -> None:
        """Play the WAV input again from its start."""
        mic = self.file_microphone()
        if mic is not None:
            mic.restart()
            self.status.showMessage(f"{mic.name}: playing again from 0.0 s.", 4000)

    def wav_loop(self, loop: bool) -> None:
        """Loop the WAV input (or not)."""
        mic = self.file_microphone()
        if mic is not None:
            mic.set_loop(loop)

    def prepare(self, microphone: InputDevice) -> None:
        """A new call's microphone: a file starts playing, looping as the checkbox says (an
        opened scenario's track plays once, as `callsim run` plays it)."""
        inner = getattr(microphone, "inner", None)
        if isinstance(microphone, FileInputDevice) or isinstance(inner, FileInputDevice):
            self.panel.wav_pause.setChecked(False)
        if isinstance(microphone, FileInputDevice):
            microphone.set_loop(self.panel.wav_loop.isChecked())
        elif isinstance(inner, FileInputDevice):
            self.panel.wav_loop.setChecked(False)

    def show_wav_position(self) -> None:
        """The file's name, position and length (or just its name before a call)."""
        mic = self.file_microphone()
        if mic is None or not mic.track_frames:
            self.panel.wav_position.setText(Path(self.panel.input_file.text().strip()).name)
            return
        rate = mic.rate_hz
        at_s = min(mic.track_position, mic.track_frames) / rate
        state = " (paused)" if mic.paused else (" (ended)" if mic.finished else "")
        self.panel.wav_position.setText(
            f"{mic.name.removeprefix('File: ')} {at_s:.1f} / {mic.track_frames / rate:.1f} s{state}"
        )

    # -- the buttons and combos a live call allows ---------------------------------------------

    def update_buttons(self) -> None:
        """Enable what the call's state allows."""
        session = self.session_of()
        live = session is not None and session.running
        panel = self.panel
        panel.start_button.setEnabled(not live)
        panel.hangup_button.setEnabled(live)
        panel.drop_media_button.setEnabled(live)
        if not live:
            panel.drop_media_button.setDown(False)
        # A live call can move to another microphone or speaker (devices only: a file or
        # silence starts with a new call); the supervisor re-opens the stream by name.
        mic = session.microphone if session is not None else None
        panel.input_combo.setEnabled(not live or isinstance(mic, SoundDeviceInput))
        panel.input_file.setEnabled(not live)
        panel.output_combo.setEnabled(not live or isinstance(self.speaker, SoundDeviceOutput))
        panel.start_button.setText("Start call" if not live else "Call in progress")

    # -- the supervisor's reports --------------------------------------------------------------

    def drain_device_events(self) -> None:
        """The audio supervisor's reports: which devices are lost now (for the banner)."""
        if self.device_events is None:
            supervisor = running_supervisor()
            if supervisor is None:
                return
            self.device_events = supervisor.subscribe()
        for event in drain_queue(self.device_events):
            what = "microphone" if event.role == "input" else "speaker"
            if event.state in ("lost", "retrying"):
                self.devices_lost[event.role] = event
            else:  # reopened, switched, or closed by its owner: not lost any more
                self.devices_lost.pop(event.role, None)
                done = {"reopened": "is back", "switched": "is now in use"}.get(event.state)
                if done is not None:
                    self.status.showMessage(f"The {what} ({event.name}) {done}.", 8000)

    def close(self) -> None:
        """Stop the speaker and the supervisor subscription (the window closes)."""
        if self.speaker is not None:
            self.speaker.stop()
        supervisor = running_supervisor()
        if supervisor is not None and self.device_events is not None:
            supervisor.unsubscribe(self.device_events)
