"""Request parsing rules and defaults (docs/graph-contract.md §1.2, §8, §9); every rejection is
named."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.graph.errors import GraphError
from app.graph.requests import (
    STOP_TONE_KEYS,
    CancelMediaProcessingRequest,
    MediaPrompt,
    PlayPromptRequest,
    RecordResponseRequest,
    SubscribeToToneRequest,
    parse_action,
    parse_cancel_media_processing,
    parse_json_body,
    parse_play_prompt,
    parse_record_response,
    parse_subscribe_to_tone,
)

# call-record.md (v1.0) request sample, copied verbatim.
DOC_RECORD_BODY: dict[str, Any] = {
    "bargeInAllowed": True,
    "clientContext": "d45324c1-fcb5-430a-902c-f20af696537c",
    "prompts": [
        {
            "@odata.type": "#microsoft.graph.mediaPrompt",
            "mediaInfo": {
                "uri": "https://cdn.contoso.com/beep.wav",
                "resourceId": "1D6DE2D4-CD51-4309-8DAA-70768651088E",
            },
        }
    ],
    "maxRecordDurationInSeconds": 10,
    "initialSilenceTimeoutInSeconds": 5,
    "maxSilenceTimeoutInSeconds": 2,
    "playBeep": True,
    "stopTones": ["#", "1", "*"],
}

# call-playprompt.md (v1.0) request sample, copied verbatim (note the mediaInfo annotation).
DOC_PLAY_BODY: dict[str, Any] = {
    "clientContext": "d45324c1-fcb5-430a-902c-f20af696537c",
    "prompts": [
        {
            "@odata.type": "#microsoft.graph.mediaPrompt",
            "mediaInfo": {
                "@odata.type": "#microsoft.graph.mediaInfo",
                "uri": "https://cdn.contoso.com/beep.wav",
                "resourceId": "1D6DE2D4-CD51-4309-8DAA-70768651088E",
            },
        }
    ],
}

TIMERS = (
    "initialSilenceTimeoutInSeconds",
    "maxSilenceTimeoutInSeconds",
    "maxRecordDurationInSeconds",
)


def prompt_json(uri: object = "https://cdn.contoso.com/beep.wav", **info: Any) -> dict[str, Any]:
    """A valid mediaPrompt body with optional extra mediaInfo properties."""
    return {"@odata.type": "#microsoft.graph.mediaPrompt", "mediaInfo": {"uri": uri, **info}}


def rejection(parse: Any, body: object) -> str:
    """The message of the 400 that ``parse(body)`` must raise."""
    with pytest.raises(GraphError) as caught:
        parse(body)
    assert caught.value.status == 400
    assert caught.value.code == "BadRequest"
    message: str = caught.value.message
    assert message.endswith(".")
    return message


# --- defaults and the doc samples -----------------------------------------------------------


def test_empty_body_gives_every_documented_default() -> None:
    request = parse_record_response({})
    assert request == RecordResponseRequest(
        prompts=(),
        barge_in_allowed=False,
        initial_silence_timeout_s=5,
        max_silence_timeout_s=5,
        max_record_duration_s=5,
        play_beep=True,
        stop_tones=(),
        client_context=None,
    )
    assert request == RecordResponseRequest()


@pytest.mark.parametrize("raw", [b"", "", b"  \r\n", "\t"])
def test_empty_or_blank_raw_body_is_an_empty_object(raw: bytes | str) -> None:
    assert parse_json_body(raw) == {}
    assert parse_record_response(parse_json_body(raw)) == RecordResponseRequest()


@pytest.mark.parametrize("name", [*TIMERS, "bargeInAllowed", "playBeep", "stopTones", "prompts"])
def test_null_for_an_optional_parameter_means_default(name: str) -> None:
    assert parse_record_response({name: None}) == RecordResponseRequest()


def test_null_client_context_is_none_everywhere() -> None:
    assert parse_record_response({"clientContext": None}).client_context is None
    assert parse_cancel_media_processing({"clientContext": None}).client_context is None
    assert parse_subscribe_to_tone({"clientContext": None}).client_context is None
    assert (
        parse_play_prompt({"prompts": [prompt_json()], "clientContext": None}).client_context
        is None
    )


def test_doc_record_sample_parses_and_round_trips_in_doc_key_order() -> None:
    request = parse_record_response(DOC_RECORD_BODY)
    assert request == RecordResponseRequest(
        prompts=(
            MediaPrompt(
                uri="https://cdn.contoso.com/beep.wav",
                resource_id="1D6DE2D4-CD51-4309-8DAA-70768651088E",
            ),
        ),
        barge_in_allowed=True,
        initial_silence_timeout_s=5,
        max_silence_timeout_s=2,
        max_record_duration_s=10,
        play_beep=True,
        stop_tones=("#", "1", "*"),
        client_context="d45324c1-fcb5-430a-902c-f20af696537c",
    )
    body = request.to_body()
    assert body == DOC_RECORD_BODY
    assert list(body) == list(DOC_RECORD_BODY)


def test_doc_play_prompt_sample_parses_and_round_trips() -> None:
    request = parse_play_prompt(DOC_PLAY_BODY)
    assert request == PlayPromptRequest(
        prompts=(
            MediaPrompt(
                uri="https://cdn.contoso.com/beep.wav",
                resource_id="1D6DE2D4-CD51-4309-8DAA-70768651088E",
            ),
        ),
        client_context="d45324c1-fcb5-430a-902c-f20af696537c",
        loop=False,
    )
    assert parse_play_prompt(request.to_body()) == request
    assert "loop" not in request.to_body()


def test_doc_cancel_and_subscribe_samples_parse() -> None:
    assert parse_cancel_media_processing(
        {"clientContext": "clientContext-value"}
    ) == CancelMediaProcessingRequest("clientContext-value")
    assert parse_subscribe_to_tone(
        {"clientContext": "fd1c7836-4d84-4e24-b6aa-23188688cc54"}
    ) == SubscribeToToneRequest("fd1c7836-4d84-4e24-b6aa-23188688cc54")
    assert CancelMediaProcessingRequest(None).to_body() == {}
    assert SubscribeToToneRequest("x").to_body() == {"clientContext": "x"}


def test_to_body_of_defaults_is_explicit_and_parses_back() -> None:
    body = RecordResponseRequest().to_body()
    assert body == {
        "bargeInAllowed": False,
        "prompts": [],
        "maxRecordDurationInSeconds": 5,
        "initialSilenceTimeoutInSeconds": 5,
        "maxSilenceTimeoutInSeconds": 5,
        "playBeep": True,
        "stopTones": [],
    }
    assert parse_record_response(body) == RecordResponseRequest()


# --- timers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TIMERS)
@pytest.mark.parametrize("value", [1, 2, 60, 119, 120])
def test_timer_accepts_integers_from_1_to_120(name: str, value: int) -> None:
    request = parse_record_response({name: value})
    fields = {
        "initialSilenceTimeoutInSeconds": request.initial_silence_timeout_s,
        "maxSilenceTimeoutInSeconds": request.max_silence_timeout_s,
        "maxRecordDurationInSeconds": request.max_record_duration_s,
    }
    assert fields[name] == value
    assert all(other == 5 for key, other in fields.items() if key != name)


@pytest.mark.parametrize("name", TIMERS)
@pytest.mark.parametrize(
    "value",
    [0, -1, 121, 300, 2**31, -(2**31), 5.0, 5.5, 1e2, True, False, "5", [5], {"value": 5}],
    ids=repr,
)
def test_timer_rejects_out_of_range_and_non_integers(name: str, value: object) -> None:
    # 5.0 and true are refused on purpose: OData will not read either as an Edm.Int32.
    message = rejection(parse_record_response, {name: value})
    assert message == f"{name} must be an integer between 1 and 120."


@pytest.mark.parametrize(
    "raw", ['{"maxSilenceTimeoutInSeconds": 5.0}', '{"maxSilenceTimeoutInSeconds": 5e0}']
)
def test_timer_written_as_json_float_is_refused(raw: str) -> None:
    message = rejection(parse_record_response, parse_json_body(raw))
    assert message.startswith("maxSilenceTimeoutInSeconds ")


# --- booleans -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bargeInAllowed", "playBeep"])
def test_booleans_are_taken_as_given(name: str) -> None:
    for value in (True, False):
        request = parse_record_response({name: value})
        got = request.barge_in_allowed if name == "bargeInAllowed" else request.play_beep
        assert got is value


@pytest.mark.parametrize("name", ["bargeInAllowed", "playBeep"])
@pytest.mark.parametrize("value", [0, 1, "true", "false", [], {}, 1.0], ids=repr)
def test_booleans_reject_other_json_types(name: str, value: object) -> None:
    message = rejection(parse_record_response, {name: value})
    assert message == f"{name} must be a boolean (true or false)."


# --- clientContext --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "parse",
    [
        parse_record_response,
        parse_cancel_media_processing,
        parse_subscribe_to_tone,
        lambda body: parse_play_prompt({"prompts": [prompt_json()], **body}),
    ],
    ids=["recordResponse", "cancelMediaProcessing", "subscribeToTone", "playPrompt"],
)
def test_client_context_limit_is_256_utf16_units(parse: Any) -> None:
    assert parse({"clientContext": "x" * 256}).client_context == "x" * 256
    assert parse({"clientContext": ""}).client_context == ""
    # U+1F600 takes two UTF-16 code units: 128 of them fill the 256-unit limit exactly.
    assert parse({"clientContext": "\U0001f600" * 128}).client_context == "\U0001f600" * 128
    expected = "clientContext must be a string of at most 256 characters."
    for too_long in ("x" * 257, "\U0001f600" * 128 + "x"):
        assert rejection(parse, {"clientContext": too_long}) == expected
    for wrong_type in (5, True, ["x"], {"a": "b"}):
        assert rejection(parse, {"clientContext": wrong_type}) == expected


def test_client_context_with_lone_surrogate_is_refused() -> None:
    body = parse_json_body('{"clientContext": "a\\ud800b"}')
    message = rejection(parse_record_response, body)
    assert message.startswith("clientContext ")


# --- stopTones ------------------------------------------------------------------------------


def test_every_dtmf_key_is_a_valid_stop_tone() -> None:
    request = parse_record_response({"stopTones": list(STOP_TONE_KEYS)})
    assert request.stop_tones == tuple("0123456789*#ABCD")


def test_lower_case_a_to_d_are_normalised_to_upper_case() -> None:
    request = parse_record_response({"stopTones": ["a", "b", "c", "d", "#"]})
    assert request.stop_tones == ("A", "B", "C", "D", "#")
    assert request.to_body()["stopTones"] == ["A", "B", "C", "D", "#"]


def test_duplicate_stop_tones_are_kept_in_order() -> None:
    assert parse_record_response({"stopTones": ["#", "1", "#"]}).stop_tones == ("#", "1", "#")


@pytest.mark.parametrize(
    ("tones", "index"),
    [
        (["11"], 0),
        ([""], 0),
        (["#", "E"], 1),
        (["#", "*", "e"], 2),
        (["flash"], 0),
        (["tone1"], 0),
        ([1], 0),
        (["#", None], 1),
        ([["#"]], 0),
        (["\u00df"], 0),  # upper-cases to "SS": must not sneak through as a substring match
        (["AB"], 0),
    ],
    ids=repr,
)
def test_invalid_stop_tone_is_refused_by_index(tones: list[object], index: int) -> None:
    message = rejection(parse_record_response, {"stopTones": tones})
    assert message == f"stopTones[{index}] must be a single DTMF key: one of 0-9, *, #, A-D."


@pytest.mark.parametrize("value", ["#", 5, {"tone": "#"}, True], ids=repr)
def test_stop_tones_must_be_an_array(value: object) -> None:
    message = rejection(parse_record_response, {"stopTones": value})
    assert message.startswith("stopTones must be an array")


# --- prompts --------------------------------------------------------------------------------


def test_record_response_takes_zero_or_one_prompt() -> None:
    assert parse_record_response({"prompts": []}).prompts == ()
    one = parse_record_response({"prompts": [prompt_json("file:///a.wav")]})
    assert one.prompts == (MediaPrompt("file:///a.wav", None),)
    message = rejection(parse_record_response, {"prompts": [prompt_json(), prompt_json()]})
    assert message == "prompts must be an array of at most 1 mediaPrompt for recordResponse."


@pytest.mark.parametrize("value", [prompt_json(), "x", 5, True], ids=repr)
def test_record_prompts_must_be_an_array(value: object) -> None:
    message = rejection(parse_record_response, {"prompts": value})
    assert message.startswith("prompts must be an array")


def test_play_prompt_takes_1_to_20_prompts() -> None:
    twenty = [prompt_json(f"https://x/{i}.wav") for i in range(20)]
    assert len(parse_play_prompt({"prompts": twenty}).prompts) == 20
    expected = "prompts is required and must be an array of 1 to 20 mediaPrompt objects."
    for body in ({}, {"prompts": None}, {"prompts": []}, {"prompts": [*twenty, prompt_json()]}):
        assert rejection(parse_play_prompt, body) == expected


def test_play_prompt_beta_loop_flag() -> None:
    request = parse_play_prompt({"prompts": [prompt_json()], "loop": True})
    assert request.loop is True
    assert request.to_body()["loop"] is True
    assert parse_play_prompt(request.to_body()) == request
    message = rejection(parse_play_prompt, {"prompts": [prompt_json()], "loop": "yes"})
    assert message == "loop must be a boolean (true or false)."


def test_resource_id_is_optional_and_null_means_absent() -> None:
    request = parse_record_response({"prompts": [prompt_json(resourceId=None)]})
    assert request.prompts == (MediaPrompt("https://cdn.contoso.com/beep.wav", None),)
    assert "resourceId" not in request.to_body()["prompts"][0]["mediaInfo"]


def test_media_info_odata_type_annotation_is_accepted_when_right() -> None:
    prompt = prompt_json(**{"@odata.type": "#microsoft.graph.mediaInfo"})
    assert parse_record_response({"prompts": [prompt]}).prompts[0].uri.endswith("beep.wav")


@pytest.mark.parametrize(
    ("prompt", "field"),
    [
        (5, "prompts[0]"),
        ("https://x/a.wav", "prompts[0]"),
        ({"mediaInfo": {"uri": "https://x/a.wav"}}, "prompts[0].@odata.type"),
        (
            {"@odata.type": "#microsoft.graph.prompt", "mediaInfo": {"uri": "a"}},
            "prompts[0].@odata.type",
        ),
        (
            {"@odata.type": "microsoft.graph.mediaPrompt", "mediaInfo": {"uri": "a"}},
            "prompts[0].@odata.type",
        ),
        ({"@odata.type": "#microsoft.graph.mediaPrompt"}, "prompts[0].mediaInfo"),
        ({"@odata.type": "#microsoft.graph.mediaPrompt", "mediaInfo": "a"}, "prompts[0].mediaInfo"),
        (
            {"@odata.type": "#microsoft.graph.mediaPrompt", "mediaInfo": {}},
            "prompts[0].mediaInfo.uri",
        ),
        (prompt_json(""), "prompts[0].mediaInfo.uri"),
        (prompt_json("   "), "prompts[0].mediaInfo.uri"),
        (prompt_json(5), "prompts[0].mediaInfo.uri"),
        (prompt_json(None), "prompts[0].mediaInfo.uri"),
        (prompt_json(resourceId=5), "prompts[0].mediaInfo.resourceId"),
        (prompt_json(resourceId=["x"]), "prompts[0].mediaInfo.resourceId"),
        (
            prompt_json(**{"@odata.type": "#microsoft.graph.prompt"}),
            "prompts[0].mediaInfo.@odata.type",
        ),
        ({**prompt_json(), "loop": True}, "'loop' in prompts[0]"),
        (prompt_json(mimeType="audio/wav"), "'mimeType' in prompts[0].mediaInfo"),
    ],
    ids=repr,
)
def test_bad_prompt_is_refused_naming_the_nested_field(prompt: object, field: str) -> None:
    for parse, body in (
        (parse_record_response, {"prompts": [prompt]}),
        (parse_play_prompt, {"prompts": [prompt]}),
    ):
        message = rejection(parse, body)
        assert field in message, message


def test_bad_prompt_in_a_later_slot_names_its_index() -> None:
    message = rejection(parse_play_prompt, {"prompts": [prompt_json(), prompt_json("")]})
    assert message == "prompts[1].mediaInfo.uri must be a non-empty string."


# --- unknown properties and annotations ------------------------------------------------------


def test_unknown_property_is_refused_and_named_with_the_allowed_list() -> None:
    message = rejection(parse_record_response, {"recordingFormat": "wav"})
    assert message.startswith("Unknown property 'recordingFormat' in the recordResponse body;")
    for name in ("bargeInAllowed", "maxRecordDurationInSeconds", "stopTones", "clientContext"):
        assert name in message


def test_unknown_property_is_echoed_safely() -> None:
    message = rejection(parse_record_response, parse_json_body('{"a\\ud800": 1}'))
    assert "'a\\ud800'" in message
    message.encode("utf-8")
    message = rejection(parse_record_response, {"x" * 500: 1})
    assert "x" * 77 + "..." in message
    assert len(message) < 400


def test_wrong_case_property_gets_a_did_you_mean_hint() -> None:
    message = rejection(parse_record_response, {"PlayBeep": True})
    assert "'PlayBeep'" in message
    assert "did you mean 'playBeep'?" in message


@pytest.mark.parametrize(
    ("parse", "body", "name"),
    [
        (parse_play_prompt, {"prompts": [prompt_json()], "stopTones": ["#"]}, "stopTones"),
        (parse_cancel_media_processing, {"all": True}, "all"),
        (parse_subscribe_to_tone, {"prompts": []}, "prompts"),
        (parse_record_response, {"loop": True}, "loop"),
        (parse_record_response, {"streamWhileRecording": False}, "streamWhileRecording"),
        (parse_record_response, {"note@simulator": 1}, "note@simulator"),
    ],
    ids=["playPrompt", "cancel", "subscribe", "record-loop", "record-stream", "at-without-dot"],
)
def test_each_action_refuses_parameters_of_other_actions(
    parse: Any, body: object, name: str
) -> None:
    assert f"Unknown property '{name}'" in rejection(parse, body)


def test_odata_annotations_are_tolerated_at_body_level() -> None:
    body = {
        "@odata.type": "#microsoft.graph.recordResponsePostRequestBody",
        "playBeep@odata.type": "Edm.Boolean",
        "@Custom.note": None,
        "playBeep": False,
    }
    assert parse_record_response(body) == RecordResponseRequest(play_beep=False)
    assert parse_subscribe_to_tone({"@odata.type": "x.y"}) == SubscribeToToneRequest()


# --- body shape -----------------------------------------------------------------------------


@pytest.mark.parametrize("body", [None, [], [{}], "x", 5, 1.5, True], ids=repr)
@pytest.mark.parametrize(
    ("parse", "action"),
    [
        (parse_record_response, "recordResponse"),
        (parse_play_prompt, "playPrompt"),
        (parse_cancel_media_processing, "cancelMediaProcessing"),
        (parse_subscribe_to_tone, "subscribeToTone"),
    ],
)
def test_body_must_be_a_json_object(parse: Any, action: str, body: object) -> None:
    assert rejection(parse, body) == f"The {action} request body must be a JSON object."


def test_non_string_property_names_from_python_callers_are_refused() -> None:
    assert "must be strings" in rejection(parse_record_response, {1: True})


# --- parse_json_body ------------------------------------------------------------------------


def test_parse_json_body_accepts_bytes_str_and_a_utf8_bom() -> None:
    assert parse_json_body(b'{"playBeep": false}') == {"playBeep": False}
    assert parse_json_body('{"playBeep": false}') == {"playBeep": False}
    assert parse_json_body(b'\xef\xbb\xbf{"playBeep": false}') == {"playBeep": False}
    assert parse_json_body("[1, 2]") == [1, 2]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"{", "not valid JSON"),
        ("{'playBeep': true}", "not valid JSON"),
        ('{"playBeep": true,}', "not valid JSON"),
        ("NaN", "NaN"),
        ('{"maxSilenceTimeoutInSeconds": Infinity}', "Infinity"),
        ("-Infinity", "-Infinity"),
        ('{"playBeep": true, "playBeep": false}', "duplicate property 'playBeep'"),
        ('{"prompts": [{"mediaInfo": {"uri": "a", "uri": "b"}}]}', "duplicate property 'uri'"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
        ('{"maxSilenceTimeoutInSeconds": ' + "9" * 5000 + "}", "not valid JSON"),
        (b"\xff\xfe{}", "UTF-8"),
        (b'{"clientContext": "\xc3"}', "UTF-8"),
    ],
    ids=lambda value: repr(value)[:40],
)
def test_parse_json_body_refuses_what_is_not_json(raw: bytes | str, fragment: str) -> None:
    message = rejection(parse_json_body, raw)
    assert fragment in message


def test_invalid_json_message_points_at_the_position() -> None:
    message = rejection(parse_json_body, '{\n  "playBeep": tru\n}')
    assert "line 2 column 15" in message


# --- parse_action ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "body", "kind"),
    [
        ("recordResponse", {}, RecordResponseRequest),
        ("microsoft.graph.recordResponse", {}, RecordResponseRequest),
        ("playPrompt", {"prompts": [prompt_json()]}, PlayPromptRequest),
        ("microsoft.graph.playPrompt", {"prompts": [prompt_json()]}, PlayPromptRequest),
        ("cancelMediaProcessing", {}, CancelMediaProcessingRequest),
        ("subscribeToTone", {"clientContext": "c"}, SubscribeToToneRequest),
    ],
)
def test_parse_action_dispatches_plain_and_qualified_names(
    action: str, body: object, kind: type
) -> None:
    request = parse_action(action, body)
    assert type(request) is kind
    assert action.endswith(request.action)


@pytest.mark.parametrize(
    "action", ["record", "RecordResponse", "keepAlive", "", "microsoft.graph."]
)
def test_parse_action_refuses_unknown_actions_by_name(action: str) -> None:
    message = rejection(lambda body: parse_action(action, body), {})
    assert f"'{action}'" in message
    assert "recordResponse, playPrompt, cancelMediaProcessing, subscribeToTone" in message


def test_parse_action_validates_the_body_of_the_named_action() -> None:
    message = rejection(lambda body: parse_action("playPrompt", body), {})
    assert message.startswith("prompts is required")


def test_to_body_json_text_round_trip_of_a_full_request() -> None:
    request = parse_record_response(DOC_RECORD_BODY)
    text = json.dumps(request.to_body())
    assert parse_action("recordResponse", parse_json_body(text.encode())) == request
