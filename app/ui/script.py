"""An opened scenario (or saved session) played live: its bot and caller entries on time.

The window feeds the scenario's caller audio as the microphone (a WAV of ``caller_track`` at
the engine's rate). ``ScriptedMicrophone`` wraps that device: on the session's drain thread it
hands the track over in blocks that end exactly at the next entry's sample, and before the
next block it sends the entries due there (the bot's actions, the caller's keys, media gaps and
the hang-up) to the engine host. The host runs its commands in order, so every entry applies
with the engine's feed exactly at its sample, as ``callsim run`` applies it
(app/scenario/runner.py): an opened scenario gives the same endings at the same samples.
"""

from __future__ import annotations

import copy
import queue
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from app.audio.devices import InputDevice
from app.core.clock import ENGINE_RATE_HZ
from app.core.dsp.dtmf import dtmf_tone
from app.scenario.model import BotEntry, CallerEntry, Scenario
from app.scenario.runner import timed_entries
from app.session.live import LiveSession

FloatArray = npt.NDArray[np.float32]


def absolute_prompts(body: Any, base_dir: Path) -> Any:
    """``body`` with every relative prompt path made a ``file:`` URI (as the runner resolves it).

    A scenario's prompt paths are relative to its file; the live call's folder is elsewhere.
    """
    if not isinstance(body, dict) or not isinstance(body.get("prompts"), list):
        return body
    body = copy.deepcopy(body)
    for prompt in body["prompts"]:
        info = prompt.get("mediaInfo") if isinstance(prompt, dict) else None
        if not isinstance(info, dict):
            continue
        uri = info.get("uri")
        if isinstance(uri, str) and uri.strip() and ":" not in uri:
            info["uri"] = (base_dir / uri).resolve().as_uri()
    return body


@dataclass
class LiveScript:
    """The scenario's timed entries still to play."""

    scenario: Scenario
    entries: list[tuple[int, int, str, Any]]
    media_back_at: int | None = None  # sample where a no_media gap ends

    @classmethod
    def of(cls, scenario: Scenario) -> LiveScript:
        """Every entry of ``scenario``, in time order (prompt paths made absolute)."""
        entries = [
            (at, order, kind, _absolute(payload, scenario.base_dir) if kind == "bot" else payload)
            for at, order, kind, payload in timed_entries(scenario)
        ]
        return cls(scenario, entries)

    def due(self, fed_samples: int) -> list[tuple[str, Any]]:
        """(kind, payload) of the entries due by ``fed_samples``, removed from the script."""
        out: list[tuple[str, Any]] = []
        while self.entries and self.entries[0][0] <= fed_samples:
            _, _, kind, payload = self.entries.pop(0)
            out.append((kind, payload))
        return out

    @property
    def done(self) -> bool:
        """Nothing left to play (a media gap still open counts as left)."""
        return not self.entries and self.media_back_at is None

    def next_at(self) -> int | None:
        """The sample of the next entry or of a media gap's end (None: nothing left)."""
        times = [self.entries[0][0]] if self.entries else []
        if self.media_back_at is not None:
            times.append(self.media_back_at)
        return min(times) if times else None


@dataclass(frozen=True)
class SentAction:
    """A bot action the script sent, for the window's log (its request record)."""

    at_samples: int
    action: str
    body: Any


class ScriptedMicrophone:
    """The opened scenario's caller audio, cut at its entries, which it sends on the sample.

    ``read`` runs on the session's drain thread, which feeds each block to the engine host
    before it reads the next: the entries due at a block's end are sent at the start of the
    next ``read``, after that block's feed and before anything later. The track is at the
    engine's rate (the player writes it so), so device frames are engine samples.
    """

    # What the session reads as "hand each block on as it comes" (app/session/live.py): no
    # 30 ms batching of a real-time microphone, whose batch would still hold the block before
    # an entry when the entry is sent (it would apply early, on the previous batch's end), and
    # no stall watchdog (a file never stalls). The wrapped file still plays in real time.
    realtime = False

    def __init__(self, inner: InputDevice, script: LiveScript) -> None:
        self.inner = inner
        self.script = script
        self.name = inner.name
        self.rate_hz = inner.rate_hz
        self.channels = inner.channels
        self.session: LiveSession | None = None  # set before the session starts
        self.sent: queue.SimpleQueue[SentAction] = queue.SimpleQueue()  # for the GUI's log
        self.position_samples = 0  # handed to the session so far
        self._rest: FloatArray | None = None
        self.finished_script = False  # every entry sent (read by the GUI thread)
        self._stopped = False

    def __getattr__(self, name: str) -> Any:
        # The wrapped device's own controls and state (a file's position, pause, loop).
        return getattr(self.inner, name)

    @property
    def overflows(self) -> int:
        """The wrapped device's overflows."""
        return self.inner.overflows

    def start(self) -> None:
        """Start the wrapped device."""
        self.inner.start()

    def stop(self) -> None:
        """Stop the wrapped device; nothing more is sent (the session is ending)."""
        self._stopped = True
        self.inner.stop()

    def read(self, timeout_s: float) -> FloatArray | None:
        """The next block, ending at the next entry's sample at the latest."""
        self._send_due()
        block = self._rest if self._rest is not None else self.inner.read(timeout_s)
        self._rest = None
        if block is None or len(block) == 0:
            return block
        upto = self.script.next_at()
        if upto is not None and self.position_samples < upto < self.position_samples + len(block):
            cut = upto - self.position_samples
            block, self._rest = block[:cut], block[cut:]
        self.position_samples += len(block)
        return block

    def _send_due(self) -> None:
        session, script, now = self.session, self.script, self.position_samples
        if session is None or self._stopped:
            return
        if script.media_back_at is not None and now >= script.media_back_at:
            script.media_back_at = None
            session.set_media_dropped(False)
        for kind, payload in script.due(now):
            if kind == "bot":
                body = payload.raw_body.encode() if payload.raw_body is not None else payload.body
                self.sent.put(SentAction(now, payload.action, body))
                session.action(payload.action, body)
            elif kind == "key":
                key, entry = payload
                assert isinstance(entry, CallerEntry)
                # As the runner presses it (on the feed, the scenario's tone length), and
                # heard on the caller's speaker like a key of the keypad.
                session.host.press_key(
                    key,
                    out_of_band=entry.dtmf_mode in ("both", "out-of-band"),
                    in_band=entry.dtmf_mode in ("both", "in-band"),
                    duration_s=entry.dtmf_on_s,
                )
                session.play_local(dtmf_tone(key, entry.dtmf_on_s), ENGINE_RATE_HZ, f"key:{key}")
            elif kind == "no_media":
                session.set_media_dropped(True)
                script.media_back_at = now + payload
            elif kind == "hangup":
                session.hang_up()
        self.finished_script = script.done


def _absolute(entry: BotEntry, base_dir: Path) -> BotEntry:
    return replace(entry, body=absolute_prompts(entry.body, base_dir))
