"""Concurrent served calls place their callers' answers on each call's sample clock.

Real calls through the real HTTP endpoint on 127.0.0.1: every caller gives the same answer once
its recording starts (``start_on="capture"``), and each bot asks for the recording after a
different delay, so the captures start at different wall times and different engine samples.
The answer ends with an out-of-band stop tone, which ends the recording on its exact sample
(the WAV ends at the key press), so every WAV must have exactly the same length.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable

import aiohttp
import numpy as np
import numpy.typing as npt
import soundfile as sf

from app.core import events as ev
from app.core.clock import seconds_to_samples
from app.server.caller import CallerScript, ScriptAction
from app.server.events import EngineEvent, ServerEvent
from app.server.server import GraphServer
from tests.server.support import (
    Receiver,
    create_body,
    record_and_download,
    speaking_script,
    state_is,
)

CALLS = 8
SPEED = 2.0
# The answer: 0.5 s of silence (more than the capture headroom at this speed: 0.1 s look-ahead
# plus two 0.1 s ticks of script time), speech, then # out of band at 2.6 s.
KEY_AT_S = 2.6
RECORD = {"stopTones": ["#"], "maxRecordDurationInSeconds": 20, "playBeep": True}


def answer_script() -> CallerScript:
    spoken = speaking_script(speech_at_s=0.5, key_at_s=None)
    key = ScriptAction(seconds_to_samples(KEY_AT_S), "key", key="#", in_band=False)
    return CallerScript("answer then #", spoken.track, (key,))


def test_concurrent_callers_answers_land_on_their_calls_sample_clocks(
    serve: Callable[..., GraphServer],
) -> None:
    records: list[ServerEvent] = []
    server = serve(answer_script(), speed=SPEED, start_on="capture", on_event=records.append)
    graph = server.graph_base_url()

    async def one_call(http: aiohttp.ClientSession, receiver: Receiver, n: int) -> int:
        async with http.post(
            f"{graph}/communications/calls", json=create_body(receiver.url(f"/bot/{n}"))
        ) as resp:
            assert resp.status == 201
            call_id = (await resp.json())["id"]
        await receiver.wait_item(state_is(call_id, "established"), timeout_s=30)
        await asyncio.sleep(0.03 * n)  # a different capture start for every call
        _, wav = await record_and_download(http, receiver, graph, call_id, RECORD)
        samples, rate_hz = sf.read(io.BytesIO(wav), dtype="int16")
        assert rate_hz == 16000
        return samples

    async def flow() -> list[npt.NDArray[np.int16]]:
        async with Receiver() as receiver, aiohttp.ClientSession() as http:
            return await asyncio.gather(*(one_call(http, receiver, n) for n in range(CALLS)))

    wavs = asyncio.run(asyncio.wait_for(flow(), 60))
    events = server.run_on_loop(lambda: list(records))
    engine = [r for r in events if isinstance(r, EngineEvent)]
    captures = {r.call_id: r.event.sample_index for r in engine if _is(r, ev.CaptureStarted)}
    endings = {r.call_id: r.event.sample_index for r in engine if _is(r, ev.OperationEnded)}
    assert len(captures) == len(endings) == CALLS
    # The captures started on different samples ...
    assert len(set(captures.values())) > 1
    # ... and every answer's key landed exactly KEY_AT_S of script time after its capture.
    offsets = {endings[c] - captures[c] for c in captures}
    assert offsets == {seconds_to_samples(KEY_AT_S)}
    assert {len(w) for w in wavs} == {seconds_to_samples(KEY_AT_S)}
    # Bit for bit the same recording: the speech sits on the same samples in every call.
    assert np.any(wavs[0])
    for wav in wavs[1:]:
        np.testing.assert_array_equal(wav, wavs[0])


def _is(record: EngineEvent, kind: type[ev.Event]) -> bool:
    return isinstance(record.event, kind)
