"""Folds the engine's events into spans: what the GUI draws and what timeline.json holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.core import events as ev
from app.core.clock import samples_to_seconds


@dataclass(slots=True)
class Span:
    """A span on one lane; ``end`` is None while it is still open."""

    lane: str
    start: int
    end: int | None = None
    label: str = ""
    operation_id: str | None = None
    outcome: str = ""
    deadline: int | None = None

    def to_json(self) -> dict[str, Any]:
        """Seconds-based JSON for timeline.json and exports."""
        out: dict[str, Any] = {
            "lane": self.lane,
            "start": round(samples_to_seconds(self.start), 6),
            "end": None if self.end is None else round(samples_to_seconds(self.end), 6),
        }
        if self.label:
            out["label"] = self.label
        if self.operation_id:
            out["operationId"] = self.operation_id
        if self.outcome:
            out["outcome"] = self.outcome
        if self.deadline is not None:
            out["deadline"] = round(samples_to_seconds(self.deadline), 6)
        return out


@dataclass(slots=True)
class Timeline:
    """Spans and marks built incrementally from events (feed events in emission order)."""

    spans: list[Span] = field(default_factory=list)
    keys: list[tuple[int, str, tuple[str, ...]]] = field(default_factory=list)
    endings: list[tuple[int, str, int, str]] = field(default_factory=list)  # at, reason, sub, op
    _open: dict[tuple[str, str | None], Span] = field(default_factory=dict)

    def add(self, event: ev.Event) -> None:
        """Fold one event in."""
        if isinstance(event, ev.PlaybackStarted):
            self._start(event.what, event.sample_index, event.operation_id, event.what)
        elif isinstance(event, ev.PlaybackEnded):
            self._end(
                event.what,
                event.sample_index,
                event.operation_id,
                "interrupted" if event.interrupted else "played",
            )
        elif isinstance(event, ev.CaptureStarted):
            self._start("capture", event.sample_index, event.operation_id, "recording")
        elif isinstance(event, ev.RecordingFinished):
            self._end(
                "capture",
                event.sample_index,
                event.operation_id,
                "delivered" if event.delivered else "discarded",
            )
        elif isinstance(event, ev.SpeechStarted):
            self._start("speech", event.sample_index, None, "speech")
        elif isinstance(event, ev.SpeechEnded):
            self._end("speech", event.sample_index, None, "")
        elif isinstance(event, ev.TimerStarted):
            lane = f"timer:{event.timer}"
            self._end(lane, event.sample_index, event.operation_id, "restarted")
            span = self._start(lane, event.sample_index, event.operation_id, event.timer)
            span.deadline = event.deadline_sample
        elif isinstance(event, ev.TimerStopped):
            self._end(f"timer:{event.timer}", event.sample_index, event.operation_id, "stopped")
        elif isinstance(event, ev.TimerExpired):
            self._end(f"timer:{event.timer}", event.sample_index, event.operation_id, "expired")
        elif isinstance(event, ev.KeyPressed):
            self.keys.append((event.sample_index, event.key, tuple(sorted(event.sources))))
        elif isinstance(event, ev.OperationEnded):
            self.endings.append(
                (event.sample_index, event.reason, event.subcode, event.operation_id)
            )
            for key in [k for k in self._open if k[1] == event.operation_id]:
                self._end(key[0], event.sample_index, event.operation_id, "ended")
        elif isinstance(event, ev.CallEnded):
            for key in list(self._open):
                self._end(key[0], event.sample_index, key[1], "call ended")

    def _start(self, lane: str, at: int, op: str | None, label: str) -> Span:
        span = Span(lane, at, None, label, op)
        self._open[(lane, op)] = span
        self.spans.append(span)
        return span

    def _end(self, lane: str, at: int, op: str | None, outcome: str) -> None:
        span = self._open.pop((lane, op), None)
        if span is not None:
            span.end = at
            span.outcome = span.outcome or outcome

    def to_json(self, *, call_id: str, duration_samples: int) -> dict[str, Any]:
        """The timeline.json document."""

        def secs(n: int) -> float:
            return round(samples_to_seconds(n), 6)

        return {
            "callId": call_id,
            "duration": secs(duration_samples),
            "spans": [s.to_json() for s in sorted(self.spans, key=lambda s: (s.start, s.lane))],
            "keys": [
                {"t": secs(at), "key": key, "sources": list(sources)}
                for at, key, sources in self.keys
            ],
            "endings": [
                {"t": secs(at), "reason": reason, "subcode": sub, "operationId": op}
                for at, reason, sub, op in self.endings
            ],
        }
