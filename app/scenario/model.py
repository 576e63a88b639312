"""The scenario file (TOML): the bot's actions and the caller's behaviour on one time line.

A broken scenario raises ``ScenarioError`` naming the file, the entry and the problem; it never
reaches the engine. An invalid *Graph body* is not a broken scenario: the engine answers it with
a 400, as the service would (DESIGN.md §5).
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from app.core.clock import seconds_to_samples

DtmfMode = Literal["both", "in-band", "out-of-band"]
DTMF_MODES: tuple[DtmfMode, ...] = ("both", "in-band", "out-of-band")
BOT_ACTIONS = ("recordResponse", "playPrompt", "cancelMediaProcessing", "subscribeToTone")
DTMF_CHARS = "0123456789*#ABCD"

# A run stops at the latest this long after its last entry, even if an operation is still
# running: prompt + 120 s capture is the longest a single recordResponse can take (spec §6.3).
DEFAULT_TAIL_LIMIT_S = 600.0


class ScenarioError(Exception):
    """A scenario that cannot be run; ``str()`` is one line: file, entry, problem."""

    def __init__(self, path: Path | str, entry: str, problem: str) -> None:
        super().__init__(f"{path}: {entry}: {problem}")
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

    @property
    def base_dir(self) -> Path:
        """Relative paths in the scenario are relative to its folder."""
        return self.path.parent


_TOP_KEYS = {"name", "description", "call", "bot", "caller"}
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


def _number(value: object, where: str, key: str, path: Path, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(path, where, f"'{key}' must be a number of seconds, got {value!r}")
    if value < minimum:
        raise ScenarioError(path, where, f"'{key}' must be >= {minimum:g}, got {value!r}")
    return float(value)


def _bool(value: object, where: str, key: str, path: Path) -> bool:
    if not isinstance(value, bool):
        raise ScenarioError(path, where, f"'{key}' must be true or false, got {value!r}")
    return value


def _unknown(table: dict[str, Any], allowed: set[str], where: str, path: Path) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise ScenarioError(
            path, where, f"unknown key '{extra[0]}' (allowed: {', '.join(sorted(allowed))})"
        )


def load_scenario(path: Path | str) -> Scenario:
    """Read and check a scenario file; raise ScenarioError on the first problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(path, "file", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(path, "file", f"cannot be read ({exc})") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(path, "TOML", str(exc)) from None
    return parse_scenario(doc, path)


def parse_scenario(doc: dict[str, Any], path: Path) -> Scenario:
    """Check a decoded scenario document."""
    _unknown(doc, _TOP_KEYS, "top level", path)
    name = doc.get("name", path.stem)
    if not isinstance(name, str):
        raise ScenarioError(path, "top level", "'name' must be a string")
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise ScenarioError(path, "top level", "'description' must be a string")
    call = _parse_call(doc.get("call", {}), path)
    bot_raw = doc.get("bot", [])
    caller_raw = doc.get("caller", [])
    if not isinstance(bot_raw, list) or not isinstance(caller_raw, list):
        raise ScenarioError(path, "top level", "'bot' and 'caller' must be arrays of tables")
    bot = tuple(_parse_bot(e, i, path) for i, e in enumerate(bot_raw, 1))
    caller = tuple(_parse_caller(e, i, path) for i, e in enumerate(caller_raw, 1))
    if not bot and not caller:
        raise ScenarioError(path, "top level", "no [[bot]] or [[caller]] entries")
    return Scenario(path, name, description, call, bot, caller)


def _parse_call(table: object, path: Path) -> CallOptions:
    where = "[call]"
    if not isinstance(table, dict):
        raise ScenarioError(path, where, "must be a table")
    _unknown(table, _CALL_KEYS, where, path)
    vad = table.get("vad")
    if vad is not None:
        from app.core.vad.base import CLASSIFIER_NAMES

        if vad not in CLASSIFIER_NAMES or vad == "scripted":
            names = ", ".join(n for n in CLASSIFIER_NAMES if n != "scripted")
            raise ScenarioError(path, where, f"'vad' must be one of {names}, got {vad!r}")
    seed = table.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ScenarioError(path, where, f"'seed' must be an integer, got {seed!r}")
    return CallOptions(
        vad=vad,
        lenient_prompts=_bool(table.get("lenient_prompts", False), where, "lenient_prompts", path),
        hangup_delivers_recording=_bool(
            table.get("hangup_delivers_recording", False), where, "hangup_delivers_recording", path
        ),
        media_timeout_s=_number(
            table.get("media_timeout", 2.0), where, "media_timeout", path, minimum=0.02
        ),
        in_band_detection=_bool(
            table.get("in_band_detection", True), where, "in_band_detection", path
        ),
        seed=seed,
        end_s=None if "end" not in table else _number(table["end"], where, "end", path),
        tail_limit_s=_number(
            table.get("tail_limit", DEFAULT_TAIL_LIMIT_S), where, "tail_limit", path, minimum=1.0
        ),
    )


def _parse_bot(entry: object, index: int, path: Path) -> BotEntry:
    where = f"[[bot]] #{index}"
    if not isinstance(entry, dict):
        raise ScenarioError(path, where, "must be a table")
    _unknown(entry, _BOT_KEYS, where, path)
    at_s = _number(entry.get("at", 0.0), where, "at", path)
    action = entry.get("action")
    if action not in BOT_ACTIONS:
        raise ScenarioError(
            path, where, f"'action' must be one of {', '.join(BOT_ACTIONS)}, got {action!r}"
        )
    if "body" in entry and "body_json" in entry:
        raise ScenarioError(path, where, "give either 'body' or 'body_json', not both")
    raw = entry.get("body_json")
    if raw is not None and not isinstance(raw, str):
        raise ScenarioError(path, where, "'body_json' must be a string of JSON text")
    body = entry.get("body", {})
    # Round-trip through JSON: TOML dates/times are not JSON and would not reach the service.
    try:
        body = json.loads(json.dumps(body))
    except TypeError as exc:
        raise ScenarioError(path, where, f"'body' is not representable as JSON ({exc})") from None
    return BotEntry(at_s, str(action), body, raw)


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
    if kind == "audio":
        audio = entry["audio"]
        if not isinstance(audio, str):
            raise ScenarioError(path, where, "'audio' must be a path string")
        audio_path = Path(audio)
        if not audio_path.is_absolute():
            audio_path = path.parent / audio_path
        if not audio_path.is_file():
            raise ScenarioError(path, where, f"audio file '{audio}' not found")
        gain = entry.get("gain_db", 0.0)
        if isinstance(gain, bool) or not isinstance(gain, int | float):
            raise ScenarioError(path, where, "'gain_db' must be a number")
        return CallerEntry(at_s, audio=audio_path, gain_db=float(gain))
    if kind == "dtmf":
        keys = entry["dtmf"]
        if not isinstance(keys, str) or not keys:
            raise ScenarioError(path, where, "'dtmf' must be a non-empty string of keys")
        bad = [k for k in keys if k.upper() not in DTMF_CHARS]
        keys = keys.upper()
        if bad:
            raise ScenarioError(path, where, f"'dtmf' has {bad[0]!r}, not a key of 0-9 * # A-D")
        mode = entry.get("mode", "both")
        if mode not in DTMF_MODES:
            raise ScenarioError(
                path, where, f"'mode' must be one of {', '.join(DTMF_MODES)}, got {mode!r}"
            )
        on_s = _number(entry.get("on", 0.1), where, "on", path, minimum=0.01)
        off_s = _number(entry.get("off", 0.1), where, "off", path, minimum=0.0)
        return CallerEntry(at_s, dtmf=keys, dtmf_mode=mode, dtmf_on_s=on_s, dtmf_off_s=off_s)
    if kind == "no_media":
        no_media_s = _number(entry["no_media"], where, "no_media", path)
        if seconds_to_samples(no_media_s) < 1:
            raise ScenarioError(
                path,
                where,
                f"'no_media' must be at least one sample (1/16000 s), got {no_media_s!r}",
            )
        return CallerEntry(at_s, no_media_s=no_media_s)
    if entry["hangup"] is not True:
        raise ScenarioError(path, where, "'hangup' must be true")
    return CallerEntry(at_s, hangup=True)
