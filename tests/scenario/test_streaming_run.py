"""`callsim run` streams: caller audio read block by block, the same samples as the whole track.

The streamed mix must equal ``caller_track`` (the whole-file mix the runner used before) to
the bit, whatever the block sizes, and a run must give the same outputs to the byte with
``keep_events=False`` (the CLI's flat-memory mode) as with every event kept.
"""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.audio.wav import AudioFileError, EngineAudioReader, read_engine_audio
from app.core import events as ev
from app.scenario.model import ScenarioError, load_scenario
from app.scenario.output import EventLog, sorted_records
from app.scenario.runner import CallerMix, caller_track, run_scenario

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / "tests" / "data" / "speech" / "real"
ANSWER_48K = ROOT / "resources" / "scenarios" / "audio" / "answer-48k.wav"
ANSWER_22K = ROOT / "resources" / "scenarios" / "audio" / "answer-22k.wav"


def mixed_scenario(tmp_path: Path, *, end: float | None = None) -> Path:
    """Overlapping clips at 8, 16, 22.05 and 48 kHz (one stereo, one with gain), keys, a loss."""
    stereo = tmp_path / "stereo-44k.wav"
    x, _ = sf.read(str(ANSWER_48K), dtype="float32")
    sf.write(str(stereo), np.stack([x, -0.5 * x], axis=1), 44_100, subtype="PCM_16")
    lines = ['name = "mix"', "[call]", "seed = 3"] + ([f"end = {end}"] if end else [])
    body = (
        "{ playBeep = true, maxRecordDurationInSeconds = 30, maxSilenceTimeoutInSeconds = 3, "
        'initialSilenceTimeoutInSeconds = 5, stopTones = ["#"] }'
    )
    for _ in range(4):
        lines += ["[[bot]]", "at = 0.1", 'action = "recordResponse"', f"body = {body}"]
    clips = [
        (0.7, REAL / "silero-test-16k.wav", 0.0),
        (3.3331, REAL / "silero-aepyx-8k.wav", -6.0),
        (5.0, ANSWER_22K, 0.0),
        (41.01, stereo, 3.0),
        (62.5, ANSWER_48K, 0.0),
    ]
    for at, path, gain in clips:
        lines += ["[[caller]]", f"at = {at}", f'audio = "{path.as_posix()}"', f"gain_db = {gain}"]
    lines += ["[[caller]]", "at = 20.0", 'dtmf = "1#"', 'mode = "in-band"']
    lines += ["[[caller]]", "at = 30.0", "no_media = 0.7"]
    path = tmp_path / "mix.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("path", [REAL / "silero-aepyx-8k.wav", ANSWER_22K, ANSWER_48K])
@pytest.mark.parametrize("read_frames", [1000, 65_536])
def test_reader_gives_the_whole_file_samples_to_the_bit(path: Path, read_frames: int) -> None:
    reader = EngineAudioReader(path, read_frames)
    blocks = []
    while not reader.ended:
        blocks.append(reader.read())
    assert np.array_equal(np.concatenate(blocks), read_engine_audio(path))


def test_reader_names_a_missing_or_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(AudioFileError, match="no such file"):
        EngineAudioReader(tmp_path / "nope.wav")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF" + bytes(100))
    with pytest.raises(AudioFileError, match=r"junk\.wav: not a readable audio file"):
        EngineAudioReader(junk)


@pytest.mark.parametrize("block", [8_000, 12_345])
def test_streamed_mix_equals_the_whole_track(tmp_path: Path, block: int) -> None:
    scenario = load_scenario(mixed_scenario(tmp_path))
    track = caller_track(scenario)
    mix = CallerMix(scenario)
    got = [mix.read(pos, block) for pos in range(0, len(track) + 3 * block, block)]
    mixed = np.concatenate(got)
    assert np.array_equal(mixed[: len(track)], track)
    assert not mixed[len(track) :].any()
    assert mix.length_within(10**9) == len(track)


def test_length_is_known_only_once_reached(tmp_path: Path) -> None:
    scenario = load_scenario(mixed_scenario(tmp_path))
    length = len(caller_track(scenario))
    mix = CallerMix(scenario)
    assert mix.length_within(length - 1) is None
    assert mix.length_within(length) == length


def test_unreadable_clip_is_a_scenario_error_before_the_run(tmp_path: Path) -> None:
    (tmp_path / "bad.wav").write_bytes(b"not audio at all")
    toml = tmp_path / "s.toml"
    toml.write_text('[[caller]]\nat = 1\naudio = "bad.wav"\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"\[\[caller\]\] #1: .*bad.wav: not a readable"):
        run_scenario(load_scenario(toml), tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.parametrize("end", [None, 75.0])
def test_flat_memory_run_writes_the_same_bytes(tmp_path: Path, end: float | None) -> None:
    scenario = load_scenario(mixed_scenario(tmp_path, end=end))
    kept = run_scenario(scenario, tmp_path / "kept")
    lean = run_scenario(scenario, tmp_path / "lean", keep_events=False)
    assert lean.records == []
    assert all(isinstance(e, ev.OperationEnded) for e in lean.events)
    assert lean.endings == kept.endings and len(kept.endings) >= 2
    lean_lines = (tmp_path / "lean/events.jsonl").read_text().replace("/lean/", "/kept/")
    assert lean_lines == (tmp_path / "kept/events.jsonl").read_text()
    assert [json.loads(line) for line in lean_lines.splitlines()] == kept.records
    names = sorted(p.name for p in (tmp_path / "kept/recordings").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "lean/recordings").iterdir())
    _, mismatch, errors = filecmp.cmpfiles(
        tmp_path / "kept/recordings", tmp_path / "lean/recordings", names, shallow=False
    )
    assert mismatch == errors == []


def test_event_log_resorts_its_own_lines_when_an_event_comes_late(tmp_path: Path) -> None:
    events: list[ev.Event] = [
        ev.CallEnded(sample_index=100, by="caller", reason="a"),
        ev.CallEnded(sample_index=200, by="caller", reason="b"),
        ev.CallEnded(sample_index=200, by="caller", reason="c"),
        ev.CallEnded(sample_index=150, by="caller", reason="late"),
        ev.CallEnded(sample_index=200, by="caller", reason="d"),
        ev.CallEnded(sample_index=50, by="caller", reason="later"),
    ]
    log = EventLog(tmp_path / "events.jsonl")
    log.add(events[:3])
    log.release(10_000)
    log.add(events[3:5])
    log.release(10_000)
    log.add(events[5:])
    log.close(None, resort=True)
    assert log.out_of_order
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == sorted_records(events)
