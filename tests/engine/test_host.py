"""EngineHost: the engine on its own thread, fed from other threads, events through queues."""

from __future__ import annotations

import itertools
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import soundfile as sf

from app.audio.prompts import make_prompt_loader
from app.audio.wav import attach_recording_writer
from app.core import events as ev
from app.core.call import Call
from app.engine.host import EngineHost
from tests.core.helpers import record_body, track
from tests.support.stalls import SilentServer, silent_http_server


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


# -- the engine host cannot die (issue 8 item 3) -------------------------------------------


def counter(prefix: str) -> Callable[[], str]:
    n = itertools.count(1)
    return lambda: f"{prefix}-{next(n)}"


def ids_failing_at(n_fail: int) -> Callable[[], str]:
    """An engine id source that raises on the ``n_fail``-th id it is asked for (a real
    exception inside the engine's handling of whatever asks for it)."""
    ids = itertools.count(1)

    def id_factory() -> str:
        n = next(ids)
        if n == n_fail:
            raise OSError("entropy source gone")
        return f"id-{n}"

    return id_factory


def test_a_cancelled_action_is_skipped_and_the_engine_goes_on() -> None:
    """The asker gives up on an action (a timeout) while the engine is busy: once free, the
    engine skips it (it is not applied) and serves the next action as usual."""
    host = EngineHost(Call()).start()
    gate = threading.Event()
    busy = host.submit(lambda call: gate.wait(10))  # the engine is stuck on something
    given_up = host.action("recordResponse", record_body())
    assert given_up.cancel()  # what asyncio.wait_for does to it on timeout
    gate.set()
    assert busy.result(5) is True
    response = host.action("recordResponse", record_body()).result(5)
    assert response.status == 200
    assert (
        host.submit(lambda call: call.operation_resource(response.operation_id or "")).result(5)[
            "status"
        ]
        == "running"
    )  # the skipped one did not queue in front of it
    assert host.running and host.failures == []
    host.stop()


def test_an_exception_in_an_action_fails_it_and_ends_only_that_call() -> None:
    """A real exception inside the engine's handling of an action: the action's future holds
    it, the call ends with its terminated notification, the thread serves later commands
    (404 for the ended call) and another call on another host is untouched."""
    host = EngineHost(Call(id_factory=ids_failing_at(5))).start()
    other = EngineHost(Call()).start()
    events = host.subscribe()
    host.feed(track(("s", 0.5)))
    first = host.action("recordResponse", record_body())  # ids 1 (call), 2, 3
    assert first.result(5).status == 200
    broken = host.action("recordResponse", record_body())  # id 4, then 5 raises
    with pytest.raises(OSError, match="entropy source gone"):
        broken.result(5)
    seen = wait_for(events, ev.CallEnded)
    terminated = [
        e.payload["value"][0]["resourceData"]
        for e in seen
        if isinstance(e, ev.Notification) and "terminated" in e.summary
    ]
    assert [t["state"] for t in terminated] == ["terminated"]
    assert host.running
    assert len(host.failures) == 1 and "entropy source gone" in host.failures[0]
    later = host.action("recordResponse", record_body()).result(5)
    assert later.status == 404  # the call has ended; the engine still answers
    assert other.action("recordResponse", record_body()).result(5).status == 200
    host.stop()
    other.stop()


def test_a_broken_listener_does_not_stop_the_engine_or_the_other_listeners() -> None:
    host = EngineHost(Call()).start()
    got: list[ev.Event] = []

    def broken(event: ev.Event) -> None:
        raise RuntimeError("listener bug")

    host.add_listener(broken)
    host.add_listener(got.append)
    assert host.action("recordResponse", record_body()).result(5).status == 200
    host.flush().result(5)
    assert any(isinstance(e, ev.ActionResponse) for e in got)
    assert host.running and "listener bug" in host.failures[0]
    host.stop()


# -- prompts never block the engine (issue 8 item 4) ---------------------------------------

PROMPT_TIMEOUT_S = 30.0  # longer than any test waits: a stall ends only when the test says so


def _play_body(uri: str) -> dict[str, object]:
    return {"prompts": [{"@odata.type": "#microsoft.graph.mediaPrompt", "mediaInfo": {"uri": uri}}]}


def _run_behind_prompt(uri: str, base_dir: Path, stall: SilentServer | None) -> list[str]:
    """playPrompt(uri), then a recordResponse queued behind it; the caller speaks once the
    prompt has failed. Returns every event (sample times, payloads, recording bytes)."""
    call = Call(id_factory=counter("id"), token_factory=counter("token"))
    loader = make_prompt_loader(base_dir, timeout_s=PROMPT_TIMEOUT_S)
    host = EngineHost(call, prompt_loader=loader, prompt_timeout_s=PROMPT_TIMEOUT_S).start()
    events = host.subscribe()
    host.feed(track(("s", 0.5)))
    assert host.action("playPrompt", _play_body(uri)).result(5).status == 200
    record = host.action("recordResponse", record_body(maxSilenceTimeoutInSeconds=1)).result(5)
    assert record.status == 200
    host.feed(track(("s", 0.3)))  # the analysis reaches the playPrompt: its prompt loads
    if stall is not None:
        assert stall.accepted.wait(10)  # the prompt's download is under way, and stalls
    # The engine answers at once while the prompt is stalled (before: it waited for it).
    assert host.action("subscribeToTone", {}).result(5).status == 200
    seen: list[ev.Event] = []
    if stall is not None:
        seen += _drain(events)
        assert not any(isinstance(e, ev.OperationEnded) for e in seen)  # still loading
        stall.hang_up()
    seen += wait_for(events, ev.OperationEnded)  # the prompt fails; nothing was fed meanwhile
    end = seen[-1]
    assert isinstance(end, ev.OperationEnded) and (end.code, end.subcode) == (400, 8536)
    host.feed(track(("s", 0.5), ("v", 1.0), ("s", 2.0)))
    host.flush().result(5)
    seen += wait_for(events, ev.OperationEnded)
    host.stop()
    assert host.failures == []
    return [repr(e) for e in seen if not isinstance(e, ev.ActionResponse)]


def _drain(q: queue.SimpleQueue[ev.Event]) -> list[ev.Event]:
    out: list[ev.Event] = []
    while True:
        try:
            out.append(q.get_nowait())
        except queue.Empty:
            return out


@pytest.mark.parametrize("stall", ["http", "fifo"])
def test_a_stalled_prompt_blocks_neither_the_engine_nor_the_operation_behind_it(
    stall: str, tmp_path: Path
) -> None:
    """A prompt host that accepts and never answers, or a FIFO with no writer: the engine
    still answers at once, and the recordResponse behind the prompt records and ends on
    exactly the same samples as when the prompt fails at once (a missing file)."""
    baseline = _run_behind_prompt("missing.wav", tmp_path, None)
    if stall == "http":
        with silent_http_server() as server:
            stalled = _run_behind_prompt(f"{server.url}/prompt.wav", tmp_path, server)
    else:
        os.mkfifo(tmp_path / "prompt.wav")
        stalled = _run_behind_prompt("prompt.wav", tmp_path, None)
    assert stalled == baseline
    assert any("8509" in line for line in stalled)  # the recording ended on max silence
