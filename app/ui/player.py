"""File → Open and the presets: a scenario or a saved session loaded and played live.

The first recordResponse body fills the request form; the caller's audio (``caller_track``)
becomes the microphone, written as ``opened-caller.wav`` in the new session folder; the bot's
actions and the caller's keys, gaps and hang-up are sent exactly on their samples as the call
runs (``ScriptedMicrophone``, app/ui/script.py, on the session's drain thread). The window keeps
the call; this keeps the script and logs the bot's requests it sent.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QComboBox, QFileDialog, QLineEdit, QStatusBar, QWidget

from app.audio.wav import write_wav
from app.scenario.model import CallOptions, Scenario, ScenarioError, load_scenario
from app.scenario.runner import caller_track
from app.session.live import LiveSession, drain_queue
from app.ui.script import LiveScript, ScriptedMicrophone, absolute_prompts


class PlayerWindow(Protocol):
    """What the player uses of the main window (a protocol: the window imports the player)."""

    settings: QSettings
    banner: Any
    form: Any
    countdowns: Any
    input_combo: QComboBox
    input_file: QLineEdit

    @property
    def session(self) -> LiveSession | None: ...

    def end_live_call(self) -> None: ...
    def new_session_folder(self) -> Path: ...
    def start_call(self) -> bool: ...
    def statusBar(self) -> QStatusBar: ...  # noqa: N802 (Qt's name)
    def note_request(self, action: str, body: Any, at_samples: int) -> None: ...


def first_record_body(scenario: Scenario) -> Any:
    """The first recordResponse's body (a saved session keeps it as raw text), or None."""
    for entry in scenario.bot:
        if entry.action != "recordResponse":
            continue
        if entry.raw_body is not None:
            with contextlib.suppress(ValueError):
                return json.loads(entry.raw_body)
        return entry.body
    return None


class ScenarioPlayer:
    """Opens a scenario into the window and sends its entries on time."""

    def __init__(self, window: PlayerWindow) -> None:
        self.window = window
        self.script: LiveScript | None = None  # the opened scenario's entries still to play
        # What the next call starts with (set by ``open``, taken by the window's start_call).
        self._options: CallOptions | None = None
        self._folder: Path | None = None
        self._script: LiveScript | None = None

    def take_pending(self) -> tuple[CallOptions | None, Path | None, LiveScript | None]:
        """The opened scenario's call options, session folder and script, once."""
        pending = (self._options, self._folder, self._script)
        self._options = self._folder = self._script = None
        return pending

    def stop(self) -> None:
        """Send nothing more (a new call)."""
        self.script = None

    def open(self, path: Path | None) -> Scenario | None:
        """Load ``path`` (ask if None; a folder means its scenario.toml) and play it live.

        A running call is hung up first. A file that does not load is said in the banner.
        """
        w = self.window
        if path is None:
            start = str(w.settings.value("open/dir", str(Path.home())))
            parent = w if isinstance(w, QWidget) else None  # the window is one
            chosen, _ = QFileDialog.getOpenFileName(
                parent, "Open scenario or saved session", start, "Scenario (*.toml)"
            )
            if not chosen:
                return None
            path = Path(chosen)
            w.settings.setValue("open/dir", str(path.parent))
        if path.is_dir():
            path = path / "scenario.toml"
        try:
            scenario = load_scenario(path)
            track = caller_track(scenario)
        except (ScenarioError, OSError) as exc:
            w.banner.show_message(f"Cannot open {path}: {exc}")
            return None
        first_body = first_record_body(scenario)
        if isinstance(first_body, dict):
            w.form.set_body(absolute_prompts(first_body, scenario.base_dir))
        w.end_live_call()
        folder = w.new_session_folder()
        folder.mkdir(parents=True, exist_ok=True)
        caller_wav = folder / "opened-caller.wav"
        write_wav(caller_wav, track)
        w.input_combo.setCurrentIndex(w.input_combo.findText("WAV file as microphone"))
        w.input_file.setText(str(caller_wav))
        script = LiveScript.of(scenario)
        self._options, self._folder, self._script = scenario.call, folder, script
        if not w.start_call():
            return None
        self.script = script
        w.statusBar().showMessage(
            f"Playing {scenario.name or path.name} live: {len(self.script.entries)} entries", 10000
        )
        w.countdowns.ending.setText(f"Opened: {scenario.name} — {scenario.description}".strip())
        return scenario

    def play_due(self) -> None:
        """From the window's poll: log the bot actions the script sent (on the drain thread,
        exactly on their samples: ``ScriptedMicrophone``), and forget the script once done."""
        session = self.window.session
        if self.script is None or session is None:
            return
        mic = session.microphone
        if not isinstance(mic, ScriptedMicrophone):
            return
        for sent in drain_queue(mic.sent):
            self.window.note_request(sent.action, sent.body, sent.at_samples)
        if mic.finished_script or not session.running:
            self.script = None
