"""``callsim check`` speed as ratios to baselines measured in the same run (bench_check.py).

- 20 short scenarios in one ``callsim check`` at least 3x faster than 20 ``callsim run``
  processes (the issue's target; measured 15-18x on 2 cores, in CPU and wall time);
- ``-j N`` on 200 scenarios of 10 s faster than ``-j 1``: ideally N times, measured 1.5-1.7x with 2
  workers on a 2-core machine shared with other test suites. The bound only proves that the
  workers run side by side (a serialised pool gives 1.0 or less).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
MIN_BATCH_SPEEDUP = 3.0
MIN_JOBS_SPEEDUP = 1.25


def bench(what: str) -> Any:
    command = [sys.executable, "-m", "tests.bench.bench_check", "--json", what]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.slow
def test_one_check_is_3x_faster_than_a_run_per_scenario() -> None:
    result = bench("batch")
    print(result)
    assert result["speedup_cpu"] >= MIN_BATCH_SPEEDUP, result
    assert result["speedup_wall"] >= MIN_BATCH_SPEEDUP, result


@pytest.mark.slow
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores")
def test_workers_run_side_by_side() -> None:
    results = []
    for _ in range(3):  # best of three: load from elsewhere only makes one slower
        results.append(bench("jobs"))
        print(results[-1])
        if results[-1]["speedup"] >= MIN_JOBS_SPEEDUP:
            break
    assert max(r["speedup"] for r in results) >= MIN_JOBS_SPEEDUP, results
