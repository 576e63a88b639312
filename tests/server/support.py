"""Test helpers: a real notification receiver (the bot's callback) and a scripted-caller server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import web

from app.audio.wav import read_engine_audio
from app.core.clock import seconds_to_samples
from app.server.caller import (
    CallerPacer,
    CallerScript,
    ScriptAction,
    StartOn,
    scripted_caller_factory,
)
from app.server.server import GraphServer

SPEECH_DIR = Path(__file__).resolve().parents[1] / "data" / "speech"
# us_female_short.wav: one speech span 0.30-1.72 s (tests/data/speech/labels.json).
SHORT_SPEECH = SPEECH_DIR / "us_female_short.wav"

SERVICE_HOSTED = {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"}
APP_HOSTED = {"@odata.type": "#microsoft.graph.appHostedMediaConfig", "blob": "<blob>"}
TARGETS = [
    {
        "@odata.type": "#microsoft.graph.invitationParticipantInfo",
        "identity": {"user": {"id": "112f7296-5fa4-42ca-bae8-6a692b15d4b8", "displayName": "J"}},
    }
]


def speaking_script(*, speech_at_s: float = 0.5, key_at_s: float | None = 2.6) -> CallerScript:
    """A caller who says the short clip at ``speech_at_s`` and presses # at ``key_at_s``."""
    speech = read_engine_audio(SHORT_SPEECH)
    lead = np.zeros(seconds_to_samples(speech_at_s), dtype=np.float32)
    actions = ()
    if key_at_s is not None:
        actions = (ScriptAction(seconds_to_samples(key_at_s), "key", key="#"),)
    return CallerScript("speaks then #", np.concatenate([lead, speech]), actions)


def create_body(callback_uri: str, media: dict[str, Any] | None = None) -> dict[str, Any]:
    """The documented create-call body (application-post-calls.md, example 1)."""
    return {
        "@odata.type": "#microsoft.graph.call",
        "callbackUri": callback_uri,
        "targets": TARGETS,
        "requestedModalities": ["audio"],
        "mediaConfig": media or SERVICE_HOSTED,
    }


@dataclass
class Arrival:
    """One POST the receiver got."""

    path: str
    payload: Any
    headers: dict[str, str]
    wall_s: float

    @property
    def items(self) -> list[dict[str, Any]]:
        """The commsNotification items of the envelope."""
        value = self.payload.get("value", []) if isinstance(self.payload, dict) else []
        return [item for item in value if isinstance(item, dict)]


# A plan maps (path, n-th request to that path, from 1) to a status, or None to never answer.
Plan = Callable[[str, int], int | None]


def always(status: int) -> Plan:
    """Answer every request with ``status``."""
    return lambda path, n: status


@dataclass
class Receiver:
    """A real HTTP callback on 127.0.0.1 that records every notification (use in one loop)."""

    plan: Plan = field(default_factory=lambda: always(202))
    arrivals: list[Arrival] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)
    _items: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None
    _changed: asyncio.Condition | None = None
    _hang: asyncio.Event | None = None

    async def __aenter__(self) -> Receiver:
        self._changed = asyncio.Condition()
        self._hang = asyncio.Event()
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        assert site._server is not None
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._hang is not None and self._runner is not None
        self._hang.set()
        await self._runner.cleanup()

    def url(self, path: str = "/callback") -> str:
        """The callback URL for ``path``."""
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, request: web.Request) -> web.Response:
        assert self._changed is not None and self._hang is not None
        path = request.path
        self.attempts[path] = self.attempts.get(path, 0) + 1
        status = self.plan(path, self.attempts[path])
        body = await request.read()
        if status is None:
            await self._hang.wait()  # a bot that never answers
            return web.Response(status=503)
        if 200 <= status < 300:
            arrival = Arrival(path, json.loads(body), dict(request.headers), time.monotonic())
            async with self._changed:
                self.arrivals.append(arrival)
                self._items.extend(arrival.items)
                self._changed.notify_all()
        return web.Response(status=status)

    def items(self, call_id: str | None = None) -> list[dict[str, Any]]:
        """Every notification item delivered so far (for one call if given)."""
        if call_id is None:
            return list(self._items)
        return [i for i in self._items if call_id in str(i.get("resourceUrl", ""))]

    async def wait_item(
        self, predicate: Callable[[dict[str, Any]], bool], timeout_s: float = 10.0
    ) -> dict[str, Any]:
        """The first delivered item matching ``predicate`` (waits for it, bounded)."""
        assert self._changed is not None
        deadline = asyncio.get_running_loop().time() + timeout_s
        cursor = 0  # items before this were already checked: each is looked at once
        async with self._changed:
            while True:
                for item in self._items[cursor:]:
                    if predicate(item):
                        return item
                cursor = len(self._items)
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    raise TimeoutError("no matching notification arrived")
                await asyncio.wait_for(self._changed.wait(), remaining)


def state_is(call_id: str, state: str) -> Callable[[dict[str, Any]], bool]:
    """Matches a call notification of ``call_id`` with ``state``."""

    def match(item: dict[str, Any]) -> bool:
        data = item.get("resourceData") or {}
        return (
            item.get("resourceUrl") == f"/communications/calls/{call_id}"
            and data.get("state") == state
        )

    return match


def operation_done(operation_id: str) -> Callable[[dict[str, Any]], bool]:
    """Matches the final (deleted) notification of an operation."""

    def match(item: dict[str, Any]) -> bool:
        return item.get("changeType") == "deleted" and str(item.get("resourceUrl", "")).endswith(
            f"/operations/{operation_id}"
        )

    return match


async def record_and_download(
    http: Any, receiver: Receiver, graph: str, call_id: str, body: dict[str, Any]
) -> tuple[dict[str, Any], bytes]:
    """POST recordResponse on an established call, wait for its 8514 ending, download the WAV.

    Returns the ending's resourceData and the recording's bytes (asserting 200 on both requests).
    """
    async with http.post(
        f"{graph}/communications/calls/{call_id}/recordResponse", json=body
    ) as resp:
        assert resp.status == 200
        op_id = (await resp.json())["id"]
    done = await receiver.wait_item(operation_done(op_id), timeout_s=30)
    data: dict[str, Any] = done["resourceData"]
    assert data["resultInfo"]["subcode"] == 8514, data
    return data, await download_recording(http, data)


async def download_recording(http: Any, data: dict[str, Any]) -> bytes:
    """GET the recording an ending's resourceData names, with its token (asserting 200)."""
    async with http.get(
        data["recordingLocation"],
        headers={"Authorization": f"Bearer {data['recordingAccessToken']}"},
    ) as resp:
        assert resp.status == 200
        return bytes(await resp.read())


def make_server(
    script: CallerScript | None = None,
    *,
    speed: float = 4.0,
    start_on: StartOn = "established",
    **kwargs: Any,
) -> tuple[GraphServer, CallerPacer]:
    """A started GraphServer whose calls play ``script`` (silence by default) ``speed``× fast."""
    pacer = CallerPacer()
    factory = scripted_caller_factory(
        script or CallerScript.silence(), pacer, speed=speed, start_on=start_on
    )
    server = GraphServer(
        caller_factory=factory,
        **{"answer_delay_s": 0.02, **kwargs},
    )
    server.start()
    return server, pacer
