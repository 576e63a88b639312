"""Property: any TOML document either loads as a bounded scenario or raises ScenarioError.

Documents are a valid scenario with values replaced by arbitrary ones (nan, inf, huge and
20 000-bit integers, booleans for numbers and numbers for booleans, dates, strings, arrays,
tables nested thousands deep), keys dropped or unknown keys added, plus arbitrary text and bytes.
Never another exception; a scenario that loads has every value within the documented bounds, so
running it is bounded too; loading allocates little (tracemalloc, not the wall clock) and never
decodes the audio: ``a.wav`` is not a WAV file.
"""

from __future__ import annotations

import json
import math
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from app.scenario.model import (
    MAX_ENTRIES,
    MAX_GAIN_DB,
    MAX_SEED,
    MAX_TIME_S,
    MAX_TONE_S,
    MIN_GAIN_DB,
    Scenario,
    ScenarioError,
    load_scenario,
)

FUZZ = settings(
    max_examples=300,
    deadline=None,  # no wall-clock assertion; allocation is measured instead
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Loading a fuzzed document is mostly text: far below this. A loader that built the caller's
# track (1e9 s of samples) or decoded a 20 000-bit integer to text would exceed it.
MAX_LOAD_ALLOCATION_BYTES = 64 * 2**20


def toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_float(x: float) -> str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(x)


def nested(depth: int, kind: str) -> str:
    if kind == "array":
        return "[" * depth + "]" * depth
    return "{a = " * depth + "1" + "}" * depth


NASTY = st.sampled_from(
    [
        "nan", "+nan", "-nan", "inf", "-inf", "-1", "-0.0", "0", "1e-9", "86400", "86400.0001",
        "1e9", "1e308", "9223372036854775807", "9223372036854775808", "-9223372036854775809",
        "9" * 4300, "9" * 5000, "0x" + "f" * 5000, "true", "false", "1", '"1"', '""', "[]",
        "{}", "1979-05-27", "07:32:00", "1979-05-27T07:32:00Z", '"a\\nb"', '"\\u0000"',
    ]
)  # fmt: skip
SCALARS = st.one_of(
    NASTY,
    st.integers().map(str),
    st.integers(min_value=-(2**200), max_value=2**200).map(str),
    st.integers(min_value=0, max_value=2**200).map(hex),
    st.floats().map(toml_float),
    st.booleans().map(lambda b: "true" if b else "false"),
    st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40).map(toml_string),
    st.builds(nested, st.sampled_from([1, 33, 1200]), st.sampled_from(["array", "table"])),
)  # fmt: skip
KEYS = st.sampled_from(
    ["at", "audio", "gain_db", "dtmf", "mode", "on", "off", "no_media", "hangup", "action",
     "body", "body_json", "vad", "seed", "end", "tail_limit", "media_timeout", "name",
     "lenient_prompts", "in_band_detection", "hangup_delivers_recording", "bogus", "\"a b\""]
)  # fmt: skip


VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.dictionaries(KEYS, inner, max_size=4).map(
            lambda d: "{" + ", ".join(f"{k} = {v}" for k, v in d.items()) + "}"
        ),
    ),
    max_leaves=12,
)

# A valid scenario, section by section: (header, {key: TOML value text}).
BASE: list[tuple[str, dict[str, str]]] = [
    ("", {"name": '"fuzz"', "description": '"free text"'}),
    (
        "[call]",
        {
            "vad": '"energy"',
            "lenient_prompts": "false",
            "hangup_delivers_recording": "false",
            "media_timeout": "2.0",
            "in_band_detection": "true",
            "seed": "7",
            "end": "30.0",
            "tail_limit": "600.0",
        },
    ),
    (
        "[[bot]]",
        {
            "at": "0.0",
            "action": '"recordResponse"',
            "body": '{ playBeep = true, maxSilenceTimeoutInSeconds = 2, stopTones = ["#"] }',
        },
    ),
    ("[[caller]]", {"at": "1.2", "audio": '"a.wav"', "gain_db": "0.0"}),
    ("[[caller]]", {"at": "6.0", "dtmf": '"12#"', "mode": '"both"', "on": "0.1", "off": "0.1"}),
    ("[[caller]]", {"at": "8.0", "no_media": "3.0"}),
    ("[[caller]]", {"at": "20.0", "hangup": "true"}),
]

MUTATIONS = st.lists(
    st.tuples(
        st.integers(0, len(BASE) - 1),
        st.one_of(KEYS, st.sampled_from([k for _, t in BASE for k in t])),
        st.one_of(st.none(), VALUES),  # None: drop the key
    ),
    min_size=1,
    max_size=6,
)


def render(mutations: list[tuple[int, str, str | None]]) -> str:
    sections = [(header, dict(table)) for header, table in BASE]
    for index, key, value in mutations:
        table = sections[index][1]
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value
    lines: list[str] = []
    for header, table in sections:
        if header:
            lines.append(header)
        lines += [f"{k} = {v}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def check_bounded(scenario: Scenario) -> None:
    """Everything the runner turns into samples, allocations or loops is finite and bounded."""
    call = scenario.call
    times = [call.media_timeout_s, call.tail_limit_s]
    times += [call.end_s] if call.end_s is not None else []
    times += [b.at_s for b in scenario.bot] + [c.at_s for c in scenario.caller]
    for c in scenario.caller:
        assert type(c.gain_db) is float and MIN_GAIN_DB <= c.gain_db <= MAX_GAIN_DB
        assert 0 < c.dtmf_on_s <= MAX_TONE_S and 0 <= c.dtmf_off_s <= MAX_TONE_S
        if c.no_media_s is not None:
            assert c.at_s + c.no_media_s <= MAX_TIME_S
        if c.dtmf is not None:
            last_key_s = c.at_s + (len(c.dtmf) - 1) * (c.dtmf_on_s + c.dtmf_off_s)
            assert last_key_s + c.dtmf_on_s <= MAX_TIME_S
        assert type(c.hangup) is bool
    for t in times:
        assert type(t) is float and math.isfinite(t) and 0 <= t <= MAX_TIME_S, t
    assert call.seed is None or (type(call.seed) is int and 0 <= call.seed <= MAX_SEED)
    for flag in (call.lenient_prompts, call.hangup_delivers_recording, call.in_band_detection):
        assert type(flag) is bool
    assert len(scenario.bot) + len(scenario.caller) <= MAX_ENTRIES
    for b in scenario.bot:
        json.dumps(b.body, allow_nan=False)  # what the engine gets is JSON


def load_or_refuse(path: Path) -> None:
    tracemalloc.start()
    try:
        try:
            scenario = load_scenario(path)
        except ScenarioError as exc:
            message = str(exc)
            assert message.startswith(f"{path}: ") and "\n" not in message, message
            event(f"refused: {exc.entry.split(' #')[0]}")  # --hypothesis-show-statistics
            return
        finally:
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MAX_LOAD_ALLOCATION_BYTES, peak
    check_bounded(scenario)
    event("loaded")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "a.wav").write_bytes(b"RIFF not really a wav file")
    return tmp_path


@FUZZ
@given(mutations=MUTATIONS)
def test_a_mutated_scenario_loads_bounded_or_is_refused(
    folder: Path, mutations: list[tuple[int, str, str | None]]
) -> None:
    path = folder / "s.toml"
    path.write_text(render(mutations), encoding="utf-8")
    load_or_refuse(path)


@FUZZ
@given(data=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_arbitrary_bytes_load_or_are_refused(folder: Path, data: bytes) -> None:
    path = folder / "s.toml"
    path.write_bytes(data)
    load_or_refuse(path)


def test_the_base_document_is_a_valid_scenario(folder: Path) -> None:
    path = folder / "s.toml"
    path.write_text(render([(0, "name", '"fuzz"')]), encoding="utf-8")
    scenario = load_scenario(path)
    assert len(scenario.caller) == 4 and scenario.call.seed == 7
