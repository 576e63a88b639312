"""Serializers shared by the scenario runner, the GUI's export and the HTTP endpoint's log.

One function turns an engine event into its events.jsonl record, so every output agrees.
"""

from __future__ import annotations

import heapq
import json
import os
from collections.abc import Iterable
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
        out.write(_jsonl_line(record))


class EventLog:
    """events.jsonl written while the run goes, in the same time order as ``sorted_records``.

    The engine emits some events after later ones: a speech start is back-dated to its first
    frame once confirmed (up to 300 ms later, docs/dsp.md §3.4), a key after its merge window,
    an ending held while a speech onset is undecided. So records wait in a heap ordered by
    (sample, emission) and ``release(upto)`` writes those at or before ``upto``, which the
    runner keeps a hold behind the analysis. Lines reach the OS once per ``release`` (per
    engine step), not fsync'ed (a killed process leaves the page cache behind); ``close``
    writes the rest and fsyncs once. If an event ever arrives older than a line already
    written, the streamed order is wrong: ``out_of_order`` is set and ``close`` rewrites the
    file from ``all_records`` so that a finished run's bytes never depend on the hold.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: TextIO = path.open("w", encoding="utf-8")
        self._heap: list[tuple[int, int, dict[str, Any]]] = []
        self._emitted = 0
        self._written_upto = -1  # sample of the last line written
        self.out_of_order = False

    def add(self, events: Iterable[ev.Event]) -> None:
        """Queue the records of ``events`` (in emission order); nothing is written yet."""
        for event in events:
            record = event_record(event)
            if record is None:
                continue
            if event.sample_index < self._written_upto:
                self.out_of_order = True
            heapq.heappush(self._heap, (event.sample_index, self._emitted, record))
            self._emitted += 1

    def release(self, upto_sample: int) -> None:
        """Write every queued record at or before ``upto_sample`` and hand it to the OS."""
        heap = self._heap
        if not heap or heap[0][0] > upto_sample:
            return
        lines = []
        while heap and heap[0][0] <= upto_sample:
            sample, _, record = heapq.heappop(heap)
            self._written_upto = max(self._written_upto, sample)
            lines.append(_jsonl_line(record))
        self._file.write("".join(lines))
        self._file.flush()

    def close(
        self, all_records: list[dict[str, Any]] | None = None, *, resort: bool = False
    ) -> None:
        """Write what is queued, fsync, close; if out of order, rewrite in time order.

        The rewrite uses ``all_records`` when given; with ``resort`` (a run that keeps no
        records, for flat memory) it sorts the file's own lines by ``t``, stably: lines of the
        same sample were released together in emission order, so this is ``sorted_records``'s
        order (``t`` is exact in microseconds, and one sample is 62.5 µs).
        """
        self.release(2**62)
        if self.out_of_order and (all_records is not None or resort):
            if all_records is None:
                self._file.flush()
                lines = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
                lines.sort(key=lambda line: float(json.loads(line)["t"]))
            else:
                lines = [_jsonl_line(record) for record in all_records]
            self._file.seek(0)
            self._file.truncate()
            self._file.write("".join(lines))
            self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()


def _jsonl_line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def write_json(path: Path, document: Any) -> None:
    """Pretty JSON file (exports, timeline.json)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
