"""Ended calls are freed once their recordings expire (--recording-ttl after the call ends)."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref
from collections.abc import Callable

import aiohttp

from app.server.server import GraphServer
from tests.server.support import Receiver, create_body, state_is

FLOW_TIMEOUT_S = 120.0
CALLS = 120
CONCURRENCY = 8


async def place_and_end(
    http: aiohttp.ClientSession,
    graph: str,
    receiver: Receiver,
    on_created: Callable[[str], None] = lambda call_id: None,
) -> str:
    """Create a call, wait until it is established, DELETE it, wait until it is terminated."""
    async with http.post(f"{graph}/communications/calls", json=create_body(receiver.url())) as resp:
        assert resp.status == 201, await resp.text()
        call_id: str = (await resp.json())["id"]
    on_created(call_id)
    await receiver.wait_item(state_is(call_id, "established"), 30.0)
    async with http.delete(f"{graph}/communications/calls/{call_id}") as resp:
        assert resp.status == 204
    await receiver.wait_item(state_is(call_id, "terminated"), 30.0)
    return call_id


def wait_until(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_ended_calls_are_freed_after_the_retention(serve: Callable[..., GraphServer]) -> None:
    """Many placed-and-ended calls: the call table shrinks back to empty, the calls are freed."""
    server = serve(recording_ttl_s=0.0)
    graph = server.graph_base_url()
    refs: list[weakref.ref[object]] = []

    async def flow() -> None:
        limit = asyncio.Semaphore(CONCURRENCY)
        async with Receiver() as receiver, aiohttp.ClientSession() as http:

            def watch(call_id: str) -> None:
                call = server.call(call_id)
                assert call is not None
                refs.append(weakref.ref(call))
                refs.append(weakref.ref(call.host))

            async def one() -> None:
                async with limit:
                    await place_and_end(http, graph, receiver, watch)

            await asyncio.gather(*(one() for _ in range(CALLS)))

    asyncio.run(asyncio.wait_for(flow(), FLOW_TIMEOUT_S))
    assert wait_until(lambda: not server.calls(), 10.0), len(server.calls())
    assert len(refs) == 2 * CALLS

    def alive() -> int:
        gc.collect()
        return sum(ref() is not None for ref in refs)

    # The engine threads stop in the background after the end: wait for them to let go. The
    # caller pacer's thread keeps the last caller it fed in a local variable until it feeds
    # another, so one call (and its host) may stay reachable: bounded, not growing.
    assert wait_until(lambda: alive() <= 2, 10.0), alive()


def test_an_ended_call_is_kept_until_its_recordings_expire(
    serve: Callable[..., GraphServer],
) -> None:
    """With the default retention the ended call stays in the table (GET on it is 404)."""
    server = serve()
    graph = server.graph_base_url()

    async def flow() -> str:
        async with Receiver() as receiver, aiohttp.ClientSession() as http:
            call_id = await place_and_end(http, graph, receiver)
            async with http.get(f"{graph}/communications/calls/{call_id}") as resp:
                assert resp.status == 404
            return call_id

    call_id = asyncio.run(asyncio.wait_for(flow(), FLOW_TIMEOUT_S))
    call = server.call(call_id)
    assert call is not None and call.state == "terminated"
    assert server.recording_ttl_s == 300.0
