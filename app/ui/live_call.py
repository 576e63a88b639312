"""The live call: the GUI's own (or a served call it is the caller of) and its history entry.

Threading (docs/design.md rules 1-3): this never touches the engine's state. It sends commands
to a ``LiveSession`` (thread-safe) and, when the window's poll asks, drains the immutable events
and level blocks the session's threads queued into the live call's ``CallEntry`` (a plain model,
app/ui/models/calls.py) through the call list panel, which updates the views if that call is
on screen. A new call is a new entry; nothing of an older one is cleared.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtWidgets import QMessageBox, QStatusBar, QWidget

from app.audio.devices import InputDevice
from app.core import events as ev
from app.core.clock import ENGINE_RATE_HZ
from app.graph.requests import RecordResponseRequest
from app.graph.results import RESULTS, Ending
from app.scenario.model import CallOptions
from app.scenario.output import event_record
from app.session.export import request_record
from app.session.live import LiveSession, drain_queue
from app.ui.audio_io import AudioIO
from app.ui.call_list_panel import CallListPanel
from app.ui.models.calls import CallEntry
from app.ui.models.takes import Take
from app.ui.script import LiveScript, ScriptedMicrophone
from app.ui.texts import code_text, ending_in_words
from app.ui.widgets import LevelMeter, LiveWaveform, peak_to_dbfs

STOP_TONE_SUBCODE = RESULTS[Ending.STOP_TONE].subcode


class LiveCall:
    """Starts, feeds and ends the live call; keeps its entry's history growing."""

    def __init__(
        self,
        audio: AudioIO,
        call_list: CallListPanel,
        status: QStatusBar,
        parent: QWidget,
        sessions_root: Path,
    ) -> None:
        self.audio = audio
        self.call_list = call_list
        self.status = status
        self.parent = parent
        self.sessions_root = sessions_root
        self.session: LiveSession | None = None
        self.events_q: Any = None
        # The entry the session feeds (the others keep their history).
        self.entry: CallEntry | None = None
        self.last_request: dict[str, Any] | None = None
        self.last_response: ev.ActionResponse | None = None
        self._keys_at: dict[int, str] = {}  # key press sample -> key
        self._stop_tone_endings: dict[int, ev.OperationEnded] = {}
        # Wall time of the log's t = 0 for endpoint rows: the current call's start.
        self.log_origin_wall_s = time.time()
        # What the next call starts with: an opened scenario's options and folder (the player).
        self.take_pending: Callable[
            [], tuple[CallOptions | None, Path | None, LiveScript | None]
        ] = lambda: (None, None, None)
        self.wave: LiveWaveform | None = None
        self.meter: LevelMeter | None = None
        self.folder_label: Any = None  # the status bar's "session: …" label
        self.changed: Callable[[], None] = lambda: None  # the call buttons follow

    @property
    def running(self) -> bool:
        """A call is live."""
        return self.session is not None and self.session.running

    # -- starting and ending -------------------------------------------------------------------

    def start(self) -> bool:
        """Open the microphone and start a new call (a new session folder)."""
        if self.running:
            return True
        options, pending_folder, script = self.take_pending()
        choice = self.audio.input_choice()
        if choice.kind == "file" and not Path(choice.path).is_file():
            self.status.showMessage("Choose a WAV file to play as the microphone.", 8000)
            return False
        try:
            microphone = self.audio.open_input()
        except Exception as exc:  # a device that vanished, a bad file: say so, keep running
            QMessageBox.warning(self.parent, "CallSim", f"Cannot open the input:\n{exc}")
            return False
        if script is not None:
            # An opened scenario: its entries go to the engine on their samples.
            microphone = ScriptedMicrophone(microphone, script)
        folder = pending_folder or self.new_session_folder()
        number = self.call_list.calls.count("gui") + 1
        entry = self._new_entry(f"GUI call {number}", "gui", folder, "")
        session = LiveSession(microphone, self.audio.speaker, folder, options, manage_speaker=False)
        if isinstance(microphone, ScriptedMicrophone):
            microphone.session = session
        self.audio.prepare(microphone)
        self.events_q = session.subscribe()
        try:
            session.start()
        except Exception as exc:
            session.stop()
            QMessageBox.warning(self.parent, "CallSim", f"Cannot start the microphone:\n{exc}")
            return False
        self.session = session
        self.log_origin_wall_s = time.time()
        entry.call_id = session.call_id
        entry.now_samples = lambda: session.fed_samples
        self.call_list.show_entry(entry)
        if self.folder_label is not None:
            self.folder_label.setText(f"session: {folder}")
        self.changed()
        return True

    def attach(self, call: Any, events_q: Any, microphone: InputDevice) -> CallEntry:
        """A served call is established: ``microphone`` and the keypad become its caller."""
        folder = self.new_session_folder()
        replaced = self.entry if self.entry is not None and self.entry.live else None
        entry = self._new_entry(f"bot call {call.call_id[:8]}", "bot", folder, call.call_id)
        if replaced is not None:
            replaced.live = False
            self.status.showMessage(
                f"The bot's call took the caller; {replaced.title} ended and stays in the call "
                "list with its log and takes.",
                10000,
            )
        session = LiveSession(
            microphone, self.audio.speaker, folder, manage_speaker=False, host=call.host
        )
        self.events_q = events_q
        session.start()
        self.session = session
        # The call's endpoint rows from before the pick-up stay, at negative times.
        self.log_origin_wall_s = time.time()
        entry.now_samples = lambda: session.fed_samples
        if self.folder_label is not None:
            self.folder_label.setText(f"served call {call.call_id} · session: {folder}")
        return entry

    def new_session_folder(self) -> Path:
        """A fresh folder name under the sessions root (not created)."""
        folder = self.sessions_root / time.strftime("%Y%m%d-%H%M%S")
        n = 1
        while folder.exists():
            n += 1
            folder = self.sessions_root / f"{time.strftime('%Y%m%d-%H%M%S')}-{n}"
        return folder

    def _new_entry(self, title: str, origin: str, folder: Path | None, call_id: str) -> CallEntry:
        """A new call begins: a new entry (the others keep their history)."""
        if self.entry is not None:
            self.entry.live = False
        self.last_request = None
        self.last_response = None
        self._keys_at = {}
        self._stop_tone_endings = {}
        if self.wave is not None:
            self.wave.clear()
        self.entry = self.call_list.new_entry(title, origin, folder, call_id)
        self.call_list.refresh_labels()
        return self.entry

    def end(self) -> None:
        """Hang up the live call, wait for its engine and show its last events."""
        if self.session is not None and self.session.running:
            self.session.hang_up()
            self.session.wait_engine()
            self.finish()

    def finish(self) -> None:
        """The session is over: stop it and show whatever its flush produced."""
        if self.session is not None:
            self.session.stop()
            entry = self.entry
            if self.events_q is not None and entry is not None:
                rest = drain_queue(self.events_q)
                if rest:
                    entry.events.extend(rest)
                    for event in rest:
                        entry.timeline.add(event)
                    records = [r for r in map(event_record, rest) if r is not None]
                    self.call_list.add_rows(entry, records)
            if entry is not None:
                entry.live = False
                final = self.session.fed_samples
                entry.now_samples = lambda: final
                self.call_list.refresh_labels()
        self.changed()

    # -- the caller and the bot ----------------------------------------------------------------

    def hang_up(self) -> None:
        """The caller hangs up."""
        if self.session is not None and self.session.running:
            self.session.hang_up()

    def set_media_dropped(self, dropped: bool) -> None:
        """Drop the caller's media (a network loss) while ``dropped``, or send it again."""
        if self.session is None or not self.session.running:
            return
        self.session.set_media_dropped(dropped)
        self.status.showMessage(
            "Caller media dropped: the call hears nothing." if dropped else "Caller media back.",
            4000,
        )

    def send_action(self, action: str, body: dict[str, Any]) -> None:
        """The bot sends ``action``; a call is started first if none is live."""
        if not self.running and not self.start():
            return
        assert self.session is not None
        self.note_request(action, body, self.session.fed_samples)
        self.session.action(action, body)

    def note_request(self, action: str, body: Any, at_samples: int) -> None:
        """The bot's request, sent at ``at_samples``, for the exports and "copy as curl"."""
        if self.session is None:
            return
        self.last_request = request_record(
            self.session.call.config.graph_base_url, self.session.call_id, at_samples, action, body
        )
        if self.entry is not None:
            self.entry.request_records.append(self.last_request)

    def press_key(self, key: str, mode: str) -> None:
        """The caller presses a key on the keypad."""
        if self.session is None or not self.session.running:
            self.status.showMessage("Start a call to send keys.", 4000)
            speaker = self.audio.speaker
            if speaker is not None:
                from app.core.dsp.dtmf import dtmf_tone

                speaker.mixer.play(dtmf_tone(key, 0.1), ENGINE_RATE_HZ, f"key:{key}")
            return
        self.session.press_key(key, mode)  # type: ignore[arg-type]

    # -- the poll ------------------------------------------------------------------------------

    def drain(self) -> bool:
        """Levels to the meter and wave, events into the entry; False when there is no call."""
        session = self.session
        if session is None or self.events_q is None:
            return False
        levels = drain_queue(session.levels)
        if levels:
            peaks = np.concatenate([b.peaks for b in levels])
            if len(peaks) and self.meter is not None and self.wave is not None:
                self.meter.set_level(peak_to_dbfs(float(peaks[-10:].max())))
                self.wave.add_peaks(peaks)
        events = drain_queue(self.events_q)
        if events:
            self.handle_events(events)
        return True

    def handle_events(self, events: list[ev.Event]) -> None:
        """The live call's new engine events: its history, takes and ending."""
        entry = self.entry
        assert entry is not None
        entry.events.extend(events)
        shown = self.call_list.shown(entry)
        ended_call = False
        for event in events:
            entry.timeline.add(event)
            if isinstance(event, ev.ActionResponse):
                self.last_response = event
            elif isinstance(event, ev.OperationStarted):
                # The request the engine parsed, the GUI's or a bot's through the endpoint
                # alike: its ending is worded with the timers it ran.
                if event.request is not None:
                    entry.requests[event.operation_id] = event.request
                entry.since_sample = event.sample_index
                entry.ending_text = f"{event.kind} running …"
                entry.ending_ok = None
                if shown:
                    self.call_list.countdowns.operation_started(event.kind, event.sample_index)
            elif isinstance(event, ev.KeyPressed):
                self._keys_at[event.sample_index] = event.key
                # A stop tone ends the operation before the key's own event is released
                # (after its merge window), so say which key it was once it is known.
                waiting = self._stop_tone_endings.pop(event.sample_index, None)
                if waiting is not None:
                    self._on_ended(waiting)
            elif isinstance(event, ev.RecordingFinished):
                assert self.session is not None
                take = Take(
                    event.operation_id,
                    self.session.writer.path_for(event.operation_id),
                    event.total_samples,
                    event.delivered,
                )
                self.call_list.add_take(entry, take)
            elif isinstance(event, ev.OperationEnded):
                self._on_ended(event)
            elif isinstance(event, ev.CallEnded):
                ended_call = True
        self.call_list.add_rows(entry, [r for r in map(event_record, events) if r is not None])
        if ended_call:
            self.finish()

    def _on_ended(self, event: ev.OperationEnded) -> None:
        entry = self.entry
        assert entry is not None
        request = entry.requests.get(event.operation_id)
        key = self._keys_at.get(event.sample_index)
        if event.subcode == STOP_TONE_SUBCODE and key is None:
            self._stop_tone_endings[event.sample_index] = event
        record = request if isinstance(request, RecordResponseRequest) else None
        words = ending_in_words(event, record, key)
        code = code_text(event)
        short = "dropped" if event.status == "dropped" else f"{event.code}/{event.subcode}"
        entry.ending_labels[event.operation_id] = f"{words} — {short}"
        entry.ending_ok = event.status == "completed"
        entry.ending_text = f"{event.kind} ended: {words}  —  {code}"
        self.call_list.take_ended(entry, event.operation_id, words, code)
        if self.call_list.shown(entry):
            self.call_list.show_ending(entry)
