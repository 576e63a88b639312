"""``callsim sweep``: vary one value of a scenario over a range, run each variant, find flips.

The value is named by a selector on the scenario's TOML:

- ``caller#2.at``, ``caller#1.no_media``, ``caller#3.on``, ``bot#1.at``, ``call.media_timeout``:
  any number of an entry (``TABLE#N`` is the N-th ``[[TABLE]]``, from 1) or of ``[call]``;
- ``bot#1.body.maxSilenceTimeoutInSeconds``: a value in a bot action's body (a timer);
- ``gap:caller#1:caller#2``: the pause between two clips' sounds: ``caller#2.at`` is placed so
  that its first sound comes the value after ``caller#1``'s last sound (silence in the files
  themselves, below SOUND_DBFS, is not counted);
- ``prompt:bot#1``: the length of the first prompt of a bot action: each variant plays a
  generated prompt (a 440 Hz tone at -20 dBFS, WAV 16 kHz mono PCM16) of that many seconds.

Each variant is the original document with that one value changed, checked by the same
``parse_scenario`` as a file, and run headless. A row's outcome is every bot action's ending
(status code/subcode, and when); a *flip* is a row whose outcome (status and codes) differs
from the previous row's, or whose ending jumps to another moment. Nothing here imports Qt or
aiohttp; the plot imports matplotlib (the ``plot`` extra) only when asked for.
"""

from __future__ import annotations

import copy
import csv
import math
import re
import tempfile
import tomllib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.scenario.expect import Outcome

# A sweep is a QA tool, not a soak test: 10 001 variants cover 1.8-2.2 s in 0.04 ms steps.
MAX_VARIANTS = 10_001
PROMPT_TONE_HZ = 440.0
PROMPT_LEVEL_DBFS = -20.0
# A gap is measured between sounds, not files: a clip's leading and trailing samples below this
# level are silence (a 16-bit file's dither and TTS padding sit far below; speech is above
# -40 dBFS, docs/dsp.md §3).
SOUND_DBFS = -50.0

_ENTRY = re.compile(r"^(bot|caller)#([1-9][0-9]*)\.(.+)$")


class SweepError(ValueError):
    """A sweep that cannot run (a bad selector or range): one line for the CLI's exit 2."""


@dataclass(frozen=True, slots=True)
class Row:
    """One variant: the value and each bot action's outcome (by 1-based [[bot]] index)."""

    value: float
    outcomes: tuple[tuple[int, Outcome], ...]
    error: str = ""  # the variant is a broken scenario (e.g. a body value Graph refuses)

    def classes(self) -> tuple[str, ...]:
        """What a flip compares: each action's status and codes, or the error."""
        if self.error:
            return ("error",)
        return tuple(f"#{i} {o.status} {o.code}/{o.subcode}" for i, o in self.outcomes)

    def describe(self) -> str:
        if self.error:
            return f"broken: {self.error}"
        return "; ".join(f"#{i} {o.describe()}" for i, o in self.outcomes)


def values(start: float, stop: float, step: float) -> list[float]:
    """start, start + step, ... up to stop inclusive (rounded to the nanosecond, no drift)."""
    for name, v in (("--from", start), ("--to", stop), ("--step", step)):
        if not math.isfinite(v):
            raise SweepError(f"{name} must be a finite number, got {v}")
    if step <= 0:
        raise SweepError(f"--step must be > 0, got {step:g}")
    if stop < start:
        raise SweepError(f"--to must be >= --from, got {start:g} .. {stop:g}")
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > MAX_VARIANTS:
        raise SweepError(f"{count} variants, at most {MAX_VARIANTS}: use a larger --step")
    return [round(start + i * step, 9) for i in range(count)]


def _entry(doc: dict[str, Any], table: str, number: int, selector: str) -> dict[str, Any]:
    entries = doc.get(table)
    if not isinstance(entries, list) or not 1 <= number <= len(entries):
        count = len(entries) if isinstance(entries, list) else 0
        raise SweepError(f"'{selector}': the scenario has {count} [[{table}]] entries")
    entry = entries[number - 1]
    if not isinstance(entry, dict):
        raise SweepError(f"'{selector}': [[{table}]] #{number} is not a table")
    return entry


def _sound_span_s(entry: dict[str, Any], base_dir: Path, selector: str) -> tuple[float, float]:
    """Where the clip's sound starts and ends (first and last sample above SOUND_DBFS), in s."""
    import numpy as np
    import soundfile as sf

    audio = entry.get("audio")
    if not isinstance(audio, str):
        raise SweepError(f"'{selector}': both entries of a gap must be audio clips")
    path = Path(audio) if Path(audio).is_absolute() else base_dir / audio
    try:
        samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (OSError, RuntimeError) as exc:
        raise SweepError(f"'{selector}': cannot read {audio!r}: {exc}") from None
    loud = np.flatnonzero(np.abs(samples).max(axis=1) > 10 ** (SOUND_DBFS / 20))
    if len(loud) == 0:
        raise SweepError(f"'{selector}': {audio!r} is silent (nothing above {SOUND_DBFS:g} dBFS)")
    return float(loud[0]) / rate, float(loud[-1] + 1) / rate


def write_prompt(folder: Path, seconds: float) -> Path:
    """A WAV prompt of ``seconds`` (16 kHz mono PCM16, the format Graph plays,
    docs/graph-contract.md §6.2)."""
    import numpy as np
    import soundfile as sf

    path = folder / f"prompt-{seconds:.6f}.wav"
    if not path.exists():
        n = round(seconds * 16_000)
        t = np.arange(n, dtype=np.float64) / 16_000
        tone = 10 ** (PROMPT_LEVEL_DBFS / 20) * np.sin(2 * np.pi * PROMPT_TONE_HZ * t)
        sf.write(str(path), tone.astype(np.float32), 16_000, subtype="PCM_16")
    return path


def apply(
    doc: dict[str, Any], selector: str, value: float, base_dir: Path, work_dir: Path
) -> dict[str, Any]:
    """A copy of ``doc`` with the value named by ``selector`` set to ``value``."""
    out = copy.deepcopy(doc)
    if selector.startswith("gap:"):
        parts = selector.split(":")
        first = _ENTRY.match(parts[1] + ".x") if len(parts) == 3 else None
        second = _ENTRY.match(parts[2] + ".x") if len(parts) == 3 else None
        if first is None or second is None or first.group(1) != "caller":
            raise SweepError(f"'{selector}': a gap is gap:caller#A:caller#B")
        a = _entry(out, "caller", int(first.group(2)), selector)
        b = _entry(out, "caller", int(second.group(2)), selector)
        start = a.get("at", 0.0)
        if isinstance(start, bool) or not isinstance(start, int | float):
            raise SweepError(f"'{selector}': caller #{first.group(2)} has no numeric 'at'")
        _, a_end_s = _sound_span_s(a, base_dir, selector)
        b_start_s, _ = _sound_span_s(b, base_dir, selector)
        b["at"] = round(float(start) + a_end_s + value - b_start_s, 9)
        if b["at"] < 0:
            raise SweepError(f"'{selector}': a gap of {value:g} s puts caller #B before 0 s")
        return out
    if selector.startswith("prompt:"):
        match = _ENTRY.match(selector.removeprefix("prompt:") + ".x")
        if match is None or match.group(1) != "bot":
            raise SweepError(f"'{selector}': a prompt length is prompt:bot#N")
        entry = _entry(out, "bot", int(match.group(2)), selector)
        if value <= 0:
            raise SweepError(f"'{selector}': a prompt length must be > 0 s, got {value:g}")
        body = entry.setdefault("body", {})
        if not isinstance(body, dict):
            raise SweepError(f"'{selector}': [[bot]] #{match.group(2)} has no body table")
        uri = write_prompt(work_dir, value).as_uri()
        prompt = {"@odata.type": "#microsoft.graph.mediaPrompt", "mediaInfo": {"uri": uri}}
        prompts = body.get("prompts")
        if isinstance(prompts, list) and prompts:
            prompts[0] = prompt
        else:
            body["prompts"] = [prompt]
        return out
    if selector.startswith("call."):
        table = out.setdefault("call", {})
        if not isinstance(table, dict):
            raise SweepError(f"'{selector}': [call] is not a table")
        table[selector.removeprefix("call.")] = value
        return out
    match = _ENTRY.match(selector)
    if match is None:
        raise SweepError(
            f"'{selector}': name a value as caller#N.KEY, bot#N.KEY, bot#N.body.KEY, call.KEY, "
            "gap:caller#A:caller#B or prompt:bot#N"
        )
    target = _entry(out, match.group(1), int(match.group(2)), selector)
    keys = match.group(3).split(".")
    for key in keys[:-1]:
        inner = target.setdefault(key, {})
        if not isinstance(inner, dict):
            raise SweepError(f"'{selector}': '{key}' is not a table")
        target = inner
    # A whole number stays an integer: Graph's timers are integers (docs/graph-contract.md §1.2)
    # and a float 2.0 would be refused as a different type.
    target[keys[-1]] = int(value) if float(value).is_integer() and keys[0] == "body" else value
    return out


def _run_variant(job: tuple[dict[str, Any], str, float]) -> Row:
    from app.scenario.expect import outcomes
    from app.scenario.model import ScenarioError, parse_scenario
    from app.scenario.runner import run_scenario

    doc, path, value = job
    try:
        scenario = parse_scenario(doc, Path(path))
        result = run_scenario(scenario, None, keep_events=True)
    except ScenarioError as exc:
        return Row(value, (), exc.problem if exc.entry == "file" else f"{exc.entry}: {exc.problem}")
    found = outcomes([b.at_s for b in scenario.bot], result.events)
    return Row(value, tuple(sorted(found.items())))


def _warm() -> None:
    import app.scenario.runner  # noqa: F401


def sweep(path: Path, selector: str, grid: Sequence[float], *, workers: int = 1) -> Iterator[Row]:
    """Run the scenario at ``path`` once per value of ``grid``; rows in the grid's order."""
    from app.scenario.model import ScenarioError, load_scenario

    load_scenario(path)  # the original must be a valid scenario (ScenarioError otherwise)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # already read once by load_scenario
        raise ScenarioError(path, "file", str(exc)) from None
    with tempfile.TemporaryDirectory(prefix="callsim-sweep-") as tmp:
        jobs = [(apply(doc, selector, v, path.parent, Path(tmp)), str(path), v) for v in grid]
        if workers <= 1 or len(jobs) <= 1:
            for job in jobs:
                yield _run_variant(job)
            return
        _warm()  # forked workers inherit the engine's imports
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
            yield from pool.map(_run_variant, jobs, chunksize=1)


def _jumped(before: Row, after: Row) -> bool:
    """An action's ending moved by more than the value did, plus the engine's granularity.

    Shifting a time by one step moves an ending by about one step, give or take a 20 ms VAD
    frame and the 100 ms look-ahead (docs/dsp.md §3.4); a larger jump is a different moment,
    e.g. the answer ending at the first pause rather than the second, with the same code.
    """
    limit_s = 2 * abs(after.value - before.value) + 0.1
    ends = dict(before.outcomes)
    return any(
        o.sent and ends.get(op, o).sent and abs(o.at_s - ends[op].at_s) > limit_s
        for op, o in after.outcomes
        if op in ends
    )


def flips(rows: Sequence[Row]) -> list[int]:
    """Rows whose outcome (status, code, subcode) differs from the previous row's, or whose
    ending jumped to another moment (``_jumped``)."""
    return [
        i
        for i in range(1, len(rows))
        if rows[i].classes() != rows[i - 1].classes() or _jumped(rows[i - 1], rows[i])
    ]


def table_lines(rows: Sequence[Row], selector: str) -> list[str]:
    """The printed table: value, outcome, and ``<- flip`` where the outcome changes."""
    marked = set(flips(rows))
    width = max(len(selector), *(len(f"{r.value:g}") for r in rows)) if rows else len(selector)
    lines = [f"{selector:>{width}}  outcome"]
    for i, row in enumerate(rows):
        mark = "   <- flip" if i in marked else ""
        lines.append(f"{row.value:>{width}g}  {row.describe()}{mark}")
    return lines


def write_csv(rows: Sequence[Row], path: Path, selector: str) -> None:
    """One line per (value, bot action): value, op, status, code, subcode, at_s, flip, error."""
    marked = set(flips(rows))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow([selector, "op", "status", "code", "subcode", "at_s", "flip", "error"])
        for i, row in enumerate(rows):
            flip = int(i in marked)
            if row.error:
                out.writerow([f"{row.value:g}", "", "", "", "", "", flip, row.error])
            for op, o in row.outcomes:
                at = f"{o.at_s:.6f}" if o.sent else ""
                out.writerow(
                    [f"{row.value:g}", f"#{op}", o.status, o.code, o.subcode, at, flip, ""]
                )


class PlotUnavailableError(RuntimeError):
    """matplotlib is not installed (the ``plot`` extra)."""


def write_plot(rows: Sequence[Row], path: Path, selector: str, title: str) -> None:
    """A PNG: each action's outcome (top) and ending time (bottom) against the value."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display, no Qt
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotUnavailableError(
            "the plot needs matplotlib: install CallSim with the 'plot' extra "
            "(uv sync --extra plot, or pip install 'callsim[plot]'), or leave out --plot"
        ) from None
    labels = sorted({c for r in rows for c in r.classes()})
    level = {label: i for i, label in enumerate(labels)}
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(8, 5.5))
    ops = sorted({op for r in rows for op, _ in r.outcomes})
    for op in ops:
        points = [
            (r.value, level[f"#{op} {o.status} {o.code}/{o.subcode}"], o.at_s, o.sent)
            for r in rows
            for i, o in r.outcomes
            if i == op
        ]
        top.step([p[0] for p in points], [p[1] for p in points], where="post", label=f"#{op}")
        top.plot([p[0] for p in points], [p[1] for p in points], ".", markersize=3)
        sent = [p for p in points if p[3]]
        bottom.plot([p[0] for p in sent], [p[2] for p in sent], ".-", label=f"#{op}")
    errors = [r.value for r in rows if r.error]
    if errors:
        top.plot(errors, [level["error"]] * len(errors), "x", color="red", label="broken")
    for i in flips(rows):
        for axis in (top, bottom):
            axis.axvline((rows[i - 1].value + rows[i].value) / 2, color="grey", linestyle=":")
    top.set_yticks(range(len(labels)), labels, fontsize=8)
    top.set_title(title, fontsize=10)
    top.legend(fontsize=8, loc="best")
    bottom.set_ylabel("ending at (s)")
    bottom.set_xlabel(selector)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(str(path), dpi=100)
    plt.close(fig)


def run_sweep(
    path: Path,
    selector: str,
    grid: Sequence[float],
    *,
    workers: int = 1,
    csv_path: Path | None = None,
    plot_path: Path | None = None,
    emit: Callable[[str], None] = print,
) -> list[Row]:
    """The whole ``callsim sweep``: the table through ``emit``, then the CSV and the plot."""
    if plot_path is not None:  # say so before minutes of running, not after
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            write_plot([], plot_path, selector, "")  # raises PlotUnavailableError
    rows = list(sweep(path, selector, grid, workers=workers))
    for line in table_lines(rows, selector):
        emit(line)
    found = flips(rows)
    emit(
        f"{len(rows)} variants, {len(found)} flip(s)"
        + (": at " + ", ".join(f"{rows[i].value:g}" for i in found) if found else "")
    )
    if csv_path is not None:
        write_csv(rows, csv_path, selector)
    if plot_path is not None:
        write_plot(rows, plot_path, selector, f"{path.name}: {selector}")
    return rows
