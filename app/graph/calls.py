"""Bodies of the call-level requests: create call, answer, reject (pure Python, Graph JSON in).

The media actions (recordResponse, playPrompt, ...) are parsed by ``app.graph.requests``; the
call-level requests the local endpoint also needs are parsed here with the same conventions:
every problem is a ``GraphError`` 400 whose message names the field and the rule.

Choices where the Graph docs leave room (README "Local Graph endpoint", fidelity notes):

- ``callbackUri`` may be ``http`` as well as ``https`` (the service demands https; a local bot
  under development rarely has a certificate).
- CallSim simulates audio calls only: ``requestedModalities`` / ``acceptedModalities`` must
  include ``audio``. Modality names are matched case-insensitively and given back in the
  documented camelCase.
- ``mediaConfig`` must name its concrete type (``mediaConfig`` is abstract in the CSDL):
  ``#microsoft.graph.serviceHostedMediaConfig`` or ``#microsoft.graph.appHostedMediaConfig``.
  An app-hosted call is accepted, but its media actions are refused later
  (docs/graph-contract.md §0).
- A create-call body is a whole ``call`` resource, so unknown properties are ignored (SDKs
  serialise many nulls); answer and reject are actions with fixed parameters, so an unknown
  parameter is refused, as the media actions do.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from app.graph.errors import bad_request

MediaMode = Literal["serviceHosted", "appHosted"]

CALL_TYPE: Final = "#microsoft.graph.call"  # application-post-calls.md request sample
# docs/graph-contract.md §0
SERVICE_HOSTED_MEDIA_TYPE: Final = "#microsoft.graph.serviceHostedMediaConfig"
APP_HOSTED_MEDIA_TYPE: Final = "#microsoft.graph.appHostedMediaConfig"  # docs/graph-contract.md §0
_MEDIA_TYPES: Final[dict[str, MediaMode]] = {
    SERVICE_HOSTED_MEDIA_TYPE.lower(): "serviceHosted",
    APP_HOSTED_MEDIA_TYPE.lower(): "appHosted",
}
# call resource, requestedModalities: "unknown, audio, video, videoBasedScreenSharing, data".
MODALITIES: Final = ("unknown", "audio", "video", "videoBasedScreenSharing", "data")
_MODALITY_NAMES: Final = {name.lower(): name for name in MODALITIES}
# call-reject.md: "Possible values are None, Busy and Forbidden" (the sample sends "busy").
REJECT_REASONS: Final = ("none", "busy", "forbidden")

_ANSWER_PROPS: Final = (
    "callbackUri",
    "acceptedModalities",
    "mediaConfig",
    "callOptions",
    "participantCapacity",
)
_REJECT_PROPS: Final = ("reason", "callbackUri")
_ECHOED_CALL_PROPS: Final = (
    "source",
    "targets",
    "tenantId",
    "subject",
    "callOptions",
    "chatInfo",
    "meetingInfo",
)


@dataclass(frozen=True)
class MediaConfig:
    """The call's media configuration: its mode and the JSON the bot sent (echoed back)."""

    mode: MediaMode
    json: dict[str, Any] = field(compare=False)


@dataclass(frozen=True)
class CreateCallRequest:
    """``POST /communications/calls``: what the bot asked for, checked."""

    callback_uri: str
    requested_modalities: tuple[str, ...]
    media_config: MediaConfig
    # Properties echoed back in the call resource (source, targets, tenantId, ...), as sent.
    echoed: dict[str, Any] = field(compare=False, default_factory=dict)


@dataclass(frozen=True)
class AnswerRequest:
    """``POST /communications/calls/{id}/answer``."""

    accepted_modalities: tuple[str, ...]
    media_config: MediaConfig
    callback_uri: str | None = None


@dataclass(frozen=True)
class RejectRequest:
    """``POST /communications/calls/{id}/reject``; ``reason`` in lower case."""

    reason: str = "none"
    callback_uri: str | None = None


def _is_annotation(name: str) -> bool:
    # OData instance/property annotations ("@odata.type", "x@odata.type") are metadata.
    at = name.find("@")
    return at >= 0 and "." in name[at + 1 :]


def _object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise bad_request(f"{where} must be a JSON object.")
    return value


def _strict(props: Mapping[str, Any], where: str, allowed: tuple[str, ...]) -> None:
    for key in props:
        if _is_annotation(key) or key in allowed:
            continue
        hint = next((name for name in allowed if name.lower() == key.lower()), None)
        did_you_mean = f" (did you mean '{hint}'? names are case-sensitive)" if hint else ""
        raise bad_request(
            f"Unknown property '{key[:80]}' in {where}{did_you_mean}; "
            f"allowed properties are: {', '.join(sorted(allowed))}."
        )


def check_url(value: object, name: str) -> str:
    """``value`` if it is an absolute http(s) URL, else a 400 naming ``name``."""
    rule = f"{name} must be an absolute http or https URL."
    if not isinstance(value, str):
        raise bad_request(rule)
    try:
        parsed = urllib.parse.urlsplit(value)
        parsed.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise bad_request(rule) from None
    if parsed.scheme.lower() not in ("http", "https") or not parsed.hostname:
        raise bad_request(rule)
    return value


def _modalities(value: object, name: str) -> tuple[str, ...]:
    rule = (
        f"{name} must be a non-empty array of modalities ({', '.join(MODALITIES)}) "
        "that includes audio."
    )
    if not isinstance(value, list) or not value:
        raise bad_request(rule)
    out: list[str] = []
    for item in value:
        canonical = _MODALITY_NAMES.get(item.lower()) if isinstance(item, str) else None
        if canonical is None:
            raise bad_request(rule)
        if canonical not in out:
            out.append(canonical)
    if "audio" not in out:
        raise bad_request(f"{rule} CallSim simulates audio calls only.")
    return tuple(out)


def _media_config(value: object) -> MediaConfig:
    rule = (
        "mediaConfig is required: an object whose @odata.type is "
        f"{SERVICE_HOSTED_MEDIA_TYPE} or {APP_HOSTED_MEDIA_TYPE}."
    )
    if not isinstance(value, Mapping):
        raise bad_request(rule)
    odata_type = value.get("@odata.type")
    mode = _MEDIA_TYPES.get(odata_type.lower()) if isinstance(odata_type, str) else None
    if mode is None:
        raise bad_request(rule)
    return MediaConfig(mode, dict(value))


def parse_create_call(body: object) -> CreateCallRequest:
    """Check a create-call body (docs/graph-contract.md §0; application-post-calls.md)."""
    props = _object(body, "The create call request body")
    odata_type = props.get("@odata.type")
    if odata_type is not None and (
        not isinstance(odata_type, str) or odata_type.lower() != CALL_TYPE.lower()
    ):
        raise bad_request(f"@odata.type of a new call must be {CALL_TYPE}.")
    if "callbackUri" not in props or props["callbackUri"] is None:
        raise bad_request("callbackUri is required: where CallSim posts the call's notifications.")
    callback_uri = check_url(props["callbackUri"], "callbackUri")
    modalities = _modalities(props.get("requestedModalities"), "requestedModalities")
    media = _media_config(props.get("mediaConfig"))
    targets = props.get("targets")
    joins_meeting = props.get("chatInfo") is not None or props.get("meetingInfo") is not None
    if targets is None and not joins_meeting:
        raise bad_request(
            "targets is required: the participants to call (or chatInfo and meetingInfo)."
        )
    if targets is not None and (
        not isinstance(targets, list)
        or (not targets and not joins_meeting)
        or not all(isinstance(t, Mapping) for t in targets)
    ):
        raise bad_request("targets must be a non-empty array of invitationParticipantInfo objects.")
    for name in ("tenantId", "subject"):
        value = props.get(name)
        if value is not None and not isinstance(value, str):
            raise bad_request(f"{name} must be a string.")
    echoed = {name: props[name] for name in _ECHOED_CALL_PROPS if props.get(name) is not None}
    return CreateCallRequest(callback_uri, modalities, media, echoed)


def parse_answer(body: object) -> AnswerRequest:
    """Check an answer body (call-answer.md: acceptedModalities and mediaConfig required)."""
    props = _object(body, "The answer request body")
    _strict(props, "the answer body", _ANSWER_PROPS)
    callback = props.get("callbackUri")
    capacity = props.get("participantCapacity")
    if capacity is not None and (isinstance(capacity, bool) or not isinstance(capacity, int)):
        raise bad_request("participantCapacity must be an integer.")
    options = props.get("callOptions")
    if options is not None and not isinstance(options, Mapping):
        raise bad_request("callOptions must be a JSON object.")
    return AnswerRequest(
        accepted_modalities=_modalities(props.get("acceptedModalities"), "acceptedModalities"),
        media_config=_media_config(props.get("mediaConfig")),
        callback_uri=None if callback is None else check_url(callback, "callbackUri"),
    )


def parse_reject(body: object) -> RejectRequest:
    """Check a reject body (call-reject.md: reason None, Busy or Forbidden; any case)."""
    props = _object(body, "The reject request body")
    _strict(props, "the reject body", _REJECT_PROPS)
    reason = props.get("reason")
    if reason is None:
        reason = "none"
    if not isinstance(reason, str) or reason.lower() not in REJECT_REASONS:
        raise bad_request("reason must be one of None, Busy, Forbidden.")
    callback = props.get("callbackUri")
    return RejectRequest(
        reason=reason.lower(),
        callback_uri=None if callback is None else check_url(callback, "callbackUri"),
    )
