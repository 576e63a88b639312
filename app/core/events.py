"""Immutable events the engine emits, each stamped with the sample index it happened at.

Every consumer (scenario runner, GUI bridge, HTTP notifier) reads the same stream. Values are
frozen so they can cross threads through queues without copies or locks (docs/design.md rule 3).
Graph JSON travels as text (``*_json``) so an event can never be mutated by a consumer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from app.graph.requests import PlayPromptRequest, RecordResponseRequest

TimerName = Literal["initialSilence", "maxSilence", "maxDuration", "mediaReceive"]
OperationKind = Literal["recordResponse", "playPrompt"]
KeySource = Literal["inBand", "outOfBand"]


@dataclass(frozen=True, slots=True)
class Event:
    """Base class: ``sample_index`` counts engine samples (16 kHz) from call start."""

    sample_index: int


@dataclass(frozen=True, slots=True)
class ActionResponse(Event):
    """The synchronous HTTP reply to a bot action (200 with Location, or a Graph error)."""

    action: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body_json: str
    operation_id: str | None = None

    @property
    def body(self) -> dict[str, Any]:
        """The response body as a fresh dict."""
        parsed: dict[str, Any] = json.loads(self.body_json) if self.body_json else {}
        return parsed

    @property
    def headers_dict(self) -> dict[str, str]:
        """The headers as a fresh dict."""
        return dict(self.headers)


@dataclass(frozen=True, slots=True)
class Notification(Event):
    """One commsNotifications envelope, exactly as Graph would POST it to the callbackUri."""

    call_id: str
    payload_json: str
    summary: str = ""

    @property
    def payload(self) -> dict[str, Any]:
        """The envelope as a fresh dict."""
        parsed: dict[str, Any] = json.loads(self.payload_json)
        return parsed


@dataclass(frozen=True, slots=True)
class OperationStarted(Event):
    """An operation left the queue and began (its prompt, beep or capture starts now).

    ``request`` is the parsed body the operation runs with (the bot's, however it came: the
    GUI's form or HTTP through the endpoint), so that a consumer can word its ending with the
    timers it ran ("max silence: 2 s pause after speech"). Not part of any record or equality.
    """

    operation_id: str
    kind: OperationKind
    request: RecordResponseRequest | PlayPromptRequest | None = field(
        default=None, compare=False, repr=False
    )


@dataclass(frozen=True, slots=True)
class OperationEnded(Event):
    """An operation reached its final state; ``reason`` is the completionReason value."""

    operation_id: str
    kind: OperationKind
    status: Literal["completed", "failed", "dropped"]
    code: int
    subcode: int
    reason: str
    message: str
    recording_samples: int = 0


@dataclass(frozen=True, slots=True)
class PlaybackStarted(Event):
    """The service starts playing audio to the caller (a prompt or the beep)."""

    operation_id: str
    what: Literal["prompt", "beep"]
    duration_samples: int
    samples: npt.NDArray[np.float32] = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class PlaybackEnded(Event):
    """Playback to the caller ended (finished, or cut short by cancel/barge-in/hang-up)."""

    operation_id: str
    what: Literal["prompt", "beep"]
    interrupted: bool = False


@dataclass(frozen=True, slots=True)
class CaptureStarted(Event):
    """Recording of the caller's answer starts (after prompt and beep)."""

    operation_id: str


@dataclass(frozen=True, slots=True)
class SpeechStarted(Event):
    """The endpointer confirmed speech; ``sample_index`` is back-dated to the first speech frame."""

    decided_at: int


@dataclass(frozen=True, slots=True)
class SpeechEnded(Event):
    """Speech stopped: ``sample_index`` is the end of the last speech frame."""

    decided_at: int


@dataclass(frozen=True, slots=True)
class KeyPressed(Event):
    """A DTMF key, counted once however many ways it was heard; ``sample_index`` = tone start."""

    key: str
    sources: frozenset[KeySource]
    decided_at: int


@dataclass(frozen=True, slots=True)
class TimerStarted(Event):
    """A timer started (or restarted); it expires at ``deadline_sample`` unless stopped."""

    operation_id: str
    timer: TimerName
    deadline_sample: int


@dataclass(frozen=True, slots=True)
class TimerStopped(Event):
    """A timer stopped without expiring (speech began, the operation ended for another reason)."""

    operation_id: str
    timer: TimerName


@dataclass(frozen=True, slots=True)
class TimerExpired(Event):
    """A timer ran out; ``sample_index`` equals its deadline."""

    operation_id: str
    timer: TimerName


@dataclass(frozen=True, slots=True)
class RecordingChunk(Event):
    """Samples committed to a recording (PCM16 mono 16 kHz); ``sample_index`` = first sample."""

    operation_id: str
    pcm16: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class RecordingFinished(Event):
    """No more chunks for this recording; ``delivered`` is False when Graph would discard it."""

    operation_id: str
    total_samples: int
    delivered: bool
    location: str


@dataclass(frozen=True, slots=True)
class CallEnded(Event):
    """The call is over; ``reason`` is a CallEnd value (app/graph/results.py)."""

    by: Literal["caller", "bot"]
    reason: str
