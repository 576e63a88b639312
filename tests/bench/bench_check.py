"""``callsim check`` against one ``callsim run`` process per scenario, and ``-j N`` scaling.

Run: ``uv run python -m tests.bench.bench_check`` (a report), or ``--json batch|jobs`` for one
measurement (what tests/bench/test_bench_check.py checks).

- batch: 20 short scenarios (the examples of resources/scenarios, the first three twice) as
  one ``callsim check -j 1`` process against 20 ``callsim run --quiet`` processes, in wall
  time and CPU time (user + system of the children), best of 3 rounds taken in turns;
- jobs: 200 scenarios of 10 s of call (an answer, then silence) with ``-j 1`` and ``-j N``
  (N = the CPU count), wall time, best of 2 each: ``-j N`` should take about 1/N of ``-j 1``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "resources" / "scenarios").glob("*.toml"))


def suite(count: int) -> list[Path]:
    return [EXAMPLES[i % len(EXAMPLES)] for i in range(count)]


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(commands: list[list[str]]) -> dict[str, float]:
    """Run the commands one after the other; wall and children's CPU seconds."""
    cpu0, t0 = children_cpu_s(), time.perf_counter()
    for command in commands:
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return {"wall_s": time.perf_counter() - t0, "cpu_s": children_cpu_s() - cpu0}


def check_command(paths: list[Path], jobs: int) -> list[str]:
    return [sys.executable, "-m", "app", "check", *map(str, paths), "-j", str(jobs)]


def batch(rounds: int = 3) -> dict[str, float]:
    paths = suite(20)
    best_check: dict[str, float] | None = None
    best_runs: dict[str, float] | None = None
    with tempfile.TemporaryDirectory() as tmp:
        runs = [
            [sys.executable, "-m", "app", "run", str(p), "--out", f"{tmp}/{i}", "--quiet"]
            for i, p in enumerate(paths)
        ]
        for _ in range(rounds):
            c = timed([check_command(paths, 1)])
            r = timed(runs)
            best_check = (
                c if best_check is None or c["wall_s"] < best_check["wall_s"] else best_check
            )
            best_runs = r if best_runs is None or r["wall_s"] < best_runs["wall_s"] else best_runs
    assert best_check is not None and best_runs is not None
    return {
        "scenarios": len(paths),
        "check_wall_s": best_check["wall_s"],
        "check_cpu_s": best_check["cpu_s"],
        "runs_wall_s": best_runs["wall_s"],
        "runs_cpu_s": best_runs["cpu_s"],
        "speedup_wall": best_runs["wall_s"] / best_check["wall_s"],
        "speedup_cpu": best_runs["cpu_s"] / best_check["cpu_s"],
    }


def call_scenarios(folder: Path, count: int, call_s: float) -> list[Path]:
    """``count`` scenarios of ``call_s`` seconds of call each: an answer, then silence."""
    answer = ROOT / "resources" / "scenarios" / "audio" / "answer-48k.wav"
    paths = []
    for i in range(count):
        path = folder / f"call-{i:03d}.toml"
        path.write_text(
            f'[call]\nend = {call_s}\n[[bot]]\naction = "recordResponse"\n'
            "body = { maxSilenceTimeoutInSeconds = 2, maxRecordDurationInSeconds = 20 }\n"
            f'[[caller]]\nat = 1.0\naudio = "{answer}"\n'
            '[[expect]]\nop = "#1"\nsubcode = 8509\n',
            encoding="utf-8",
        )
        paths.append(path)
    return paths


def jobs(count: int = 200, workers: int | None = None, call_s: float = 10.0) -> dict[str, float]:
    """``count`` scenarios of ``call_s`` s each with -j 1 and -j N, best of 2 wall times."""
    n = workers or os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        paths = call_scenarios(Path(tmp), count, call_s)
        folder = [Path(tmp)]  # the folder, not 200 paths on the command line
        one = min(timed([check_command(folder, 1)])["wall_s"] for _ in range(2))
        many = min(timed([check_command(folder, n)])["wall_s"] for _ in range(2))
        assert len(paths) == count
    return {
        "call_s": call_s,
        "scenarios": count,
        "workers": n,
        "j1_wall_s": one,
        "jn_wall_s": many,
        "speedup": one / many,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", choices=("batch", "jobs"))
    parser.add_argument("--count", type=int, default=200, help="jobs: how many scenarios")
    parser.add_argument("--call-s", type=float, default=10.0, help="jobs: seconds of call each")
    args = parser.parse_args()
    if args.json == "batch":
        print(json.dumps(batch()))
        return
    if args.json == "jobs":
        print(json.dumps(jobs(args.count, call_s=args.call_s)))
        return
    b = batch()
    print(
        f"20 scenarios: one `callsim check -j 1` {b['check_wall_s']:.2f} s wall "
        f"({b['check_cpu_s']:.2f} s CPU), 20 `callsim run` {b['runs_wall_s']:.2f} s "
        f"({b['runs_cpu_s']:.2f} s CPU): {b['speedup_wall']:.1f}x wall, "
        f"{b['speedup_cpu']:.1f}x CPU"
    )
    j = jobs(args.count, call_s=args.call_s)
    print(
        f"{j['scenarios']} scenarios of {j['call_s']:g} s: -j 1 {j['j1_wall_s']:.2f} s, "
        f"-j {j['workers']} {j['jn_wall_s']:.2f} s: {j['speedup']:.2f}x"
    )


if __name__ == "__main__":
    main()
