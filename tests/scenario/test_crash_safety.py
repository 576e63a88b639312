"""`callsim run` writes its outputs while it runs: a kill -9 leaves readable files.

The README's claim for a crash is what ``test_a_killed_run_leaves_valid_files`` checks: the
recording still being captured when the process is killed "covers" the last line of
events.jsonl, i.e. its length is at least (time of that line - its capture start) - 100 ms.
Measured on a 2-core machine, 14 kills: the WAV ran 307 to 907 ms past that line, never less
(lines trail the analysis by the runner's EVENT_HOLD_SAMPLES, 320 ms; the audio trails it by
at most one 100 ms commit plus 12.75 ms, app/core/call.py COMMIT_SAMPLES).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from app.core import events as ev
from app.scenario.model import load_scenario
from app.scenario.output import EventLog, sorted_records, write_jsonl
from app.scenario.runner import run_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "resources" / "scenarios"
ANSWER = SCENARIOS / "audio" / "answer-48k.wav"

# 20 recordings of 120 s back to back: 40 min of call, a few seconds of CPU, so the kill
# lands mid-take whatever the machine's speed.
RECORDINGS = 20
TAKE_S = 120


def long_scenario(path: Path, *, until_s: float | None = None) -> Path:
    """Queued 120 s recordings, a spoken answer every 8 s of the first take, a key every second.

    ``until_s`` cuts the caller's entries there and ends the call there (the reference run).
    """
    horizon_s = until_s if until_s is not None else RECORDINGS * TAKE_S
    lines = ['name = "long takes"', 'description = "killed mid-take by a test"', "", "[call]"]
    lines += ["seed = 5"] + ([f"end = {until_s}"] if until_s is not None else []) + [""]
    body = (
        f"{{ playBeep = true, maxRecordDurationInSeconds = {TAKE_S}, "
        f"maxSilenceTimeoutInSeconds = {TAKE_S}, initialSilenceTimeoutInSeconds = {TAKE_S} }}"
    )
    for _ in range(RECORDINGS):
        lines += ["[[bot]]", "at = 0.0", 'action = "recordResponse"', f"body = {body}", ""]
    for at_s in np.arange(2.0, min(TAKE_S, horizon_s), 8.0):
        lines += ["[[caller]]", f"at = {at_s}", f'audio = "{ANSWER.as_posix()}"', ""]
    for at_s in np.arange(1.5, horizon_s, 1.0):  # not a stop tone: it never ends a take
        lines += ["[[caller]]", f"at = {at_s}", 'dtmf = "5"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def complete_lines(text: str) -> list[dict[str, Any]]:
    """The records of events.jsonl; a last line cut by the kill (no newline) is dropped."""
    lines = text.split("\n")
    return [json.loads(line) for line in lines[:-1]]  # after the last "\n": "" or a torn line


def wait_for_key_at(
    path: Path, at_least_s: float, proc: subprocess.Popen[bytes], timeout_s: float
) -> None:
    """Poll events.jsonl until it has a key line at ``at_least_s`` or later."""
    deadline = time.monotonic() + timeout_s
    while True:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        if any(r["kind"] == "key" and r["t"] >= at_least_s for r in complete_lines(text)):
            return
        assert proc.poll() is None, "the run ended before it was killed"
        assert time.monotonic() < deadline, f"no key at {at_least_s} s after {timeout_s} s"
        time.sleep(0.002)


def test_a_killed_run_leaves_valid_files(tmp_path: Path) -> None:
    scenario = long_scenario(tmp_path / "long.toml")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "run", str(scenario), "--out", str(out), "--quiet"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    try:
        # The first take is well under way (speech, keys): kill now, mid-write perhaps.
        wait_for_key_at(out / "events.jsonl", 20.0, proc, timeout_s=60)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL  # killed, not finished
    assert not (out / "timeline.json").exists()  # written at the end only

    records = complete_lines((out / "events.jsonl").read_text(encoding="utf-8"))
    assert [r["t"] for r in records] == sorted(r["t"] for r in records)
    wavs = sorted((out / "recordings").glob("*.wav"))
    assert wavs
    frames: dict[str, int] = {}
    for path in wavs:
        with wave.open(str(path), "rb") as w:  # every WAV reader opens it
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)
            frames[path.stem] = w.getnframes()
        assert sf.info(str(path)).frames == frames[path.stem]

    started = {r["operationId"]: r["t"] for r in records if r["kind"] == "captureStarted"}
    finished = {
        r["operationId"]: r["duration"] for r in records if r["kind"] == "recordingFinished"
    }
    for op_id, duration_s in finished.items():
        assert frames[op_id] == round(duration_s * 16000)
    [open_id] = [op_id for op_id in started if op_id not in finished]
    last_t = records[-1]["t"]
    # "Covers": the open take's length is at least the time from its capture start to the
    # last event written, minus 100 ms (README "Headless scenarios").
    behind_s = (last_t - started[open_id]) - frames[open_id] / 16000
    assert behind_s <= 0.1, f"the WAV ends {behind_s * 1000:.0f} ms before the last event"

    # Nothing on disk is wrong either: the same call run to just past that point (in this
    # process, ids seeded) has the same first lines and the same first samples.
    reference = tmp_path / "reference"
    full = run_scenario(
        load_scenario(long_scenario(tmp_path / "ref.toml", until_s=last_t + 2)), reference
    )
    here, there = str((reference / "recordings").resolve()), str((out / "recordings").resolve())
    expected = [json.loads(json.dumps(r).replace(here, there)) for r in full.records]
    assert records == expected[: len(records)]
    killed = sf.read(str(out / "recordings" / f"{open_id}.wav"), dtype="int16")[0]
    chunks = [
        np.frombuffer(e.pcm16, dtype="<i2")
        for e in full.events
        if isinstance(e, ev.RecordingChunk) and e.operation_id == open_id
    ]
    assert np.array_equal(killed, np.concatenate(chunks)[: len(killed)])


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.toml")), ids=lambda p: p.stem)
def test_a_finished_run_writes_the_bytes_it_wrote_at_the_end(path: Path, tmp_path: Path) -> None:
    """Streaming changed when events.jsonl is written, not what: the bytes are those of
    ``write_jsonl(sorted_records(events))``, which the runner wrote at the end before."""
    result = run_scenario(load_scenario(path), tmp_path)
    expected = io.StringIO()
    write_jsonl(sorted_records(result.events), expected)
    assert (tmp_path / "events.jsonl").read_text(encoding="utf-8") == expected.getvalue()


def test_event_log_writes_in_time_order_per_release(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.jsonl")
    log.add([ev.CallEnded(300, "caller", "x"), ev.CaptureStarted(100, "op")])
    log.add([ev.CaptureStarted(100, "op2"), ev.CaptureStarted(200, "op3")])
    log.release(150)
    # Handed to the OS at once (another reader sees it), before close.
    assert [r["operationId"] for r in complete_lines(log.path.read_text())] == ["op", "op2"]
    log.release(250)
    assert len(complete_lines(log.path.read_text())) == 3
    log.close()
    assert [r["kind"] for r in complete_lines(log.path.read_text())][-1] == "callEnded"
    assert not log.out_of_order


def test_event_log_rewrites_a_finished_file_that_streamed_out_of_order(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.jsonl")
    events: list[ev.Event] = [ev.CaptureStarted(200, "late"), ev.CaptureStarted(100, "early")]
    log.add(events[:1])
    log.release(200)
    log.add(events[1:])  # older than a line already written
    assert log.out_of_order
    log.close(sorted_records(events))
    assert [r["operationId"] for r in complete_lines(log.path.read_text())] == ["early", "late"]


def test_event_hold_covers_every_example(tmp_path: Path) -> None:
    """No example makes the runner rewrite events.jsonl: the hold is long enough."""
    for path in sorted(SCENARIOS.glob("*.toml")):
        scenario = load_scenario(path)
        scenario = dataclasses.replace(scenario, call=dataclasses.replace(scenario.call, seed=1))
        out = tmp_path / path.stem
        result = run_scenario(scenario, out)
        assert not result.events_rewritten, path.stem
