"""The ending -> resultInfo table against docs/graph-contract.md §4, row by row."""

from __future__ import annotations

import pytest

from app.graph.results import (
    CALL_END_RESULTS,
    RESULTS,
    CallEnd,
    Ending,
    ResultSpec,
    describe,
    result_for,
)

# docs/graph-contract.md §4, copied as literals: status, code, subcode, message, completionReason.
SPEC_TABLE: dict[Ending, tuple[str, int, int, str, str]] = {
    Ending.MAX_RECORD_DURATION: (
        "completed",
        200,
        8515,
        "Action completed, max record duration reached.",
        "maxRecordDurationReached",
    ),
    Ending.STOP_TONE: (
        "completed",
        200,
        8514,
        "Action completed, stop tone detected.",
        "stopToneDetected",
    ),
    Ending.MAX_SILENCE: (
        "completed",
        200,
        8509,
        "Action completed, max silence timeout reached.",
        "maxSilenceTimeout",
    ),
    Ending.INITIAL_SILENCE: (
        "failed",
        400,
        8510,
        "Action failed, initial silence timeout reached.",
        "initialSilenceTimeout",
    ),
    Ending.CANCELLED: (
        "failed",
        400,
        8508,
        "Action failed, the operation was cancelled.",
        "operationCanceled",
    ),
    Ending.PROMPT_FAILED: (
        "failed",
        500,
        8511,
        "Action failed, encountered failure while trying to play the prompt.",
        "playPromptFailed",
    ),
    Ending.PROMPT_DOWNLOAD_FAILED: (
        "failed",
        400,
        8536,
        "Action failed, file could not be downloaded.",
        "playPromptFailed",
    ),
    Ending.PROMPT_FORMAT_INVALID: (
        "failed",
        400,
        8535,
        "Action failed, file format is invalid.",
        "playPromptFailed",
    ),
    Ending.BEEP_FAILED: (
        "failed",
        500,
        8512,
        "Action failed, play beep failed.",
        "playBeepFailed",
    ),
    Ending.MEDIA_RECEIVE_TIMEOUT: (
        "failed",
        500,
        8513,
        "Action failed, media receive timeout.",
        "mediaReceiveTimeout",
    ),
    Ending.UNKNOWN: (
        "failed",
        500,
        9999,
        "Unknown internal server error.",
        "unspecifiedError",
    ),
    Ending.PLAY_PROMPT_COMPLETED: (
        "completed",
        200,
        0,
        "Action completed successfully.",
        "completedSuccessfully",
    ),
    # The brief's inferred "deliver on hang-up" row.
    Ending.CALL_TERMINATED: (
        "completed",
        200,
        8528,
        "Action completed, call terminated.",
        "none",
    ),
}

RECORD_ONLY = {
    Ending.MAX_RECORD_DURATION,
    Ending.STOP_TONE,
    Ending.MAX_SILENCE,
    Ending.INITIAL_SILENCE,
    Ending.BEEP_FAILED,
    Ending.MEDIA_RECEIVE_TIMEOUT,
}


def test_table_covers_every_ending() -> None:
    assert set(RESULTS) == set(Ending)
    assert set(SPEC_TABLE) == set(Ending)


@pytest.mark.parametrize("ending", list(Ending), ids=lambda ending: ending.name)
def test_each_ending_has_the_exact_values_of_section_4(ending: Ending) -> None:
    assert RESULTS[ending] == ResultSpec(*SPEC_TABLE[ending])


@pytest.mark.parametrize(
    "ending", sorted(set(Ending) - {Ending.PLAY_PROMPT_COMPLETED}), ids=lambda e: e.name
)
def test_record_response_results_are_the_table_rows(ending: Ending) -> None:
    assert result_for(ending, "recordResponse") == RESULTS[ending]


def test_codes_follow_http_classes_and_status() -> None:
    # docs/graph-contract.md §4: code is 2xx on success, 4xx/5xx on failure.
    for spec in RESULTS.values():
        assert (spec.status == "completed") == (200 <= spec.code < 300)


def test_play_prompt_uses_its_own_completion_reasons() -> None:
    success = result_for(Ending.PLAY_PROMPT_COMPLETED, "playPrompt")
    assert success == ResultSpec(
        "completed", 200, 0, "Action completed successfully.", "completedSuccessfully"
    )
    cancelled = result_for(Ending.CANCELLED, "playPrompt")
    assert cancelled == ResultSpec(
        "failed", 400, 8508, "Action failed, the operation was cancelled.", "mediaOperationCanceled"
    )
    for failure in (Ending.PROMPT_FAILED, Ending.PROMPT_DOWNLOAD_FAILED, Ending.UNKNOWN):
        spec = result_for(failure, "playPrompt")
        assert (spec.status, spec.code, spec.subcode) == SPEC_TABLE[failure][:3]
        assert spec.completion_reason == "unknown"


@pytest.mark.parametrize("ending", sorted(RECORD_ONLY), ids=lambda ending: ending.name)
def test_play_prompt_cannot_reach_record_only_endings(ending: Ending) -> None:
    with pytest.raises(ValueError, match=ending.name):
        result_for(ending, "playPrompt")


def test_record_response_cannot_end_as_a_played_prompt() -> None:
    with pytest.raises(ValueError, match="PLAY_PROMPT_COMPLETED"):
        result_for(Ending.PLAY_PROMPT_COMPLETED, "recordResponse")


def test_descriptions_exist_for_every_ending_and_are_distinct() -> None:
    texts = [describe(ending) for ending in Ending]
    assert all(texts)
    assert len(set(texts)) == len(texts)
    assert describe(Ending.STOP_TONE) == "stop tone pressed"
    assert describe(Ending.MAX_SILENCE) == "max silence timeout"


def test_ending_values_are_strings() -> None:
    assert Ending("stop_tone") is Ending.STOP_TONE
    assert isinstance(Ending.STOP_TONE, str)


def test_call_end_reasons_are_rows_of_the_call_delete_table() -> None:
    """Graph's call-delete page lists these (code, subcode, reason) rows; every CallSim call
    ending uses one of them or none."""
    documented = {
        (200, 4521): "Call ended by the other participant in peer-to-peer call.",
        (200, 5001): "The conversation has ended.",
        (408, 8537): "Keep Alive timeout, cleaned up inactive call.",
        (408, 1106): "An acknowledgement was not received for the call acceptance in the "
        "allotted time.",
    }
    assert set(CALL_END_RESULTS) == set(CallEnd)
    for reason, result in CALL_END_RESULTS.items():
        if result is None:
            assert reason is CallEnd.REJECTED
            continue
        assert documented[(result.code, result.subcode)] == result.message, reason
    bot = CALL_END_RESULTS[CallEnd.BOT_HUNG_UP]
    assert bot is not None and (bot.code, bot.subcode) == (200, 5001)  # the page's own sample
    keep_alive = CALL_END_RESULTS[CallEnd.KEEP_ALIVE_TIMEOUT]
    assert keep_alive is not None and keep_alive.subcode == 8537
