"""A small calling bot that records one spoken answer through Microsoft Graph's calls API.

It talks plain HTTP + JSON (aiohttp), exactly as the Graph documentation shows, so it works
against CallSim's local endpoint and, with a real access token and a public HTTPS callback,
against graph.microsoft.com:

1. listen for notifications on a callback URL;
2. place a call (POST /communications/calls) -- or, with --answer, wait for an incoming call
   and answer it (POST /communications/calls/{id}/answer);
3. wait for the "established" notification;
4. POST /communications/calls/{id}/recordResponse (beep, stop on #, 10 s at most);
5. wait for the operation's final notification (changeType "deleted");
6. download the recording from recordingLocation with "Authorization: Bearer
   <recordingAccessToken>" and save it as a WAV;
7. hang up (DELETE /communications/calls/{id}) and wait for "terminated".

Try it against CallSim (two terminals):

    callsim serve --wav my_answer.wav
    python resources/example_bot/bot.py --graph http://127.0.0.1:PORT/v1.0 --out answer.wav

or, for an incoming call, start the bot first on a fixed port and let CallSim ring it:

    python resources/example_bot/bot.py --graph http://127.0.0.1:PORT/v1.0 --answer --port 8081
    callsim serve --wav my_answer.wav --incoming http://127.0.0.1:8081/callback
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

# The recordResponse body: docs/graph-contract.md §1.2 names and limits.
RECORD_BODY: dict[str, Any] = {
    "bargeInAllowed": False,
    "clientContext": "example-bot",
    "playBeep": True,
    "stopTones": ["#"],
    "initialSilenceTimeoutInSeconds": 5,
    "maxSilenceTimeoutInSeconds": 3,
    "maxRecordDurationInSeconds": 10,
}

Notification = dict[str, Any]  # one item of a commsNotifications envelope


class ExampleBot:
    """Callback server + Graph client. Use ``async with ExampleBot(graph_url) as bot``."""

    def __init__(
        self,
        graph_base_url: str,
        *,
        access_token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        log: Callable[[str], None] = print,
        ca_file: Path | None = None,
    ) -> None:
        self.graph = graph_base_url.rstrip("/")
        self.host = host
        self.port = port
        self.log = log
        self.headers = {"Authorization": f"Bearer {access_token or 'local-test'}"}
        self.notifications: list[Notification] = []
        self._arrived: asyncio.Condition | None = None
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        # An https Graph (CallSim's `serve --tls`) signed by a CA the system does not know.
        self.ssl: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=str(ca_file)) if ca_file is not None else True
        )

    @property
    def callback_url(self) -> str:
        """Where Graph (or CallSim) must POST this bot's notifications."""
        return f"http://{self.host}:{self.port}/callback"

    async def __aenter__(self) -> ExampleBot:
        self._arrived = asyncio.Condition()
        app = web.Application()
        app.router.add_post("/callback", self._on_notification)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:
            self.port = self._runner.addresses[0][1]
        self._http = aiohttp.ClientSession(
            headers=self.headers, connector=aiohttp.TCPConnector(ssl=self.ssl)
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- notifications ------------------------------------------------------------------------

    async def _on_notification(self, request: web.Request) -> web.Response:
        envelope = await request.json()
        assert self._arrived is not None
        async with self._arrived:
            for item in envelope.get("value", []):
                data = item.get("resourceData") or {}
                what = data.get("state") or data.get("status") or ""
                self.log(f"<- {item.get('changeType')} {item.get('resourceUrl')} {what}")
                self.notifications.append(item)
            self._arrived.notify_all()
        # Answer at once and work in the background, as the Graph Communications SDK does.
        return web.Response(status=202)

    async def wait_for(
        self, match: Callable[[Notification], bool], timeout_s: float = 60.0
    ) -> Notification:
        """The first notification (received so far or later) that ``match`` accepts."""
        assert self._arrived is not None
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: any(match(n) for n in self.notifications)),
                timeout_s,
            )
        return next(n for n in self.notifications if match(n))

    async def wait_for_call_state(self, call_id: str, state: str) -> Notification:
        """Wait for a call notification with ``state`` (establishing, established, ...)."""

        def match(n: Notification) -> bool:
            return (
                n.get("resourceUrl", "").lower() == f"/communications/calls/{call_id}".lower()
                and (n.get("resourceData") or {}).get("state") == state
            )

        return await self.wait_for(match)

    # -- Graph requests -----------------------------------------------------------------------

    async def _post(self, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        """POST JSON to Graph; return the JSON answer ({} for an empty one), raise on errors."""
        assert self._http is not None
        url = f"{self.graph}{path}"
        async with self._http.post(url, json=body) as response:
            text = await response.text()
            self.log(f"-> POST {path}: {response.status}")
            if response.status >= 400:
                raise RuntimeError(f"POST {url} failed: {response.status} {text}")
        return json.loads(text) if text.strip() else {}

    async def place_call(self) -> str:
        """Call a (fake) user with service-hosted media; return the call id once established."""
        body = {
            "@odata.type": "#microsoft.graph.call",
            "callbackUri": self.callback_url,
            "targets": [
                {
                    "@odata.type": "#microsoft.graph.invitationParticipantInfo",
                    "identity": {"user": {"id": "00000000-0000-0000-0000-000000000001"}},
                }
            ],
            "requestedModalities": ["audio"],
            "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"},
        }
        call = await self._post("/communications/calls", body)
        call_id = str(call["id"])
        await self.wait_for_call_state(call_id, "established")
        return call_id

    async def answer_incoming_call(self) -> str:
        """Wait for an incoming call, answer it; return its id once established."""
        offer = await self.wait_for(
            lambda n: (
                n.get("changeType") == "created"
                and (n.get("resourceData") or {}).get("state") == "incoming"
            )
        )
        call_id = str(offer["resourceUrl"]).rsplit("/", 1)[-1]
        await self._post(
            f"/communications/calls/{call_id}/answer",
            {
                "callbackUri": self.callback_url,
                "acceptedModalities": ["audio"],
                "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"},
            },
        )
        await self.wait_for_call_state(call_id, "established")
        return call_id

    async def record_response(
        self, call_id: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Run recordResponse; return the final recordOperation from its notification."""
        started = await self._post(
            f"/communications/calls/{call_id}/recordResponse", body or RECORD_BODY
        )
        operation_id = started["id"]
        done = await self.wait_for(
            lambda n: (
                n.get("changeType") == "deleted"
                and str(n.get("resourceUrl", "")).endswith(f"/operations/{operation_id}")
            )
        )
        operation: dict[str, Any] = done["resourceData"]
        info = operation["resultInfo"]
        self.log(
            f"recordResponse {operation['status']}: {info['code']}/{info['subcode']} "
            f"{info['message']}"
        )
        return operation

    async def download_recording(self, operation: dict[str, Any], path: Path) -> Path:
        """Fetch the recording with its access token and save it (it is a WAV file)."""
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self.ssl)) as plain,
            plain.get(
                operation["recordingLocation"],
                headers={"Authorization": f"Bearer {operation['recordingAccessToken']}"},
            ) as response,
        ):
            response.raise_for_status()
            path.write_bytes(await response.read())
        self.log(f"saved {path} ({path.stat().st_size} bytes)")
        return path

    async def hang_up(self, call_id: str) -> None:
        """End the call and wait for the terminated notification."""
        assert self._http is not None
        async with self._http.delete(f"{self.graph}/communications/calls/{call_id}") as response:
            self.log(f"-> DELETE call: {response.status}")
        await self.wait_for_call_state(call_id, "terminated")


async def record_one_answer(bot: ExampleBot, *, answer: bool, out: Path) -> dict[str, Any]:
    """The whole flow: get a call, record one answer, save it, hang up."""
    call_id = await (bot.answer_incoming_call() if answer else bot.place_call())
    operation = await bot.record_response(call_id)
    if operation["status"] == "completed" and operation.get("recordingLocation"):
        await bot.download_recording(operation, out)
    await bot.hang_up(call_id)
    return operation


async def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--graph", required=True, help="Graph base URL, e.g. .../v1.0")
    parser.add_argument("--answer", action="store_true", help="answer an incoming call")
    parser.add_argument("--port", type=int, default=0, help="callback port (default: any)")
    parser.add_argument("--token", help="Graph access token (CallSim accepts any)")
    parser.add_argument("--out", type=Path, default=Path("answer.wav"), help="WAV to save")
    parser.add_argument(
        "--ca-file", type=Path, help="trust this CA (callsim serve --tls prints it)"
    )
    args = parser.parse_args(argv)
    async with ExampleBot(
        args.graph, access_token=args.token, port=args.port, ca_file=args.ca_file
    ) as bot:
        print(f"callback URL: {bot.callback_url}", flush=True)
        operation = await record_one_answer(bot, answer=args.answer, out=args.out)
    return 0 if operation["status"] == "completed" else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
