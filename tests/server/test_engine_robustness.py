"""The endpoint's engines cannot die, and prompts never block them (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import aiohttp

from app.audio.prompts import make_prompt_loader
from app.core.media import LoadedPrompt, PromptLoadError
from app.server.server import GraphServer
from tests.server.support import Receiver, operation_done, speaking_script, state_is
from tests.server.test_endpoint import RECORD_BODY, action_url, place_call, run
from tests.support.stalls import silent_http_server

ANSWER_TIMEOUT_S = 0.5  # the endpoint's wait for its engine (10 s by default)


def _prompt(uri: str) -> dict[str, Any]:
    return {"prompts": [{"@odata.type": "#microsoft.graph.mediaPrompt", "mediaInfo": {"uri": uri}}]}


def test_a_failing_action_and_a_stuck_engine_leave_every_call_working(
    serve: Callable[..., GraphServer],
) -> None:
    """A prompt loader that raises fails its operation (500/8511); an engine busy past the
    endpoint's wait fails that request (500) and skips it; then the same call and another
    call record and hang up normally, with their terminated notifications."""
    real = make_prompt_loader(None)

    def loader(uri: str) -> LoadedPrompt | PromptLoadError:
        if "boom" in uri:
            raise RuntimeError("injected loader bug")
        return real(uri)

    server = serve(
        speaking_script(), prompt_loader=loader, engine_answer_timeout_s=ANSWER_TIMEOUT_S
    )
    graph = server.graph_base_url()

    async def flow() -> None:
        async with Receiver() as receiver, aiohttp.ClientSession() as http:
            a = await place_call(http, graph, receiver)
            host = server.call(a)
            assert host is not None
            engine = host.host

            # 1. A real exception while serving the action's prompt.
            url = action_url(graph, a, "playPrompt", False)
            async with http.post(url, json=_prompt("http://127.0.0.1:9/boom.wav")) as resp:
                assert resp.status == 200
                op = await resp.json()
            done = (await receiver.wait_item(operation_done(op["id"])))["resourceData"]
            assert done["status"] == "failed"
            assert (done["resultInfo"]["code"], done["resultInfo"]["subcode"]) == (500, 8511)

            # 2. The engine is busy past the endpoint's wait: that request fails, Graph-shaped.
            gate = threading.Event()
            stuck = engine.submit(lambda call: gate.wait(20))
            record = action_url(graph, a, "recordResponse", False)
            async with http.post(record, json=RECORD_BODY) as resp:
                assert resp.status == 500
                error = (await resp.json())["error"]
            assert error["code"] == "UnknownError" and "not answering" in error["message"]
            gate.set()
            assert stuck.result(5) is True

            # 3. The same call goes on: the next recordResponse runs (the timed-out one was
            # skipped, so it is the only one), and DELETE gives the terminated notification.
            body = {**RECORD_BODY, "initialSilenceTimeoutInSeconds": 1, "playBeep": False}
            async with http.post(record, json=body) as resp:
                assert resp.status == 200
                op = await resp.json()
            assert op["status"] == "running"
            await receiver.wait_item(operation_done(op["id"]))
            records = [
                i
                for i in receiver.items(a)
                if i["resourceData"].get("@odata.type") == "#microsoft.graph.recordOperation"
            ]
            assert len(records) == 1

            # 4. Another call places, records (the caller speaks, presses #), downloads, hangs up.
            b = await place_call(http, graph, receiver)
            async with http.post(
                action_url(graph, b, "recordResponse", True), json=RECORD_BODY
            ) as resp:
                assert resp.status == 200
                op_b = await resp.json()
            data = (await receiver.wait_item(operation_done(op_b["id"])))["resourceData"]
            assert (data["status"], data["resultInfo"]["subcode"]) == ("completed", 8514)
            auth = {"Authorization": f"Bearer {data['recordingAccessToken']}"}
            async with http.get(data["recordingLocation"], headers=auth) as resp:
                assert resp.status == 200
                assert len(await resp.read()) > 16000  # more than 0.5 s of 16-bit audio
            assert engine.running  # before: its thread had died at step 1 or 2
            for call_id in (b, a):
                async with http.delete(f"{graph}/communications/calls/{call_id}") as resp:
                    assert resp.status == 204
                await receiver.wait_item(state_is(call_id, "terminated"))
            assert engine.failures == []  # the loader bug was its operation's, not the call's

    run(flow())


def test_a_stalled_prompt_url_does_not_hold_up_the_call_or_its_next_operation(
    serve: Callable[..., GraphServer],
) -> None:
    """A prompt host on 127.0.0.1 that accepts and never answers: while its download hangs,
    the same call answers a recordResponse at once (before: its engine waited in the
    download) and another call records; when the host hangs up, the prompt fails 400/8536
    and the queued recordResponse runs."""
    server = serve(speaking_script(), engine_answer_timeout_s=2.0, prompt_timeout_s=30.0)
    graph = server.graph_base_url()

    async def flow() -> None:
        with silent_http_server() as prompt_host:
            async with Receiver() as receiver, aiohttp.ClientSession() as http:
                a = await place_call(http, graph, receiver)
                url = action_url(graph, a, "playPrompt", False)
                async with http.post(url, json=_prompt(f"{prompt_host.url}/p.wav")) as resp:
                    assert resp.status == 200
                    play = await resp.json()
                assert await asyncio.to_thread(prompt_host.accepted.wait, 10)  # now stalled
                body = {**RECORD_BODY, "initialSilenceTimeoutInSeconds": 1, "playBeep": False}
                async with http.post(
                    action_url(graph, a, "recordResponse", False), json=body
                ) as resp:
                    assert resp.status == 200  # answered while the prompt is still stalled
                    record = await resp.json()
                assert record["status"] == "notStarted"  # queued behind the playPrompt

                b = await place_call(http, graph, receiver)
                async with http.post(
                    action_url(graph, b, "recordResponse", False), json=RECORD_BODY
                ) as resp:
                    assert resp.status == 200
                    op_b = await resp.json()
                data = (await receiver.wait_item(operation_done(op_b["id"])))["resourceData"]
                assert (data["status"], data["resultInfo"]["subcode"]) == ("completed", 8514)
                assert not receiver.items(a)[2:]  # call a: still only its two call states

                prompt_host.hang_up()
                failed = (await receiver.wait_item(operation_done(play["id"])))["resourceData"]
                assert (failed["resultInfo"]["code"], failed["resultInfo"]["subcode"]) == (
                    400,
                    8536,
                )
                await receiver.wait_item(operation_done(record["id"]))

    run(flow())
