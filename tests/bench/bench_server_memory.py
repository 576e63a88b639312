"""Memory of the local Graph endpoint over many placed-and-ended calls (RSS growth per 1,000).

Places calls through the real endpoint on 127.0.0.1 (POST create, DELETE), with the bot's
callback a real local receiver, in rounds of 1,000. After each round it waits until the ended
calls are freed (``--recording-ttl`` is the retention; 0 here) and reads the process's resident
set size. The first two rounds are warm-up (imports, thread pools, connection pools, allocator
arenas: RSS rises ~25 MB over them, then stays flat); the reported figure is the growth per
1,000 calls after them. ``--retention 1e9`` keeps every ended call, as
the endpoint did before calls were freed, for comparison.

    uv run python -m tests.bench.bench_server_memory --calls 10000 [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import time

import aiohttp
from aiohttp import web

from app.server.server import GraphServer
from tests.server.support import create_body, make_server

ROUND = 1000
CONCURRENCY = 16


class Callback:
    """The bot's callback: answers every notification 202 and keeps nothing (unlike the
    tests' Receiver, which records every arrival and would grow with the calls)."""

    def __init__(self) -> None:
        self.count = 0
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> Callback:
        app = web.Application()
        app.router.add_post("/callback", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/callback"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.count += 1
        return web.Response(status=202)


def rss_mb() -> float:
    """Resident set size of this process in MB (Linux /proc)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


async def place_and_end(http: aiohttp.ClientSession, graph: str, callback: str) -> None:
    async with http.post(f"{graph}/communications/calls", json=create_body(callback)) as resp:
        assert resp.status == 201, await resp.text()
        call_id = (await resp.json())["id"]
    async with http.delete(f"{graph}/communications/calls/{call_id}") as resp:
        assert resp.status == 204


def wait_freed(server: GraphServer, keep: int, timeout_s: float = 60.0) -> None:
    """Wait until at most ``keep`` calls are in the table (ended ones freed)."""
    deadline = time.monotonic() + timeout_s
    while len(server.calls()) > keep:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(server.calls())} calls still held")
        time.sleep(0.01)


async def run(calls: int, retention_s: float, warmup_rounds: int) -> dict[str, object]:
    server, pacer = make_server(recording_ttl_s=retention_s, answer_delay_s=0.0)
    graph = server.graph_base_url()
    samples: list[float] = []
    start = time.perf_counter()
    try:
        limit = asyncio.Semaphore(CONCURRENCY)
        async with Callback() as callback, aiohttp.ClientSession() as http:

            async def one() -> None:
                async with limit:
                    await place_and_end(http, graph, callback.url)

            for done in range(0, calls, ROUND):
                await asyncio.gather(*(one() for _ in range(min(ROUND, calls - done))))
                keep = done + ROUND if retention_s > 3600 else 0
                await asyncio.to_thread(wait_freed, server, keep)
                gc.collect()
                samples.append(rss_mb())
    finally:
        server.stop(grace_s=0.2)
        pacer.stop()
    elapsed_s = time.perf_counter() - start
    base = samples[min(warmup_rounds, len(samples)) - 1]
    growth = (samples[-1] - base) / max(1, len(samples) - warmup_rounds)
    return {
        "calls": calls,
        "retention_s": retention_s,
        "warmup_calls": warmup_rounds * ROUND,
        "rss_after_warmup_mb": round(base, 1),
        "rss_end_mb": round(samples[-1], 1),
        "growth_mb_per_1000_calls": round(growth, 2),
        "rounds_rss_mb": ", ".join(f"{mb:.0f}" for mb in samples),
        "calls_per_s": round(calls / elapsed_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--retention", type=float, default=0.0, help="seconds (--recording-ttl)")
    parser.add_argument(
        "--warmup-rounds", type=int, default=2, help="rounds of 1,000 calls before the baseline"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()
    result = asyncio.run(run(args.calls, args.retention, args.warmup_rounds))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:28s} {value}")


if __name__ == "__main__":
    main()
