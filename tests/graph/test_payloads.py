"""Payload builders against the doc samples in docs/graph-contract.md (§2, §5.4, §5.5, §8, §9)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest

from app.graph import payloads
from app.graph.payloads import (
    GRAPH_BASE_URL,
    call_resource,
    call_state_changed,
    cancel_media_processing_operation,
    canonical_id,
    ids_equal,
    legacy_resource_path,
    new_id,
    notification,
    notifications_envelope,
    operation_deleted,
    operation_location,
    operation_path,
    parse_operation_status,
    play_prompt_operation,
    record_operation,
    subscribe_to_tone_operation,
    tone_name,
    tone_updated,
)
from app.graph.results import Ending, result_for

CALL_ID = "57dab8b1-894c-409a-b240-bd8beae78896"
OP_ID = "0fe0623f-d628-42ed-b4bd-8ac290072cc5"
CONTEXT = "d45324c1-fcb5-430a-902c-f20af696537c"

# docs/graph-contract.md §2: Location header and body of the synchronous recordResponse reply.
SAMPLE_LOCATION = (
    "https://graph.microsoft.com/v1.0/communications/calls/"
    "57dab8b1-894c-409a-b240-bd8beae78896/operations/0fe0623f-d628-42ed-b4bd-8ac290072cc5"
)
SAMPLE_SYNC_RECORD: dict[str, Any] = {
    "@odata.type": "#microsoft.graph.recordOperation",
    "id": "0fe0623f-d628-42ed-b4bd-8ac290072cc5",
    "status": "running",
    "resultInfo": None,
    "recordingLocation": None,
    "clientContext": "d45324c1-fcb5-430a-902c-f20af696537c",
}

# docs/graph-contract.md §5.4: completed notification (max duration).
SAMPLE_COMPLETED: dict[str, Any] = {
    "@odata.type": "#microsoft.graph.commsNotifications",
    "value": [
        {
            "@odata.type": "#microsoft.graph.commsNotification",
            "changeType": "deleted",
            "resource": "/app/calls/57dab8b1-894c-409a-b240-bd8beae78896/operations/0fe0623f-d628-42ed-b4bd-8ac290072cc5",  # noqa: E501 (doc sample, verbatim)
            "resourceUrl": "/communications/calls/57dab8b1-894c-409a-b240-bd8beae78896/operations/0fe0623f-d628-42ed-b4bd-8ac290072cc5",  # noqa: E501 (doc sample, verbatim)
            "resourceData": {
                "@odata.type": "#microsoft.graph.recordOperation",
                "@odata.id": "/communications/calls/57dab8b1-894c-409a-b240-bd8beae78896/operations/0fe0623f-d628-42ed-b4bd-8ac290072cc5",  # noqa: E501 (doc sample, verbatim)
                "@odata.etag": 'W/"54451"',
                "id": "0fe0623f-d628-42ed-b4bd-8ac290072cc5",
                "clientContext": "d45324c1-fcb5-430a-902c-f20af696537c",
                "status": "completed",
                "resultInfo": {
                    "@odata.type": "#microsoft.graph.resultInfo",
                    "code": 200,
                    "subcode": 8515,
                    "message": "Action completed, max record duration reached.",
                },
                "recordingLocation": "https://file.location/17e3b46c-f61d-4f4d-9635-c626ef18e6ad",
                "recordingAccessToken": "<access-token>",
                "completionReason": "maxRecordDurationReached",
            },
        }
    ],
}

# docs/graph-contract.md §5.5: failed notification (initial silence timeout).
SAMPLE_FAILED: dict[str, Any] = {
    "@odata.type": "#microsoft.graph.commsNotifications",
    "value": [
        {
            "@odata.type": "#microsoft.graph.commsNotification",
            "changeType": "deleted",
            "resourceUrl": "/communications/calls/57dab8b1-894c-409a-b240-bd8beae78896/operations/6c2a9f0e-1b7d-4f43-9a51-0c7e2d8b9a10",  # noqa: E501 (doc sample, verbatim)
            "resourceData": {
                "@odata.type": "#microsoft.graph.recordOperation",
                "@odata.id": "/communications/calls/57dab8b1-894c-409a-b240-bd8beae78896/operations/6c2a9f0e-1b7d-4f43-9a51-0c7e2d8b9a10",  # noqa: E501 (doc sample, verbatim)
                "id": "6c2a9f0e-1b7d-4f43-9a51-0c7e2d8b9a10",
                "clientContext": "ivr-step-3",
                "status": "failed",
                "resultInfo": {
                    "@odata.type": "#microsoft.graph.resultInfo",
                    "code": 400,
                    "subcode": 8510,
                    "message": "Action failed, initial silence timeout reached.",
                },
                "recordingLocation": "",
                "recordingAccessToken": "",
                "completionReason": "initialSilenceTimeout",
            },
        }
    ],
}

# docs/graph-contract.md §8: toneInfo notification.
SAMPLE_TONE: dict[str, Any] = {
    "@odata.type": "#microsoft.graph.commsNotifications",
    "value": [
        {
            "@odata.type": "#microsoft.graph.commsNotification",
            "changeType": "updated",
            "resourceUrl": "/communications/calls/57dab8b1-894c-409a-b240-bd8beae78896",
            "resourceData": {
                "@odata.type": "#microsoft.graph.call",
                "state": "established",
                "toneInfo": {
                    "@odata.type": "#microsoft.graph.toneInfo",
                    "sequenceId": 1,
                    "tone": "tone1",
                },
            },
        }
    ],
}

# docs/graph-contract.md §9.1 / call-playprompt.md: synchronous playPrompt reply.
SAMPLE_SYNC_PLAY: dict[str, Any] = {
    "@odata.type": "#microsoft.graph.playPromptOperation",
    "id": "0fe0623f-d628-42ed-b4bd-8ac290072cc5",
    "status": "running",
    "clientContext": "d45324c1-fcb5-430a-902c-f20af696537c",
}

# call-playprompt.md completion notification's resourceData ("shortened for readability").
SAMPLE_PLAY_DONE_DATA: dict[str, Any] = {
    "@odata.type": "#microsoft.graph.playPromptOperation",
    "@odata.id": "/communications/calls/57dab8b1-894c-409a-b240-bd8beae78896/operations/0fe0623f-d628-42ed-b4bd-8ac290072cc5",  # noqa: E501 (doc sample, verbatim)
    "@odata.etag": 'W/"54451"',
    "resultInfo": {
        "@odata.type": "#microsoft.graph.resultInfo",
        "code": 200,
        "subcode": 0,
        "message": "Action completed successfully.",
    },
    "clientContext": "d45324c1-fcb5-430a-902c-f20af696537c",
    "status": "completed",
}

# docs/graph-contract.md §9.2 / call-cancelmediaprocessing.md: synchronous reply.
SAMPLE_SYNC_CANCEL: dict[str, Any] = {
    "@odata.type": "#microsoft.graph.cancelMediaProcessingOperation",
    "status": "completed",
    "clientContext": "d45324c1-fcb5-430a-902c-f20af696537c",
    "id": "0fe0623f-d628-42ed-b4bd-8ac290072cc5",
}

# call-cancelmediaprocessing.md: the cancelled recordOperation's resourceData.
SAMPLE_CANCELLED_DATA: dict[str, Any] = {
    "@odata.type": "#microsoft.graph.recordOperation",
    "@odata.id": "/communications/calls/57dab8b1-894c-409a-b240-bd8beae78896/operations/0fe0623f-d628-42ed-b4bd-8ac290072cc5",  # noqa: E501 (doc sample, verbatim)
    "@odata.etag": 'W/"54451"',
    "id": "0fe0623f-d628-42ed-b4bd-8ac290072cc5",
    "clientContext": "d45324c1-fcb5-430a-902c-f20af696537c",
    "status": "failed",
    "resultInfo": {
        "@odata.type": "#microsoft.graph.resultInfo",
        "code": 400,
        "subcode": 8508,
        "message": "Action failed, the operation was cancelled.",
    },
    "recordingLocation": "",
    "recordingAccessToken": "",
    "completionReason": "operationCanceled",
}

# docs/graph-contract.md §8 / call-subscribetotone.md: synchronous reply.
SAMPLE_SYNC_SUBSCRIBE: dict[str, Any] = {
    "@odata.type": "#microsoft.graph.subscribeToToneOperation",
    "clientContext": "clientContext-value",
    "id": "0fe0623f-d628-42ed-b4bd-8ac290072cc5",
    "status": "completed",
}


def assert_same_json(built: Any, sample: Any) -> None:
    """Equal as JSON values and in key order at every level."""
    assert built == sample
    assert json.dumps(built) == json.dumps(sample)


# --- doc samples ----------------------------------------------------------------------------


def test_sync_record_response_matches_section_2() -> None:
    body = record_operation(
        operation_id=OP_ID,
        status="running",
        client_context=CONTEXT,
        result=None,
        recording_location=None,
        recording_access_token=None,
    )
    assert_same_json(body, SAMPLE_SYNC_RECORD)
    assert operation_location(GRAPH_BASE_URL, CALL_ID, OP_ID) == SAMPLE_LOCATION


def test_completed_notification_matches_section_5_4() -> None:
    data = record_operation(
        operation_id=OP_ID,
        status="completed",
        client_context=CONTEXT,
        result=result_for(Ending.MAX_RECORD_DURATION, "recordResponse"),
        recording_location="https://file.location/17e3b46c-f61d-4f4d-9635-c626ef18e6ad",
        recording_access_token="<access-token>",
        for_notification=True,
        call_id=CALL_ID,
        etag='W/"54451"',
    )
    assert_same_json(operation_deleted(CALL_ID, data), SAMPLE_COMPLETED)


def test_failed_notification_matches_section_5_5() -> None:
    op_id = "6c2a9f0e-1b7d-4f43-9a51-0c7e2d8b9a10"
    data = record_operation(
        operation_id=op_id,
        status="failed",
        client_context="ivr-step-3",
        result=result_for(Ending.INITIAL_SILENCE, "recordResponse"),
        recording_location=None,
        recording_access_token=None,
        for_notification=True,
        call_id=CALL_ID,
    )
    envelope = operation_deleted(CALL_ID, data, legacy_resource=False)
    assert_same_json(envelope, SAMPLE_FAILED)


def test_tone_notification_matches_section_8() -> None:
    assert_same_json(tone_updated(CALL_ID, 1, "1", legacy_resource=False), SAMPLE_TONE)


def test_tone_notification_carries_legacy_resource_by_default() -> None:
    item = tone_updated(CALL_ID, 7, "#")["value"][0]
    assert item["resource"] == f"/app/calls/{CALL_ID}"
    assert list(item) == ["@odata.type", "changeType", "resource", "resourceUrl", "resourceData"]
    assert item["resourceData"]["toneInfo"] == {
        "@odata.type": "#microsoft.graph.toneInfo",
        "sequenceId": 7,
        "tone": "pound",
    }


def test_sync_play_prompt_matches_section_9_1() -> None:
    body = play_prompt_operation(operation_id=OP_ID, status="running", client_context=CONTEXT)
    assert_same_json(body, SAMPLE_SYNC_PLAY)


def test_play_prompt_notification_contains_the_doc_sample() -> None:
    data = play_prompt_operation(
        operation_id=OP_ID,
        status="completed",
        client_context=CONTEXT,
        result=result_for(Ending.PLAY_PROMPT_COMPLETED, "playPrompt"),
        for_notification=True,
        call_id=CALL_ID,
        etag='W/"54451"',
    )
    # The doc sample is shortened; ours adds the id and the beta completionReason.
    assert {key: data[key] for key in SAMPLE_PLAY_DONE_DATA} == SAMPLE_PLAY_DONE_DATA
    assert set(data) - set(SAMPLE_PLAY_DONE_DATA) == {"id", "completionReason"}
    assert data["id"] == OP_ID
    assert data["completionReason"] == "completedSuccessfully"


def test_cancelled_play_prompt_notification_reason() -> None:
    data = play_prompt_operation(
        operation_id=OP_ID,
        status="failed",
        client_context=None,
        result=result_for(Ending.CANCELLED, "playPrompt"),
        for_notification=True,
        call_id=CALL_ID,
    )
    assert data["completionReason"] == "mediaOperationCanceled"
    assert data["resultInfo"]["subcode"] == 8508
    assert data["clientContext"] is None


def test_sync_cancel_matches_section_9_2() -> None:
    body = cancel_media_processing_operation(operation_id=OP_ID, client_context=CONTEXT)
    assert_same_json(body, SAMPLE_SYNC_CANCEL)


def test_cancelled_record_notification_matches_the_cancel_doc_sample() -> None:
    data = record_operation(
        operation_id=OP_ID,
        status="failed",
        client_context=CONTEXT,
        result=result_for(Ending.CANCELLED, "recordResponse"),
        recording_location=None,
        recording_access_token=None,
        for_notification=True,
        call_id=CALL_ID,
        etag='W/"54451"',
    )
    assert_same_json(data, SAMPLE_CANCELLED_DATA)
    # The doc writes the ids in resourceUrl upper case without dashes; they are the same ids.
    doc_url = "/communications/calls/57DAB8B1894C409AB240BD8BEAE78896/operations/0FE0623FD62842EDB4BD8AC290072CC5"  # noqa: E501 (doc sample, verbatim)
    _, _, doc_call, _, doc_op = doc_url.strip("/").split("/")
    assert ids_equal(doc_call, CALL_ID)
    assert ids_equal(doc_op, OP_ID)


def test_sync_subscribe_matches_section_8() -> None:
    body = subscribe_to_tone_operation(operation_id=OP_ID, client_context="clientContext-value")
    assert_same_json(body, SAMPLE_SYNC_SUBSCRIBE)


# --- record_operation details ---------------------------------------------------------------


def test_failed_result_keeps_a_given_location() -> None:
    data = record_operation(
        operation_id=OP_ID,
        status="failed",
        client_context=None,
        result=result_for(Ending.UNKNOWN, "recordResponse"),
        recording_location="https://x/partial",
        recording_access_token="t",
        for_notification=True,
        call_id=CALL_ID,
    )
    assert (data["recordingLocation"], data["recordingAccessToken"]) == ("https://x/partial", "t")
    assert "@odata.etag" not in data


def test_completed_result_without_location_stays_null() -> None:
    data = record_operation(
        operation_id=OP_ID,
        status="completed",
        client_context="c",
        result=result_for(Ending.STOP_TONE, "recordResponse"),
        recording_location=None,
        recording_access_token=None,
        for_notification=True,
        call_id=CALL_ID,
    )
    assert data["recordingLocation"] is None
    assert data["completionReason"] == "stopToneDetected"


def test_sync_shape_adds_the_token_only_when_known() -> None:
    body = record_operation(
        operation_id=OP_ID,
        status="notStarted",
        client_context=None,
        result=None,
        recording_location=None,
        recording_access_token="tok",
    )
    assert list(body) == [
        "@odata.type",
        "id",
        "status",
        "resultInfo",
        "recordingLocation",
        "recordingAccessToken",
        "clientContext",
    ]
    assert body["status"] == "notStarted"
    assert body["clientContext"] is None


def test_notification_shape_needs_the_call_id() -> None:
    with pytest.raises(ValueError, match="call_id"):
        record_operation(
            operation_id=OP_ID,
            status="completed",
            client_context=None,
            result=None,
            recording_location=None,
            recording_access_token=None,
            for_notification=True,
        )
    with pytest.raises(ValueError, match="call_id"):
        play_prompt_operation(
            operation_id=OP_ID, status="completed", client_context=None, for_notification=True
        )


# --- notifications and call resources --------------------------------------------------------


def test_notification_and_envelope_shape() -> None:
    item = notification(
        change_type="updated",
        resource_url=f"/communications/calls/{CALL_ID}",
        resource_data={"state": "established"},
    )
    assert item == {
        "@odata.type": "#microsoft.graph.commsNotification",
        "changeType": "updated",
        "resource": f"/app/calls/{CALL_ID}",
        "resourceUrl": f"/communications/calls/{CALL_ID}",
        "resourceData": {"state": "established"},
    }
    envelope = notifications_envelope((item, item))
    assert envelope == {"@odata.type": "#microsoft.graph.commsNotifications", "value": [item, item]}
    assert "resource" not in notification(
        change_type="created", resource_url="/x", resource_data={}, legacy_resource=False
    )


def test_legacy_resource_path_only_rewrites_the_calls_prefix() -> None:
    assert legacy_resource_path(operation_path(CALL_ID, OP_ID)) == (
        f"/app/calls/{CALL_ID}/operations/{OP_ID}"
    )
    assert legacy_resource_path("/communications/onlineMeetings/1") == (
        "/communications/onlineMeetings/1"
    )


def test_call_resource_and_state_change_envelope() -> None:
    call = call_resource(
        call_id=CALL_ID,
        state="terminated",
        callback_uri="https://bot.contoso.com/api/calls",
        result=result_for(Ending.CALL_TERMINATED, "recordResponse"),
        direction="incoming",
    )
    assert call == {
        "@odata.type": "#microsoft.graph.call",
        "id": CALL_ID,
        "state": "terminated",
        "callbackUri": "https://bot.contoso.com/api/calls",
        "resultInfo": {
            "@odata.type": "#microsoft.graph.resultInfo",
            "code": 200,
            "subcode": 8528,
            "message": "Action completed, call terminated.",
        },
        "direction": "incoming",
    }
    assert call_resource(call_id=CALL_ID, state="established") == {
        "@odata.type": "#microsoft.graph.call",
        "id": CALL_ID,
        "state": "established",
    }
    envelope = call_state_changed(CALL_ID, "deleted", call)
    (item,) = envelope["value"]
    assert item["changeType"] == "deleted"
    assert item["resourceUrl"] == f"/communications/calls/{CALL_ID}"
    assert item["resource"] == f"/app/calls/{CALL_ID}"
    assert item["resourceData"] is call


def test_operation_deleted_takes_the_id_from_the_resource() -> None:
    other = "11111111-2222-4333-8444-555555555555"
    envelope = operation_deleted(CALL_ID, {"id": other, "status": "completed"})
    (item,) = envelope["value"]
    assert item["changeType"] == "deleted"
    assert item["resourceUrl"] == f"/communications/calls/{CALL_ID}/operations/{other}"


# --- small helpers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "name"),
    [
        *[(digit, f"tone{digit}") for digit in "0123456789"],
        ("*", "star"),
        ("#", "pound"),
        ("A", "a"),
        ("B", "b"),
        ("C", "c"),
        ("D", "d"),
        ("a", "a"),
        ("d", "d"),
    ],
)
def test_tone_name_maps_every_dtmf_key(key: str, name: str) -> None:
    assert tone_name(key) == name


@pytest.mark.parametrize("key", ["", "E", "e", "11", "ab", "tone1", "flash", " ", "pound"])
def test_tone_name_refuses_non_keys(key: str) -> None:
    with pytest.raises(ValueError, match="DTMF key"):
        tone_name(key)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("NotStarted", "notStarted"),
        ("notStarted", "notStarted"),
        ("Running", "running"),
        ("running", "running"),
        ("Completed", "completed"),
        ("completed", "completed"),
        ("Failed", "failed"),
        ("failed", "failed"),
    ],
)
def test_parse_operation_status_accepts_both_casings(value: str, expected: str) -> None:
    assert parse_operation_status(value) == expected


@pytest.mark.parametrize("value", ["", "done", "not_started", "cancelled"])
def test_parse_operation_status_refuses_other_values(value: str) -> None:
    with pytest.raises(ValueError, match="operationStatus"):
        parse_operation_status(value)


def test_ids_compare_ignoring_case_dashes_and_braces() -> None:
    assert ids_equal(CALL_ID, "57DAB8B1894C409AB240BD8BEAE78896")
    assert ids_equal(CALL_ID, "{57DAB8B1-894C-409A-B240-BD8BEAE78896}")
    assert ids_equal("ABC", "abc")
    assert not ids_equal(CALL_ID, OP_ID)
    assert not ids_equal(CALL_ID, CALL_ID[:-1] + "7")
    assert canonical_id("57DAB8B1894C409AB240BD8BEAE78896") == CALL_ID
    assert canonical_id(" Some-Id ") == "some-id"


def test_new_id_is_a_fresh_lower_case_dashed_uuid4() -> None:
    ids = {new_id() for _ in range(50)}
    assert len(ids) == 50
    pattern = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
    for value in ids:
        assert pattern.fullmatch(value)
        assert uuid.UUID(value).version == 4


def test_operation_location_tolerates_a_trailing_slash() -> None:
    assert operation_location(GRAPH_BASE_URL + "/", CALL_ID, OP_ID) == SAMPLE_LOCATION
    assert operation_location("http://127.0.0.1:8080/beta", "c", "o") == (
        "http://127.0.0.1:8080/beta/communications/calls/c/operations/o"
    )


def test_result_info_shape() -> None:
    info = payloads.result_info(result_for(Ending.STOP_TONE, "recordResponse"))
    assert_same_json(
        info,
        {
            "@odata.type": "#microsoft.graph.resultInfo",
            "code": 200,
            "subcode": 8514,
            "message": "Action completed, stop tone detected.",
        },
    )
