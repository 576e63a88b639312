"""Media operations on a call's queue: recordResponse (the state machine) and playPrompt.

Both are driven by ``app.core.call.Call``, which owns the sample clock, the VAD, the DTMF
detector and the queue. An operation only answers questions about itself: where its phases end,
which ending (if any) it reaches before a given sample, and how much audio it has committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from app.core.clock import seconds_to_samples
from app.core.keys import KeyPress
from app.graph.requests import PlayPromptRequest, RecordResponseRequest
from app.graph.results import Ending

FloatArray = npt.NDArray[np.float32]

# "loading": started, waiting on the sample clock for its prompts to be loaded off-thread.
Phase = Literal["queued", "loading", "prompt", "beep", "capture", "done"]

# When several endings fall on the same sample, the caller's explicit key wins, then the hard
# cap, then the silence timers (docs/graph-contract.md §6 gives no order; this one is what a caller
# expects: a key pressed exactly at the deadline is honoured). [I]
ENDING_PRIORITY: dict[Ending, int] = {
    Ending.STOP_TONE: 0,
    Ending.MEDIA_RECEIVE_TIMEOUT: 1,
    Ending.MAX_RECORD_DURATION: 2,
    Ending.MAX_SILENCE: 3,
    Ending.INITIAL_SILENCE: 4,
}


@dataclass(slots=True)
class Timer:
    """A running timer of the operation: it expires at ``deadline`` unless stopped first."""

    name: Literal["initialSilence", "maxSilence", "maxDuration"]
    started_at: int
    deadline: int


@dataclass(slots=True)
class Operation:
    """State shared by both media operations."""

    operation_id: str
    kind: Literal["recordResponse", "playPrompt"]
    client_context: str | None
    submitted_at: int
    phase: Phase = "queued"
    started_at: int | None = None
    ended_at: int | None = None
    # playback schedule once started: (what, start, end, samples)
    playback: list[tuple[Literal["prompt", "beep"], int, int, FloatArray]] = field(
        default_factory=list
    )
    playback_index: int = 0


@dataclass(slots=True)
class PlayPromptOperation(Operation):
    """playPrompt: plays its prompts in order and completes 200/0 (docs/graph-contract.md §9.1)."""

    request: PlayPromptRequest | None = None


@dataclass(slots=True)
class RecordOperation(Operation):
    """recordResponse: prompt -> beep -> capture with the three timers (docs/graph-contract.md
    §6)."""

    request: RecordResponseRequest | None = None
    capture_start: int | None = None
    timers: dict[str, Timer] = field(default_factory=dict)
    speech_started: bool = False
    committed_upto: int = 0
    trim_to: int | None = None  # where a stop tone cuts the recording
    stop_press: KeyPress | None = None  # the key press that stops it
    recording_location: str = ""
    recording_access_token: str = ""

    def start_capture(self, at: int) -> list[Timer]:
        """Enter capture at sample ``at``; return the timers that start with it."""
        assert self.request is not None
        self.phase = "capture"
        self.capture_start = at
        self.committed_upto = at
        # Both count from the start of capture, after prompt and beep (docs/graph-contract.md §6.1,
        # §6.3 [I]); max silence only starts at the first pause after speech (§6.2).
        initial = Timer(
            "initialSilence",
            at,
            at + seconds_to_samples(self.request.initial_silence_timeout_s),
        )
        duration = Timer(
            "maxDuration", at, at + seconds_to_samples(self.request.max_record_duration_s)
        )
        self.timers = {"initialSilence": initial, "maxDuration": duration}
        return [initial, duration]

    def max_silence_timer(self, pause_start: int) -> Timer:
        """Start (or restart) max silence at the first sample of a pause after speech."""
        assert self.request is not None
        timer = Timer(
            "maxSilence",
            pause_start,
            pause_start + seconds_to_samples(self.request.max_silence_timeout_s),
        )
        self.timers["maxSilence"] = timer
        return timer
