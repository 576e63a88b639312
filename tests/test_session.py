"""EngineHost: the engine on its own thread, fed from other threads, events through queues."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import soundfile as sf

from app.core import events as ev
from app.core.call import Call
from app.session import EngineHost, attach_recording_writer
from tests.core.helpers import record_body, track


def wait_for(q: queue.SimpleQueue[ev.Event], kind: type, timeout_s: float = 10.0) -> list[ev.Event]:
    seen: list[ev.Event] = []
    while True:
        event = q.get(timeout=timeout_s)
        seen.append(event)
        if isinstance(event, kind):
            return seen


def test_host_runs_a_call_fed_from_another_thread(tmp_path: Path) -> None:
    host = EngineHost(Call()).start()
    events = host.subscribe()
    writer = attach_recording_writer(host, tmp_path)
    response = host.action("recordResponse", record_body(maxSilenceTimeoutInSeconds=1)).result(5)
    assert response.status == 200
    audio = track(("s", 0.3), ("v", 1.0), ("s", 2.0))

    def feeder() -> None:
        for i in range(0, len(audio), 441):  # odd block size, as a device might deliver
            host.feed(audio[i : i + 441].copy())

    thread = threading.Thread(target=feeder)
    thread.start()
    thread.join()
    seen = wait_for(events, ev.OperationEnded)
    end = seen[-1]
    assert isinstance(end, ev.OperationEnded) and end.subcode == 8509
    host.flush().result(5)
    host.stop()
    wav = writer.finished[end.operation_id]
    assert sf.info(str(wav)).frames == end.recording_samples
    assert host.error is None


def test_submit_runs_on_the_engine_thread() -> None:
    host = EngineHost(Call(), name="engine-x").start()
    name = host.submit(lambda call: threading.current_thread().name).result(5)
    host.stop()
    assert name == "engine-x"
