"""Notification faults on demand (app/server/faults.py) against the example bot, for real.

Each case runs the local endpoint in-process (``LocalGraph(faults=...)``) and the example bot
(resources/example_bot/bot.py) over 127.0.0.1; the caller speaks and presses # (8514).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.server.faults import parse_fault
from app.testing import LocalGraph
from tests.server.test_example_bot import load
from tests.testing.test_pytest_plugin import SCENARIO


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        result: dict[str, Any] = json.load(answer)
        return result


def start(factory: Callable[..., LocalGraph], tmp_path: Path, *faults: str) -> LocalGraph:
    scenario = tmp_path / "caller.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    return factory(scenario=scenario, faults=list(faults))


def record_once(graph: LocalGraph, tmp_path: Path) -> dict[str, object]:
    bot_module = load("bot")

    async def flow() -> dict[str, object]:
        async with bot_module.ExampleBot(graph.graph_url, log=lambda line: None) as bot:
            result: dict[str, object] = await bot_module.record_one_answer(
                bot, answer=False, out=tmp_path / "answer.wav"
            )
            return result

    return asyncio.run(asyncio.wait_for(flow(), 40))


def test_a_duplicated_ending_arrives_twice_and_the_bot_copes(
    callsim_graph_factory: Callable[..., LocalGraph], tmp_path: Path
) -> None:
    graph = start(callsim_graph_factory, tmp_path, "duplicate:8514")
    operation = record_once(graph, tmp_path)
    assert operation["status"] == "completed"
    graph.wait_for_call_state("terminated", timeout_s=10)
    ending = [d for d in graph.deliveries() if "8514" in d.summary]
    assert [(d.sequence, d.outcome) for d in ending] == [(ending[0].sequence, "delivered")] * 2


def test_failed_attempts_are_retried_then_delivered(
    callsim_graph_factory: Callable[..., LocalGraph], tmp_path: Path
) -> None:
    graph = start(callsim_graph_factory, tmp_path, "fail:2:503:8514")
    assert record_once(graph, tmp_path)["status"] == "completed"
    ending = [d for d in graph.deliveries() if "8514" in d.summary]
    assert [(d.attempt, d.status, d.outcome) for d in ending] == [
        (1, 503, "retrying"),
        (2, 503, "retrying"),
        (3, ending[2].status, "delivered"),
    ]
    assert "(fault)" in ending[0].error


def test_a_reordered_notification_comes_after_the_next_one(
    callsim_graph_factory: Callable[..., LocalGraph], tmp_path: Path
) -> None:
    graph = start(callsim_graph_factory, tmp_path, "reorder:call establishing")
    assert record_once(graph, tmp_path)["status"] == "completed"
    ended = graph.wait_for_operation_end(timeout_s=1)
    order = [(d.sequence, d.summary) for d in graph.deliveries(ended.call_id)]
    assert order[:2] == [(2, "call established"), (1, "call establishing")]


def test_a_delayed_ending_holds_the_calls_later_notifications(
    callsim_graph_factory: Callable[..., LocalGraph], tmp_path: Path
) -> None:
    graph = start(callsim_graph_factory, tmp_path, "delay:1.5:8514")
    assert record_once(graph, tmp_path)["status"] == "completed"
    ended = graph.wait_for_operation_end(timeout_s=1)
    delivered = graph.wait_for_delivery(ended.call_id, summary_contains="8514", timeout_s=1)
    first = graph.deliveries(ended.call_id)
    # Deliveries stay in the call's order, and the delay is a lower bound (a sleep).
    assert [d.sequence for d in first] == sorted(d.sequence for d in first)
    earlier = [d for d in first if d.sequence == delivered.sequence - 1]
    assert delivered.wall_time_s - earlier[-1].wall_time_s >= 1.5


def test_a_dropped_ending_never_reaches_the_bot_which_can_poll(
    callsim_graph_factory: Callable[..., LocalGraph], tmp_path: Path
) -> None:
    graph = start(callsim_graph_factory, tmp_path, "drop:8514")
    bot_module = load("bot")

    async def flow() -> tuple[list[dict[str, Any]], str, str, dict[str, Any]]:
        async with bot_module.ExampleBot(graph.graph_url, log=lambda line: None) as bot:
            call_id = await bot.place_call()
            started = await bot._post(
                f"/communications/calls/{call_id}/recordResponse", bot_module.RECORD_BODY
            )
            # Wait until the endpoint has dropped the ending, then hang up: the call's
            # notifications are delivered in order, so "terminated" comes after its turn.
            await asyncio.to_thread(
                graph.wait_for_delivery, call_id, summary_contains="8514", delivered=False
            )
            # The fallback a bot has: GET the operation (before hanging up: an ended call's
            # operations are gone, 404).
            url = f"{graph.graph_url}/communications/calls/{call_id}/operations/{started['id']}"
            polled = await asyncio.to_thread(get_json, url)
            await bot.hang_up(call_id)
            return list(bot.notifications), call_id, str(started["id"]), polled

    seen, call_id, operation_id, polled = asyncio.run(asyncio.wait_for(flow(), 60))
    ended = graph.wait_for_operation_end(call_id, timeout_s=5)
    assert ended.result == "200/8514"
    dropped = [d for d in graph.deliveries(call_id) if "8514" in d.summary]
    assert [(d.outcome, d.error) for d in dropped] == [("failed", "dropped (fault)")]
    assert not [n for n in seen if str(n.get("resourceUrl", "")).endswith(operation_id)]
    assert any(
        isinstance(n.get("resourceData"), dict) and n["resourceData"].get("state") == "terminated"
        for n in seen
    )
    assert polled["status"] == "completed" and polled["resultInfo"]["subcode"] == 8514


@pytest.mark.parametrize(
    "spec",
    [
        "slow:1",
        "delay",
        "delay:x",
        "delay:-1",
        "fail:0:503",
        "fail:2:200",
        "fail:2",
        "download:418",
        "cut:x",
        "cut:5:0",
    ],
)
def test_bad_fault_specs_are_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="fault"):
        parse_fault(spec)


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("download:401", "401"),
        ("download:404", "404"),
        ("download:500", "500"),
        ("cut:1000", "ClientPayloadError"),
    ],
)
def test_a_faulty_download_is_noticed_by_the_bot_and_the_retry_works(
    callsim_graph_factory: Callable[..., LocalGraph], tmp_path: Path, spec: str, error: str
) -> None:
    graph = start(callsim_graph_factory, tmp_path, spec)
    bot_module = load("bot")
    out = tmp_path / "answer.wav"

    async def flow() -> tuple[str, int]:
        async with bot_module.ExampleBot(graph.graph_url, log=lambda line: None) as bot:
            call_id = await bot.place_call()
            operation = await bot.record_response(call_id)
            try:
                await bot.download_recording(operation, out)
                failure = "none"
            except Exception as exc:  # the bot's own error: a status or a short body
                failure = f"{type(exc).__name__}: {exc}"
            await bot.download_recording(operation, out)  # the fault was for one request
            await bot.hang_up(call_id)
            return failure, out.stat().st_size

    failure, size = asyncio.run(asyncio.wait_for(flow(), 60))
    assert error in failure
    served = sorted(graph.recordings_dir.glob("*/*.wav"))
    assert len(served) == 1 and size == served[0].stat().st_size > 1000


def test_a_hang_up_without_any_notification(
    callsim_graph_factory: Callable[..., LocalGraph], tmp_path: Path
) -> None:
    # The caller hangs up 1 s after the call is established; every notification from then on
    # is dropped: the bot learns of it only when its next request gets 404.
    scenario = tmp_path / "hangup.toml"
    scenario.write_text("[[caller]]\nat = 1.0\nhangup = true\n", encoding="utf-8")
    graph = callsim_graph_factory(scenario=scenario, faults=["drop:terminat"] * 3)
    bot_module = load("bot")

    async def flow() -> tuple[str, list[dict[str, Any]], int]:
        async with bot_module.ExampleBot(graph.graph_url, log=lambda line: None) as bot:
            call_id = await bot.place_call()
            await asyncio.to_thread(graph.wait_for_call_state, "terminated", call_id)
            await asyncio.to_thread(
                graph.wait_for_delivery, call_id, summary_contains="terminat", delivered=False
            )
            url = f"{graph.graph_url}/communications/calls/{call_id}"
            async with bot._http.get(url) as answer:
                return call_id, list(bot.notifications), answer.status

    call_id, seen, status = asyncio.run(asyncio.wait_for(flow(), 30))
    assert status == 404
    states = [n["resourceData"].get("state") for n in seen if n.get("resourceData")]
    assert "terminated" not in states and "terminating" not in states
    dropped = [d for d in graph.deliveries(call_id) if d.error == "dropped (fault)"]
    assert dropped and all("terminat" in d.summary for d in dropped)


def test_faults_in_a_scenario_file_apply_when_it_is_served(
    callsim_graph_factory: Callable[..., LocalGraph], tmp_path: Path
) -> None:
    scenario = tmp_path / "caller.toml"
    scenario.write_text(SCENARIO + '[endpoint]\nfaults = ["duplicate:8514"]\n', encoding="utf-8")
    graph = callsim_graph_factory(scenario=scenario)
    assert record_once(graph, tmp_path)["status"] == "completed"
    graph.wait_for_call_state("terminated", timeout_s=10)
    ending = [d for d in graph.deliveries() if "8514" in d.summary]
    assert [d.outcome for d in ending] == ["delivered", "delivered"]


@pytest.mark.parametrize(
    ("endpoint", "problem"),
    [
        ('faults = ["slow:1"]', "[endpoint]: fault 'slow:1': the kind must be one of"),
        ("faults = [1]", "[endpoint]: 'faults' must be an array of at most 100 fault specs"),
        ("fault = []", "[endpoint]: unknown key 'fault'"),
    ],
)
def test_a_bad_scenario_fault_is_one_line_and_exit_2(
    tmp_path: Path, endpoint: str, problem: str
) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(f"[[caller]]\nat = 1.0\nhangup = true\n[endpoint]\n{endpoint}\n")
    done = subprocess.run(
        [sys.executable, "-m", "app", "serve", "--scenario", str(scenario)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"callsim: error: {scenario}: {problem}"), done.stderr
    assert len(done.stderr.splitlines()) == 1
