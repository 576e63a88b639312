"""Serializers shared by the scenario runner, the GUI's export and the HTTP endpoint's log.

One function turns an engine event into its events.jsonl record, so every output agrees.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

from app.core import events as ev
from app.core.clock import samples_to_seconds


def seconds(sample_index: int) -> float:
    """Sample index to seconds, rounded to the microsecond for stable text output."""
    return round(samples_to_seconds(sample_index), 6)


def event_record(event: ev.Event) -> dict[str, Any] | None:
    """The events.jsonl record of ``event``; None for events that are not logged (audio)."""
    t = seconds(event.sample_index)
    if isinstance(event, ev.ActionResponse):
        return {
            "t": t,
            "kind": "response",
            "action": event.action,
            "status": event.status,
            "headers": event.headers_dict,
            "body": event.body,
        }
    if isinstance(event, ev.Notification):
        return {"t": t, "kind": "notification", "summary": event.summary, "payload": event.payload}
    if isinstance(event, ev.OperationStarted):
        return {
            "t": t,
            "kind": "operationStarted",
            "operationId": event.operation_id,
            "action": event.kind,
        }
    if isinstance(event, ev.OperationEnded):
        return {
            "t": t,
            "kind": "operationEnded",
            "operationId": event.operation_id,
            "action": event.kind,
            "status": event.status,
            "code": event.code,
            "subcode": event.subcode,
            "reason": event.reason,
            "message": event.message,
            "recordingSeconds": seconds(event.recording_samples),
        }
    if isinstance(event, ev.PlaybackStarted):
        return {
            "t": t,
            "kind": f"{event.what}Started",
            "operationId": event.operation_id,
            "duration": seconds(event.duration_samples),
        }
    if isinstance(event, ev.PlaybackEnded):
        return {
            "t": t,
            "kind": f"{event.what}Ended",
            "operationId": event.operation_id,
            "interrupted": event.interrupted,
        }
    if isinstance(event, ev.CaptureStarted):
        return {"t": t, "kind": "captureStarted", "operationId": event.operation_id}
    if isinstance(event, ev.SpeechStarted):
        return {"t": t, "kind": "speechStarted", "decidedAt": seconds(event.decided_at)}
    if isinstance(event, ev.SpeechEnded):
        return {"t": t, "kind": "speechEnded", "decidedAt": seconds(event.decided_at)}
    if isinstance(event, ev.KeyPressed):
        return {
            "t": t,
            "kind": "key",
            "key": event.key,
            "sources": sorted(event.sources),
            "decidedAt": seconds(event.decided_at),
        }
    if isinstance(event, ev.TimerStarted):
        return {
            "t": t,
            "kind": "timerStarted",
            "operationId": event.operation_id,
            "timer": event.timer,
            "deadline": seconds(event.deadline_sample),
        }
    if isinstance(event, ev.TimerStopped):
        return {
            "t": t,
            "kind": "timerStopped",
            "operationId": event.operation_id,
            "timer": event.timer,
        }
    if isinstance(event, ev.TimerExpired):
        return {
            "t": t,
            "kind": "timerExpired",
            "operationId": event.operation_id,
            "timer": event.timer,
        }
    if isinstance(event, ev.RecordingFinished):
        return {
            "t": t,
            "kind": "recordingFinished",
            "operationId": event.operation_id,
            "duration": seconds(event.total_samples),
            "delivered": event.delivered,
            "location": event.location,
        }
    if isinstance(event, ev.CallEnded):
        return {"t": t, "kind": "callEnded", "by": event.by, "reason": event.reason}
    return None


def sorted_records(events: list[ev.Event]) -> list[dict[str, Any]]:
    """Records in time order; events at the same sample keep their emission order."""
    indexed = sorted(enumerate(events), key=lambda pair: (pair[1].sample_index, pair[0]))
    return [r for _, e in indexed if (r := event_record(e)) is not None]


def write_jsonl(records: list[dict[str, Any]], out: TextIO) -> None:
    """One compact JSON object per line."""
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")


def write_json(path: Path, document: Any) -> None:
    """Pretty JSON file (exports, timeline.json)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
