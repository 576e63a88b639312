"""``callsim check``: [[expect]] entries judged against real runs, verdict lines, exit codes, JUnit.

Scenarios are written to tmp_path and run through the real runner; the CLI cases run the real
``callsim`` in a subprocess (``python -m app``).
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from app.scenario.check import CheckJob, check_one, find_scenarios, run_check
from app.scenario.model import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "resources" / "scenarios"

# A recordResponse with no beep and a 1 s initial silence on a silent caller: failed 400/8510
# at exactly 1.0 s on the sample clock.
SILENT = """
name = "silent caller"
[call]
end = 3.0
[[bot]]
at = 0.0
action = "recordResponse"
body = { playBeep = false, initialSilenceTimeoutInSeconds = 1, clientContext = "ask" }
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def callsim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_example_has_expectations_and_they_hold() -> None:
    lines: list[str] = []
    code, results = run_check([EXAMPLES], workers=1, emit=lines.append)
    assert [Path(r.path).stem for r in results] == sorted(p.stem for p in EXAMPLES.glob("*.toml"))
    assert all(r.expectations >= 1 for r in results), [r.path for r in results]
    assert code == 0, lines
    assert lines[-1].startswith(f"{len(results)} scenarios: {len(results)} passed, 0 failed")


def test_expectation_in_window_passes_inclusive_bounds(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.toml",
        SILENT + '[[expect]]\nop = "ask"\nstatus = "failed"\ncode = 400\nsubcode = 8510\n'
        "at = [1.0, 1.0]\n",
    )
    result = check_one(CheckJob(path))
    assert (result.verdict, result.message) == ("PASS", "")


def test_mismatch_is_reported_in_words(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.toml",
        SILENT + '[[expect]]\nop = "#1"\ncode = 400\nsubcode = 8509\nat = [0.5, 0.9]\n',
    )
    result = check_one(CheckJob(path))
    assert result.verdict == "FAIL"
    assert result.message == (
        "[[expect]] #1 (#1): expected 400/8509 in [0.5, 0.9], got failed 400/8510 at 1.00"
    )


@pytest.mark.parametrize(
    ("expect", "wrong"),
    [
        ('status = "completed"', "completed"),
        ("code = 200", "200/*"),
        ("subcode = 8514", "*/8514"),
        ("at = [1.001, 2.0]", "in [1.001, 2]"),
        ("at = [0.0, 0.999]", "in [0, 0.999]"),
    ],
)
def test_each_key_alone_can_fail(tmp_path: Path, expect: str, wrong: str) -> None:
    path = write(tmp_path, "s.toml", SILENT + f'[[expect]]\nop = "ask"\n{expect}\n')
    result = check_one(CheckJob(path))
    assert result.verdict == "FAIL"
    assert f"expected {wrong}, got failed 400/8510 at 1.00" in result.message


def test_an_action_after_the_hang_up_was_never_sent(tmp_path: Path) -> None:
    text = SILENT.replace("end = 3.0", "") + (
        "[[caller]]\nat = 0.5\nhangup = true\n"
        '[[bot]]\nat = 2.0\naction = "playPrompt"\nbody = {}\n'
        '[[expect]]\nop = "ask"\nstatus = "dropped"\nat = [0.5, 0.5]\n'
        '[[expect]]\nop = "#2"\nstatus = "completed"\n'
    )
    result = check_one(CheckJob(write(tmp_path, "s.toml", text)))
    assert result.verdict == "FAIL"
    assert result.message == (
        "[[expect]] #2 (#2): expected completed, got the action was never sent (the call had ended)"
    )


def test_a_refused_action_is_failed_with_its_http_status(tmp_path: Path) -> None:
    text = (
        '[[bot]]\naction = "recordResponse"\nbody = { maxRecordDurationInSeconds = 500 }\n'
        '[[expect]]\nop = "#1"\nstatus = "failed"\ncode = 400\nat = [0, 0]\n'
    )
    assert check_one(CheckJob(write(tmp_path, "s.toml", text))).verdict == "PASS"


@pytest.mark.parametrize(
    ("expect", "problem"),
    [
        ('op = "ask"\nstatuss = "failed"', "[[expect]] #1: unknown key 'statuss'"),
        ('op = "nobody"\ncode = 1', "[[expect]] #1: 'op' 'nobody': no [[bot]] has this"),
        ('op = "#2"\ncode = 1', "[[expect]] #1: 'op' #2 names no action: the scenario has 1"),
        ('op = "ask"', "[[expect]] #1: expects nothing"),
        ('op = "ask"\nstatus = "ok"', "[[expect]] #1: 'status' must be one of completed"),
        ('op = "ask"\ncode = true', "[[expect]] #1: 'code' must be an integer 0 .. 999999"),
        ('op = "ask"\nat = [2.0, 1.0]', "[[expect]] #1: 'at' must have lo <= hi"),
        ('op = "ask"\nat = [1.0]', "[[expect]] #1: 'at' must be [lo, hi]"),
        ('op = "ask"\nat = [0, inf]', "[[expect]] #1: 'at[1]' must be a finite number"),
    ],
)
def test_a_bad_expectation_is_a_broken_scenario(tmp_path: Path, expect: str, problem: str) -> None:
    path = write(tmp_path, "s.toml", SILENT + f"[[expect]]\n{expect}\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert f"{path}: {problem}" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_folders_are_searched_recursively(tmp_path: Path) -> None:
    write(tmp_path, "b/deep/two.toml", SILENT)
    write(tmp_path, "a.toml", SILENT)
    write(tmp_path, "b/notes.txt", "not a scenario")
    assert find_scenarios([tmp_path]) == [tmp_path / "a.toml", tmp_path / "b/deep/two.toml"]


def test_cli_exit_codes_lines_junit_and_outputs(tmp_path: Path) -> None:
    good = write(tmp_path, "suite/1-good.toml", SILENT + '[[expect]]\nop = "ask"\ncode = 400\n')
    bad = write(tmp_path, "suite/2-bad.toml", SILENT + '[[expect]]\nop = "ask"\ncode = 200\n')
    broken = write(tmp_path, "suite/3-broken.toml", SILENT + '[[expect]]\nop = "x"\ncode = 1\n')
    junit = tmp_path / "junit.xml"
    out = tmp_path / "out"

    done = callsim("check", str(good), str(bad), "-j", "1", "--out", str(out))
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.splitlines()[:2] == [
        f"PASS  {good}",
        f"FAIL  {bad}: [[expect]] #1 (ask): expected 200/*, got failed 400/8510 at 1.00",
    ]
    assert "2 scenarios: 1 passed, 1 failed, 0 broken" in done.stdout
    assert (out / "1-good" / "events.jsonl").is_file()
    assert (out / "2-bad" / "timeline.json").is_file()

    done = callsim("check", str(tmp_path / "suite"), "-j", "1", "--junit", str(junit))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout.splitlines()[2] == (
        f"ERROR {broken}: [[expect]] #1: 'op' 'x': no [[bot]] has this clientContext"
    )
    cases = ET.parse(junit).getroot().findall("./testsuite/testcase")
    assert [c.get("name") for c in cases] == [str(good), str(bad), str(broken)]
    assert [[child.tag for child in c] for c in cases] == [[], ["failure"], ["error"]]
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("message", "").startswith("[[expect]] #1 (ask): expected 200/*")

    assert callsim("check", str(good)).returncode == 0


def test_parallel_workers_give_the_same_lines_in_the_same_order(tmp_path: Path) -> None:
    for i in range(6):
        code = 400 if i % 2 else 200
        write(tmp_path, f"s{i}.toml", SILENT + f'[[expect]]\nop = "ask"\ncode = {code}\n')
    write(tmp_path, "s9.toml", "not toml [")

    def verdicts(jobs: str) -> list[str]:
        done = callsim("check", str(tmp_path), "-j", jobs)
        assert done.returncode == 2, done.stderr
        return done.stdout.splitlines()[:-1]  # the summary carries the wall time

    one = verdicts("1")
    assert [line.split()[0] for line in one] == ["FAIL", "PASS"] * 3 + ["ERROR"]
    assert verdicts("3") == one


def test_check_imports_no_qt_and_no_aiohttp() -> None:
    from tests.test_cli_imports import loaded_by

    result = loaded_by(["check", str(EXAMPLES / "8514-stop-tone.toml"), "-j", "1"])
    assert result == {"code": 0, "loaded": []}
