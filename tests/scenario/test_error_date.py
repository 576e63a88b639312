"""innerError.date of a 400 in a seeded run: reproducible, and not the Unix epoch (issue 9)."""

from __future__ import annotations

from pathlib import Path

from app.scenario.model import load_scenario
from app.scenario.runner import run_scenario

SCENARIO = """
name = "bad body"
[call]
seed = 7
[[bot]]
at = 1.5
action = "recordResponse"
body = { maxSilenceTimeoutInSeconds = 0 }
"""


def _date(tmp_path: Path) -> str:
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO, "utf-8")
    result = run_scenario(load_scenario(path))
    (response,) = [r for r in result.records if r["kind"] == "response"]
    assert response["status"] == 400
    return str(response["body"]["error"]["innerError"]["date"])


def test_seeded_error_date_is_fixed_and_plausible(tmp_path: Path) -> None:
    first = _date(tmp_path)
    assert first == _date(tmp_path)  # bit-for-bit
    assert first == "2000-01-01T00:00:01"  # the fixed epoch plus the call's 1.5 s
