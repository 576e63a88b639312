"""Create-call, answer and reject bodies: the doc samples pass, every broken rule is a 400."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from app.graph.calls import (
    check_url,
    parse_answer,
    parse_create_call,
    parse_reject,
)
from app.graph.errors import GraphError

# application-post-calls.md, example 1 (service-hosted media), request body.
DOC_CREATE = {
    "@odata.type": "#microsoft.graph.call",
    "callbackUri": "https://bot.contoso.com/callback",
    "targets": [
        {
            "@odata.type": "#microsoft.graph.invitationParticipantInfo",
            "identity": {
                "@odata.type": "#microsoft.graph.identitySet",
                "user": {
                    "@odata.type": "#microsoft.graph.identity",
                    "displayName": "John",
                    "id": "112f7296-5fa4-42ca-bae8-6a692b15d4b8",
                },
            },
        }
    ],
    "requestedModalities": ["audio"],
    "callOptions": {
        "@odata.type": "#microsoft.graph.outgoingCallOptions",
        "isContentSharingNotificationEnabled": True,
    },
    "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"},
}

# call-answer.md, example 1 (service-hosted media), request body.
DOC_ANSWER = {
    "callbackUri": "https://bot.contoso.com/api/calls",
    "acceptedModalities": ["audio"],
    "mediaConfig": {
        "@odata.type": "#microsoft.graph.serviceHostedMediaConfig",
        "preFetchMedia": [
            {
                "uri": "https://cdn.contoso.com/beep.wav",
                "resourceId": "1D6DE2D4-CD51-4309-8DAA-70768651088E",
            }
        ],
    },
}


def test_the_documented_create_call_body_is_accepted_and_echoed() -> None:
    req = parse_create_call(DOC_CREATE)
    assert req.callback_uri == "https://bot.contoso.com/callback"
    assert req.requested_modalities == ("audio",)
    assert req.media_config.mode == "serviceHosted"
    assert req.echoed["targets"] == DOC_CREATE["targets"]
    assert req.echoed["callOptions"] == DOC_CREATE["callOptions"]


def test_app_hosted_media_and_local_http_callbacks_are_accepted() -> None:
    body = {
        **DOC_CREATE,
        "callbackUri": "http://127.0.0.1:8080/cb",
        "mediaConfig": {"@odata.type": "#microsoft.graph.appHostedMediaConfig", "blob": "b"},
        "requestedModalities": ["Audio", "video", "audio"],
        "someNullProperty": None,  # SDKs send many nulls; a resource body ignores extras
    }
    req = parse_create_call(body)
    assert req.media_config.mode == "appHosted"
    assert req.requested_modalities == ("audio", "video")  # canonical names, no duplicates


def _without(body: dict[str, Any], key: str) -> dict[str, Any]:
    out = copy.deepcopy(body)
    del out[key]
    return out


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "JSON object"),
        (_without(DOC_CREATE, "callbackUri"), "callbackUri"),
        ({**DOC_CREATE, "callbackUri": "bot.contoso.com/cb"}, "callbackUri"),
        ({**DOC_CREATE, "callbackUri": "https://:99/cb"}, "callbackUri"),
        ({**DOC_CREATE, "callbackUri": "http://host:port/cb"}, "callbackUri"),
        ({**DOC_CREATE, "callbackUri": 5}, "callbackUri"),
        (_without(DOC_CREATE, "requestedModalities"), "requestedModalities"),
        ({**DOC_CREATE, "requestedModalities": []}, "requestedModalities"),
        ({**DOC_CREATE, "requestedModalities": ["smell"]}, "requestedModalities"),
        ({**DOC_CREATE, "requestedModalities": ["video"]}, "audio calls only"),
        (_without(DOC_CREATE, "mediaConfig"), "mediaConfig"),
        ({**DOC_CREATE, "mediaConfig": {}}, "mediaConfig"),
        ({**DOC_CREATE, "mediaConfig": {"@odata.type": "#microsoft.graph.mediaConfig"}}, "media"),
        (_without(DOC_CREATE, "targets"), "targets"),
        ({**DOC_CREATE, "targets": []}, "targets"),
        ({**DOC_CREATE, "targets": ["john"]}, "targets"),
        ({**DOC_CREATE, "tenantId": 7}, "tenantId"),
        ({**DOC_CREATE, "@odata.type": "#microsoft.graph.user"}, "@odata.type"),
    ],
)
def test_create_call_violations_are_400_naming_the_field(body: object, field: str) -> None:
    with pytest.raises(GraphError) as info:
        parse_create_call(body)
    assert info.value.status == 400
    assert info.value.code == "BadRequest"
    assert field in info.value.message


def test_joining_a_meeting_needs_no_targets() -> None:
    body = {**_without(DOC_CREATE, "targets"), "chatInfo": {"threadId": "19:x"}}
    assert parse_create_call(body).echoed["chatInfo"] == {"threadId": "19:x"}


def test_the_documented_answer_body_is_accepted() -> None:
    req = parse_answer(DOC_ANSWER)
    assert req.callback_uri == "https://bot.contoso.com/api/calls"
    assert req.accepted_modalities == ("audio",)
    assert req.media_config.mode == "serviceHosted"
    assert parse_answer({**DOC_ANSWER, "participantCapacity": 200}).callback_uri is not None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_without(DOC_ANSWER, "acceptedModalities"), "acceptedModalities"),
        (_without(DOC_ANSWER, "mediaConfig"), "mediaConfig"),
        ({**DOC_ANSWER, "callbackuri": "https://x/cb"}, "did you mean 'callbackUri'"),
        ({**DOC_ANSWER, "participantCapacity": True}, "participantCapacity"),
        ({**DOC_ANSWER, "callOptions": 3}, "callOptions"),
        ({**DOC_ANSWER, "callbackUri": "mailto:x@y"}, "callbackUri"),
        ("answer", "JSON object"),
    ],
)
def test_answer_violations_are_400(body: object, field: str) -> None:
    with pytest.raises(GraphError) as info:
        parse_answer(body)
    assert info.value.status == 400
    assert field in info.value.message


@pytest.mark.parametrize(
    ("body", "reason"),
    [({}, "none"), ({"reason": "busy"}, "busy"), ({"reason": "Forbidden"}, "forbidden")],
)
def test_reject_reasons_in_any_case(body: dict[str, Any], reason: str) -> None:
    assert parse_reject(body).reason == reason


@pytest.mark.parametrize("body", [{"reason": "bored"}, {"reason": 1}, {"why": "busy"}, [1]])
def test_reject_violations_are_400(body: object) -> None:
    with pytest.raises(GraphError) as info:
        parse_reject(body)
    assert info.value.status == 400


def test_check_url_accepts_ipv6_and_ports() -> None:
    assert check_url("http://[::1]:8080/cb", "x") == "http://[::1]:8080/cb"
    with pytest.raises(GraphError):
        check_url("http://[::1/cb", "x")
