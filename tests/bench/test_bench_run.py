"""``callsim run`` as a user runs it, checked as ratios to baselines measured in the same run.

- Memory: peak RSS of a 10-minute scenario is that of a 1-minute one (the runner streams the
  caller's audio and keeps no events); before, it grew by ~7 MB a minute (86 MB for 1 minute,
  153 MB for 10, 303 MB for 30, measured on the same machine).
- Start-up: ``callsim run`` of a short scenario within 1.5x the CPU time of
  ``python -c "import numpy, soundfile"`` (the issue's target).
- Speed: ≥ 500x real time beyond start-up on 120 s of real speech at 48 kHz. A soundfile read +
  PCM16 write of the same 48 kHz audio runs at 2700-3300x real time on the machines we measured
  (see the README's Benchmarks), so 500x is a ratio of 0.15 at worst.

All run ``tests/bench/bench_run.py`` in a fresh interpreter (whole ``callsim run`` processes).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

MAX_RUN_OVER_IMPORTS_CPU = 1.5
MIN_RUN_OVER_SOUNDFILE = 0.15  # 500x over the fastest baseline seen (3300x), docstring above
# Peak RSS may differ by allocator noise between runs, not by the scenario's length.
MAX_RSS_GROWTH_MB = 8.0


def bench(*args: str) -> Any:
    command = [sys.executable, "-m", "tests.bench.bench_run", "--json", *args]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.slow
def test_run_memory_does_not_grow_with_the_scenario() -> None:
    result = bench("memory", "--minutes", "1", "10")
    print(result)
    one, ten = result["1"]["rss_mb"], result["10"]["rss_mb"]
    assert ten - one <= MAX_RSS_GROWTH_MB, result
    assert ten <= 150, result


@pytest.mark.slow
def test_run_starts_within_1_5x_of_importing_numpy_and_soundfile() -> None:
    # Best of up to three measurements: load from elsewhere only makes one slower.
    results = []
    for _ in range(3):
        results.append(bench("startup"))
        print(results[-1])
        if results[-1]["run_over_imports_cpu"] <= MAX_RUN_OVER_IMPORTS_CPU:
            break
    assert min(r["run_over_imports_cpu"] for r in results) <= MAX_RUN_OVER_IMPORTS_CPU


@pytest.mark.slow
def test_run_speed_on_real_speech_against_soundfile() -> None:
    results = []
    for _ in range(3):
        results.append(bench("speed"))
        print(results[-1])
        if results[-1]["run_over_soundfile"] >= MIN_RUN_OVER_SOUNDFILE:
            break
    assert max(r["run_over_soundfile"] for r in results) >= MIN_RUN_OVER_SOUNDFILE
