"""A finished take is announced as soon as its file is complete, not after its fsync.

The endpoint fsyncs and closes finished recordings on one closer thread (``RecordingWriter``,
app/audio/wav.py), so 100 calls ending together do not wait for each other's disks. The file is
complete for every reader before the ending is announced (its header is finished on the engine
worker); the fsync guards against power loss only. Here the closer is held busy: the ending must
still arrive, and the recording it names must download whole.
"""

from __future__ import annotations

import asyncio
import threading
import wave
from collections.abc import Callable

import aiohttp
import soundfile as sf

from app.server.server import GraphServer
from tests.server.support import (
    Receiver,
    download_recording,
    operation_done,
    speaking_script,
)
from tests.server.test_endpoint import RECORD_BODY, action_url, place_call, run

# The closer is held this long at most: far longer than the ending may take to arrive.
GATE_TIMEOUT_S = 20.0
# The ending is announced within this of the engine deciding it, closer held or not.
ANNOUNCE_TIMEOUT_S = 5.0


def test_the_ending_does_not_wait_for_its_recordings_fsync(
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
            done = await receiver.wait_item(operation_done(op_id), timeout_s=ANNOUNCE_TIMEOUT_S)
            assert not gate.is_set()  # announced while the closer could not have closed it
            data = done["resourceData"]
            assert data["resultInfo"]["subcode"] == 8514, data
            wav = await download_recording(http, data)
            path = server.recordings_dir / call_id / f"{op_id}.wav"
            assert wav == path.read_bytes()
            assert sf.info(str(path)).frames == (len(wav) - 44) // 2 > 0
            with wave.open(str(path)) as reader:  # the header's sizes are final
                assert reader.getnframes() == (len(wav) - 44) // 2

    try:
        run(flow())
    finally:
        gate.set()
