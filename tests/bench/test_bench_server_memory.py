"""Ended calls are freed: the endpoint's RSS stays flat over thousands of placed-and-ended calls.

Checked as a ratio to a baseline measured in the same run: the same calls with a retention so
long that no ended call is freed (what the endpoint did before calls were freed; ~430 MB per
1,000 calls measured). With the default behaviour and a retention of 0 the growth after warm-up
is 0-2 MB per 1,000 calls (10,000 calls: ``python -m tests.bench.bench_server_memory``), so 5 %
of the baseline leaves room for allocator noise and still fails at any real per-call leak above
~20 KB. Each measurement runs in a fresh interpreter, so earlier tests' memory does not count.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_FREED_OVER_RETAINED = 0.05


def measure(*args: str) -> dict[str, float]:
    command = [sys.executable, "-m", "tests.bench.bench_server_memory", "--json", *args]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr
    result: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_rss_stays_flat_over_placed_and_ended_calls() -> None:
    retained = measure("--calls", "2000", "--retention", "1e9", "--warmup-rounds", "1")
    freed = measure("--calls", "5000", "--retention", "0", "--warmup-rounds", "2")
    print(json.dumps({"retained": retained, "freed": freed}))
    ratio = freed["growth_mb_per_1000_calls"] / retained["growth_mb_per_1000_calls"]
    assert ratio <= MAX_FREED_OVER_RETAINED, (ratio, freed, retained)
