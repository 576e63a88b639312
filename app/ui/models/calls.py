"""Every call of this window, the GUI's own and each one a bot placed: a plain list. No Qt.

Each ``CallEntry`` keeps its whole history (engine events, timeline, log records in time
order, takes, the requests this window sent, the ending shown), so that selecting an older call
shows it again and a new call never clears another's. The window's widgets only show the
selected entry; exports and tests read the entries directly.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core import events as ev
from app.core.timeline import Timeline
from app.graph.requests import PlayPromptRequest, RecordResponseRequest
from app.ui.models.takes import Take


@dataclass
class CallEntry:
    """One call's history."""

    title: str
    origin: str  # "gui": started here; "bot": placed or answered by a bot through the endpoint
    session_dir: Path | None = None
    call_id: str = ""
    live: bool = True
    events: list[ev.Event] = field(default_factory=list)
    timeline: Timeline = field(default_factory=Timeline)
    records: list[dict[str, Any]] = field(default_factory=list)  # log rows, by time
    takes: list[Take] = field(default_factory=list)
    request_records: list[dict[str, Any]] = field(default_factory=list)
    # Operation id -> the request the engine parsed for it (from OperationStarted): endings
    # are worded with its timers, whoever sent it (the GUI or a bot through the endpoint).
    requests: dict[str, RecordResponseRequest | PlayPromptRequest] = field(default_factory=dict)
    ending_text: str = ""
    ending_ok: bool | None = None
    ending_labels: dict[str, str] = field(default_factory=dict)
    now_samples: Callable[[], int] = lambda: 0
    since_sample: int = 0  # where the current operation started (for the countdowns)

    def add_records(self, records: list[dict[str, Any]]) -> list[int]:
        """Insert records in time order (after any of the same time); returns their indices."""
        positions: list[int] = []
        for record in records:
            index = bisect.bisect_right([r["t"] for r in self.records], record["t"])
            self.records.insert(index, record)
            positions.append(index)
        return positions

    def label(self, number: int) -> str:
        """The call picker's line, e.g. "2 · bot call 1f3a9c0e (live)"."""
        state = "live" if self.live else "ended"
        return f"{number} · {self.title} ({state})"


@dataclass
class CallList:
    """The calls in the order they began; one is selected (shown)."""

    calls: list[CallEntry] = field(default_factory=list)
    selected: int = -1

    def add(self, entry: CallEntry) -> CallEntry:
        """Append ``entry`` and select it."""
        self.calls.append(entry)
        self.selected = len(self.calls) - 1
        return entry

    @property
    def current(self) -> CallEntry | None:
        """The selected call."""
        return self.calls[self.selected] if 0 <= self.selected < len(self.calls) else None

    def count(self, origin: str) -> int:
        """How many calls of ``origin`` there are."""
        return sum(1 for c in self.calls if c.origin == origin)
