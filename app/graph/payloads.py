"""Builders for the Graph JSON the service sends: operation resources and notifications.

All builders return plain dicts whose key order follows the doc samples in
docs/graph-contract.md (§2 synchronous response, §5.4/§5.5 operation notifications, §8 toneInfo,
§9 playPrompt/cancel), so that serialised output reads like the documentation. Nothing here does
I/O or keeps state.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any, Final, Literal

from app.graph.results import CallEndResult, ResultSpec

OperationStatus = Literal["notStarted", "running", "completed", "failed"]
ChangeType = Literal["created", "updated", "deleted"]

# docs/graph-contract.md §2 Location header
GRAPH_BASE_URL: Final = "https://graph.microsoft.com/v1.0"

RECORD_OPERATION_TYPE: Final = "#microsoft.graph.recordOperation"  # docs/graph-contract.md §2
PLAY_PROMPT_OPERATION_TYPE: Final = "#microsoft.graph.playPromptOperation"  # §9.1
# docs/graph-contract.md §9.2
CANCEL_MEDIA_PROCESSING_OPERATION_TYPE: Final = "#microsoft.graph.cancelMediaProcessingOperation"
SUBSCRIBE_TO_TONE_OPERATION_TYPE: Final = "#microsoft.graph.subscribeToToneOperation"  # §8
RESULT_INFO_TYPE: Final = "#microsoft.graph.resultInfo"  # docs/graph-contract.md §4
NOTIFICATIONS_TYPE: Final = "#microsoft.graph.commsNotifications"  # docs/graph-contract.md §5.1
NOTIFICATION_TYPE: Final = "#microsoft.graph.commsNotification"  # docs/graph-contract.md §5.1
CALL_TYPE: Final = "#microsoft.graph.call"  # docs/graph-contract.md §8
TONE_INFO_TYPE: Final = "#microsoft.graph.toneInfo"  # docs/graph-contract.md §8

_CALLS_PATH: Final = "/communications/calls/"
# Real traffic carries the pre-v1.0 path next to resourceUrl (docs/graph-contract.md §5.1).
_LEGACY_CALLS_PATH: Final = "/app/calls/"

# docs/graph-contract.md §6.4: 0-9 -> tone0-tone9, * -> star, # -> pound, A-D -> a-d (tone enum,
# CSDL).
_TONE_NAMES: Final = {
    **{digit: f"tone{digit}" for digit in "0123456789"},
    "*": "star",
    "#": "pound",
    **{letter: letter.lower() for letter in "ABCD"},
}

# docs/graph-contract.md §3: the CSDL enum is PascalCase, the wire camelCase; accept both.
_STATUSES: Final = {name.lower(): name for name in ("notStarted", "running", "completed", "failed")}

_GUID_HEX = re.compile(r"[0-9a-f]{32}")


def new_id() -> str:
    """A fresh Graph id: uuid4, lower-case with dashes (docs/graph-contract.md §2)."""
    return str(uuid.uuid4())


def ids_equal(a: str, b: str) -> bool:
    """Compare two ids ignoring case, dashes and braces (docs mix both GUID forms, §2)."""
    return canonical_id(a) == canonical_id(b)


def canonical_id(value: str) -> str:
    """A GUID in any common form as lower-case dashed text; other ids just lower-cased."""
    compact = value.strip().strip("{}").replace("-", "").lower()
    if _GUID_HEX.fullmatch(compact):
        return str(uuid.UUID(hex=compact))
    return value.strip().lower()


def tone_name(key: str) -> str:
    """The ``toneInfo.tone`` value for a DTMF key: "1" -> "tone1", "*" -> "star" (§6.4)."""
    # Lower-case a-d is accepted: toneInfo itself names those keys in lower case.
    name = _TONE_NAMES.get(key.upper() if key in ("a", "b", "c", "d") else key)
    if name is None:
        raise ValueError(f"not a DTMF key: {key!r} (expected one of 0-9, *, #, A-D)")
    return name


def parse_operation_status(value: str) -> str:
    """An operationStatus in either casing ("NotStarted", "running") as camelCase (§3)."""
    status = _STATUSES.get(value.lower())
    if status is None:
        raise ValueError(
            f"not an operationStatus: {value!r} (expected notStarted, running, completed, failed)"
        )
    return status


def operation_path(call_id: str, operation_id: str) -> str:
    """The operation's resource path: ``/communications/calls/{call}/operations/{op}``."""
    return f"{call_path(call_id)}/operations/{operation_id}"


def call_path(call_id: str) -> str:
    """The call's resource path: ``/communications/calls/{call}``."""
    return f"{_CALLS_PATH}{call_id}"


def operation_location(base_url: str, call_id: str, operation_id: str) -> str:
    """The Location header value: ``{base_url}/communications/calls/{call}/operations/{op}``."""
    return base_url.rstrip("/") + operation_path(call_id, operation_id)


def result_info(result: ResultSpec | CallEndResult) -> dict[str, Any]:
    """The ``resultInfo`` object for ``result`` (docs/graph-contract.md §4; a call's end reason)."""
    return {
        "@odata.type": RESULT_INFO_TYPE,
        "code": result.code,
        "subcode": result.subcode,
        "message": result.message,
    }


def _notification_head(
    odata_type: str, call_id: str | None, operation_id: str, etag: str | None
) -> dict[str, Any]:
    if call_id is None:
        raise ValueError("call_id is required for the notification shape (@odata.id)")
    head: dict[str, Any] = {
        "@odata.type": odata_type,
        "@odata.id": operation_path(call_id, operation_id),
    }
    if etag is not None:
        head["@odata.etag"] = etag
    return head


def record_operation(
    *,
    operation_id: str,
    status: OperationStatus,
    client_context: str | None,
    result: ResultSpec | None,
    recording_location: str | None,
    recording_access_token: str | None,
    for_notification: bool = False,
    call_id: str | None = None,
    etag: str | None = None,
) -> dict[str, Any]:
    """A ``recordOperation`` resource, as a sync response (§2) or a notification's data (§5.4).

    The sync shape omits ``recordingAccessToken`` while it is None (§2). The notification
    shape adds ``@odata.id`` (needs ``call_id``), ``@odata.etag`` when given, and
    ``completionReason``; a failed result without a recording gets ``""`` for location and
    token, as the documented cancel payload does (§5.5, §9.2).
    """
    result_json = None if result is None else result_info(result)
    if not for_notification:
        body: dict[str, Any] = {
            "@odata.type": RECORD_OPERATION_TYPE,
            "id": operation_id,
            "status": status,
            "resultInfo": result_json,
            "recordingLocation": recording_location,
        }
        if recording_access_token is not None:
            body["recordingAccessToken"] = recording_access_token
        body["clientContext"] = client_context
        return body

    if result is not None and result.status == "failed":
        recording_location = "" if recording_location is None else recording_location
        recording_access_token = "" if recording_access_token is None else recording_access_token
    data = _notification_head(RECORD_OPERATION_TYPE, call_id, operation_id, etag)
    data["id"] = operation_id
    data["clientContext"] = client_context
    data["status"] = status
    data["resultInfo"] = result_json
    data["recordingLocation"] = recording_location
    data["recordingAccessToken"] = recording_access_token
    if result is not None:
        data["completionReason"] = result.completion_reason
    return data


def play_prompt_operation(
    *,
    operation_id: str,
    status: OperationStatus,
    client_context: str | None,
    result: ResultSpec | None = None,
    for_notification: bool = False,
    call_id: str | None = None,
    etag: str | None = None,
) -> dict[str, Any]:
    """A ``playPromptOperation``, as a sync response (§9.1) or a notification's data.

    The notification shape follows the record one (``id``, ``resultInfo``,
    ``completionReason`` from the beta playPrompt enum), since the playPrompt doc sample is
    "shortened for readability".
    """
    if not for_notification:
        body: dict[str, Any] = {
            "@odata.type": PLAY_PROMPT_OPERATION_TYPE,
            "id": operation_id,
            "status": status,
            "clientContext": client_context,
        }
        if result is not None:
            body["resultInfo"] = result_info(result)
        return body

    data = _notification_head(PLAY_PROMPT_OPERATION_TYPE, call_id, operation_id, etag)
    data["id"] = operation_id
    data["clientContext"] = client_context
    data["status"] = status
    data["resultInfo"] = None if result is None else result_info(result)
    if result is not None:
        data["completionReason"] = result.completion_reason
    return data


def subscribe_to_tone_operation(*, operation_id: str, client_context: str | None) -> dict[str, Any]:
    """The sync response of subscribeToTone: already ``completed``, no notification follows (§8)."""
    return {
        "@odata.type": SUBSCRIBE_TO_TONE_OPERATION_TYPE,
        "clientContext": client_context,
        "id": operation_id,
        "status": "completed",
    }


def cancel_media_processing_operation(
    *, operation_id: str, client_context: str | None
) -> dict[str, Any]:
    """The sync response of cancelMediaProcessing: already ``completed`` (§9.2)."""
    return {
        "@odata.type": CANCEL_MEDIA_PROCESSING_OPERATION_TYPE,
        "status": "completed",
        "clientContext": client_context,
        "id": operation_id,
    }


def legacy_resource_path(resource_url: str) -> str:
    """The ``/app/calls/...`` form real notifications carry next to ``resourceUrl`` (§5.1)."""
    if resource_url.startswith(_CALLS_PATH):
        return _LEGACY_CALLS_PATH + resource_url[len(_CALLS_PATH) :]
    return resource_url


def notification(
    *,
    change_type: ChangeType,
    resource_url: str,
    resource_data: dict[str, Any],
    legacy_resource: bool = True,
) -> dict[str, Any]:
    """One ``commsNotification``; ``legacy_resource`` adds the ``/app/calls/...`` path (§5.1)."""
    item: dict[str, Any] = {"@odata.type": NOTIFICATION_TYPE, "changeType": change_type}
    if legacy_resource:
        item["resource"] = legacy_resource_path(resource_url)
    item["resourceUrl"] = resource_url
    item["resourceData"] = resource_data
    return item


def notifications_envelope(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The ``commsNotifications`` envelope POSTed to the callbackUri (§5.1)."""
    return {"@odata.type": NOTIFICATIONS_TYPE, "value": list(items)}


def operation_deleted(
    call_id: str, operation_resource: dict[str, Any], *, legacy_resource: bool = True
) -> dict[str, Any]:
    """The envelope announcing that an operation reached its final state (§5.2, §5.4)."""
    resource_url = operation_path(call_id, str(operation_resource["id"]))
    return notifications_envelope(
        [
            notification(
                change_type="deleted",
                resource_url=resource_url,
                resource_data=operation_resource,
                legacy_resource=legacy_resource,
            )
        ]
    )


def tone_updated(
    call_id: str,
    sequence_id: int,
    key: str,
    state: str = "established",
    *,
    legacy_resource: bool = True,
) -> dict[str, Any]:
    """The envelope reporting one key press to a tone subscriber (§8)."""
    call = {
        "@odata.type": CALL_TYPE,
        "state": state,
        "toneInfo": {
            "@odata.type": TONE_INFO_TYPE,
            "sequenceId": sequence_id,
            "tone": tone_name(key),
        },
    }
    return call_state_changed(call_id, "updated", call, legacy_resource=legacy_resource)


def call_resource(
    *,
    call_id: str,
    state: str,
    callback_uri: str | None = None,
    result: ResultSpec | CallEndResult | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A ``call`` resource; ``extra`` adds further properties verbatim (JSON names)."""
    call: dict[str, Any] = {"@odata.type": CALL_TYPE, "id": call_id, "state": state}
    if callback_uri is not None:
        call["callbackUri"] = callback_uri
    if result is not None:
        call["resultInfo"] = result_info(result)
    call.update(extra)
    return call


def call_state_changed(
    call_id: str,
    change_type: ChangeType,
    call: dict[str, Any],
    *,
    legacy_resource: bool = True,
) -> dict[str, Any]:
    """The envelope for a change of the call itself (created, updated, deleted; §5.2)."""
    return notifications_envelope(
        [
            notification(
                change_type=change_type,
                resource_url=call_path(call_id),
                resource_data=call,
                legacy_resource=legacy_resource,
            )
        ]
    )


def participant_info(
    *, display_name: str, phone: str, language_id: str = "en-US"
) -> dict[str, Any]:
    """A PSTN caller as an incoming call's ``source`` (participantInfo, phone identity)."""
    return {
        "@odata.type": "#microsoft.graph.participantInfo",
        "identity": {
            "@odata.type": "#microsoft.graph.identitySet",
            "phone": {
                "@odata.type": "#microsoft.graph.identity",
                "id": phone,
                "displayName": display_name,
            },
        },
        "languageId": language_id,
    }
