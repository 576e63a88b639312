"""Every number, string and key of a scenario is checked before any audio is read.

Each kind of bad value gets one line naming the file, the entry and the field (ScenarioError),
and ``callsim run`` / ``callsim serve --scenario`` turn it into exit 2 and that one line.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.scenario.model import MAX_FILE_BYTES, ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[2]

# A valid first entry of each kind, so the bad one is always #2: the message must name it.
CALLER_1 = '[[caller]]\nat = 0\naudio = "a.wav"\n'
BOT_1 = '[[bot]]\naction = "subscribeToTone"\n'


def caller(fields: str) -> str:
    return f"{CALLER_1}[[caller]]\n{fields}\n"


def bot(fields: str) -> str:
    return f'{BOT_1}[[bot]]\naction = "recordResponse"\n{fields}\n'


def call(fields: str) -> str:
    return f"[call]\n{fields}\n{CALLER_1}"


def top(fields: str) -> str:
    return f"{fields}\n{CALLER_1}"


HUGE_HEX = "0x" + "f" * 5000  # 20 000 bits: tomllib reads it; repr() of it would raise
NESTED_BODY = "{a = " * 40 + "1" + "}" * 40

CASES = [
    # -- times: finite, 0 <= t <= 24 h
    pytest.param(
        caller("at = nan\nhangup = true"),
        "[[caller]] #2",
        "'at' must be a finite number, got nan",
        id="at-nan",
    ),
    pytest.param(
        caller("at = inf\nhangup = true"),
        "[[caller]] #2",
        "'at' must be a finite number, got inf",
        id="at-inf",
    ),
    pytest.param(
        caller("at = -inf\nhangup = true"),
        "[[caller]] #2",
        "'at' must be a finite number",
        id="at-minus-inf",
    ),
    pytest.param(
        caller("at = 1e9\nhangup = true"),
        "[[caller]] #2",
        "'at' must be <= 86400 s (24 h), got 1000000000.0",
        id="at-1e9",
    ),
    pytest.param(
        caller("at = 99999999999999999999\nhangup = true"),
        "[[caller]] #2",
        "'at' must be <= 86400 s",
        id="at-huge-int",
    ),
    pytest.param(
        caller(f"at = {HUGE_HEX}\nhangup = true"),
        "[[caller]] #2",
        "got an integer of 20000 bits",
        id="at-20000-bit-int",
    ),
    pytest.param(
        bot("at = -0.5"), "[[bot]] #2", "'at' must be >= 0 s, got -0.5", id="bot-at-negative"
    ),
    pytest.param(bot("at = nan"), "[[bot]] #2", "'at' must be a finite number", id="bot-at-nan"),
    pytest.param(
        caller("at = true\nhangup = true"),
        "[[caller]] #2",
        "'at' must be a number of seconds, got True",
        id="at-bool",
    ),
    pytest.param(
        caller('at = "1"\nhangup = true'),
        "[[caller]] #2",
        "'at' must be a number of seconds, got '1'",
        id="at-string",
    ),
    pytest.param(
        caller("at = 1979-05-27T07:32:00Z\nhangup = true"),
        "[[caller]] #2",
        "'at' must be a number of seconds, got datetime",
        id="at-datetime",
    ),
    pytest.param(
        caller("at = [1]\nhangup = true"),
        "[[caller]] #2",
        "'at' must be a number of seconds, got an array",
        id="at-array",
    ),
    # -- [call]
    pytest.param(
        call("media_timeout = 0"),
        "[call]",
        "'media_timeout' must be >= 0.02 s",
        id="media-timeout-zero",
    ),
    pytest.param(
        call("media_timeout = 1e9"),
        "[call]",
        "'media_timeout' must be <= 86400 s",
        id="media-timeout-huge",
    ),
    pytest.param(
        call("media_timeout = nan"),
        "[call]",
        "'media_timeout' must be a finite number",
        id="media-timeout-nan",
    ),
    pytest.param(call("end = -1"), "[call]", "'end' must be >= 0 s", id="end-negative"),
    pytest.param(call("end = 86401"), "[call]", "'end' must be <= 86400 s", id="end-past-24h"),
    pytest.param(call("end = inf"), "[call]", "'end' must be a finite number", id="end-inf"),
    pytest.param(
        call("tail_limit = 0.5"), "[call]", "'tail_limit' must be >= 1 s", id="tail-limit-small"
    ),
    pytest.param(
        call("tail_limit = 1e12"), "[call]", "'tail_limit' must be <= 86400 s", id="tail-limit-huge"
    ),
    pytest.param(
        call("seed = -1"),
        "[call]",
        "'seed' must be an integer from 0 to 2**63-1, got -1",
        id="seed-negative",
    ),
    pytest.param(
        call("seed = 9223372036854775808"),
        "[call]",
        "'seed' must be an integer from 0",
        id="seed-past-64-bit",
    ),
    pytest.param(call("seed = 1.5"), "[call]", "'seed' must be an integer", id="seed-float"),
    pytest.param(call("seed = true"), "[call]", "'seed' must be an integer", id="seed-bool"),
    pytest.param(
        call("lenient_prompts = 1"),
        "[call]",
        "'lenient_prompts' must be true or false, got 1",
        id="bool-as-number",
    ),
    pytest.param(
        call("in_band_detection = 0.0"),
        "[call]",
        "'in_band_detection' must be true or false",
        id="bool-as-float",
    ),
    pytest.param(
        call('hangup_delivers_recording = "yes"'),
        "[call]",
        "must be true or false, got 'yes'",
        id="bool-as-string",
    ),
    pytest.param(call("vad = 5"), "[call]", "'vad' must be one of", id="vad-number"),
    pytest.param(
        call('vad = ["energy"]'), "[call]", "'vad' must be one of .* got an array", id="vad-array"
    ),
    # -- [[caller]] audio
    pytest.param(
        caller('at = 1\naudio = "a.wav"\ngain_db = 1000'),
        "[[caller]] #2",
        "'gain_db' must be <= 40 dB, got 1000",
        id="gain-1000dB",
    ),
    pytest.param(
        caller('at = 1\naudio = "a.wav"\ngain_db = -1000'),
        "[[caller]] #2",
        "'gain_db' must be >= -120 dB",
        id="gain-minus-1000dB",
    ),
    pytest.param(
        caller('at = 1\naudio = "a.wav"\ngain_db = nan'),
        "[[caller]] #2",
        "'gain_db' must be a finite number",
        id="gain-nan",
    ),
    pytest.param(
        caller('at = 1\naudio = "a.wav"\ngain_db = true'),
        "[[caller]] #2",
        "'gain_db' must be a number (dB)",
        id="gain-bool",
    ),
    pytest.param(
        caller('audio = ""'),
        "[[caller]] #2",
        "'audio' must be a non-empty path string",
        id="audio-empty",
    ),
    pytest.param(
        caller("audio = 5"),
        "[[caller]] #2",
        "'audio' must be a non-empty path string",
        id="audio-number",
    ),
    pytest.param(
        caller(f'audio = "{"x" * 5000}.wav"'),
        "[[caller]] #2",
        "'audio' is not a usable path",
        id="audio-path-too-long",
    ),
    pytest.param(
        caller(f'audio = "{"x" * 300}/a.wav"'),
        "[[caller]] #2",
        "File name too long",
        id="audio-name-too-long",
    ),
    pytest.param(
        caller('audio = "a\\u0000.wav"'),
        "[[caller]] #2",
        "'audio' is not a usable path",
        id="audio-nul",
    ),
    # -- [[caller]] dtmf, no_media, hangup
    pytest.param(
        caller('dtmf = "1"\non = 0'), "[[caller]] #2", "'on' must be >= 0.01 s", id="on-zero"
    ),
    pytest.param(
        caller('dtmf = "1"\non = 61'), "[[caller]] #2", "'on' must be <= 60 s", id="on-too-long"
    ),
    pytest.param(
        caller('dtmf = "1"\non = nan'), "[[caller]] #2", "'on' must be a finite number", id="on-nan"
    ),
    pytest.param(
        caller('dtmf = "1"\noff = -0.1'), "[[caller]] #2", "'off' must be >= 0 s", id="off-negative"
    ),
    pytest.param(
        caller('dtmf = "1"\noff = 1e300'), "[[caller]] #2", "'off' must be <= 60 s", id="off-huge"
    ),
    pytest.param(
        caller('dtmf = "1"\nmode = true'),
        "[[caller]] #2",
        "'mode' must be one of .* got True",
        id="mode-bool",
    ),
    pytest.param(
        caller(f'dtmf = "{"1" * 1001}"'),
        "[[caller]] #2",
        "'dtmf' has 1001 keys, at most 1000",
        id="dtmf-too-many-keys",
    ),
    pytest.param(
        caller('at = 86399.9\ndtmf = "123"'),
        "[[caller]] #2",
        "'dtmf' keys run to .* past 24 h",
        id="dtmf-past-24h",
    ),
    pytest.param(
        caller('dtmf = "1"\ngain_db = 3'),
        "[[caller]] #2",
        "'gain_db' does not apply to a 'dtmf' entry",
        id="key-of-another-kind",
    ),
    pytest.param(
        caller("no_media = inf"),
        "[[caller]] #2",
        "'no_media' must be a finite number",
        id="no-media-inf",
    ),
    pytest.param(
        caller("no_media = 86401"),
        "[[caller]] #2",
        "'no_media' must be <= 86400 s",
        id="no-media-past-24h",
    ),
    pytest.param(
        caller("at = 86000\nno_media = 1000"),
        "[[caller]] #2",
        "'no_media' runs to 87000 s, past 24 h",
        id="no-media-ends-past-24h",
    ),
    pytest.param(
        caller("no_media = true"),
        "[[caller]] #2",
        "'no_media' must be a number of seconds, got True",
        id="no-media-bool",
    ),
    pytest.param(
        caller("hangup = 1"), "[[caller]] #2", "'hangup' must be true, got 1", id="hangup-as-number"
    ),
    # -- [[bot]]
    pytest.param(
        bot("body = { maxRecordDurationInSeconds = nan }"),
        "[[bot]] #2",
        "'body' is not representable as JSON",
        id="body-nan",
    ),
    pytest.param(
        bot(f"body = {{ maxRecordDurationInSeconds = {HUGE_HEX} }}"),
        "[[bot]] #2",
        "'body' is not representable as JSON",
        id="body-20000-bit-int",
    ),
    pytest.param(
        bot(f"body = {NESTED_BODY}"),
        "[[bot]] #2",
        "'body' nests deeper than 32 levels",
        id="body-nested-40-deep",
    ),
    pytest.param(
        bot(f'body = {{ clientContext = "{"x" * 2**20}" }}'),
        "[[bot]] #2",
        "'body' is larger than 1048576 bytes",
        id="body-too-large",
    ),
    pytest.param(
        bot(f"body_json = '{'x' * (2**20 + 1)}'"),
        "[[bot]] #2",
        "'body_json' is larger than 1048576 bytes",
        id="body-json-too-large",
    ),
    pytest.param(
        bot("action = 3").replace('action = "recordResponse"\n', ""),
        "[[bot]] #2",
        "'action' must be one of .* got 3",
        id="action-number",
    ),
    # -- top level: strings, counts, keys
    pytest.param(top("name = 5"), "top level", "'name' must be a string, got 5", id="name-number"),
    pytest.param(
        top(f'name = "{"n" * 201}"'),
        "top level",
        "'name' must be at most 200 characters, got 201",
        id="name-too-long",
    ),
    pytest.param(
        top('name = "two\\nlines"'), "top level", "'name' must be one line", id="name-two-lines"
    ),
    pytest.param(
        top(f'description = "{"d" * 10001}"'),
        "top level",
        "'description' must be at most 10000",
        id="description-too-long",
    ),
    pytest.param(
        top('"a\\nb" = 1'), "top level", "unknown key 'a\\nb'", id="unknown-key-with-newline"
    ),
    pytest.param(
        CALLER_1 + f'[[caller]]\ndtmf = "{"1" * 1000}"\n' * 100,
        "top level",
        "100001 entries counting each dtmf key, at most 100000",
        id="too-many-presses",
    ),
    # -- the TOML itself
    pytest.param(
        top("x = " + "[" * 2000 + "]" * 2000),
        "TOML",
        "nested too deeply",
        id="toml-nested-2000-deep",
    ),
    pytest.param(
        top("x = " + "9" * 5000), "TOML", "a value cannot be read", id="toml-5000-digit-int"
    ),
]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    # Not a WAV file at all: a scenario that read its audio while loading would fail on it.
    (tmp_path / "a.wav").write_bytes(b"RIFF not really a wav file")
    return tmp_path


@pytest.mark.parametrize(("text", "entry", "problem"), CASES)
def test_every_bad_value_is_one_line_naming_file_entry_and_field(
    folder: Path, text: str, entry: str, problem: str
) -> None:
    path = folder / "s.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert info.value.entry == entry, message
    assert message.startswith(f"{path}: {entry}: ")
    # ".*" in a case stands for anything; the rest is literal text.
    pattern = ".*".join(re.escape(part) for part in problem.split(".*"))
    assert re.search(pattern, info.value.problem), message
    assert "\n" not in message and len(message) < 300 + len(str(path))


def test_the_bounds_themselves_are_accepted(folder: Path) -> None:
    path = folder / "s.toml"
    path.write_text(
        "[call]\nseed = 9223372036854775807\nmedia_timeout = 0.02\nend = 86400\n"
        "tail_limit = 86400\n"
        f'{CALLER_1}[[caller]]\nat = 86400\naudio = "a.wav"\ngain_db = 40\n'
        '[[caller]]\naudio = "a.wav"\ngain_db = -120\n'
        f'[[caller]]\nat = 86399.5\ndtmf = "1"\non = 0.5\noff = 60\n'
        f'[[caller]]\ndtmf = "{"1" * 1000}"\non = 0.01\noff = 0\n'
        "[[caller]]\nat = 86399\nno_media = 1\n"
        f'[[bot]]\nat = 86400\naction = "playPrompt"\nbody = {"{a = " * 31 + "1" + "}" * 31}\n',
        encoding="utf-8",
    )
    scenario = load_scenario(path)
    assert scenario.call.seed == 2**63 - 1 and scenario.call.end_s == 86400.0
    assert [c.gain_db for c in scenario.caller[:3]] == [0.0, 40.0, -120.0]


def test_a_file_larger_than_the_limit_is_refused_unparsed(folder: Path) -> None:
    path = folder / "s.toml"
    path.write_bytes(CALLER_1.encode() + b"#" * MAX_FILE_BYTES)
    with pytest.raises(ScenarioError, match=r"s\.toml: file: larger than 16 MiB"):
        load_scenario(path)


def callsim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("command", "fields", "line_end"),
    [
        ("run", "at = nan\nhangup = true", "[[caller]] #2: 'at' must be a finite number, got nan"),
        (
            "run",
            'at = 1\naudio = "a.wav"\ngain_db = 1000',
            "[[caller]] #2: 'gain_db' must be <= 40 dB, got 1000",
        ),
        (
            "serve",
            "at = 1e9\nhangup = true",
            "[[caller]] #2: 'at' must be <= 86400 s (24 h), got 1000000000.0",
        ),
        ("serve", "hangup = 1", "[[caller]] #2: 'hangup' must be true, got 1"),
    ],
)
def test_the_cli_exits_2_with_exactly_one_line(
    folder: Path, command: str, fields: str, line_end: str
) -> None:
    path = folder / "s.toml"
    path.write_text(caller(fields), encoding="utf-8")
    out = folder / "out"
    if command == "run":
        proc = callsim("run", str(path), "--out", str(out))
    else:  # refused before it listens: no port is opened
        proc = callsim("serve", "--port", "0", "--scenario", str(path))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [f"callsim: error: {path}: {line_end}"]
    assert proc.stdout == ""
    assert not out.exists()
