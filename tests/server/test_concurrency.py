"""Fifty calls at once, each recording a response: no notification is lost or reordered."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import aiohttp
import pytest

from app.server.events import ServerEvent
from app.server.notifier import DeliveryRecord
from app.server.server import GraphServer
from tests.server.support import (
    Receiver,
    create_body,
    record_and_download,
    speaking_script,
    state_is,
)

CALLS = 50
# Real time: the 50 callers speak together for real, as 50 phones would.
SPEED = 1.0
RECORD = {"stopTones": ["#"], "maxRecordDurationInSeconds": 10, "clientContext": "load"}


@pytest.mark.slow
def test_fifty_concurrent_calls_each_record_a_response(
    serve: Callable[..., GraphServer],
) -> None:
    records: list[ServerEvent] = []
    # A full second before the caller speaks: the bot's recordResponse must be in by then.
    script = speaking_script(speech_at_s=1.0, key_at_s=3.1)
    server = serve(script, speed=SPEED, on_event=records.append)
    graph = server.graph_base_url()
    threads_before = threading.active_count()
    peak_threads = 0

    async def one_call(http: aiohttp.ClientSession, receiver: Receiver, n: int) -> float:
        start = time.monotonic()
        async with http.post(
            f"{graph}/communications/calls", json=create_body(receiver.url(f"/bot/{n}"))
        ) as resp:
            assert resp.status == 201
            call_id = (await resp.json())["id"]
        await receiver.wait_item(state_is(call_id, "established"), timeout_s=30)
        _, wav = await record_and_download(http, receiver, graph, call_id, RECORD)
        assert len(wav) > 16000 * 2  # more than a second of speech
        async with http.delete(f"{graph}/communications/calls/{call_id}") as resp:
            assert resp.status == 204
        await receiver.wait_item(state_is(call_id, "terminated"), timeout_s=30)
        return time.monotonic() - start

    async def flow() -> list[float]:
        nonlocal peak_threads
        async with Receiver() as receiver, aiohttp.ClientSession() as http:
            tasks = [asyncio.create_task(one_call(http, receiver, n)) for n in range(CALLS)]
            while not all(t.done() for t in tasks):
                peak_threads = max(peak_threads, threading.active_count())
                await asyncio.wait(tasks, timeout=0.1)
            durations = [t.result() for t in tasks]
            # Per call: establishing, established, the operation, terminating, terminated; once
            # each, in order.
            for n in range(CALLS):
                got = [a for a in receiver.arrivals if a.path == f"/bot/{n}"]
                kinds = [
                    item["resourceData"].get("state") or item["resourceData"]["status"]
                    for a in got
                    for item in a.items
                ]
                assert kinds == [
                    "establishing",
                    "established",
                    "completed",
                    "terminating",
                    "terminated",
                ]
            return durations

    start = time.monotonic()
    cpu_start_s = time.process_time()
    durations = asyncio.run(asyncio.wait_for(flow(), 55))
    wall_s = time.monotonic() - start
    cpu_s = time.process_time() - cpu_start_s
    deliveries = [
        r for r in server.run_on_loop(lambda: list(records)) if isinstance(r, DeliveryRecord)
    ]
    assert len(deliveries) == 5 * CALLS
    assert all(r.outcome == "delivered" and r.attempt == 1 for r in deliveries)
    print(
        f"\n{CALLS} calls: wall {wall_s:.1f} s, CPU {cpu_s:.1f} s (server and bots), "
        f"per call max {max(durations):.2f} s, "
        f"threads {threads_before} -> peak {peak_threads}, "
        f"delivery latency max {max(r.latency_ms for r in deliveries):.1f} ms"
    )
    assert wall_s < 55
