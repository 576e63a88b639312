"""What the local Graph endpoint reports to its host (GUI or headless CLI), besides engine events.

All values are frozen so they can cross from the server's event-loop thread to any other thread
through a queue (docs/design.md rule 3). ``GraphServer(on_event=...)`` receives every one of these
on the event-loop thread; a GUI must only enqueue them there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from app.core import events as ev
from app.scenario.output import event_record
from app.server.notifier import DeliveryRecord

CallState = Literal["incoming", "establishing", "established", "terminated"]
Direction = Literal["incoming", "outgoing"]


@dataclass(frozen=True, slots=True)
class CallAdded:
    """A call exists now: the bot placed it, or CallSim offered it to the bot (incoming)."""

    call_id: str
    direction: Direction
    callback_uri: str
    wall_time_s: float

    def to_json(self) -> dict[str, Any]:
        """The headless-log record."""
        return {
            "kind": "callAdded",
            "callId": self.call_id,
            "direction": self.direction,
            "callbackUri": self.callback_uri,
            "wallTime": round(self.wall_time_s, 3),
        }


@dataclass(frozen=True, slots=True)
class CallStateChanged:
    """The call's Graph state changed (``reason`` says why, e.g. "bot hung up")."""

    call_id: str
    state: CallState
    reason: str
    wall_time_s: float

    def to_json(self) -> dict[str, Any]:
        """The headless-log record."""
        return {
            "kind": "callState",
            "callId": self.call_id,
            "state": self.state,
            "reason": self.reason,
            "wallTime": round(self.wall_time_s, 3),
        }


@dataclass(frozen=True, slots=True)
class RequestLogged:
    """One HTTP request the endpoint answered.

    ``auth_scheme`` is the scheme of the request's ``Authorization`` header ("Bearer") when it
    carried credentials, else None: what a bot's client really sent (some Graph clients drop
    the header for hosts they do not trust, README "HTTPS"). The token itself is not kept.
    """

    method: str
    path: str
    status: int
    latency_ms: float
    call_id: str | None
    wall_time_s: float
    auth_scheme: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The headless-log record."""
        return {
            "kind": "http",
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "latencyMs": round(self.latency_ms, 1),
            "callId": self.call_id,
            "auth": self.auth_scheme,
            "wallTime": round(self.wall_time_s, 3),
        }


@dataclass(frozen=True, slots=True)
class EngineEvent:
    """An engine event of one call (recording chunks are not forwarded)."""

    call_id: str
    event: ev.Event

    def to_json(self) -> dict[str, Any] | None:
        """The events.jsonl record of the engine event plus the call id (None if unlogged)."""
        record = event_record(self.event)
        if record is None:
            return None
        return {"callId": self.call_id, **record}


ServerEvent = CallAdded | CallStateChanged | RequestLogged | EngineEvent | DeliveryRecord
