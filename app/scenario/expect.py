"""Expectations in a scenario (``[[expect]]``) and how a run's events are judged against them.

An expectation names a bot action (its clientContext, or ``"#N"``, its 1-based position among
the ``[[bot]]`` entries) and what its outcome must be: ``status``, ``code``, ``subcode`` (the
resultInfo of the ending notification) and ``at = [lo, hi]``, the seconds from call start
within which the ending must fall, inclusive (docs/scenario-format.md). A bad expectation is a
broken scenario: ``ExpectationError`` here, which ``app/scenario/model.py`` turns into its
one-line ``ScenarioError`` (this module imports nothing from model.py: no import cycle). It is
checked with the rest of the file, before any audio is read. Nothing here imports Qt, aiohttp
or audio I/O: ``callsim check`` runs on it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.core import events as ev
from app.core.clock import samples_to_seconds, seconds_to_samples
from app.scenario.values import show_value

EXPECT_KEYS = ("op", "status", "code", "subcode", "at")
# "dropped": the operation ended without any notification (a caller hang-up under the
# faithful default, docs/graph-contract.md §5.3); Graph's own values are the other two.
EXPECT_STATUSES = ("completed", "failed", "dropped")
# resultInfo code and subcode are HTTP-like statuses and 4-digit subcodes (docs/graph-contract.md
# §7); 999 999 bounds both with room while keeping a typo (85090) visible as out of range.
MAX_RESULT_CODE = 999_999
MAX_EXPECTATIONS = 10_000
# The scenario format's bound on every time (app/scenario/model.py MAX_TIME_S, 24 h).
MAX_TIME_S = 24 * 3600.0


class ExpectationError(ValueError):
    """A bad ``[[expect]]`` entry: ``where`` (e.g. ``[[expect]] #2``) and the problem."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


def _seconds(value: object, where: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ExpectationError(
            where, f"'{key}' must be a number of seconds, got {show_value(value)}"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ExpectationError(where, f"'{key}' must be a finite number, got {show_value(value)}")
    if not 0 <= value <= MAX_TIME_S:
        raise ExpectationError(
            where, f"'{key}' must be 0 .. {MAX_TIME_S:g} s (24 h), got {show_value(value)}"
        )
    return float(value)


@dataclass(frozen=True, slots=True)
class Expectation:
    """One checked ``[[expect]]`` entry; ``bot_index`` is the 1-based [[bot]] it names."""

    index: int
    op: str
    bot_index: int
    status: str | None = None
    code: int | None = None
    subcode: int | None = None
    at_s: tuple[float, float] | None = None

    def describe(self) -> str:
        """The expected outcome in words, e.g. ``completed 200/8509 in [3.0, 5.0]``."""
        parts: list[str] = []
        if self.status is not None:
            parts.append(self.status)
        if self.code is not None or self.subcode is not None:
            code = "*" if self.code is None else str(self.code)
            sub = "*" if self.subcode is None else str(self.subcode)
            parts.append(f"{code}/{sub}")
        if self.at_s is not None:
            parts.append(f"in [{self.at_s[0]:g}, {self.at_s[1]:g}]")
        return " ".join(parts) or "an outcome"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one bot action in a run."""

    sent: bool
    status: str = ""
    code: int = 0
    subcode: int = 0
    at_s: float = 0.0

    def describe(self) -> str:
        if not self.sent:
            return "the action was never sent (the call had ended)"
        if not self.status:
            return f"no ending by the end of the run (answered {self.code} at {self.at_s:.2f})"
        return f"{self.status} {self.code}/{self.subcode} at {self.at_s:.2f}"


def _client_context(entry: dict[str, Any]) -> str | None:
    body: object = entry.get("body")
    raw = entry.get("body_json")
    if isinstance(raw, str):
        try:
            body = json.loads(raw)
        except ValueError:
            return None
    if isinstance(body, dict):
        context = body.get("clientContext")
        return context if isinstance(context, str) else None
    return None


def parse_expectations(raw: object, bot_raw: Sequence[object]) -> tuple[Expectation, ...]:
    """Check the ``expect`` array of a decoded scenario against its ``[[bot]]`` entries."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ExpectationError("top level", "'expect' must be an array of tables")
    if len(raw) > MAX_EXPECTATIONS:
        raise ExpectationError(
            "top level", f"{len(raw)} [[expect]] entries, at most {MAX_EXPECTATIONS}"
        )
    contexts = [_client_context(e) if isinstance(e, dict) else None for e in bot_raw]
    out: list[Expectation] = []
    for index, entry in enumerate(raw, 1):
        where = f"[[expect]] #{index}"
        if not isinstance(entry, dict):
            raise ExpectationError(where, "must be a table")
        extra = sorted(set(entry) - set(EXPECT_KEYS))
        if extra:
            allowed = ", ".join(sorted(EXPECT_KEYS))
            raise ExpectationError(
                where, f"unknown key {show_value(extra[0])} (allowed: {allowed})"
            )
        op = entry.get("op")
        if not isinstance(op, str) or not op:
            raise ExpectationError(
                where, f"'op' must be a clientContext or \"#N\", got {show_value(op)}"
            )
        bot_index = _bot_index(op, contexts, where)
        status = entry.get("status")
        if status is not None and status not in EXPECT_STATUSES:
            raise ExpectationError(
                where,
                f"'status' must be one of {', '.join(EXPECT_STATUSES)}, got {show_value(status)}",
            )
        code = _result_code(entry, "code", where)
        subcode = _result_code(entry, "subcode", where)
        at_s: tuple[float, float] | None = None
        if "at" in entry:
            window = entry["at"]
            if not isinstance(window, list) or len(window) != 2:
                raise ExpectationError(
                    where, f"'at' must be [lo, hi] in seconds, got {show_value(window)}"
                )
            lo = _seconds(window[0], where, "at[0]")
            hi = _seconds(window[1], where, "at[1]")
            if hi < lo:
                raise ExpectationError(where, f"'at' must have lo <= hi, got [{lo:g}, {hi:g}]")
            at_s = (lo, hi)
        if status is None and code is None and subcode is None and at_s is None:
            raise ExpectationError(
                where, "expects nothing: give 'status', 'code', 'subcode' or 'at'"
            )
        out.append(Expectation(index, op, bot_index, status, code, subcode, at_s))
    return tuple(out)


def _bot_index(op: str, contexts: list[str | None], where: str) -> int:
    if op.startswith("#") and op[1:].isdigit():
        number = int(op[1:])
        if not 1 <= number <= len(contexts):
            raise ExpectationError(
                where, f"'op' {op} names no action: the scenario has {len(contexts)} [[bot]]"
            )
        return number
    matches = [i for i, c in enumerate(contexts, 1) if c == op]
    if not matches:
        raise ExpectationError(where, f"'op' {show_value(op)}: no [[bot]] has this clientContext")
    if len(matches) > 1:
        raise ExpectationError(
            where,
            f"'op' {show_value(op)}: [[bot]] #{matches[0]} and #{matches[1]} share this "
            'clientContext; name one as "#N"',
        )
    return matches[0]


def _result_code(entry: dict[str, Any], key: str, where: str) -> int | None:
    if key not in entry:
        return None
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RESULT_CODE:
        raise ExpectationError(
            where, f"'{key}' must be an integer 0 .. {MAX_RESULT_CODE}, got {show_value(value)}"
        )
    return value


def outcomes(bot_at_s: Sequence[float], events: Sequence[ev.Event]) -> dict[int, Outcome]:
    """Each [[bot]] entry's outcome (by 1-based index) in a run's events (``keep_events``).

    ``bot_at_s``: the ``at`` of every [[bot]] entry, in file order.

    The runner applies bot entries in (sample, file order) and each action is answered at
    once, so the n-th ``ActionResponse`` belongs to the n-th entry applied; entries after the
    call ended are never applied (their outcome says so).
    """
    order = sorted(
        range(1, len(bot_at_s) + 1),
        key=lambda i: (seconds_to_samples(bot_at_s[i - 1]), i),
    )
    responses = [e for e in events if isinstance(e, ev.ActionResponse)]
    endings = {e.operation_id: e for e in events if isinstance(e, ev.OperationEnded)}
    result: dict[int, Outcome] = {i: Outcome(sent=False) for i in order}
    for bot_index, response in zip(order, responses, strict=False):
        at_s = samples_to_seconds(response.sample_index)
        if response.operation_id is None:
            # Refused synchronously (a Graph error such as 400): that answer is the outcome.
            result[bot_index] = Outcome(True, "failed", response.status, 0, at_s)
            continue
        ended = endings.get(response.operation_id)
        body = response.body
        if ended is None and body.get("status") in ("completed", "failed"):
            # Completed in the answer itself (cancelMediaProcessing, subscribeToTone): no
            # notification follows, the 200's operation is the outcome.
            info = body.get("resultInfo") or {}
            code = info.get("code", response.status)
            subcode = info.get("subcode", 0)
            result[bot_index] = Outcome(True, body["status"], code, subcode, at_s)
        elif ended is None:
            result[bot_index] = Outcome(True, "", response.status, 0, at_s)
        else:
            result[bot_index] = Outcome(
                True,
                ended.status,
                ended.code,
                ended.subcode,
                samples_to_seconds(ended.sample_index),
            )
    return result


def first_mismatch(
    expectations: Sequence[Expectation], bot_at_s: Sequence[float], events: Sequence[ev.Event]
) -> str | None:
    """None when every expectation holds, else the first that does not, in words."""
    if not expectations:
        return None
    found = outcomes(bot_at_s, events)
    for expected in expectations:
        got = found[expected.bot_index]
        if _holds(expected, got):
            continue
        return (
            f"[[expect]] #{expected.index} ({expected.op}): expected {expected.describe()}, "
            f"got {got.describe()}"
        )
    return None


def _holds(expected: Expectation, got: Outcome) -> bool:
    if not got.sent or not got.status:
        return False
    if expected.status is not None and got.status != expected.status:
        return False
    if expected.code is not None and got.code != expected.code:
        return False
    if expected.subcode is not None and got.subcode != expected.subcode:
        return False
    if expected.at_s is not None:
        lo, hi = expected.at_s
        # Inclusive, to the microsecond the outputs print (app/scenario/output.py seconds()).
        at_s = round(got.at_s, 6)
        if not lo <= at_s <= hi:
            return False
    return True
