"""Notification faults on demand: what a real bot must survive from Graph's delivery.

Each fault applies to the notifications whose summary contains ``match`` (e.g. ``8509``,
``recordResponse``, ``call terminated``; empty: every one), to the first ``times`` of them.
What each imitates (docs/graph-contract.md §5.1, delivery and retries):

- ``delay:SECONDS[:MATCH]``: the notification arrives SECONDS late (Graph's queues; the bot's
  own timeout for the operation must not fire too early). Later ones of the call wait behind
  it, as Graph keeps a call's notifications in order.
- ``duplicate[:MATCH]``: it arrives twice (Graph delivers at least once: a retry after a
  response lost on the way back). A bot must handle the same operation ending idempotently.
- ``drop[:MATCH]``: it never arrives (a delivery Graph gave up on). The bot must fall back to
  ``GET .../operations/{id}`` or its own timeout.
- ``reorder[:MATCH]``: it arrives after the call's next notification (held at most
  REORDER_WAIT_S): Graph does not promise order across its delivery nodes, so a bot must not
  assume a state's notifications come in the order the states happened;
- ``fail:N:STATUS[:MATCH]``: the first N delivery attempts fail as if the bot's endpoint had
  answered STATUS (recorded as such), then it is retried with the usual backoff.

Faults of the recording download (``GET {recordingLocation}``), for its first ``times``
requests (one, unless ``:TIMES`` is given):

- ``download:STATUS[:TIMES]`` with STATUS 401, 404 or 500: answered with that Graph error
  instead of the WAV (an expired token, a recording already purged, a storage hiccup);
- ``cut:BYTES[:TIMES]``: the WAV's headers promise the whole file, BYTES are sent, then the
  connection is closed (a transfer cut mid-way: the bot must notice the short body).

Parsed from ``callsim serve --fault SPEC`` (repeatable) and ``LocalGraph(faults=[...])``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

FaultKind = Literal["delay", "duplicate", "drop", "fail", "reorder"]
FAULT_KINDS: tuple[str, ...] = (
    "delay",
    "duplicate",
    "drop",
    "fail",
    "reorder",
    "download",
    "cut",
)
# A reordered notification waits this long at most for the next one of its call, then goes:
# a bot that waits for it before doing anything else must not hang the call for ever.
REORDER_WAIT_S = 5.0
DOWNLOAD_STATUSES = (401, 404, 500)
# A delay past Graph's own retry horizon (5 attempts, 0.5-4 s backoff: under a minute) is a
# lost notification; an hour bounds a typo.
MAX_DELAY_S = 3600.0
MAX_FAILED_ATTEMPTS = 100


@dataclass
class NotificationFault:
    """One fault; ``times`` counts down as matching notifications are affected."""

    kind: FaultKind
    match: str = ""
    delay_s: float = 0.0
    failed_attempts: int = 0
    status: int = 503
    times: int = 1

    def applies(self, summary: str) -> bool:
        return self.times > 0 and self.match in summary


@dataclass
class DownloadFault:
    """A fault of the recording download: an error ``status``, or a body cut at ``cut_bytes``."""

    status: int | None = None
    cut_bytes: int | None = None
    times: int = 1


def _times(parts: list[str], spec: str) -> int:
    if len(parts) < 3:
        return 1
    try:
        times = int(parts[2])
    except ValueError:
        raise ValueError(f"fault {spec!r}: TIMES must be a whole number") from None
    if not 1 <= times <= 1_000_000:
        raise ValueError(f"fault {spec!r}: TIMES must be 1 .. 1000000")
    return times


def parse_fault(spec: str) -> NotificationFault | DownloadFault:
    """``delay:3:8509``, ``duplicate``, ``drop:8514``, ``fail:2:503:recordResponse``..."""
    parts = spec.split(":")
    kind = parts[0]
    if kind not in FAULT_KINDS:
        raise ValueError(f"fault {spec!r}: the kind must be one of {', '.join(FAULT_KINDS)}")
    if kind in ("download", "cut"):
        try:
            number = int(parts[1])
        except (IndexError, ValueError):
            raise ValueError(
                f"fault {spec!r}: download:STATUS[:TIMES] or cut:BYTES[:TIMES]"
            ) from None
        if kind == "download" and number not in DOWNLOAD_STATUSES:
            raise ValueError(f"fault {spec!r}: STATUS must be 401, 404 or 500")
        if kind == "cut" and number < 0:
            raise ValueError(f"fault {spec!r}: BYTES must be >= 0")
        times = _times(parts, spec)
        if kind == "download":
            return DownloadFault(status=number, times=times)
        return DownloadFault(cut_bytes=number, times=times)
    if kind == "delay":
        if len(parts) < 2:
            raise ValueError(f"fault {spec!r}: delay:SECONDS[:MATCH]")
        try:
            delay_s = float(parts[1])
        except ValueError:
            raise ValueError(f"fault {spec!r}: SECONDS must be a number") from None
        if not math.isfinite(delay_s) or not 0 <= delay_s <= MAX_DELAY_S:
            raise ValueError(f"fault {spec!r}: SECONDS must be 0 .. {MAX_DELAY_S:g}")
        return NotificationFault("delay", ":".join(parts[2:]), delay_s=delay_s)
    if kind == "fail":
        try:
            count, status = int(parts[1]), int(parts[2])
        except (IndexError, ValueError):
            raise ValueError(f"fault {spec!r}: fail:N:STATUS[:MATCH]") from None
        if not 1 <= count <= MAX_FAILED_ATTEMPTS or not 400 <= status <= 599:
            raise ValueError(
                f"fault {spec!r}: N must be 1 .. {MAX_FAILED_ATTEMPTS}, STATUS 400 .. 599"
            )
        return NotificationFault("fail", ":".join(parts[3:]), failed_attempts=count, status=status)
    assert kind in ("duplicate", "drop", "reorder")
    return NotificationFault(kind, ":".join(parts[1:]))  # type: ignore[arg-type]
