"""The engine speed target, checked as a ratio to a baseline measured in the same run.

The target is ≥ 500x real time on one core for a headless run. Absolute speed varies from
machine to machine, so the check is relative: a plain soundfile PCM16 WAV write+read of the same
16 kHz clip runs at 3000-5000x real time on the machines we have measured (5024x on the CI
machine), which makes 500x a ratio of 0.10 at worst. The engine measures 0.18-0.24 (about
1050x real time; see the README's benchmark table).

The measurement runs in a fresh interpreter: inside the test process, hundreds of earlier tests'
objects make every garbage collection slower, and a test that leaked a thread would bill its CPU
time to the engine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.vad.base import DEFAULT_CLASSIFIER

ROOT = Path(__file__).resolve().parents[2]

# 500x real time over the fastest baseline measured (5024x), from the docstring above.
MIN_ENGINE_OVER_SOUNDFILE = 0.10


def measure_in_fresh_interpreter() -> dict[str, float]:
    command = [sys.executable, "-m", "tests.bench.bench_engine", "--json"]
    command += ["--mode", "headless", "--vad", DEFAULT_CLASSIFIER, "--repeat", "5"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    result: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.mark.slow
def test_headless_engine_speed_against_soundfile_baseline() -> None:
    # Best of up to three measurements, like any benchmark's best-of-N: a burst of load from
    # elsewhere on a shared CI machine can only make a measurement slower, never faster.
    results = []
    for _ in range(3):
        results.append(measure_in_fresh_interpreter())
        print(results[-1])
        if results[-1]["engine_over_soundfile"] >= MIN_ENGINE_OVER_SOUNDFILE:
            break
    best = max(r["engine_over_soundfile"] for r in results)
    assert best >= MIN_ENGINE_OVER_SOUNDFILE, results
