"""Property tests: parsers never crash on arbitrary JSON, and valid requests round-trip."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.graph.errors import GraphError, error_body
from app.graph.requests import (
    MAX_CLIENT_CONTEXT_CHARS,
    MAX_PLAY_PROMPTS,
    STOP_TONE_KEYS,
    CancelMediaProcessingRequest,
    MediaPrompt,
    MediaRequest,
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

# Deterministic: a fixed derandomised search, nothing stored between runs.
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow],
)

PARSERS: dict[str, Callable[[object], MediaRequest]] = {
    "recordResponse": parse_record_response,
    "playPrompt": parse_play_prompt,
    "cancelMediaProcessing": parse_cancel_media_processing,
    "subscribeToTone": parse_subscribe_to_tone,
}

KNOWN_NAMES = [
    "bargeInAllowed",
    "clientContext",
    "prompts",
    "maxRecordDurationInSeconds",
    "initialSilenceTimeoutInSeconds",
    "maxSilenceTimeoutInSeconds",
    "playBeep",
    "stopTones",
    "loop",
    "mediaInfo",
    "uri",
    "resourceId",
    "@odata.type",
]

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["#", "a", "#microsoft.graph.mediaPrompt", "https://x/a.wav", 0, 1, 120])
)
# Keys as json.loads can produce them, lone surrogates included ("\ud800" escapes).
json_keys = (
    st.sampled_from(KNOWN_NAMES)
    | st.text(max_size=8)
    | st.text(st.characters(max_codepoint=0xFFFF, categories=("Cs", "Ll")), max_size=3)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(json_keys, children, max_size=5)
    ),
    max_leaves=12,
)


def assert_is_clean_400(err: GraphError) -> None:
    """A rejection: 400 BadRequest whose error body has the full §1.3 shape."""
    assert err.status == 400
    assert err.code == "BadRequest"
    assert isinstance(err.message, str) and err.message
    err.message.encode("utf-8")  # no lone surrogates echoed back from the request
    body = error_body(err, request_id="r", client_request_id="c", date="2024-05-01T10:00:00")
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "innerError"}
    assert set(body["error"]["innerError"]) == {"date", "request-id", "client-request-id"}
    json.dumps(body)  # serialisable as sent on the wire


@FUZZ
@given(action=st.sampled_from(sorted(PARSERS)), body=json_values)
def test_arbitrary_json_never_crashes_a_parser(action: str, body: Any) -> None:
    try:
        request = parse_action(action, body)
    except GraphError as err:
        assert_is_clean_400(err)
    else:
        assert request.action == action
        assert PARSERS[action](request.to_body()) == request


@FUZZ
@given(
    action=st.sampled_from(sorted(PARSERS)),
    body=st.dictionaries(json_keys, json_values, max_size=5),
)
def test_arbitrary_json_objects_never_crash_a_parser(action: str, body: dict[str, Any]) -> None:
    try:
        PARSERS[action](body)
    except GraphError as err:
        assert_is_clean_400(err)


@FUZZ
@given(raw=st.binary(max_size=64) | st.text(max_size=64).map(lambda text: text.encode()))
def test_arbitrary_bytes_never_crash_the_body_decoder(raw: bytes) -> None:
    try:
        value = parse_json_body(raw)
    except GraphError as err:
        assert_is_clean_400(err)
    else:
        json.dumps(value)  # whatever it accepted is plain JSON again


# --- valid requests -------------------------------------------------------------------------

bmp_text = st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",))
client_contexts = (
    st.none()
    | st.text(max_size=MAX_CLIENT_CONTEXT_CHARS // 2)
    | st.text(bmp_text, min_size=MAX_CLIENT_CONTEXT_CHARS - 3, max_size=MAX_CLIENT_CONTEXT_CHARS)
)
prompts = st.builds(
    MediaPrompt,
    uri=st.text(min_size=1, max_size=40).filter(lambda uri: bool(uri.strip())),
    resource_id=st.none() | st.text(max_size=40),
)
timers_s = st.integers(min_value=1, max_value=120)

record_requests = st.builds(
    RecordResponseRequest,
    prompts=st.lists(prompts, max_size=1).map(tuple),
    barge_in_allowed=st.booleans(),
    initial_silence_timeout_s=timers_s,
    max_silence_timeout_s=timers_s,
    max_record_duration_s=timers_s,
    play_beep=st.booleans(),
    stop_tones=st.lists(st.sampled_from(STOP_TONE_KEYS), max_size=20).map(tuple),
    client_context=client_contexts,
)
play_requests = st.builds(
    PlayPromptRequest,
    prompts=st.lists(prompts, min_size=1, max_size=MAX_PLAY_PROMPTS).map(tuple),
    client_context=client_contexts,
    loop=st.booleans(),
)
context_requests = st.builds(CancelMediaProcessingRequest, client_context=client_contexts) | (
    st.builds(SubscribeToToneRequest, client_context=client_contexts)
)
valid_requests = record_requests | play_requests | context_requests


@FUZZ
@given(request=valid_requests)
def test_valid_requests_round_trip_through_to_body(request: MediaRequest) -> None:
    assert PARSERS[request.action](request.to_body()) == request


@FUZZ
@given(request=valid_requests)
def test_valid_requests_round_trip_through_json_text(request: MediaRequest) -> None:
    raw = json.dumps(request.to_body(), ensure_ascii=False).encode("utf-8")
    assert parse_action(request.action, parse_json_body(raw)) == request


@FUZZ
@given(request=record_requests, data=st.data())
def test_corrupting_one_parameter_names_that_parameter(
    request: RecordResponseRequest, data: st.DataObject
) -> None:
    body = request.to_body()
    name = data.draw(st.sampled_from(sorted(body)), label="parameter")
    body[name] = data.draw(json_values, label="value")
    try:
        parsed = parse_record_response(body)
    except GraphError as err:
        assert_is_clean_400(err)
        assert name in err.message, err.message
    else:
        assert parse_record_response(parsed.to_body()) == parsed


@FUZZ
@given(
    request=st.builds(
        PlayPromptRequest, prompts=st.lists(prompts, min_size=1, max_size=3).map(tuple)
    ),
    data=st.data(),
)
def test_corrupting_one_prompt_field_names_its_path(
    request: PlayPromptRequest, data: st.DataObject
) -> None:
    body = request.to_body()
    index = data.draw(st.integers(0, len(body["prompts"]) - 1), label="index")
    prompt = body["prompts"][index]
    where, target = data.draw(
        st.sampled_from(
            [
                (f"prompts[{index}].@odata.type", (prompt, "@odata.type")),
                (f"prompts[{index}].mediaInfo", (prompt, "mediaInfo")),
                (f"prompts[{index}].mediaInfo.uri", (prompt["mediaInfo"], "uri")),
                (f"prompts[{index}].mediaInfo.resourceId", (prompt["mediaInfo"], "resourceId")),
            ]
        ),
        label="field",
    )
    container, key = target
    container[key] = data.draw(json_values, label="value")
    try:
        parsed = parse_play_prompt(body)
    except GraphError as err:
        assert_is_clean_400(err)
        # The message names the corrupted field or, for a replaced object, a field inside it.
        assert where in err.message or f"in {where}" in err.message, err.message
    else:
        assert parse_play_prompt(parsed.to_body()) == parsed
