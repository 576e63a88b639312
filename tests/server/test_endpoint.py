"""The local Graph endpoint over real HTTP on 127.0.0.1, with a real notification receiver."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
import pytest
import soundfile as sf

from app.server.caller import CallerScript, ScriptAction
from app.server.events import ServerEvent
from app.server.notifier import DeliveryRecord, NotifyOptions
from app.server.server import GraphServer
from tests.server.support import (
    APP_HOSTED,
    Receiver,
    create_body,
    operation_done,
    speaking_script,
    state_is,
)

FLOW_TIMEOUT_S = 30.0
# Raw bodies are sent as JSON (anything else is refused with 415 before it is parsed).
JSON = {"Content-Type": "application/json"}

RECORD_BODY = {
    "bargeInAllowed": False,
    "clientContext": "ivr-step-1",
    "maxRecordDurationInSeconds": 10,
    "initialSilenceTimeoutInSeconds": 5,
    "maxSilenceTimeoutInSeconds": 3,
    "playBeep": True,
    "stopTones": ["#"],
}


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run one test flow with a hard bound on its duration."""
    return asyncio.run(asyncio.wait_for(coro, FLOW_TIMEOUT_S))


async def place_call(
    http: aiohttp.ClientSession, graph: str, receiver: Receiver, **body_extra: Any
) -> str:
    """Create a call, wait for its established notification, return its id."""
    async with http.post(
        f"{graph}/communications/calls", json={**create_body(receiver.url()), **body_extra}
    ) as resp:
        assert resp.status == 201, await resp.text()
        call = await resp.json()
        assert resp.headers["Location"] == f"{graph}/communications/calls/{call['id']}"
    assert call["state"] == "establishing"
    assert call["direction"] == "outgoing"
    await receiver.wait_item(state_is(call["id"], "established"))
    return str(call["id"])


def action_url(graph: str, call_id: str, action: str, qualified: bool) -> str:
    """``.../calls/{id}/{action}`` or the SDKs' ``.../microsoft.graph.{action}`` form."""
    segment = f"microsoft.graph.{action}" if qualified else action
    return f"{graph}/communications/calls/{call_id}/{segment}"


@pytest.mark.parametrize(
    ("version", "qualified"), [("v1.0", False), ("v1.0", True), ("beta", True)]
)
def test_whole_ivr_flow_over_http(
    serve: Callable[..., GraphServer], version: str, qualified: bool
) -> None:
    """Place call → established → recordResponse → caller speaks, presses # → 8514 → download."""
    server = serve(speaking_script(), recording_ttl_s=0.3)
    graph = server.graph_base_url(version)

    async def flow() -> None:
        async with Receiver() as receiver, aiohttp.ClientSession() as http:
            call_id = await place_call(http, graph, receiver)
            states = [i["resourceData"]["state"] for i in receiver.items(call_id)]
            assert states == ["establishing", "established"]  # in order, once each

            url = action_url(graph, call_id, "recordResponse", qualified)
            async with http.post(url, json=RECORD_BODY) as resp:
                assert resp.status == 200
                op = await resp.json()
                location = resp.headers["Location"]
            assert op["@odata.type"] == "#microsoft.graph.recordOperation"
            assert op["status"] == "running" and op["clientContext"] == "ivr-step-1"
            assert location == f"{graph}/communications/calls/{call_id}/operations/{op['id']}"

            done = await receiver.wait_item(operation_done(op["id"]))
            data = done["resourceData"]
            assert data["status"] == "completed"
            assert data["resultInfo"]["code"] == 200
            assert data["resultInfo"]["subcode"] == 8514
            assert data["completionReason"] == "stopToneDetected"
            assert data["clientContext"] == "ivr-step-1"

            # GET on the Location URL shows the final state too.
            async with http.get(location) as resp:
                assert resp.status == 200
                assert (await resp.json())["status"] == "completed"

            token = data["recordingAccessToken"]
            async with http.get(
                data["recordingLocation"], headers={"Authorization": f"Bearer {token}"}
            ) as resp:
                assert resp.status == 200
                assert resp.headers["Content-Type"] == "application/octet-stream"
                wav = await resp.read()
            samples, rate_hz = sf.read(io.BytesIO(wav), dtype="int16")
            info = sf.info(io.BytesIO(wav))
            assert (rate_hz, info.channels, info.subtype) == (16000, 1, "PCM_16")
            # Capture starts after the beep (0.3 s after the bot's request, which the caller
            # does not wait for); the caller speaks 0.8-2.22 s and presses # at 2.6 s. A slow
            # machine delays the request, hence the loose lower bound.
            assert 1.2 < len(samples) / rate_hz < 2.6
            assert abs(samples).max() > 1000  # the speech is in it

            async with http.get(data["recordingLocation"]) as resp:
                assert resp.status == 401
                assert (await resp.json())["error"]["code"] == "InvalidAuthenticationToken"
            async with http.get(
                data["recordingLocation"], headers={"Authorization": "Bearer wrong"}
            ) as resp:
                assert resp.status == 401

            async with http.delete(f"{graph}/communications/calls/{call_id}") as resp:
                assert resp.status == 204
            await receiver.wait_item(
                lambda i: (
                    i.get("changeType") == "deleted"
                    and i.get("resourceUrl") == f"/communications/calls/{call_id}"
                    and i["resourceData"].get("state") == "terminated"
                )
            )
            async with http.get(f"{graph}/communications/calls/{call_id}") as resp:
                assert resp.status == 404
                assert (await resp.json())["error"]["code"] == "NotFound"

            # The recording expires recording_ttl_s after the call ended: 404 afterwards.
            for _ in range(100):
                async with http.get(
                    data["recordingLocation"], headers={"Authorization": f"Bearer {token}"}
                ) as resp:
                    if resp.status == 404:
                        break
                await asyncio.sleep(0.05)
            else:
                pytest.fail("the recording never expired")

            # Every notification of the call arrived exactly once, in order.
            kinds = [
                (i["changeType"], i["resourceData"].get("state") or i["resourceData"]["status"])
                for i in receiver.items(call_id)
            ]
            assert kinds == [
                ("updated", "establishing"),
                ("updated", "established"),
                ("deleted", "completed"),
                ("updated", "terminating"),
                ("deleted", "terminated"),
            ]
            # The bot hung up: the call-delete page's sample resultInfo.
            ended = receiver.items(call_id)[-1]["resourceData"]["resultInfo"]
            assert (ended["code"], ended["subcode"]) == (200, 5001)
            assert ended["message"] == "The conversation has ended."

    run(flow())


def test_incoming_call_answered_by_the_bot(serve: Callable[..., GraphServer]) -> None:
    """CallSim offers a call; the bot answers it and records; the caller hangs up."""
    script = CallerScript(
        "speaks, #, hangs up",
        speaking_script().track,
        (ScriptAction(41600, "key", key="#"), ScriptAction(48000, "hangup")),
    )
    server = serve(script)
    graph = server.graph_base_url()

    async def flow() -> None:
        async with Receiver() as receiver, aiohttp.ClientSession() as http:
            call = await asyncio.to_thread(server.incoming_call, receiver.url("/incoming"))
            offered = await receiver.wait_item(state_is(call.call_id, "incoming"))
            assert offered["changeType"] == "created"
            assert offered["resourceData"]["direction"] == "incoming"

            # Media actions before answering: the call state forbids them.
            async with http.post(
                action_url(graph, call.call_id, "recordResponse", False), json={}
            ) as resp:
                assert resp.status == 409

            answer = {
                "callbackUri": receiver.url("/answered"),
                "acceptedModalities": ["audio"],
                "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"},
            }
            async with http.post(
                action_url(graph, call.call_id, "answer", True), json=answer
            ) as resp:
                assert resp.status == 202
            again = action_url(graph, call.call_id, "answer", False)
            async with http.post(again, json=answer) as resp:
                assert resp.status == 409  # answered already
            await receiver.wait_item(state_is(call.call_id, "established"))
            async with http.post(
                action_url(graph, call.call_id, "recordResponse", False), json=RECORD_BODY
            ) as resp:
                op = await resp.json()
            done = await receiver.wait_item(operation_done(op["id"]))
            assert done["resourceData"]["resultInfo"]["subcode"] == 8514
            await receiver.wait_item(state_is(call.call_id, "terminated"))
            # Notifications after the answer went to the callback the answer named.
            paths = [a.path for a in receiver.arrivals]
            assert paths[0] == "/incoming"
            assert set(paths[1:]) == {"/answered"}

    run(flow())


def test_incoming_call_rejected(serve: Callable[..., GraphServer]) -> None:
    """Reject → 202 and a deleted notification; the call is gone afterwards."""
    server = serve()
    graph = server.graph_base_url()

    async def flow() -> None:
        async with Receiver() as receiver, aiohttp.ClientSession() as http:
            call = await asyncio.to_thread(server.incoming_call, receiver.url())
            await receiver.wait_item(state_is(call.call_id, "incoming"))
            async with http.post(
                action_url(graph, call.call_id, "reject", False), json={"reason": "bogus"}
            ) as resp:
                assert resp.status == 400
            async with http.post(
                action_url(graph, call.call_id, "reject", False), json={"reason": "busy"}
            ) as resp:
                assert resp.status == 202
            item = await receiver.wait_item(state_is(call.call_id, "terminated"))
            assert item["changeType"] == "deleted"
            assert "resultInfo" not in item["resourceData"]  # no end reason listed for it
            async with http.post(action_url(graph, call.call_id, "answer", False), json={}) as r:
                assert r.status == 404

    run(flow())


def test_barge_in_and_cancel_over_http(serve: Callable[..., GraphServer]) -> None:
    """A barging recordResponse cancels the running one (8508); cancelMediaProcessing the rest."""
    server = serve()  # a silent caller: nothing ends the operations by itself
    graph = server.graph_base_url()
    slow = {**RECORD_BODY, "initialSilenceTimeoutInSeconds": 60, "maxRecordDurationInSeconds": 60}

    async def flow() -> None:
        async with Receiver() as receiver, aiohttp.ClientSession() as http:
            call_id = await place_call(http, graph, receiver)
            url = action_url(graph, call_id, "recordResponse", False)
            async with http.post(url, json={**slow, "clientContext": "first"}) as resp:
                first = await resp.json()
            async with http.post(url, json={**slow, "clientContext": "queued"}) as resp:
                queued = await resp.json()
            assert queued["status"] == "notStarted"
            async with http.post(
                url, json={**slow, "clientContext": "barger", "bargeInAllowed": True}
            ) as resp:
                barger = await resp.json()
            assert barger["status"] == "running"
            for op in (first, queued):
                done = await receiver.wait_item(operation_done(op["id"]))
                assert done["resourceData"]["status"] == "failed"
                assert done["resourceData"]["resultInfo"]["subcode"] == 8508
                assert done["resourceData"]["completionReason"] == "operationCanceled"

            cancel_url = action_url(graph, call_id, "cancelMediaProcessing", True)
            async with http.post(cancel_url, json={"clientContext": "stop"}) as resp:
                assert resp.status == 200
                cancel = await resp.json()
                assert "/operations/" in resp.headers["Location"]
            assert cancel["status"] == "completed"
            done = await receiver.wait_item(operation_done(barger["id"]))
            assert done["resourceData"]["resultInfo"]["subcode"] == 8508
            assert done["resourceData"]["recordingLocation"] == ""
            # No notification for the cancel operation itself (it completed synchronously).
            assert not any(operation_done(cancel["id"])(i) for i in receiver.items())

    run(flow())


def test_subscribe_to_tone_keep_alive_and_play_prompt(serve: Callable[..., GraphServer]) -> None:
    """toneInfo notifications for each key, keepAlive 200, a playPrompt that cannot load: 8536."""
    script = CallerScript("keys", actions=(ScriptAction(8000, "key", key="1"),))
    server = serve(script)
    graph = server.graph_base_url()

    async def flow() -> None:
        async with Receiver() as receiver, aiohttp.ClientSession() as http:
            call_id = await place_call(http, graph, receiver)
            async with http.post(
                action_url(graph, call_id, "subscribeToTone", False), json={"clientContext": "t"}
            ) as resp:
                assert resp.status == 200
                assert (await resp.json())["status"] == "completed"
            tone = await receiver.wait_item(lambda i: "toneInfo" in (i.get("resourceData") or {}))
            assert tone["resourceData"]["toneInfo"]["tone"] == "tone1"
            assert tone["resourceData"]["toneInfo"]["sequenceId"] == 1
            async with http.post(action_url(graph, call_id, "keepAlive", True)) as resp:
                assert resp.status == 200
            prompt = {
                "clientContext": "p",
                "prompts": [
                    {
                        "@odata.type": "#microsoft.graph.mediaPrompt",
                        "mediaInfo": {"uri": "http://127.0.0.1:9/missing.wav"},
                    }
                ],
            }
            async with http.post(
                action_url(graph, call_id, "playPrompt", False), json=prompt
            ) as resp:
                op = await resp.json()
            assert op["@odata.type"] == "#microsoft.graph.playPromptOperation"
            done = await receiver.wait_item(operation_done(op["id"]))
            assert done["resourceData"]["resultInfo"]["subcode"] == 8536

    run(flow())


BAD_RECORD_BODIES = [
    (b"{not json", "not valid JSON"),
    (b'{"maxRecordDurationInSeconds": 0}', "maxRecordDurationInSeconds"),
    (b'{"maxRecordDurationInSeconds": 121}', "maxRecordDurationInSeconds"),
    (b'{"initialSilenceTimeoutInSeconds": "5"}', "initialSilenceTimeoutInSeconds"),
    (b'{"stopTones": ["11"]}', "stopTones"),
    (b'{"clientContext": "' + b"x" * 257 + b'"}', "clientContext"),
    (b"[1, 2]", "JSON object"),
    (b'{"unknownThing": 1}', "unknownThing"),
    (b"\xff\xfe", "UTF-8"),
]


def test_malformed_and_out_of_range_bodies_get_graph_errors(
    serve: Callable[..., GraphServer],
) -> None:
    """Every bad request is a Graph error with the right status; the endpoint carries on."""
    server = serve(answer_delay_s=0.02)
    graph = server.graph_base_url()

    async def expect(resp: aiohttp.ClientResponse, status: int, text: str = "") -> None:
        assert resp.status == status, await resp.text()
        body = await resp.json()
        assert set(body) == {"error"}
        assert text in body["error"]["message"], body
        inner = body["error"]["innerError"]
        assert inner["request-id"] == resp.headers["request-id"]
        assert set(inner) == {"date", "request-id", "client-request-id"}

    async def flow() -> None:
        async with Receiver() as receiver, aiohttp.ClientSession() as http:
            calls = f"{graph}/communications/calls"
            good = create_body(receiver.url())
            for body, text in [
                (b"{", "not valid JSON"),
                (b"{}", "callbackUri"),
                (json.dumps(create_body("ftp://x/cb")).encode(), "callbackUri"),
                (json.dumps({**good, "mediaConfig": {}}).encode(), "media"),
                (json.dumps({**good, "requestedModalities": ["video"]}).encode(), "audio"),
                (json.dumps({**good, "targets": []}).encode(), "targets"),
            ]:
                async with http.post(calls, data=body, headers=JSON) as resp:
                    await expect(resp, 400, text)
            async with http.get(calls) as resp:
                await expect(resp, 405)
                assert resp.headers["Allow"] == "POST"

            call_id = await place_call(http, graph, receiver)
            url = action_url(graph, call_id, "recordResponse", False)
            for body, text in BAD_RECORD_BODIES:
                async with http.post(
                    url, data=body, headers={"client-request-id": "mine-123", **JSON}
                ) as resp:
                    await expect(resp, 400, text)
                    assert (await resp.json())["error"]["innerError"]["client-request-id"] == (
                        "mine-123"
                    )
            async with http.post(f"{graph}/communications/calls/{call_id}/dance", json={}) as r:
                await expect(r, 400, "segment 'dance'")
            async with http.post(action_url(graph, "no-such-call", "recordResponse", False)) as r:
                await expect(r, 404)
            async with http.get(f"{graph}/communications/calls/{call_id}/operations/nope") as r:
                await expect(r, 404, "Operation")
            async with http.post(action_url(graph, call_id, "answer", False), json={}) as r:
                await expect(r, 400, "acceptedModalities")
            answer = {"acceptedModalities": ["audio"], "mediaConfig": {**APP_HOSTED}}
            async with http.post(action_url(graph, call_id, "answer", False), json=answer) as r:
                await expect(r, 405)  # the bot placed this call: nothing to answer
            async with http.get(f"{server.base_url}/nothing/here") as r:
                await expect(r, 404)
            async with http.post(
                url, data=b"{" * 5000 + b"}" * 5000, headers=JSON
            ) as resp:  # deep nesting must not crash anything
                await expect(resp, 400)
            async with http.post(url, data=io.BytesIO(b"x" * (2 << 20)), headers=JSON) as resp:
                assert resp.status == 413

            # The same call still works after all that.
            async with http.post(url, json=RECORD_BODY) as resp:
                assert resp.status == 200
            # An app-hosted call is created, but its media actions are refused (8500).
            app_call = await place_call(http, graph, receiver, mediaConfig=APP_HOSTED)
            async with http.post(
                action_url(graph, app_call, "recordResponse", True), json=RECORD_BODY
            ) as resp:
                await expect(resp, 400, "8500")

    run(flow())


def test_actions_before_established_are_refused(serve: Callable[..., GraphServer]) -> None:
    """409 while the call is still establishing (docs/graph-contract.md §1.2: must be
    established)."""
    server = serve(answer_delay_s=30.0)
    graph = server.graph_base_url()

    async def flow() -> None:
        async with Receiver() as receiver, aiohttp.ClientSession() as http:
            async with http.post(
                f"{graph}/communications/calls", json=create_body(receiver.url())
            ) as resp:
                call_id = (await resp.json())["id"]
            async with http.post(
                action_url(graph, call_id, "recordResponse", False), json=RECORD_BODY
            ) as resp:
                assert resp.status == 409
                assert "8501" in (await resp.json())["error"]["message"]
            async with http.get(f"{graph}/communications/calls/{call_id}") as resp:
                assert (await resp.json())["state"] == "establishing"

    run(flow())


def test_callback_failing_twice_then_succeeding(serve: Callable[..., GraphServer]) -> None:
    """503, 503, then 202: the notification arrives once, the log shows three attempts."""
    records: list[ServerEvent] = []
    server = serve(
        on_event=records.append,
        notify=NotifyOptions(backoff_initial_s=0.05, max_attempts=5, timeout_s=2.0),
    )
    graph = server.graph_base_url()

    def flaky(path: str, n: int) -> int:
        return 503 if n <= 2 else 202

    async def flow() -> None:
        async with Receiver(plan=flaky) as receiver, aiohttp.ClientSession() as http:
            call_id = await place_call(http, graph, receiver)
            assert receiver.attempts["/callback"] >= 3
            states = [i["resourceData"]["state"] for i in receiver.items(call_id)]
            assert states == ["establishing", "established"]

    run(flow())
    first = [
        r.outcome + (f" {r.status}" if r.status else "")
        for r in server.run_on_loop(lambda: list(records))
        if isinstance(r, DeliveryRecord) and r.sequence == 1
    ]
    assert first == ["retrying 503", "retrying 503", "delivered 202"]


def test_callback_that_never_answers_does_not_stop_the_engine(
    serve: Callable[..., GraphServer],
) -> None:
    """A hung callback times out and is given up; the call, its engine and other calls go on."""
    records: list[ServerEvent] = []
    server = serve(
        speaking_script(),
        on_event=records.append,
        notify=NotifyOptions(timeout_s=0.2, max_attempts=2, backoff_initial_s=0.05),
    )
    graph = server.graph_base_url()

    def plan(path: str, n: int) -> int | None:
        return None if path == "/dead" else 202

    async def flow() -> None:
        async with Receiver(plan=plan) as receiver, aiohttp.ClientSession() as http:
            async with http.post(
                f"{graph}/communications/calls", json=create_body(receiver.url("/dead"))
            ) as resp:
                dead_id = (await resp.json())["id"]
            live_id = await place_call(http, graph, receiver)  # unaffected by the dead one
            for _ in range(200):  # the dead call still becomes established
                async with http.get(f"{graph}/communications/calls/{dead_id}") as resp:
                    if (await resp.json())["state"] == "established":
                        break
                await asyncio.sleep(0.02)
            else:
                pytest.fail("the dead call never became established")
            async with http.post(
                action_url(graph, dead_id, "recordResponse", False), json=RECORD_BODY
            ) as resp:
                op = await resp.json()
                location = resp.headers["Location"]
            for _ in range(300):  # the engine finishes the operation without the bot
                async with http.get(location) as resp:
                    if (await resp.json())["status"] == "completed":
                        break
                await asyncio.sleep(0.02)
            else:
                pytest.fail("the operation never completed")
            assert (await (await http.get(location)).json())["resultInfo"]["subcode"] == 8514
            assert op["status"] == "running"
            assert len(receiver.items(live_id)) == 2

    run(flow())
    dead = [
        r
        for r in server.run_on_loop(lambda: list(records))
        if isinstance(r, DeliveryRecord) and r.url.endswith("/dead") and r.sequence == 1
    ]
    assert [(r.attempt, r.outcome, r.status) for r in dead] == [
        (1, "retrying", None),
        (2, "failed", None),
    ]
    assert "no answer within 0.2 s" in dead[-1].error


def test_a_call_without_keepalive_ends_with_408_8537(serve: Callable[..., GraphServer]) -> None:
    """keepAlive resets the timer; without it the service ends the call (docs/graph-contract.md
    §9.3),
    with the call-delete page's end reason "Keep Alive timeout, cleaned up inactive call."."""
    server = serve(keepalive_timeout_s=0.6)
    graph = server.graph_base_url()

    async def flow() -> None:
        async with Receiver() as receiver, aiohttp.ClientSession() as http:
            call_id = await place_call(http, graph, receiver)
            for _ in range(4):  # 1.2 s of keepAlives every 0.3 s: the call stays up
                await asyncio.sleep(0.3)
                async with http.post(action_url(graph, call_id, "keepAlive", False)) as resp:
                    assert resp.status == 200
            async with http.get(f"{graph}/communications/calls/{call_id}") as resp:
                assert resp.status == 200
            item = await receiver.wait_item(state_is(call_id, "terminated"))
            assert item["changeType"] == "deleted"
            info = item["resourceData"]["resultInfo"]
            assert (info["code"], info["subcode"]) == (408, 8537)
            assert info["message"] == "Keep Alive timeout, cleaned up inactive call."
            states = [i["resourceData"].get("state") for i in receiver.items(call_id)]
            assert "terminating" not in states  # that one is for the bot's own DELETE
            async with http.post(action_url(graph, call_id, "keepAlive", False)) as resp:
                assert resp.status == 404

    run(flow())


def test_an_incoming_call_the_bot_does_not_answer_ends_with_408_1106(
    serve: Callable[..., GraphServer],
) -> None:
    server = serve(ring_timeout_s=0.3)

    async def flow() -> None:
        async with Receiver() as receiver:
            call = await asyncio.to_thread(server.incoming_call, receiver.url())
            await receiver.wait_item(state_is(call.call_id, "incoming"))
            item = await receiver.wait_item(state_is(call.call_id, "terminated"))
            info = item["resourceData"]["resultInfo"]
            assert (info["code"], info["subcode"]) == (408, 1106)

    run(flow())
