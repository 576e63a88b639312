"""EnginePool: many calls' engines on a few threads, with every guarantee of a thread per call."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.audio.wav import attach_recording_writer
from app.core import events as ev
from app.core.call import Call
from app.engine.host import EngineHost
from app.engine.pool import EnginePool
from tests.core.helpers import record_body, track
from tests.engine.test_host import counter, ids_failing_at, wait_for

WAIT_S = 10.0  # a bound on waiting for a condition, never a measured time


def _call() -> Call:
    return Call(id_factory=counter("id"), token_factory=counter("token"))


@pytest.fixture
def pool() -> Iterator[EnginePool]:
    p = EnginePool(workers=1, name="pool-test")
    yield p
    p.stop()


def _wait_until(condition: Callable[[], bool]) -> None:
    done = threading.Event()
    for _ in range(int(WAIT_S / 0.01)):
        if condition():
            return
        done.wait(0.01)  # polls a condition, bounded by WAIT_S
    raise AssertionError("condition not met within the bound")


def _record_answer(host: EngineHost, directory: Path) -> tuple[list[str], int]:
    """recordResponse, a caller who speaks for 1 s then is silent, fed in odd blocks from this
    thread; returns every event (as text) and the length of the WAV written."""
    events = host.subscribe()
    writer = attach_recording_writer(host, directory)
    response = host.action("recordResponse", record_body(maxSilenceTimeoutInSeconds=1))
    assert response.result(WAIT_S).status == 200
    audio = track(("s", 0.3), ("v", 1.0), ("s", 2.0))
    for i in range(0, len(audio), 441):
        host.feed(audio[i : i + 441].copy())
    seen = wait_for(events, ev.OperationEnded, WAIT_S)
    host.flush().result(WAIT_S)
    end = seen[-1]
    assert isinstance(end, ev.OperationEnded)
    return [repr(e) for e in seen], sf.info(str(writer.finished[end.operation_id])).frames


def test_calls_on_a_pool_decide_exactly_as_on_their_own_threads(
    pool: EnginePool, tmp_path: Path
) -> None:
    """Three calls fed at once from three threads share one worker: each one's events and WAV
    are those of the same call alone on its own thread."""
    alone = EngineHost(_call()).start()
    expected = _record_answer(alone, tmp_path / "alone")
    alone.stop()
    assert "8509" in expected[0][-1]

    hosts = [EngineHost(_call(), name=f"c{n}", pool=pool).start() for n in range(3)]
    results: dict[int, tuple[list[str], int]] = {}

    def run(n: int) -> None:
        results[n] = _record_answer(hosts[n], tmp_path / f"pooled-{n}")

    threads = [threading.Thread(target=run, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S * 3)
    assert results == {n: expected for n in range(3)}
    for host in hosts:
        host.stop()
        assert not host.running and host.failures == []
    assert pool.thread_count == 1  # three calls, one thread


def test_one_call_never_runs_on_two_workers_at_once(tmp_path: Path) -> None:
    """Four workers, one call given many commands from two threads: they run one at a time,
    each thread's in the order it queued them."""
    pool = EnginePool(workers=4)
    host = EngineHost(Call(), pool=pool).start()
    inside = 0
    most_inside = 0
    order: list[tuple[str, int]] = []
    guard = threading.Lock()

    def command(tag: str, n: int) -> Callable[[Call], None]:
        def fn(call: Call) -> None:
            nonlocal inside, most_inside
            with guard:
                inside += 1
                most_inside = max(most_inside, inside)
            order.append((tag, n))
            host.feed(track(("s", 0.01)))  # more work queued from the engine side too
            with guard:
                inside -= 1

        return fn

    def submit_all(tag: str) -> None:
        for n in range(200):
            host.submit(command(tag, n))

    threads = [threading.Thread(target=submit_all, args=(tag,)) for tag in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S)
    host.flush().result(WAIT_S)
    host.stop()
    pool.stop()
    assert most_inside == 1
    for tag in "ab":
        assert [n for t, n in order if t == tag] == list(range(200))
    assert host.failures == []


def test_a_stuck_call_holds_only_itself(tmp_path: Path) -> None:
    """A command that does not return holds the pool's only worker: a spare starts, so
    another call on the pool still records; once the stuck command returns, its call goes
    on and the spare leaves."""
    pool = EnginePool(workers=1, stall_s=0.2)
    stuck_host = EngineHost(_call(), name="stuck", pool=pool).start()
    other = EngineHost(_call(), name="other", pool=pool).start()
    gate = threading.Event()
    stuck = stuck_host.submit(lambda call: gate.wait(WAIT_S * 3))
    try:
        # Queued behind the stuck command, on the stuck call: it waits (as on its own thread).
        behind = stuck_host.action("recordResponse", record_body())
        events, frames = _record_answer(other, tmp_path)
        assert "8509" in events[-1] and frames > 0
        assert not behind.done()
        assert pool.spares_started == 1
    finally:
        gate.set()
    assert stuck.result(WAIT_S) is True
    assert behind.result(WAIT_S).status == 200
    other.stop()
    stuck_host.stop()
    _wait_until(lambda: pool.thread_count == 1)
    pool.stop()


def test_an_exception_ends_only_that_call_and_the_worker_goes_on(pool: EnginePool) -> None:
    """An engine failure on a pooled call ends that call (terminated notification); another
    call on the same worker, and the failed call's later commands, are served."""
    host = EngineHost(Call(id_factory=ids_failing_at(5)), pool=pool).start()
    other = EngineHost(Call(), pool=pool).start()
    events = host.subscribe()
    host.feed(track(("s", 0.5)))
    assert host.action("recordResponse", record_body()).result(5).status == 200
    with pytest.raises(OSError, match="entropy source gone"):
        host.action("recordResponse", record_body()).result(5)
    seen = wait_for(events, ev.CallEnded)
    assert any(isinstance(e, ev.Notification) and "terminated" in e.summary for e in seen)
    assert host.action("recordResponse", record_body()).result(5).status == 404
    assert other.action("recordResponse", record_body()).result(5).status == 200
    assert host.running and len(host.failures) == 1
    host.stop()
    other.stop()


def test_commands_before_start_run_after_it_and_none_after_stop(pool: EnginePool) -> None:
    host = EngineHost(Call(), pool=pool)
    host.feed(track(("s", 0.2)))
    fed = host.submit(lambda call: call.fed_samples)
    assert not host.running and not fed.done()  # nothing runs before start
    host.start()
    assert fed.result(WAIT_S) == 3200
    host.stop()
    assert not host.running
    late = host.submit(lambda call: call.fed_samples)
    pool.stop()
    assert not late.done()  # a stopped host runs nothing more (as a stopped thread)


def test_a_feed_that_decides_a_due_timer_runs_before_routine_feeds(pool: EnginePool) -> None:
    """While the worker is busy, calls queue in order; one given an ``analyse_now`` feed (a
    timer's ending is due, app/server/caller.py) runs before those queued earlier, whether it
    was already waiting or not, and urgent ones keep their own order."""
    names = ["blocker", "a", "b", "c", "d"]
    hosts = {n: EngineHost(_call(), name=n, pool=pool).start() for n in names}
    ran: list[str] = []
    gate, holding = threading.Event(), threading.Event()

    def hold(call: Call) -> None:
        holding.set()
        gate.wait(WAIT_S)

    blocked = hosts["blocker"].submit(hold)
    assert holding.wait(WAIT_S)
    done = []
    for n in ("a", "b", "c"):  # routine work, queued in this order
        done.append(hosts[n].submit(lambda call, n=n: ran.append(n)))
    hosts["c"].feed(np.zeros(320, np.float32), analyse_now=True)  # c was waiting already
    hosts["d"].feed(np.zeros(320, np.float32), analyse_now=True)  # d was not
    done.append(hosts["d"].submit(lambda call: ran.append("d")))
    gate.set()
    blocked.result(WAIT_S)
    for future in done:
        future.result(WAIT_S)
    assert ran == ["c", "d", "a", "b"]
    assert not any(h.has_urgent for h in hosts.values())
    for host in hosts.values():
        host.stop()
