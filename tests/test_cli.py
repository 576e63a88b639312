"""The command line, run as a real subprocess: exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def callsim(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_run_writes_outputs_and_prints_endings(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = callsim(
        "run", str(ROOT / "resources/scenarios/8509-max-silence.toml"), "--out", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    assert "200/8509 maxSilenceTimeout" in proc.stdout
    lines = (out / "events.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["kind"] == "response"
    assert (out / "timeline.json").is_file()
    assert len(list((out / "recordings").glob("*.wav"))) == 1


def test_broken_scenario_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[caller]]\nat = 1\naudio = "nope.wav"\n')
    proc = callsim("run", str(bad), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert f"{bad}: [[caller]] #1: audio file 'nope.wav' not found" in proc.stderr
    assert proc.stdout == ""


def test_missing_scenario_file_exits_2(tmp_path: Path) -> None:
    proc = callsim("run", str(tmp_path / "none.toml"), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "no such file" in proc.stderr
