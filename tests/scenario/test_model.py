"""Scenario files: the format, and one clear line for every way a scenario can be broken."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.scenario.model import ScenarioError, load_scenario
from app.scenario.runner import run_scenario


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "entry", "problem"),
    [
        ('name = "x\n', "TOML", "line 1"),
        ('bogus = 1\n[[bot]]\naction = "playPrompt"\n', "top level", "unknown key 'bogus'"),
        ('[[bot]]\naction = "record"\n', "[[bot]] #1", "'action' must be one of"),
        ('[[bot]]\naction = "playPrompt"\nwhen = 2\n', "[[bot]] #1", "unknown key 'when'"),
        ('[[caller]]\nat = 1\naudio = "missing.wav"\n', "[[caller]] #1", "'missing.wav' not found"),
        ("[[caller]]\nat = -1\nhangup = true\n", "[[caller]] #1", "'at' must be >= 0"),
        ('[[caller]]\ndtmf = "1x"\n', "[[caller]] #1", "'x'"),
        ('[[caller]]\ndtmf = "1"\nmode = "loud"\n', "[[caller]] #1", "'mode' must be one of"),
        ("[[caller]]\nat = 1\n", "[[caller]] #1", "exactly one of"),
        ("[[caller]]\nno_media = 0.00001\n", "[[caller]] #1", "at least one sample"),
        ("[[caller]]\nno_media = -1\n", "[[caller]] #1", "'no_media' must be >= 0"),
        ('[call]\nvad = "magic"\n[[caller]]\nhangup = true\n', "[call]", "'vad' must be one of"),
        ("", "top level", "no [[bot]] or [[caller]]"),
    ],
)
def test_broken_scenarios_name_file_entry_and_problem(
    tmp_path: Path, text: str, entry: str, problem: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.entry == entry
    assert problem in info.value.problem
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message


def test_unreadable_caller_audio_is_a_broken_scenario(tmp_path: Path) -> None:
    (tmp_path / "bad.wav").write_bytes(b"RIFF nonsense")
    path = write(tmp_path, '[[caller]]\nat = 0\naudio = "bad.wav"\n')
    with pytest.raises(ScenarioError, match=r"\[\[caller\]\] #1: .*bad.wav"):
        run_scenario(load_scenario(path), tmp_path / "out")


def test_clips_of_any_rate_and_several_dtmf_modes(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    t = np.arange(int(1.0 * 44100)) / 44100
    speech = 0.3 * np.sin(2 * np.pi * 180 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
    stereo = np.stack([speech, speech + rng.normal(0, 1e-4, len(t))], axis=1)
    sf.write(str(tmp_path / "a.wav"), stereo, 44100, subtype="FLOAT")
    path = write(
        tmp_path,
        """
[[bot]]
at = 0
action = "subscribeToTone"
[[bot]]
at = 0
action = "recordResponse"
body = { playBeep = false, stopTones = ["#"], maxSilenceTimeoutInSeconds = 5 }
[[caller]]
at = 0.5
audio = "a.wav"
[[caller]]
at = 2.0
dtmf = "12"
mode = "out-of-band"
[[caller]]
at = 2.6
dtmf = "3"
mode = "in-band"
on = 0.06
[[caller]]
at = 3.0
dtmf = "#"
""",
    )
    result = run_scenario(load_scenario(path), tmp_path / "out")
    keys = [(r["key"], r["sources"], r["t"]) for r in result.records if r["kind"] == "key"]
    assert [k[:2] for k in keys] == [
        ("1", ["outOfBand"]),
        ("2", ["outOfBand"]),
        ("3", ["inBand"]),
        ("#", ["inBand", "outOfBand"]),
    ]
    assert keys[1][2] == 2.2  # "12" is spaced by on + off = 0.2 s
    [end] = result.endings
    assert end.subcode == 8514 and end.sample_index == 3 * 16000
    speech = [r for r in result.records if r["kind"] == "speechStarted"]
    assert speech and speech[0]["t"] == pytest.approx(0.5, abs=0.04)


def test_bot_body_json_sends_raw_text(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[bot]]\naction = "recordResponse"\nbody_json = "{\\"playBeep\\": tru"\n',
    )
    result = run_scenario(load_scenario(path), None)
    [response] = [r for r in result.records if r["kind"] == "response"]
    assert response["status"] == 400 and "JSON" in response["body"]["error"]["message"]


def test_end_stops_the_run_at_a_fixed_time(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[call]\nend = 2.5\n[[bot]]\naction = "recordResponse"\n'
        "body = { initialSilenceTimeoutInSeconds = 10 }\n",
    )
    result = run_scenario(load_scenario(path), None)
    assert result.endings == []
    assert result.call.fed_samples == int(2.5 * 16000)
