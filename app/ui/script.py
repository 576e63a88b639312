"""An opened scenario (or saved session) played live: its bot and caller entries on time.

The window feeds the scenario's caller audio as the microphone (a WAV of ``caller_track``) and
asks ``due(fed_samples)`` at every poll for the entries whose time has come: the bot's actions,
the caller's keys, media gaps and the hang-up, in the scenario's order. Times are on the
engine's sample clock, so a poll that comes late only delays an entry to that poll (40 ms at
most, the window's poll interval).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from app.scenario.model import BotEntry, Scenario
from app.scenario.runner import timed_entries


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


def _absolute(entry: BotEntry, base_dir: Path) -> BotEntry:
    return replace(entry, body=absolute_prompts(entry.body, base_dir))
