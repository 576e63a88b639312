"""``callsim check``: run many scenarios in one process (or N workers) and judge their [[expect]].

One process loads numpy, the engine and the prompts once for the whole suite, where a
``callsim run`` per scenario pays that start-up each time (tests/bench/bench_check.py measures
the ratio). With ``jobs > 1`` scenarios are spread over worker processes and reported in the
order given, so the output is the same as with one. Nothing here imports Qt or aiohttp.
"""

from __future__ import annotations

import os
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Verdict = Literal["PASS", "FAIL", "ERROR"]


@dataclass(frozen=True, slots=True)
class CheckJob:
    """One scenario to check, and where its outputs go (None: kept in memory only)."""

    path: Path
    out_dir: Path | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The verdict on one scenario (picklable: it comes back from a worker process)."""

    path: str
    name: str
    verdict: Verdict
    message: str  # the first mismatch, or the scenario's one-line error; "" when it passed
    expectations: int
    duration_s: float

    def line(self) -> str:
        """The one line ``callsim check`` prints for this scenario."""
        if self.verdict == "PASS":
            note = "" if self.expectations else "  (no expectations)"
            return f"PASS  {self.path}{note}"
        if self.verdict == "FAIL":
            return f"FAIL  {self.path}: {self.message}"
        return f"ERROR {self.message}"


def find_scenarios(paths: Iterable[Path]) -> list[Path]:
    """Files as given and every ``*.toml`` under each folder (recursively, sorted by path).

    A path that does not exist is kept: checking it reports the scenario error "no such file".
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.toml") if p.is_file()))
        else:
            found.append(path)
    return found


def output_dirs(scenarios: Sequence[Path], out_root: Path) -> list[Path]:
    """One distinct output folder per scenario under ``out_root``, named after its file."""
    used: set[str] = set()
    dirs: list[Path] = []
    for path in scenarios:
        stem = path.stem or "scenario"
        name, n = stem, 1
        while name in used:
            n += 1
            name = f"{stem}-{n}"
        used.add(name)
        dirs.append(out_root / name)
    return dirs


def check_one(job: CheckJob) -> CheckResult:
    """Load, run and judge one scenario; never raises for a broken scenario."""
    from app.scenario.expect import first_mismatch
    from app.scenario.model import ScenarioError, load_scenario
    from app.scenario.runner import run_scenario

    started = time.perf_counter()
    try:
        scenario = load_scenario(job.path)
        result = run_scenario(scenario, job.out_dir, keep_events=True)
    except ScenarioError as exc:
        return CheckResult(str(job.path), "", "ERROR", str(exc), 0, time.perf_counter() - started)
    except OSError as exc:
        message = f"{job.path}: outputs: cannot write ({exc})"
        return CheckResult(str(job.path), "", "ERROR", message, 0, time.perf_counter() - started)
    bot_at_s = [entry.at_s for entry in scenario.bot]
    mismatch = first_mismatch(scenario.expect, bot_at_s, result.events)
    return CheckResult(
        str(job.path),
        scenario.name,
        "PASS" if mismatch is None else "FAIL",
        mismatch or "",
        len(scenario.expect),
        time.perf_counter() - started,
    )


def _warm_worker() -> None:
    # Each worker imports the engine once, before its first scenario (not per scenario).
    import app.scenario.runner  # noqa: F401


def check_all(jobs: Sequence[CheckJob], workers: int = 1) -> Iterator[CheckResult]:
    """Check every job; results come in the order of ``jobs`` whatever ``workers`` is."""
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield check_one(job)
        return
    # Imported before the workers start: forked workers (Linux) inherit numpy and the engine
    # instead of each importing them again (0.3 s apiece).
    _warm_worker()
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), initializer=_warm_worker) as pool:
        # map() yields in submission order; chunksize 1 keeps a long scenario from holding
        # others back in the same chunk.
        yield from pool.map(check_one, jobs, chunksize=1)


def exit_code(results: Sequence[CheckResult]) -> int:
    """0: every expectation holds; 2: a scenario is broken; 1: otherwise (one failed)."""
    if any(r.verdict == "ERROR" for r in results):
        return 2
    if any(r.verdict == "FAIL" for r in results):
        return 1
    return 0


def summary(results: Sequence[CheckResult], wall_s: float) -> str:
    passed = sum(r.verdict == "PASS" for r in results)
    failed = sum(r.verdict == "FAIL" for r in results)
    broken = sum(r.verdict == "ERROR" for r in results)
    return (
        f"{len(results)} scenarios: {passed} passed, {failed} failed, {broken} broken "
        f"in {wall_s:.1f} s"
    )


def write_junit(results: Sequence[CheckResult], path: Path, wall_s: float) -> None:
    """JUnit XML (the subset CI systems read): one testcase per scenario."""
    suite = ET.Element(
        "testsuite",
        name="callsim check",
        tests=str(len(results)),
        failures=str(sum(r.verdict == "FAIL" for r in results)),
        errors=str(sum(r.verdict == "ERROR" for r in results)),
        time=f"{wall_s:.3f}",
    )
    for r in results:
        case = ET.SubElement(
            suite, "testcase", classname="callsim.check", name=r.path, time=f"{r.duration_s:.3f}"
        )
        if r.verdict == "FAIL":
            ET.SubElement(case, "failure", message=r.message, type="expectation").text = r.message
        elif r.verdict == "ERROR":
            ET.SubElement(case, "error", message=r.message, type="scenario").text = r.message
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def run_check(
    paths: Sequence[Path],
    *,
    workers: int | None = None,
    out_root: Path | None = None,
    junit: Path | None = None,
    emit: Callable[[str], None] = print,
) -> tuple[int, list[CheckResult]]:
    """The whole ``callsim check``: lines through ``emit``, then (exit code, results)."""
    started = time.perf_counter()
    scenarios = find_scenarios(paths)
    outs: list[Path | None] = (
        list(output_dirs(scenarios, out_root)) if out_root is not None else [None] * len(scenarios)
    )
    jobs = [CheckJob(p, o) for p, o in zip(scenarios, outs, strict=True)]
    count = workers if workers is not None else (os.cpu_count() or 1)
    results: list[CheckResult] = []
    for result in check_all(jobs, count):
        results.append(result)
        emit(result.line())
    wall_s = time.perf_counter() - started
    emit(summary(results, wall_s))
    if junit is not None:
        write_junit(results, junit, wall_s)
    return exit_code(results), results
