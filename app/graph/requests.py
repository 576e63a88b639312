"""Request bodies of the media actions: frozen models, strict parsers, canonical JSON.

Every parser raises ``GraphError(400, "BadRequest", message)`` and the message names the field
and the rule it broke, so a bot developer can fix the request from the message alone. The rules
are docs/graph-contract.md §1.2 (recordResponse), §9.1 (playPrompt), §9.2
(cancelMediaProcessing) and §8 (subscribeToTone). Where the spec leaves a choice open we
decided as follows:

- Strict on unknown properties (§1.2: "a strict one should 400"), with a "did you mean" hint
  for a property that differs only in case. OData annotations (``@odata.type``,
  ``prop@odata.type``, any ``name@namespace.term``) are tolerated wherever they appear.
- ``null`` for an optional parameter means "use the default", as for an absent one.
- Int32 timers reject JSON floats, even integral ones such as ``5.0``: OData's JSON reader
  reads ``5.0`` as a Decimal/Double and refuses to convert it to Edm.Int32 (odata.net,
  JsonReader.ParseNumberPrimitiveValue and ODataPayloadValueConverter.ConvertFromPayloadValue).
  Booleans are not integers either (``true`` is refused for an Int32, as OData does).
- Strings are JSON strings only: a string for an Int32 or a boolean is refused (§1.3 "wrong
  JSON type ... → 400"), and so is text holding lone UTF-16 surrogates, which no later layer
  could encode as UTF-8.
- ``clientContext`` length is counted in UTF-16 code units, as the .NET service counts "chars".
- ``stopTones``: each item one key of ``0-9 * # A-D`` (§6.4). Lower-case ``a-d`` is accepted
  and normalised to upper case, because Graph's own ``toneInfo.tone`` names these keys in
  lower case and a bot may well echo them. Duplicates are allowed and kept: the CSDL type is a
  plain string collection with no uniqueness rule, and a repeated key changes nothing.
- A prompt must say ``"@odata.type": "#microsoft.graph.mediaPrompt"`` (``prompt`` is abstract in
  the CSDL, §1.2) and carry ``mediaInfo.uri`` as a non-blank string; ``resourceId`` is an
  optional string. The URI is not resolved here: what it may point to is the caller's business.
- playPrompt accepts the beta ``loop`` boolean (§9.1) because the simulator serves beta URLs too.

``to_body()`` gives back the canonical Graph JSON body, keys in the order of the doc samples,
so that ``parse(to_body(x)) == x`` for every valid request.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from app.graph.errors import GraphError, bad_request

RECORD_RESPONSE: Final = "recordResponse"
PLAY_PROMPT: Final = "playPrompt"
CANCEL_MEDIA_PROCESSING: Final = "cancelMediaProcessing"
SUBSCRIBE_TO_TONE: Final = "subscribeToTone"
# Kiota SDKs call the namespace-qualified form of each action (docs/graph-contract.md §1.1).
ACTION_NAMESPACE_PREFIX: Final = "microsoft.graph."

TIMER_MIN_S: Final = 1  # docs/graph-contract.md §1.2: Min = 1 second (call-record.md)
TIMER_MAX_S: Final = 120  # docs/graph-contract.md §1.2: Max = 120 seconds (since Dec 2019)
DEFAULT_INITIAL_SILENCE_TIMEOUT_S: Final = 5  # docs/graph-contract.md §1.2 default
DEFAULT_MAX_SILENCE_TIMEOUT_S: Final = 5  # docs/graph-contract.md §1.2 default
DEFAULT_MAX_RECORD_DURATION_S: Final = 5  # docs/graph-contract.md §1.2 default
DEFAULT_PLAY_BEEP: Final = True  # docs/graph-contract.md §1.2 default
DEFAULT_BARGE_IN_ALLOWED: Final = False  # docs/graph-contract.md §1.2 default
MAX_RECORD_PROMPTS: Final = 1  # docs/graph-contract.md §1.2: recordResponse plays at most 1 prompt
MIN_PLAY_PROMPTS: Final = 1  # docs/graph-contract.md §9.1: prompts is required (non-nullable)
MAX_PLAY_PROMPTS: Final = 20  # docs/graph-contract.md §9.1: up to 20 prompts
MAX_CLIENT_CONTEXT_CHARS: Final = 256  # docs/graph-contract.md §1.2 and §8: max 256 chars
# docs/graph-contract.md §6.4 (DTMF set, predecessor API)
STOP_TONE_KEYS: Final = "0123456789*#ABCD"

MEDIA_PROMPT_TYPE: Final = "#microsoft.graph.mediaPrompt"  # docs/graph-contract.md §1.2
MEDIA_INFO_TYPE: Final = "#microsoft.graph.mediaInfo"  # call-playprompt.md request sample

_STOP_TONE_INPUTS: Final = frozenset(STOP_TONE_KEYS + STOP_TONE_KEYS[-4:].lower())
_TIMER_RULE: Final = f"must be an integer between {TIMER_MIN_S} and {TIMER_MAX_S}."
_BOOL_RULE: Final = "must be a boolean (true or false)."
_ODATA_TYPE: Final = "@odata.type"

# Body property names, in the order the doc samples use them (call-record.md request).
_RECORD_PROPS: Final = (
    "bargeInAllowed",
    "clientContext",
    "prompts",
    "maxRecordDurationInSeconds",
    "initialSilenceTimeoutInSeconds",
    "maxSilenceTimeoutInSeconds",
    "playBeep",
    "stopTones",
)
_PLAY_PROPS: Final = ("clientContext", "prompts", "loop")
_CONTEXT_ONLY_PROPS: Final = ("clientContext",)


@dataclass(frozen=True)
class MediaPrompt:
    """One ``#microsoft.graph.mediaPrompt``: the audio at ``uri``, cached under ``resource_id``."""

    uri: str
    resource_id: str | None = None

    def to_body(self) -> dict[str, Any]:
        """The prompt as Graph JSON."""
        media_info: dict[str, Any] = {"uri": self.uri}
        if self.resource_id is not None:
            media_info["resourceId"] = self.resource_id
        return {_ODATA_TYPE: MEDIA_PROMPT_TYPE, "mediaInfo": media_info}


@dataclass(frozen=True)
class RecordResponseRequest:
    """The body of ``call: recordResponse`` with every default filled in (docs/graph-contract.md
    §1.2)."""

    action: ClassVar[str] = RECORD_RESPONSE

    prompts: tuple[MediaPrompt, ...] = ()
    barge_in_allowed: bool = DEFAULT_BARGE_IN_ALLOWED
    initial_silence_timeout_s: int = DEFAULT_INITIAL_SILENCE_TIMEOUT_S
    max_silence_timeout_s: int = DEFAULT_MAX_SILENCE_TIMEOUT_S
    max_record_duration_s: int = DEFAULT_MAX_RECORD_DURATION_S
    play_beep: bool = DEFAULT_PLAY_BEEP
    stop_tones: tuple[str, ...] = ()
    client_context: str | None = None

    def to_body(self) -> dict[str, Any]:
        """The canonical Graph JSON body, keys in the doc sample's order."""
        body: dict[str, Any] = {"bargeInAllowed": self.barge_in_allowed}
        if self.client_context is not None:
            body["clientContext"] = self.client_context
        body["prompts"] = [prompt.to_body() for prompt in self.prompts]
        body["maxRecordDurationInSeconds"] = self.max_record_duration_s
        body["initialSilenceTimeoutInSeconds"] = self.initial_silence_timeout_s
        body["maxSilenceTimeoutInSeconds"] = self.max_silence_timeout_s
        body["playBeep"] = self.play_beep
        body["stopTones"] = list(self.stop_tones)
        return body


@dataclass(frozen=True)
class PlayPromptRequest:
    """The body of ``call: playPrompt`` (docs/graph-contract.md §9.1); ``loop`` is the beta
    extension."""

    action: ClassVar[str] = PLAY_PROMPT

    prompts: tuple[MediaPrompt, ...]
    client_context: str | None = None
    loop: bool = False

    def to_body(self) -> dict[str, Any]:
        """The canonical Graph JSON body (``loop`` only when true, as v1.0 lacks it)."""
        body: dict[str, Any] = {}
        if self.client_context is not None:
            body["clientContext"] = self.client_context
        body["prompts"] = [prompt.to_body() for prompt in self.prompts]
        if self.loop:
            body["loop"] = True
        return body


@dataclass(frozen=True)
class CancelMediaProcessingRequest:
    """The body of ``call: cancelMediaProcessing`` (docs/graph-contract.md §9.2)."""

    action: ClassVar[str] = CANCEL_MEDIA_PROCESSING

    client_context: str | None = None

    def to_body(self) -> dict[str, Any]:
        """The canonical Graph JSON body."""
        return _context_body(self.client_context)


@dataclass(frozen=True)
class SubscribeToToneRequest:
    """The body of ``call: subscribeToTone`` (docs/graph-contract.md §8)."""

    action: ClassVar[str] = SUBSCRIBE_TO_TONE

    client_context: str | None = None

    def to_body(self) -> dict[str, Any]:
        """The canonical Graph JSON body."""
        return _context_body(self.client_context)


MediaRequest = (
    RecordResponseRequest
    | PlayPromptRequest
    | CancelMediaProcessingRequest
    | SubscribeToToneRequest
)

ACTIONS: Final = (RECORD_RESPONSE, PLAY_PROMPT, CANCEL_MEDIA_PROCESSING, SUBSCRIBE_TO_TONE)


def _context_body(client_context: str | None) -> dict[str, Any]:
    return {} if client_context is None else {"clientContext": client_context}


# --- JSON text -------------------------------------------------------------------------------


class _DuplicatePropertyError(ValueError):
    pass


def _reject_constant(name: str) -> object:
    # json.loads accepts NaN/Infinity by default; they are not JSON (RFC 8259 §6).
    raise ValueError(f"{name} is not a valid JSON number")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # OData refuses a property that appears twice; Python's json would silently keep the last.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicatePropertyError(f"duplicate property '{key}'")
        result[key] = value
    return result


def parse_json_body(raw: bytes | str) -> object:
    """Decode a request body: empty or blank -> ``{}``; anything but valid JSON -> 400."""
    if isinstance(raw, bytes):
        try:
            # utf-8-sig: tolerate the BOM some Windows clients put in front of UTF-8 JSON.
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise bad_request(
                f"The request body is not valid UTF-8 (byte {exc.start}); "
                "send JSON encoded as UTF-8."
            ) from None
    else:
        text = raw
    if not text.strip():
        return {}
    try:
        return json.loads(text, object_pairs_hook=_unique_object, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise bad_request(
            f"The request body is not valid JSON: {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}."
        ) from None
    except RecursionError:
        raise bad_request("The request body is not valid JSON: nested too deeply.") from None
    except ValueError as exc:
        # Duplicate properties, NaN/Infinity, integers longer than Python's digit limit.
        raise bad_request(f"The request body is not valid JSON: {exc}.") from None


# --- field validators ------------------------------------------------------------------------


def _is_annotation(name: str) -> bool:
    # OData JSON format: instance annotations are "@namespace.term", property annotations
    # "property@namespace.term"; both are metadata about the payload, never parameters.
    at = name.find("@")
    return at >= 0 and "." in name[at + 1 :]


def _object(value: object, where: str, allowed: Sequence[str]) -> dict[str, Any]:
    """``value`` as an object with only ``allowed`` properties (annotations dropped)."""
    if not isinstance(value, Mapping):
        raise bad_request(f"{where} must be a JSON object.")
    props: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise bad_request(f"Property names in {where} must be strings.")
        if _is_annotation(key):
            continue
        if key not in allowed:
            raise bad_request(_unknown_property_message(key, where, allowed))
        props[key] = item
    return props


def _body(value: object, action: str, allowed: Sequence[str]) -> dict[str, Any]:
    """The top-level body of ``action`` as an object with only ``allowed`` parameters."""
    if not isinstance(value, Mapping):
        raise bad_request(f"The {action} request body must be a JSON object.")
    return _object(value, f"the {action} body", allowed)


_MAX_ECHO_CHARS: Final = 80  # long enough for any real name, short enough for a log line


def _echo(text: str) -> str:
    """``text`` made safe to quote in a message: lone surrogates escaped, length capped."""
    safe = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return safe if len(safe) <= _MAX_ECHO_CHARS else safe[: _MAX_ECHO_CHARS - 3] + "..."


def _unknown_property_message(key: str, where: str, allowed: Sequence[str]) -> str:
    hint = next((name for name in allowed if name.lower() == key.lower()), None)
    did_you_mean = f" (did you mean '{hint}'? names are case-sensitive)" if hint else ""
    names = ", ".join(sorted(allowed))
    return (
        f"Unknown property '{_echo(key)}' in {where}{did_you_mean}; "
        f"allowed properties are: {names}."
    )


def _utf16_units(text: str) -> int:
    return sum(2 if ord(char) > 0xFFFF else 1 for char in text)


def _is_valid_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from "\ud800"-style escapes
        return False
    return True


def _boolean(props: Mapping[str, Any], name: str, default: bool) -> bool:
    value = props.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad_request(f"{name} {_BOOL_RULE}")
    return value


def _timer_s(props: Mapping[str, Any], name: str, default: int) -> int:
    value = props.get(name)
    if value is None:
        return default
    # bool is a subclass of int in Python but not an Int32 in OData; floats are refused too.
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"{name} {_TIMER_RULE}")
    if not TIMER_MIN_S <= value <= TIMER_MAX_S:
        raise bad_request(f"{name} {_TIMER_RULE}")
    return value


def _client_context(props: Mapping[str, Any]) -> str | None:
    value = props.get("clientContext")
    if value is None:
        return None
    rule = f"clientContext must be a string of at most {MAX_CLIENT_CONTEXT_CHARS} characters."
    if not isinstance(value, str) or not _is_valid_text(value):
        raise bad_request(rule)
    if _utf16_units(value) > MAX_CLIENT_CONTEXT_CHARS:
        raise bad_request(rule)
    return value


def _stop_tones(props: Mapping[str, Any]) -> tuple[str, ...]:
    value = props.get("stopTones")
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise bad_request("stopTones must be an array of single-key strings (0-9, *, #, A-D).")
    tones: list[str] = []
    for index, tone in enumerate(value):
        if not isinstance(tone, str) or tone not in _STOP_TONE_INPUTS:
            raise bad_request(
                f"stopTones[{index}] must be a single DTMF key: one of 0-9, *, #, A-D."
            )
        tones.append(tone.upper())
    return tuple(tones)


def _media_prompt(value: object, where: str) -> MediaPrompt:
    if not isinstance(value, Mapping):
        raise bad_request(f"{where} must be a JSON object (a {MEDIA_PROMPT_TYPE}).")
    odata_type = value.get(_ODATA_TYPE)
    if odata_type != MEDIA_PROMPT_TYPE:
        # prompt is abstract in the CSDL: without its type the item cannot be materialised.
        raise bad_request(f'{where}.@odata.type must be "{MEDIA_PROMPT_TYPE}".')
    props = _object(value, where, ("mediaInfo",))
    media_info = props.get("mediaInfo")
    info_where = f"{where}.mediaInfo"
    if not isinstance(media_info, Mapping):
        raise bad_request(f"{info_where} must be a JSON object with a uri.")
    info_type = media_info.get(_ODATA_TYPE)
    if info_type is not None and info_type != MEDIA_INFO_TYPE:
        raise bad_request(f'{info_where}.@odata.type must be "{MEDIA_INFO_TYPE}" when given.')
    info = _object(media_info, info_where, ("uri", "resourceId"))
    uri = info.get("uri")
    if not isinstance(uri, str) or not uri.strip() or not _is_valid_text(uri):
        raise bad_request(f"{info_where}.uri must be a non-empty string.")
    resource_id = info.get("resourceId")
    if resource_id is not None and (
        not isinstance(resource_id, str) or not _is_valid_text(resource_id)
    ):
        raise bad_request(f"{info_where}.resourceId must be a string when given.")
    return MediaPrompt(uri=uri, resource_id=resource_id)


def _prompts(
    value: object, *, min_count: int, max_count: int, rule: str
) -> tuple[MediaPrompt, ...]:
    if value is None and min_count == 0:
        return ()
    if not isinstance(value, list | tuple) or not min_count <= len(value) <= max_count:
        raise bad_request(rule)
    return tuple(_media_prompt(item, f"prompts[{index}]") for index, item in enumerate(value))


# --- parsers ---------------------------------------------------------------------------------


def parse_record_response(body: object) -> RecordResponseRequest:
    """Validate a recordResponse body (docs/graph-contract.md §1.2); any violation -> GraphError
    400."""
    props = _body(body, RECORD_RESPONSE, _RECORD_PROPS)
    prompts = _prompts(
        props.get("prompts"),
        min_count=0,
        max_count=MAX_RECORD_PROMPTS,
        rule=f"prompts must be an array of at most {MAX_RECORD_PROMPTS} mediaPrompt "
        "for recordResponse.",
    )
    return RecordResponseRequest(
        prompts=prompts,
        barge_in_allowed=_boolean(props, "bargeInAllowed", DEFAULT_BARGE_IN_ALLOWED),
        initial_silence_timeout_s=_timer_s(
            props, "initialSilenceTimeoutInSeconds", DEFAULT_INITIAL_SILENCE_TIMEOUT_S
        ),
        max_silence_timeout_s=_timer_s(
            props, "maxSilenceTimeoutInSeconds", DEFAULT_MAX_SILENCE_TIMEOUT_S
        ),
        max_record_duration_s=_timer_s(
            props, "maxRecordDurationInSeconds", DEFAULT_MAX_RECORD_DURATION_S
        ),
        play_beep=_boolean(props, "playBeep", DEFAULT_PLAY_BEEP),
        stop_tones=_stop_tones(props),
        client_context=_client_context(props),
    )


def parse_play_prompt(body: object) -> PlayPromptRequest:
    """Validate a playPrompt body (docs/graph-contract.md §9.1); any violation -> GraphError 400."""
    props = _body(body, PLAY_PROMPT, _PLAY_PROPS)
    prompts = _prompts(
        props.get("prompts"),
        min_count=MIN_PLAY_PROMPTS,
        max_count=MAX_PLAY_PROMPTS,
        rule=f"prompts is required and must be an array of {MIN_PLAY_PROMPTS} to "
        f"{MAX_PLAY_PROMPTS} mediaPrompt objects.",
    )
    return PlayPromptRequest(
        prompts=prompts,
        client_context=_client_context(props),
        loop=_boolean(props, "loop", False),
    )


def parse_cancel_media_processing(body: object) -> CancelMediaProcessingRequest:
    """Validate a cancelMediaProcessing body (docs/graph-contract.md §9.2)."""
    props = _body(body, CANCEL_MEDIA_PROCESSING, _CONTEXT_ONLY_PROPS)
    return CancelMediaProcessingRequest(client_context=_client_context(props))


def parse_subscribe_to_tone(body: object) -> SubscribeToToneRequest:
    """Validate a subscribeToTone body (docs/graph-contract.md §8)."""
    props = _body(body, SUBSCRIBE_TO_TONE, _CONTEXT_ONLY_PROPS)
    return SubscribeToToneRequest(client_context=_client_context(props))


_PARSERS: Final[Mapping[str, Callable[[object], MediaRequest]]] = {
    RECORD_RESPONSE: parse_record_response,
    PLAY_PROMPT: parse_play_prompt,
    CANCEL_MEDIA_PROCESSING: parse_cancel_media_processing,
    SUBSCRIBE_TO_TONE: parse_subscribe_to_tone,
}


def parse_action(action: str, body: object) -> MediaRequest:
    """Parse ``body`` for ``action`` (plain or ``microsoft.graph.``-qualified name)."""
    name = action.removeprefix(ACTION_NAMESPACE_PREFIX)
    parser = _PARSERS.get(name)
    if parser is None:
        # Graph's wording for an unknown URL segment, plus what we do support.
        raise GraphError(
            400,
            "BadRequest",
            f"Resource not found for the segment '{_echo(action)}'; supported actions are: "
            f"{', '.join(ACTIONS)}.",
        )
    return parser(body)
