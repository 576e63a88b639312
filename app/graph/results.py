"""How a media operation ended, and what Graph says about it, in one place.

The table is docs/graph-contract.md §4.

Every ending maps to the operation's final ``status``, the ``resultInfo`` code/subcode/message
and the ``completionReason`` open property. Evidence tags ([V]/[I]) are the spec's: [V] seen in
a Microsoft source, [I] our inference. Nothing else in the project spells these values out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final, Literal

OperationKind = Literal["recordResponse", "playPrompt"]


@dataclass(frozen=True)
class ResultSpec:
    """The final state of an operation as Graph reports it."""

    status: Literal["completed", "failed"]
    code: int
    subcode: int
    message: str
    completion_reason: str


class Ending(StrEnum):
    """Why a recordResponse or playPrompt operation stopped."""

    MAX_RECORD_DURATION = "max_record_duration"
    STOP_TONE = "stop_tone"
    MAX_SILENCE = "max_silence"
    INITIAL_SILENCE = "initial_silence"
    CANCELLED = "cancelled"
    PROMPT_FAILED = "prompt_failed"
    PROMPT_DOWNLOAD_FAILED = "prompt_download_failed"
    PROMPT_FORMAT_INVALID = "prompt_format_invalid"
    BEEP_FAILED = "beep_failed"
    MEDIA_RECEIVE_TIMEOUT = "media_receive_timeout"
    UNKNOWN = "unknown"
    PLAY_PROMPT_COMPLETED = "play_prompt_completed"
    CALL_TERMINATED = "call_terminated"


def _completed(code: int, subcode: int, message: str, reason: str) -> ResultSpec:
    return ResultSpec("completed", code, subcode, message, reason)


def _failed(code: int, subcode: int, message: str, reason: str) -> ResultSpec:
    return ResultSpec("failed", code, subcode, message, reason)


# docs/graph-contract.md §4. completionReason values are the beta recordCompletionReason enum (§3);
# for playPrompt, result_for() swaps in the playPromptCompletionReason values.
RESULTS: Final[Mapping[Ending, ResultSpec]] = MappingProxyType(
    {
        # [V call-record.md notification sample]
        Ending.MAX_RECORD_DURATION: _completed(
            200, 8515, "Action completed, max record duration reached.", "maxRecordDurationReached"
        ),
        # status+reason [V beta call-record.md, comms-samples #376]; code/message [I, ACS 8514]
        Ending.STOP_TONE: _completed(
            200, 8514, "Action completed, stop tone detected.", "stopToneDetected"
        ),
        # recording delivered [V comms-samples #376]; code/message [I, ACS subcode 8509]
        Ending.MAX_SILENCE: _completed(
            200, 8509, "Action completed, max silence timeout reached.", "maxSilenceTimeout"
        ),
        # "fail the operation" [V call-record.md]; 400/8510 + message [I from ACS recognize]
        Ending.INITIAL_SILENCE: _failed(
            400, 8510, "Action failed, initial silence timeout reached.", "initialSilenceTimeout"
        ),
        # [V call-cancelmediaprocessing.md notification sample]; barge-in victims [I]
        Ending.CANCELLED: _failed(
            400, 8508, "Action failed, the operation was cancelled.", "operationCanceled"
        ),
        # [I from ACS recognize/play pages]
        Ending.PROMPT_FAILED: _failed(
            500,
            8511,
            "Action failed, encountered failure while trying to play the prompt.",
            "playPromptFailed",
        ),
        # [I from ACS play page]
        Ending.PROMPT_DOWNLOAD_FAILED: _failed(
            400, 8536, "Action failed, file could not be downloaded.", "playPromptFailed"
        ),
        # [I from ACS play page]
        Ending.PROMPT_FORMAT_INVALID: _failed(
            400, 8535, "Action failed, file format is invalid.", "playPromptFailed"
        ),
        # [I; ACS recognize uses 8512 for "Unknown internal server error" — conflicting]
        Ending.BEEP_FAILED: _failed(
            500, 8512, "Action failed, play beep failed.", "playBeepFailed"
        ),
        # [I from the ACS subcode name]
        Ending.MEDIA_RECEIVE_TIMEOUT: _failed(
            500, 8513, "Action failed, media receive timeout.", "mediaReceiveTimeout"
        ),
        # [I from ACS subcode list, 9999]
        Ending.UNKNOWN: _failed(500, 9999, "Unknown internal server error.", "unspecifiedError"),
        # [V call-playprompt.md notification sample]; reason is the beta enum value
        Ending.PLAY_PROMPT_COMPLETED: _completed(
            200, 0, "Action completed successfully.", "completedSuccessfully"
        ),
        # [I] Optional "deliver on hang-up" mode (docs/graph-contract.md §5.3 item 6): the real
        # service sends nothing; the pre-Graph API called it a success. Subcode 8528 = ACS "Call
        # Terminated"; completionReason "none" is the beta doc's catch-all value.
        Ending.CALL_TERMINATED: _completed(200, 8528, "Action completed, call terminated.", "none"),
    }
)

# Beta playPromptCompletionReason has only unknown / completedSuccessfully /
# mediaOperationCanceled (docs/graph-contract.md §6.5, [V S19]); everything else reads "unknown".
_PLAY_PROMPT_REASONS: Final[Mapping[Ending, str]] = MappingProxyType(
    {
        Ending.PLAY_PROMPT_COMPLETED: "completedSuccessfully",
        Ending.CANCELLED: "mediaOperationCanceled",
        Ending.PROMPT_FAILED: "unknown",
        Ending.PROMPT_DOWNLOAD_FAILED: "unknown",
        Ending.PROMPT_FORMAT_INVALID: "unknown",
        Ending.UNKNOWN: "unknown",
        Ending.CALL_TERMINATED: "unknown",
    }
)

# Endings each operation kind can reach: a playPrompt has no beep, no capture, no timers.
ENDINGS_BY_KIND: Final[Mapping[OperationKind, frozenset[Ending]]] = MappingProxyType(
    {
        "recordResponse": frozenset(Ending) - {Ending.PLAY_PROMPT_COMPLETED},
        "playPrompt": frozenset(_PLAY_PROMPT_REASONS),
    }
)

_DESCRIPTIONS: Final[Mapping[Ending, str]] = MappingProxyType(
    {
        Ending.MAX_RECORD_DURATION: "max record duration reached",
        Ending.STOP_TONE: "stop tone pressed",
        Ending.MAX_SILENCE: "max silence timeout",
        Ending.INITIAL_SILENCE: "initial silence timeout (no speech)",
        Ending.CANCELLED: "cancelled",
        Ending.PROMPT_FAILED: "prompt could not be played",
        Ending.PROMPT_DOWNLOAD_FAILED: "prompt file could not be downloaded",
        Ending.PROMPT_FORMAT_INVALID: "prompt file format invalid",
        Ending.BEEP_FAILED: "beep could not be played",
        Ending.MEDIA_RECEIVE_TIMEOUT: "no media received",
        Ending.UNKNOWN: "internal error",
        Ending.PLAY_PROMPT_COMPLETED: "prompt played",
        Ending.CALL_TERMINATED: "call hung up",
    }
)


def result_for(ending: Ending, kind: OperationKind) -> ResultSpec:
    """The final result of a ``kind`` operation that ended with ``ending``.

    Raises ValueError for an ending the kind cannot reach (a playPrompt has no stop tone).
    """
    if ending not in ENDINGS_BY_KIND[kind]:
        raise ValueError(f"a {kind} operation cannot end with {ending.name}")
    spec = RESULTS[ending]
    if kind == "playPrompt":
        reason = _PLAY_PROMPT_REASONS[ending]
        spec = ResultSpec(spec.status, spec.code, spec.subcode, spec.message, reason)
    return spec


def describe(ending: Ending) -> str:
    """A short human description of ``ending`` for the UI ("stop tone pressed")."""
    return _DESCRIPTIONS[ending]


# ---------------------------------------------------------------------------- call endings


@dataclass(frozen=True)
class CallEndResult:
    """The ``resultInfo`` of a terminated call: why it ended."""

    code: int
    subcode: int
    message: str


class CallEnd(StrEnum):
    """Why a call ended."""

    CALLER_HUNG_UP = "callerHungUp"
    BOT_HUNG_UP = "botHungUp"
    REJECTED = "rejected"
    KEEP_ALIVE_TIMEOUT = "keepAliveTimeout"
    NOT_ANSWERED = "notAnswered"
    SERVICE_STOPPED = "serviceStopped"


# The call's resultInfo in its `deleted`/`terminated` notification. Codes and messages are rows
# of the "Call end reason codes" table of Graph's call-delete page [V]; which row stands for
# which ending is ours [I], except the bot's DELETE, whose sample notification on that page
# carries 200/5001 [V]. None: no resultInfo (a rejected call: the page lists no code for it).
CALL_END_RESULTS: Final[Mapping[CallEnd, CallEndResult | None]] = MappingProxyType(
    {
        # [V sample]
        CallEnd.BOT_HUNG_UP: CallEndResult(200, 5001, "The conversation has ended."),
        # [I] the caller is the other participant of a peer-to-peer call
        CallEnd.CALLER_HUNG_UP: CallEndResult(
            200, 4521, "Call ended by the other participant in peer-to-peer call."
        ),
        # [I] no code listed for a rejected call
        CallEnd.REJECTED: None,
        # [V row] the call timed out without keepAlive (docs/graph-contract.md §9.3)
        CallEnd.KEEP_ALIVE_TIMEOUT: CallEndResult(
            408, 8537, "Keep Alive timeout, cleaned up inactive call."
        ),
        # [I] an incoming call the bot did not answer in time
        CallEnd.NOT_ANSWERED: CallEndResult(
            408,
            1106,
            "An acknowledgement was not received for the call acceptance in the allotted time.",
        ),
        # [I] the endpoint shut down with the call live
        CallEnd.SERVICE_STOPPED: CallEndResult(200, 5001, "The conversation has ended."),
    }
)
