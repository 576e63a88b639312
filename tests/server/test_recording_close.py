"""A finished take is closed off the engine worker, and announced only once it is closed.

The endpoint fsyncs and closes finished recordings on one closer thread (app/server/lifecycle.py,
``RecordingWriter``), so 100 calls ending together do not wait on the engine worker for each
other's disks. The notification that makes a recording downloadable must still come after its
file is complete on disk: here the closer is held busy, and the ending must wait for it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import aiohttp
import pytest
import soundfile as sf

from app.server.server import GraphServer
from tests.server.support import Receiver, operation_done, speaking_script
from tests.server.test_endpoint import RECORD_BODY, action_url, place_call, run

# How long the ending must stay unannounced while the closer is held. The engine decides the
# ending before this test starts waiting (the operation is "completed" when read from the
# engine), so without the hold the notification would be sent at once, in milliseconds.
HELD_WINDOW_S = 0.5
GATE_TIMEOUT_S = 20.0


def test_the_ending_waits_for_its_recording_to_be_closed(
    serve: Callable[..., GraphServer],
) -> None:
    server = serve(speaking_script())
    graph = server.graph_base_url()
    gate = threading.Event()

    async def flow() -> None:
        async with Receiver() as receiver, aiohttp.ClientSession() as http:
            call_id = await place_call(http, graph, receiver)
            # The closer's one thread is busy until the gate opens: no take is closed meanwhile.
            server.recording_closer.submit(gate.wait, GATE_TIMEOUT_S)
            async with http.post(
                action_url(graph, call_id, "recordResponse", False), json=RECORD_BODY
            ) as resp:
                assert resp.status == 200
                op_id = (await resp.json())["id"]
            op_url = f"{graph}/communications/calls/{call_id}/operations/{op_id}"
            async with asyncio.timeout(GATE_TIMEOUT_S):  # the engine decides the ending
                while True:
                    async with http.get(op_url) as resp:
                        if (await resp.json())["status"] == "completed":
                            break
                    await asyncio.sleep(0.02)
            with pytest.raises(TimeoutError):
                await receiver.wait_item(operation_done(op_id), timeout_s=HELD_WINDOW_S)
            gate.set()
            done = await receiver.wait_item(operation_done(op_id), timeout_s=GATE_TIMEOUT_S)
            data = done["resourceData"]
            assert data["resultInfo"]["subcode"] == 8514, data
            async with http.get(
                data["recordingLocation"],
                headers={"Authorization": f"Bearer {data['recordingAccessToken']}"},
            ) as resp:
                assert resp.status == 200
                wav = await resp.read()
            path = server.recordings_dir / call_id / f"{op_id}.wav"
            assert wav == path.read_bytes()
            assert sf.info(str(path)).frames == (len(wav) - 44) // 2 > 0

    try:
        run(flow())
    finally:
        gate.set()
