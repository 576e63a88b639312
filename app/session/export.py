"""Export a live session: the request, the response, the notifications, the WAVs, a scenario.

Every JSON record comes from ``app.scenario.output`` (the serializers the scenario runner
uses), so an export and a ``callsim run`` output agree field for field. A saved session is
also a scenario: ``caller.wav`` holds the microphone audio exactly as the engine heard it
(16 kHz, on the 16-bit grid it was rounded to before the engine saw it), and every key press,
bot action and hang-up is written at its exact engine sample (from ``Call.input_log``), so
``callsim run scenario.toml`` reproduces the same endings at the same times.

The saved folder stands on its own: its records' ``recordingLocation`` and the
recordingFinished ``location`` (a ``file:`` URI into the live session's folder under the app
data folder) are rewritten to the saved copy,
``<saved folder>/recordings/<operation id>.wav`` (``relocate_recordings``); nothing else in a
record differs from the engine's own.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from app.audio.wav import write_wav
from app.core import events as ev
from app.core.clock import ENGINE_RATE_HZ
from app.core.timeline import Timeline
from app.graph import payloads
from app.scenario.model import CallOptions
from app.scenario.output import event_record, sorted_records, write_json, write_jsonl

FloatArray = npt.NDArray[np.float32]

CALLER_WAV = "caller.wav"
SCENARIO_TOML = "scenario.toml"
GRAPH_BASE_URL = "https://graph.microsoft.com/v1.0"  # CallConfig's default base
# Where a record names a recording's place: the notification's resourceData and the
# recordingFinished record (app/scenario/output.py).
LOCATION_KEYS = frozenset({"recordingLocation", "location"})


@dataclass(frozen=True)
class SessionSnapshot:
    """A live session frozen at one engine instant (what ``LiveSession.snapshot`` returns)."""

    call_id: str
    options: CallOptions
    caller_audio: FloatArray  # 16 kHz mono, fed_samples long
    fed_samples: int
    input_log: tuple[tuple[int, str, dict[str, Any]], ...]
    events: tuple[ev.Event, ...]
    recordings: dict[str, Path] = field(default_factory=dict)
    graph_base_url: str = GRAPH_BASE_URL

    def records(self) -> list[dict[str, Any]]:
        """The events.jsonl records of the session."""
        return sorted_records(list(self.events))

    def requests(self) -> list[dict[str, Any]]:
        """Every bot request in order: time, action, URL and body as sent."""
        return [
            request_record(self.graph_base_url, self.call_id, at, p["action"], p["body"])
            for at, kind, p in self.input_log
            if kind == "action"
        ]


@dataclass(frozen=True)
class SavedSession:
    """Where ``save_session`` put things."""

    folder: Path
    scenario: Path
    caller_wav: Path
    files: tuple[Path, ...]


# -- single exports -------------------------------------------------------------------------------


def request_record(
    base_url: str, call_id: str, at_sample: int, action: str, body: object
) -> dict[str, Any]:
    """The bot's request as exported: time, method, URL and the body exactly as sent."""
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        with contextlib.suppress(ValueError):  # an unparseable body is exported as text
            body = json.loads(body)
    return {
        "t": round(at_sample / ENGINE_RATE_HZ, 6),
        "method": "POST",
        "url": f"{base_url}{payloads.call_path(call_id)}/{action}",
        "action": action,
        "body": body,
    }


def export_request(path: Path, record: dict[str, Any]) -> Path:
    """Write one request record (``request_record``) as pretty JSON."""
    write_json(path, record)
    return path


def export_response(path: Path, response: ev.ActionResponse) -> Path:
    """Write the synchronous response (status, headers with Location, body)."""
    write_json(path, event_record(response))
    return path


def export_notifications(path: Path, events: list[ev.Event]) -> Path:
    """Write every notification envelope of ``events`` as a JSON array of records."""
    write_json(path, [r for r in sorted_records(events) if r["kind"] == "notification"])
    return path


def export_recording(source: Path, destination: Path) -> Path:
    """Copy a recording WAV."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, destination)
    return destination


# -- the whole session ----------------------------------------------------------------------------


def save_session(snapshot: SessionSnapshot, folder: Path, *, name: str = "") -> SavedSession:
    """Write the session into ``folder``: scenario.toml + caller.wav + every export."""
    folder.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    caller_wav = folder / CALLER_WAV
    write_wav(caller_wav, snapshot.caller_audio[: snapshot.fed_samples])
    files.append(caller_wav)
    prompt_uris = _copy_prompts(snapshot, folder)
    scenario = folder / SCENARIO_TOML
    scenario.write_text(scenario_toml(snapshot, name=name, prompt_uris=prompt_uris), "utf-8")
    files.append(scenario)

    saved_wavs = {
        operation_id: folder / "recordings" / f"{operation_id}.wav"
        for operation_id, source in snapshot.recordings.items()
        if source.is_file()
    }
    records = relocate_recordings(snapshot.records(), snapshot.recordings, saved_wavs)
    with (folder / "events.jsonl").open("w", encoding="utf-8") as f:
        write_jsonl(records, f)
    files.append(folder / "events.jsonl")
    write_json(folder / "requests.json", snapshot.requests())
    write_json(folder / "responses.json", [r for r in records if r["kind"] == "response"])
    write_json(folder / "notifications.json", [r for r in records if r["kind"] == "notification"])
    timeline = Timeline()
    for event in snapshot.events:
        timeline.add(event)
    write_json(
        folder / "timeline.json",
        timeline.to_json(call_id=snapshot.call_id, duration_samples=snapshot.fed_samples),
    )
    files += [folder / n for n in ("requests.json", "responses.json", "notifications.json")]
    files.append(folder / "timeline.json")
    for operation_id, destination in saved_wavs.items():
        files.append(export_recording(snapshot.recordings[operation_id], destination))
    return SavedSession(folder, scenario, caller_wav, tuple(files))


def relocate_recordings(
    records: list[dict[str, Any]], live: dict[str, Path], saved: dict[str, Path]
) -> list[dict[str, Any]]:
    """``records`` with every location of a live WAV (``LOCATION_KEYS``) at its saved copy.

    ``live`` and ``saved`` map operation ids to WAV paths; a location is rewritten only when
    it is the live WAV's ``file:`` URI (as the live call gave it), so other URLs stay.
    """
    uris = {
        live[op].resolve().as_uri(): path.resolve().as_uri()
        for op, path in saved.items()
        if op in live
    }

    def rewrite(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                key: uris.get(item, item)
                if key in LOCATION_KEYS and isinstance(item, str)
                else rewrite(item)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [rewrite(item) for item in value]
        return value

    return [rewrite(record) for record in records] if uris else records


def _local_prompt_path(uri: str) -> Path | None:
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme.lower() == "file":
        path = Path(urllib.request.url2pathname(parsed.path))
    elif parsed.scheme == "" or (len(parsed.scheme) == 1 and uri[1:3] in (":\\", ":/")):
        path = Path(uri)
    else:
        return None
    return path if path.is_absolute() and path.is_file() else None


def _copy_prompts(snapshot: SessionSnapshot, folder: Path) -> dict[str, str]:
    """Copy local prompt files next to the scenario; map each original URI to its copy."""
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for _, kind, payload in snapshot.input_log:
        body = payload.get("body")
        if kind != "action" or not isinstance(body, dict):
            continue
        prompts = body.get("prompts")
        for prompt in prompts if isinstance(prompts, list) else []:
            info = prompt.get("mediaInfo") if isinstance(prompt, dict) else None
            uri = info.get("uri") if isinstance(info, dict) else None
            if not isinstance(uri, str) or uri in mapping:
                continue
            path = _local_prompt_path(uri)
            if path is None:
                continue
            name = path.name
            stem, n = path.stem, 1
            while name in used:
                n += 1
                name = f"{stem}-{n}{path.suffix}"
            used.add(name)
            (folder / "prompts").mkdir(exist_ok=True)
            shutil.copyfile(path, folder / "prompts" / name)
            mapping[uri] = f"prompts/{name}"
    return mapping


def _with_prompt_uris(body: dict[str, Any], prompt_uris: dict[str, str]) -> dict[str, Any]:
    prompts = body.get("prompts")
    if not isinstance(prompts, list) or not prompt_uris:
        return body
    out = dict(body)
    new_prompts: list[Any] = []
    for prompt in prompts:
        info = prompt.get("mediaInfo") if isinstance(prompt, dict) else None
        uri = info.get("uri") if isinstance(info, dict) else None
        if isinstance(uri, str) and uri in prompt_uris:
            prompt = {**prompt, "mediaInfo": {**info, "uri": prompt_uris[uri]}}  # type: ignore[dict-item]
        new_prompts.append(prompt)
    out["prompts"] = new_prompts
    return out


# -- TOML writing (tomllib reads only) -----------------------------------------------------------


def toml_string(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, except DEL, which TOML wants escaped."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _seconds(sample_index: int) -> str:
    # repr() is the shortest text that reads back as the same float, and round(t * 16000)
    # of that float gives back sample_index exactly, which is what the runner does.
    return repr(sample_index / ENGINE_RATE_HZ)


def scenario_toml(
    snapshot: SessionSnapshot, *, name: str = "", prompt_uris: dict[str, str] | None = None
) -> str:
    """The scenario that replays ``snapshot`` (see the module docstring)."""
    options = snapshot.options
    title = name or f"live session {snapshot.call_id}"
    lines = [
        "# Saved by CallSim from a live session. `callsim run` on this file replays the",
        "# microphone audio as the engine heard it, the keys and the bot's actions at the",
        "# samples they happened, and reproduces the same endings at the same times.",
        f"name = {toml_string(title)}",
        f"description = {toml_string(f'Live session of call {snapshot.call_id}')}",
        "",
        "[call]",
    ]
    if options.seed is not None:
        lines.append(f"seed = {options.seed}")
    if options.vad is not None:
        lines.append(f"vad = {toml_string(options.vad)}")
    lines += [
        f"in_band_detection = {_toml_bool(options.in_band_detection)}",
        f"lenient_prompts = {_toml_bool(options.lenient_prompts)}",
        f"hangup_delivers_recording = {_toml_bool(options.hangup_delivers_recording)}",
        f"media_timeout = {float(options.media_timeout_s)!r}",
        f"end = {_seconds(snapshot.fed_samples)}",
        "",
    ]
    if snapshot.fed_samples > 0:
        lines += ["[[caller]]", "at = 0.0", f"audio = {toml_string(CALLER_WAV)}", ""]
    for at, kind, payload in snapshot.input_log:
        if kind == "action":
            body = payload["body"]
            if isinstance(body, dict):
                text = json.dumps(_with_prompt_uris(body, prompt_uris or {}), ensure_ascii=False)
            elif isinstance(body, str):
                text = body
            else:
                text = json.dumps(body, ensure_ascii=False)
            lines += [
                "[[bot]]",
                f"at = {_seconds(at)}",
                f"action = {toml_string(str(payload['action']))}",
                f"body_json = {toml_string(text)}",
                "",
            ]
        elif kind == "key":
            oob, inb = bool(payload["out_of_band"]), bool(payload["in_band"])
            if not (oob or inb):
                continue
            mode = "both" if oob and inb else ("in-band" if inb else "out-of-band")
            lines += [
                "[[caller]]",
                f"at = {_seconds(at)}",
                f"dtmf = {toml_string(str(payload['key']))}",
                f"mode = {toml_string(mode)}",
                f"on = {float(payload['duration_s'])!r}",
                "",
            ]
        elif kind == "hangup":
            lines += ["[[caller]]", f"at = {_seconds(at)}", "hangup = true", ""]
        elif kind == "no_media":
            secs = repr(int(payload["samples"]) / ENGINE_RATE_HZ)
            lines += ["[[caller]]", f"at = {_seconds(at)}", f"no_media = {secs}", ""]
    return "\n".join(lines).rstrip() + "\n"


def _toml_bool(value: bool) -> str:
    return "true" if value else "false"
