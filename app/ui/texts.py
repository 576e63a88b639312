"""Words for the UI: an operation's ending said plainly, next to its code."""

from __future__ import annotations

from app.core import events as ev
from app.graph.requests import RecordResponseRequest
from app.graph.results import RESULTS, Ending, describe

# Subcode → ending, from the one result table (docs/graph-contract.md §4); recordResponse endings
# only,
# playPrompt's 0 is handled by its kind.
_BY_SUBCODE = {
    spec.subcode: ending
    for ending, spec in RESULTS.items()
    if ending is not Ending.PLAY_PROMPT_COMPLETED
}


def ending_of(event: ev.OperationEnded) -> Ending | None:
    """The Ending behind an OperationEnded (None for a dropped operation)."""
    if event.status == "dropped":
        return None
    if event.kind == "playPrompt" and event.subcode == 0:
        return Ending.PLAY_PROMPT_COMPLETED
    return _BY_SUBCODE.get(event.subcode)


def ending_in_words(
    event: ev.OperationEnded,
    request: RecordResponseRequest | None = None,
    stop_key: str | None = None,
) -> str:
    """E.g. "max silence: 2 s pause after speech" for a 8509 with a 2 s maxSilence timer."""
    if event.status == "dropped":
        return "call hung up: the operation was dropped (Graph sends no notification)"
    ending = ending_of(event)
    if ending is None:
        return event.message
    if request is not None:
        if ending is Ending.MAX_SILENCE:
            return f"max silence: {request.max_silence_timeout_s} s pause after speech"
        if ending is Ending.INITIAL_SILENCE:
            return f"initial silence: no speech within {request.initial_silence_timeout_s} s"
        if ending is Ending.MAX_RECORD_DURATION:
            return f"max duration: {request.max_record_duration_s} s recorded"
    if ending is Ending.STOP_TONE and stop_key:
        return f"stop tone: {stop_key} pressed"
    return describe(ending)


def code_text(event: ev.OperationEnded) -> str:
    """``200/8509 maxSilenceTimeout`` (or ``dropped`` for a hang-up)."""
    if event.status == "dropped":
        return "dropped (no notification)"
    return f"{event.code}/{event.subcode} {event.reason}"
