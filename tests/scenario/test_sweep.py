"""``callsim sweep``: selectors, the value grid, flips, and the README example run for real."""

from __future__ import annotations

import csv
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.scenario.expect import Outcome
from app.scenario.sweep import Row, SweepError, apply, flips, run_sweep, values

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "resources" / "sweeps" / "pause-vs-max-silence.toml"
GAP = "gap:caller#1:caller#2"


def callsim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_values_are_inclusive_and_do_not_drift() -> None:
    grid = values(1.8, 2.2, 0.01)
    assert len(grid) == 41 and grid[0] == 1.8 and grid[-1] == 2.2 and grid[20] == 2.0
    for bad in [(1.0, 0.5, 0.1), (0.0, 1.0, 0.0), (0.0, float("nan"), 0.1), (0.0, 1e9, 1e-3)]:
        with pytest.raises(SweepError):
            values(*bad)


def doc_of(text: str) -> dict[str, object]:
    return tomllib.loads(text)


BASE = """
[[bot]]
action = "recordResponse"
body = { maxSilenceTimeoutInSeconds = 2 }
[[caller]]
at = 0.5
audio = "a.wav"
[[caller]]
at = 3.0
audio = "b.wav"
"""


def test_selectors_set_exactly_one_value(tmp_path: Path) -> None:
    doc = doc_of(BASE)
    assert apply(doc, "caller#2.at", 4.25, tmp_path, tmp_path)["caller"][1]["at"] == 4.25  # type: ignore[index]
    body = apply(doc, "bot#1.body.maxSilenceTimeoutInSeconds", 3.0, tmp_path, tmp_path)
    timer = body["bot"][0]["body"]["maxSilenceTimeoutInSeconds"]  # type: ignore[index]
    assert timer == 3 and isinstance(timer, int)  # Graph's timers are integers
    assert apply(doc, "call.media_timeout", 1.5, tmp_path, tmp_path)["call"] == {
        "media_timeout": 1.5
    }
    assert doc == doc_of(BASE)  # the original is untouched
    for bad in ["caller#3.at", "bot#0.at", "speaker#1.at", "gap:caller#1", "prompt:caller#1"]:
        with pytest.raises(SweepError):
            apply(doc, bad, 1.0, tmp_path, tmp_path)


def test_gap_is_measured_between_sounds_not_files(tmp_path: Path) -> None:
    rate = 8_000
    tone = 0.3 * np.sin(np.arange(rate) * 2 * np.pi * 440 / rate).astype(np.float32)  # 1 s
    quiet = np.zeros(rate // 4, dtype=np.float32)  # 0.25 s of digital silence
    sf.write(str(tmp_path / "a.wav"), np.concatenate([tone, quiet]), rate)  # sound 0 .. 1.0
    sf.write(str(tmp_path / "b.wav"), np.concatenate([quiet, tone]), rate)  # sound 0.25 ..
    out = apply(doc_of(BASE), GAP, 2.0, tmp_path, tmp_path)
    # a's sound ends at 0.5 + 1.0; b's sound must start 2.0 later, its file 0.25 s before that.
    assert out["caller"][1]["at"] == pytest.approx(0.5 + 1.0 + 2.0 - 0.25, abs=1e-3)  # type: ignore[index]


def test_prompt_length_plays_a_generated_prompt(tmp_path: Path) -> None:
    out = apply(doc_of(BASE), "prompt:bot#1", 1.25, tmp_path, tmp_path)
    uri = out["bot"][0]["body"]["prompts"][0]["mediaInfo"]["uri"]  # type: ignore[index]
    info = sf.info(uri.removeprefix("file://"))
    assert (info.samplerate, info.channels, info.subtype) == (16_000, 1, "PCM_16")
    assert info.duration == pytest.approx(1.25)


def row(value: float, at_s: float, subcode: int = 8509) -> Row:
    return Row(value, ((1, Outcome(True, "completed", 200, subcode, at_s)),))


def test_flips_are_code_changes_and_jumps_in_time() -> None:
    rows = [
        row(1.0, 5.0),
        row(1.1, 5.1),
        row(1.2, 5.2, 8515),
        row(1.3, 5.3, 8515),
        row(1.4, 2.0, 8515),
    ]
    assert flips(rows) == [2, 4]


def test_the_readme_example_flips_between_2_00_and_2_01_s() -> None:
    lines: list[str] = []
    rows = run_sweep(EXAMPLE, GAP, values(1.95, 2.05, 0.01), emit=lines.append)
    assert flips(rows) == [6]
    assert rows[6].value == 2.01
    early, late = rows[5].outcomes[0][1], rows[6].outcomes[0][1]
    assert (early.subcode, late.subcode) == (8509, 8509)
    assert late.at_s < early.at_s - 3  # the recording now ends at the first pause
    assert lines[7].endswith("<- flip") and lines[7].strip().startswith("2.01")
    assert lines[-1] == "11 variants, 1 flip(s): at 2.01"


def test_cli_writes_the_csv_and_the_plot_with_workers(tmp_path: Path) -> None:
    args = ["sweep", str(EXAMPLE), "--vary", GAP, "--from", "1.98", "--to", "2.03", "--step"]
    done = callsim(
        *args,
        "0.01",
        "-j",
        "2",
        "--csv",
        str(tmp_path / "o.csv"),
        "--plot",
        str(tmp_path / "o.png"),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "6 variants, 1 flip(s): at 2.01"
    with (tmp_path / "o.csv").open() as f:
        table = list(csv.DictReader(f))
    assert [r[GAP] for r in table] == ["1.98", "1.99", "2", "2.01", "2.02", "2.03"]
    assert [r["flip"] for r in table] == ["0", "0", "0", "1", "0", "0"]
    assert {r["subcode"] for r in table} == {"8509"}
    png = (tmp_path / "o.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert (
        callsim(*args, "0.01", "-j", "1").stdout.splitlines()[:-1]
        == (done.stdout.splitlines()[:-1])
    )


def test_cli_errors_are_one_line_with_exit_2(tmp_path: Path) -> None:
    done = callsim(
        "sweep", str(EXAMPLE), "--vary", "caller#9.at", "--from", "0", "--to", "1", "--step", "0.5"
    )
    assert done.returncode == 2
    assert done.stderr == "callsim: error: 'caller#9.at': the scenario has 2 [[caller]] entries\n"


def test_without_matplotlib_the_plot_says_how_to_install_it(tmp_path: Path) -> None:
    # matplotlib blocked from importing, as in an install without the 'plot' extra.
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from app.cli import main\n"
        f"sys.exit(main(['sweep', {str(EXAMPLE)!r}, '--vary', 'caller#2.at', '--from', '5',"
        f" '--to', '5', '--step', '1', '--plot', {str(tmp_path / 'o.png')!r}]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "the plot needs matplotlib: install CallSim with the 'plot' extra" in done.stderr
    assert done.stdout == ""  # said before running anything
