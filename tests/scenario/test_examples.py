"""Every example scenario in resources/scenarios produces the ending its name promises."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf

from app.scenario.model import load_scenario
from app.scenario.runner import run_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "resources" / "scenarios"
ALL = sorted(SCENARIOS.glob("*.toml"))

# Every operation notification of each example, in order: (resource type, subcode).
EXPECTED = {
    "0-play-prompt-and-tones": [("playPrompt", 0)],
    "400-invalid-body": [("record", 8510)],
    "8508-barge-in": [("playPrompt", 8508), ("record", 8514)],
    "8508-cancel": [("record", 8508)],
    "8509-lenient-prompt": [("record", 8509)],
    "8509-max-silence": [("record", 8509)],
    "8509-queued-after-prompt": [("playPrompt", 0), ("record", 8509)],
    "8510-initial-silence": [("record", 8510)],
    "8511-prompt-unplayable": [("record", 8511)],
    "8513-media-timeout": [("record", 8513)],
    "8514-stop-tone": [("record", 8514)],
    "8515-max-duration": [("record", 8515)],
    "8528-hangup-delivers": [("record", 8528)],
    "8535-prompt-unreadable": [("record", 8535)],
    "8535-prompt-wrong-format": [("record", 8535)],
    "8536-prompt-not-found": [("record", 8536)],
    "hangup-no-notification": [],
}


def test_there_is_an_example_for_every_ending() -> None:
    assert sorted(EXPECTED) == [p.stem for p in ALL]
    prefixes = {p.name.split("-")[0] for p in ALL}
    assert {
        "8508",
        "8509",
        "8510",
        "8511",
        "8513",
        "8514",
        "8515",
        "8535",
        "8536",
        "0",
        "400",
        "hangup",
        "8528",
    } <= prefixes


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_example_scenario_ends_as_named(path: Path, tmp_path: Path) -> None:
    result = run_scenario(load_scenario(path), tmp_path)
    records = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert records == result.records
    assert [r["t"] for r in records] == sorted(r["t"] for r in records)
    prefix = path.name.split("-")[0]
    notes = [r["payload"]["value"][0] for r in records if r["kind"] == "notification"]
    op_notes = [n for n in notes if "/operations/" in n["resourceUrl"]]
    got = [
        (
            n["resourceData"]["@odata.type"]
            .removeprefix("#microsoft.graph.")
            .removesuffix("Operation"),
            n["resourceData"]["resultInfo"]["subcode"],
        )
        for n in op_notes
    ]
    assert got == EXPECTED[path.stem]
    # The code in the file name is the first outcome the scenario is about.
    if prefix.isdigit() and prefix != "400":
        assert int(prefix) in [sub for _, sub in got]
    if prefix == "400":
        first = next(r for r in records if r["kind"] == "response")
        assert first["status"] == 400 and first["body"]["error"]["code"] == "BadRequest"
        assert "maxRecordDurationInSeconds" in first["body"]["error"]["message"]
    if prefix in ("hangup", "8528"):
        assert notes[-1]["changeType"] == "deleted"
        assert notes[-1]["resourceData"]["state"] == "terminated"
    # Every delivered recording exists as WAV PCM16 mono 16 kHz at its file: URI.
    for note in op_notes:
        data = note["resourceData"]
        location = data.get("recordingLocation")
        if location:
            wav = Path(location.removeprefix("file://"))
            info = sf.info(str(wav))
            assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
            assert len(data["recordingAccessToken"]) >= 32
    timeline = json.loads((tmp_path / "timeline.json").read_text())
    assert timeline["callId"] == result.call.call_id
    assert {e["reason"] for e in timeline["endings"]} == {e.reason for e in result.endings}


def test_stop_tone_example_timing(tmp_path: Path) -> None:
    result = run_scenario(load_scenario(SCENARIOS / "8514-stop-tone.toml"), tmp_path)
    [end] = result.endings
    assert end.sample_index == 10.5 * 16000  # the out-of-band press is exact
    [path] = result.recordings.values()
    samples, rate = sf.read(str(path))
    capture_start = next(r["t"] for r in result.records if r["kind"] == "captureStarted")
    # Trimmed one detector block before the press: the tone is not in the answer.
    assert len(samples) / rate == pytest.approx(10.5 - capture_start - 204 / 16000, abs=1e-4)
    key = next(r for r in result.records if r["kind"] == "key")
    assert key["sources"] == ["inBand", "outOfBand"]


def test_same_scenario_same_events_bit_for_bit(tmp_path: Path) -> None:
    path = SCENARIOS / "8508-barge-in.toml"
    scenario = load_scenario(path)
    first = run_scenario(scenario, tmp_path / "a")
    second = run_scenario(scenario, tmp_path / "b")

    def strip(records: list[dict[str, object]]) -> list[str]:
        # ids, tokens and locations are random unless [call] seed is set; times are not.
        text = json.dumps(records)
        for r in (first, second):
            text = text.replace(r.call.call_id, "CALL").replace(str(tmp_path), "TMP")
        return [
            json.dumps({k: v for k, v in rec.items() if k in ("t", "kind")})
            for rec in json.loads(text)
        ]

    assert strip(first.records) == strip(second.records)
    a = sorted((tmp_path / "a" / "recordings").glob("*.wav"))
    b = sorted((tmp_path / "b" / "recordings").glob("*.wav"))
    assert [sf.read(str(p))[0].tolist() for p in a] == [sf.read(str(p))[0].tolist() for p in b]


def test_seed_makes_ids_reproducible(tmp_path: Path) -> None:
    text = (SCENARIOS / "8510-initial-silence.toml").read_text()
    path = tmp_path / "s.toml"
    path.write_text(text + "\n[call]\nseed = 42\n")
    a = run_scenario(load_scenario(path), tmp_path / "a")
    b = run_scenario(load_scenario(path), tmp_path / "b")
    assert json.dumps(a.records).replace("/a/", "/b/") == json.dumps(b.records)
