"""The scenario file (TOML): the bot's actions and the caller's behaviour on one time line.

A broken scenario raises ``ScenarioError`` naming the file, the entry and the problem; it never
reaches the engine. An invalid *Graph body* is not a broken scenario: the engine answers it with
a 400, as the service would (docs/design.md §5).
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from app.core.clock import seconds_to_samples
from app.scenario.expect import Expectation, ExpectationError, parse_expectations
from app.scenario.values import show_value

DtmfMode = Literal["both", "in-band", "out-of-band"]
DTMF_MODES: tuple[DtmfMode, ...] = ("both", "in-band", "out-of-band")
BOT_ACTIONS = ("recordResponse", "playPrompt", "cancelMediaProcessing", "subscribeToTone")
DTMF_CHARS = "0123456789*#ABCD"

# A run stops at the latest this long after its last entry, even if an operation is still
# running: prompt + 120 s capture is the longest a single recordResponse can take
# (docs/graph-contract.md §6.3).
DEFAULT_TAIL_LIMIT_S = 600.0

# Bounds on every value, checked before any audio is read (docs/scenario-format.md).
# Times: a scenario is a test script, not a soak test; a day covers any saved live session, and a
# day of engine time still runs in minutes headless, where 1e9 s would run for weeks.
MAX_TIME_S = 24 * 3600.0
# Gain: -120 dB takes full scale below a 16-bit LSB (96 dB range), i.e. silence; +40 dB lifts a
# -60 dBFS whisper to -20 dBFS. Beyond either end a clip is only silence or clipping, and 10**(g/20)
# overflows float32 near +770 dB.
MIN_GAIN_DB = -120.0
MAX_GAIN_DB = 40.0
# random.Random(seed) hashes a negative seed to its absolute value, so two seeds would collide;
# TOML integers are 64-bit signed (toml.io v1.0.0, "Integer").
MAX_SEED = 2**63 - 1
# A key held for a minute is no longer a key press; dtmf_tone() synthesizes `on` seconds of audio.
MIN_TONE_S = 0.01
MAX_TONE_S = 60.0
# The engine's media watchdog works on 20 ms VAD frames (docs/dsp.md §3.4); less is no timeout.
MIN_MEDIA_TIMEOUT_S = 0.02
MIN_TAIL_LIMIT_S = 1.0
# Counts and sizes: far above any real scenario (a saved live session has one entry per key press
# and bot request), low enough that a broken or hostile file is refused before it costs memory.
MAX_FILE_BYTES = 16 * 2**20
MAX_ENTRIES = 100_000  # [[bot]] + [[caller]], each key of a dtmf string counted as one press
MAX_DTMF_KEYS = 1_000
MAX_NAME_CHARS = 200
MAX_DESCRIPTION_CHARS = 10_000
MAX_PATH_CHARS = 4_096  # PATH_MAX on Linux
# aiohttp's default client_max_size: the HTTP endpoint would refuse a larger body the same way.
MAX_BODY_BYTES = 2**20
# Graph bodies nest 4 levels deep (prompts -> mediaPrompt -> mediaInfo); JSON and repr recurse.
MAX_BODY_DEPTH = 32


class ScenarioError(Exception):
    """A scenario that cannot be run; ``str()`` is one line: file, entry, problem."""

    def __init__(self, path: Path | str, entry: str, problem: str) -> None:
        # One line whatever a path or a decoder message holds: the CLI prints it as is.
        message = f"{path}: {entry}: {problem}".replace("\r", "\\r").replace("\n", "\\n")
        super().__init__(message)
        self.path = str(path)
        self.entry = entry
        self.problem = problem


@dataclass(frozen=True, slots=True)
class BotEntry:
    """A bot action at ``at_s``; ``body`` is the Graph JSON body (or raw text to send as is)."""

    at_s: float
    action: str
    body: Any
    raw_body: str | None = None


@dataclass(frozen=True, slots=True)
class CallerEntry:
    """What the caller does at ``at_s``: play audio, press keys, lose media, or hang up."""

    at_s: float
    audio: Path | None = None
    gain_db: float = 0.0
    dtmf: str | None = None
    dtmf_mode: DtmfMode = "both"
    dtmf_on_s: float = 0.1
    dtmf_off_s: float = 0.1
    no_media_s: float | None = None
    hangup: bool = False


@dataclass(frozen=True, slots=True)
class CallOptions:
    """Engine options of the [call] table (see README, "Scenario files")."""

    vad: str | None = None
    lenient_prompts: bool = False
    hangup_delivers_recording: bool = False
    media_timeout_s: float = 2.0
    in_band_detection: bool = True
    seed: int | None = None
    end_s: float | None = None
    tail_limit_s: float = DEFAULT_TAIL_LIMIT_S


@dataclass(frozen=True, slots=True)
class Scenario:
    """A parsed, checked scenario."""

    path: Path
    name: str
    description: str
    call: CallOptions
    bot: tuple[BotEntry, ...] = field(default_factory=tuple)
    caller: tuple[CallerEntry, ...] = field(default_factory=tuple)
    expect: tuple[Expectation, ...] = field(default_factory=tuple)  # app/scenario/expect.py
    # [endpoint] faults: specs for `callsim serve --scenario` (app/server/faults.py parses
    # them there; a headless run has no deliveries and ignores them).
    endpoint_faults: tuple[str, ...] = ()

    @property
    def base_dir(self) -> Path:
        """Relative paths in the scenario are relative to its folder."""
        return self.path.parent


_TOP_KEYS = {"name", "description", "call", "bot", "caller", "expect", "endpoint"}
_ENDPOINT_KEYS = {"faults"}
MAX_FAULTS = 100
MAX_FAULT_CHARS = 200
_CALL_KEYS = {
    "vad",
    "lenient_prompts",
    "hangup_delivers_recording",
    "media_timeout",
    "in_band_detection",
    "seed",
    "end",
    "tail_limit",
}
_BOT_KEYS = {"at", "action", "body", "body_json"}
_CALLER_KEYS = {"at", "audio", "gain_db", "dtmf", "mode", "on", "off", "no_media", "hangup"}
# The keys each kind of caller entry takes: a key of another kind would be silently ignored.
_CALLER_KIND_KEYS = {
    "audio": {"at", "audio", "gain_db"},
    "dtmf": {"at", "dtmf", "mode", "on", "off"},
    "no_media": {"at", "no_media"},
    "hangup": {"at", "hangup"},
}


def _number(
    value: object,
    where: str,
    key: str,
    path: Path,
    *,
    minimum: float = 0.0,
    maximum: float = MAX_TIME_S,
    unit: str = "s",
) -> float:
    """A finite int or float within [minimum, maximum]; TOML booleans are not numbers."""
    what = "a number of seconds" if unit == "s" else f"a number ({unit})"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(path, where, f"'{key}' must be {what}, got {show_value(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ScenarioError(
            path, where, f"'{key}' must be a finite number, got {show_value(value)}"
        )
    # Compared before float(): an int of any size compares exactly and never overflows.
    if value < minimum:
        raise ScenarioError(
            path, where, f"'{key}' must be >= {minimum:g} {unit}, got {show_value(value)}"
        )
    if value > maximum:
        limit = f"{maximum:g} {unit}" + (" (24 h)" if maximum == MAX_TIME_S else "")
        raise ScenarioError(path, where, f"'{key}' must be <= {limit}, got {show_value(value)}")
    return float(value)


def _bool(value: object, where: str, key: str, path: Path) -> bool:
    if not isinstance(value, bool):
        raise ScenarioError(path, where, f"'{key}' must be true or false, got {show_value(value)}")
    return value


def _text(value: object, where: str, key: str, path: Path, *, max_chars: int) -> str:
    if not isinstance(value, str):
        raise ScenarioError(path, where, f"'{key}' must be a string, got {show_value(value)}")
    if len(value) > max_chars:
        raise ScenarioError(
            path, where, f"'{key}' must be at most {max_chars} characters, got {len(value)}"
        )
    return value


def _choice(value: object, choices: tuple[str, ...], where: str, key: str, path: Path) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ScenarioError(
            path, where, f"'{key}' must be one of {', '.join(choices)}, got {show_value(value)}"
        )
    return value


def _unknown(table: dict[str, Any], allowed: set[str], where: str, path: Path) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise ScenarioError(
            path,
            where,
            f"unknown key {show_value(extra[0])} (allowed: {', '.join(sorted(allowed))})",
        )


def load_scenario(path: Path | str) -> Scenario:
    """Read and check a scenario file; raise ScenarioError on the first problem."""
    path = Path(path)
    try:
        # Read at most one byte past the limit: /dev/zero or a huge file must not fill memory.
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ScenarioError(path, "file", "no such file") from None
    except OSError as exc:
        raise ScenarioError(path, "file", f"cannot be read ({exc})") from None
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError(path, "file", f"larger than {MAX_FILE_BYTES // 2**20} MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(path, "file", f"cannot be read ({exc})") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(path, "TOML", str(exc)) from None
    except ValueError as exc:  # tomllib lets int() refuse a decimal of more than 4300 digits
        raise ScenarioError(path, "TOML", f"a value cannot be read ({exc})") from None
    except RecursionError:  # tomllib recurses into nested arrays and inline tables
        raise ScenarioError(path, "TOML", "arrays or tables nested too deeply") from None
    return parse_scenario(doc, path)


def parse_scenario(doc: dict[str, Any], path: Path) -> Scenario:
    """Check a decoded scenario document."""
    where = "top level"
    _unknown(doc, _TOP_KEYS, where, path)
    name = _text(doc.get("name", path.stem), where, "name", path, max_chars=MAX_NAME_CHARS)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise ScenarioError(path, where, "'name' must be one line without control characters")
    description = _text(
        doc.get("description", ""), where, "description", path, max_chars=MAX_DESCRIPTION_CHARS
    )
    call = _parse_call(doc.get("call", {}), path)
    bot_raw = doc.get("bot", [])
    caller_raw = doc.get("caller", [])
    if not isinstance(bot_raw, list) or not isinstance(caller_raw, list):
        raise ScenarioError(path, where, "'bot' and 'caller' must be arrays of tables")
    if len(bot_raw) + len(caller_raw) > MAX_ENTRIES:
        raise ScenarioError(
            path, where, f"{len(bot_raw) + len(caller_raw)} entries, at most {MAX_ENTRIES}"
        )
    bot = tuple(_parse_bot(e, i, path) for i, e in enumerate(bot_raw, 1))
    caller = tuple(_parse_caller(e, i, path) for i, e in enumerate(caller_raw, 1))
    if not bot and not caller:
        raise ScenarioError(path, where, "no [[bot]] or [[caller]] entries")
    presses = len(bot) + sum(len(e.dtmf) if e.dtmf is not None else 1 for e in caller)
    if presses > MAX_ENTRIES:
        raise ScenarioError(
            path, where, f"{presses} entries counting each dtmf key, at most {MAX_ENTRIES}"
        )
    try:
        expect = parse_expectations(doc.get("expect"), bot_raw)
    except ExpectationError as exc:
        raise ScenarioError(path, exc.where, exc.problem) from None
    faults = _parse_endpoint(doc.get("endpoint", {}), path)
    return Scenario(path, name, description, call, bot, caller, expect, faults)


def _parse_endpoint(table: object, path: Path) -> tuple[str, ...]:
    where = "[endpoint]"
    if not isinstance(table, dict):
        raise ScenarioError(path, where, "must be a table")
    _unknown(table, _ENDPOINT_KEYS, where, path)
    faults = table.get("faults", [])
    if (
        not isinstance(faults, list)
        or len(faults) > MAX_FAULTS
        or not all(isinstance(f, str) and 0 < len(f) <= MAX_FAULT_CHARS for f in faults)
    ):
        raise ScenarioError(
            path,
            where,
            f"'faults' must be an array of at most {MAX_FAULTS} fault specs "
            f"(strings of 1 .. {MAX_FAULT_CHARS} characters, README 'Faults on demand')",
        )
    return tuple(faults)


def _parse_call(table: object, path: Path) -> CallOptions:
    where = "[call]"
    if not isinstance(table, dict):
        raise ScenarioError(path, where, "must be a table")
    _unknown(table, _CALL_KEYS, where, path)
    vad = table.get("vad")
    if vad is not None:
        from app.core.vad.base import CLASSIFIER_NAMES

        names = tuple(n for n in CLASSIFIER_NAMES if n != "scripted")
        vad = _choice(vad, names, where, "vad", path)
    seed = table.get("seed")
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED
    ):
        raise ScenarioError(
            path, where, f"'seed' must be an integer from 0 to 2**63-1, got {show_value(seed)}"
        )
    return CallOptions(
        vad=vad,
        lenient_prompts=_bool(table.get("lenient_prompts", False), where, "lenient_prompts", path),
        hangup_delivers_recording=_bool(
            table.get("hangup_delivers_recording", False), where, "hangup_delivers_recording", path
        ),
        media_timeout_s=_number(
            table.get("media_timeout", 2.0),
            where,
            "media_timeout",
            path,
            minimum=MIN_MEDIA_TIMEOUT_S,
        ),
        in_band_detection=_bool(
            table.get("in_band_detection", True), where, "in_band_detection", path
        ),
        seed=seed,
        end_s=None if "end" not in table else _number(table["end"], where, "end", path),
        tail_limit_s=_number(
            table.get("tail_limit", DEFAULT_TAIL_LIMIT_S),
            where,
            "tail_limit",
            path,
            minimum=MIN_TAIL_LIMIT_S,
        ),
    )


def _json_depth(value: object) -> int:
    """How deeply arrays and tables nest in ``value`` (without recursion: it may be deep)."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def _parse_bot(entry: object, index: int, path: Path) -> BotEntry:
    where = f"[[bot]] #{index}"
    if not isinstance(entry, dict):
        raise ScenarioError(path, where, "must be a table")
    _unknown(entry, _BOT_KEYS, where, path)
    at_s = _number(entry.get("at", 0.0), where, "at", path)
    action = _choice(entry.get("action"), BOT_ACTIONS, where, "action", path)
    if "body" in entry and "body_json" in entry:
        raise ScenarioError(path, where, "give either 'body' or 'body_json', not both")
    raw = entry.get("body_json")
    if raw is not None:
        if not isinstance(raw, str):
            raise ScenarioError(path, where, "'body_json' must be a string of JSON text")
        if len(raw.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
            raise ScenarioError(path, where, f"'body_json' is larger than {MAX_BODY_BYTES} bytes")
    body = entry.get("body", {})
    if _json_depth(body) > MAX_BODY_DEPTH:
        raise ScenarioError(path, where, f"'body' nests deeper than {MAX_BODY_DEPTH} levels")
    # Round-trip through JSON: TOML dates/times, nan and inf are not JSON and would not reach the
    # service; an integer too long for text is refused by json.dumps (ValueError).
    try:
        text = json.dumps(body, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ScenarioError(path, where, f"'body' is not representable as JSON ({exc})") from None
    if len(text) > MAX_BODY_BYTES:  # ASCII: json.dumps escapes every non-ASCII character
        raise ScenarioError(path, where, f"'body' is larger than {MAX_BODY_BYTES} bytes as JSON")
    return BotEntry(at_s, action, json.loads(text), raw)


def _parse_caller(entry: object, index: int, path: Path) -> CallerEntry:
    where = f"[[caller]] #{index}"
    if not isinstance(entry, dict):
        raise ScenarioError(path, where, "must be a table")
    _unknown(entry, _CALLER_KEYS, where, path)
    at_s = _number(entry.get("at", 0.0), where, "at", path)
    kinds = [k for k in ("audio", "dtmf", "no_media", "hangup") if k in entry]
    if len(kinds) != 1:
        raise ScenarioError(
            path, where, "needs exactly one of 'audio', 'dtmf', 'no_media', 'hangup'"
        )
    kind = kinds[0]
    stray = sorted(set(entry) - _CALLER_KIND_KEYS[kind])
    if stray:
        raise ScenarioError(path, where, f"'{stray[0]}' does not apply to a '{kind}' entry")
    if kind == "audio":
        gain = _number(
            entry.get("gain_db", 0.0),
            where,
            "gain_db",
            path,
            minimum=MIN_GAIN_DB,
            maximum=MAX_GAIN_DB,
            unit="dB",
        )
        audio = entry["audio"]
        if not isinstance(audio, str) or not audio:
            raise ScenarioError(path, where, "'audio' must be a non-empty path string")
        if len(audio) > MAX_PATH_CHARS or "\x00" in audio:
            raise ScenarioError(path, where, f"'audio' is not a usable path: {show_value(audio)}")
        audio_path = Path(audio)
        if not audio_path.is_absolute():
            audio_path = path.parent / audio_path
        try:
            # Only that it exists: the audio is read by the runner, after every check passed.
            found = audio_path.is_file()
        except OSError as exc:  # e.g. a path component longer than NAME_MAX
            raise ScenarioError(
                path, where, f"audio file {show_value(audio)}: {exc.strerror}"
            ) from None
        if not found:
            raise ScenarioError(path, where, f"audio file {show_value(audio)} not found")
        return CallerEntry(at_s, audio=audio_path, gain_db=gain)
    if kind == "dtmf":
        keys = entry["dtmf"]
        if not isinstance(keys, str) or not keys:
            raise ScenarioError(path, where, "'dtmf' must be a non-empty string of keys")
        if len(keys) > MAX_DTMF_KEYS:
            raise ScenarioError(
                path, where, f"'dtmf' has {len(keys)} keys, at most {MAX_DTMF_KEYS}"
            )
        bad = [k for k in keys if k.upper() not in DTMF_CHARS]
        keys = keys.upper()
        if bad:
            raise ScenarioError(path, where, f"'dtmf' has {bad[0]!r}, not a key of 0-9 * # A-D")
        mode = _choice(entry.get("mode", "both"), DTMF_MODES, where, "mode", path)
        on_s = _number(
            entry.get("on", 0.1), where, "on", path, minimum=MIN_TONE_S, maximum=MAX_TONE_S
        )
        off_s = _number(entry.get("off", 0.1), where, "off", path, maximum=MAX_TONE_S)
        last_end_s = at_s + (len(keys) - 1) * (on_s + off_s) + on_s
        if last_end_s > MAX_TIME_S:
            raise ScenarioError(
                path, where, f"'dtmf' keys run to {last_end_s:g} s, past 24 h ({MAX_TIME_S:g} s)"
            )
        dtmf_mode = cast(DtmfMode, mode)  # one of DTMF_MODES, checked above
        return CallerEntry(at_s, dtmf=keys, dtmf_mode=dtmf_mode, dtmf_on_s=on_s, dtmf_off_s=off_s)
    if kind == "no_media":
        no_media_s = _number(entry["no_media"], where, "no_media", path)
        if seconds_to_samples(no_media_s) < 1:
            raise ScenarioError(
                path,
                where,
                f"'no_media' must be at least one sample (1/16000 s), got {no_media_s!r}",
            )
        if at_s + no_media_s > MAX_TIME_S:
            raise ScenarioError(
                path,
                where,
                f"'no_media' runs to {at_s + no_media_s:g} s, past 24 h ({MAX_TIME_S:g} s)",
            )
        return CallerEntry(at_s, no_media_s=no_media_s)
    if entry["hangup"] is not True:
        raise ScenarioError(
            path, where, f"'hangup' must be true, got {show_value(entry['hangup'])}"
        )
    return CallerEntry(at_s, hangup=True)
