"""The endpoint runs every call's engine on its engine pool, not on a thread per call."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import aiohttp

from app.server.server import GraphServer
from tests.server.support import Receiver, operation_done, speaking_script
from tests.server.test_endpoint import RECORD_BODY, action_url, place_call, run

CALLS = 12


def test_twelve_calls_record_on_the_pool_threads_without_a_thread_each(
    serve: Callable[..., GraphServer],
) -> None:
    """Twelve established calls record their callers' answers at once; the endpoint's engines
    are the pool's worker, whatever the number of calls (before: one thread per call)."""
    server = serve(speaking_script())
    graph = server.graph_base_url()

    async def flow() -> None:
        async with Receiver() as receiver, aiohttp.ClientSession() as http:
            first = await place_call(http, graph, receiver)
            one = server.call(first)
            assert one is not None
            await asyncio.wrap_future(one.host.submit(lambda _: None))  # the pool is running
            before = {t.ident for t in threading.enumerate()}
            calls = [first] + [await place_call(http, graph, receiver) for _ in range(CALLS - 1)]
            served = [server.call(call_id) for call_id in calls]
            asked = [c.host.submit(lambda _: threading.current_thread().name) for c in served if c]
            names = {await asyncio.wrap_future(f) for f in asked}
            added = [t.name for t in threading.enumerate() if t.ident not in before]

            async def record(call_id: str) -> dict[str, object]:
                async with http.post(
                    action_url(graph, call_id, "recordResponse", False), json=RECORD_BODY
                ) as resp:
                    assert resp.status == 200
                    op = await resp.json()
                done = await receiver.wait_item(operation_done(op["id"]))
                data: dict[str, object] = done["resourceData"]
                return data

            results = await asyncio.gather(*(record(c) for c in calls))
            assert [r["status"] for r in results] == ["completed"] * CALLS
            assert names == {"engine-1"}  # every call's engine ran on the pool's one worker
            # Eleven more calls added no engine thread (prompt loaders and HTTP client
            # threads may come and go; none is named for a call).
            assert not [n for n in added if n.startswith("engine")], added

    run(flow())
