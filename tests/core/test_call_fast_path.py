"""The quiet-frame fast path of the analysis loop decides exactly what the general path does.

``Call._judge_quiet_frames`` skips the general per-frame bookkeeping while only the VAD and
recording commits can happen. Each test runs the same input twice, once with the fast path
switched off (every frame through ``Call._judge_frame``), and requires identical events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.core import events as ev
from app.core.call import Call
from tests.bench.bench_engine import mixed_clip
from tests.core.helpers import feed_all, new_call, record_body, track


def both_ways(run: Callable[[], list[ev.Event]]) -> tuple[list[ev.Event], list[ev.Event]]:
    """The events of ``run`` with the fast path, then with every frame on the general path."""
    fast = run()
    with _GeneralPathOnly():
        general = run()
    return fast, general


class _GeneralPathOnly:
    """Within it, the fast path declines every frame."""

    def __enter__(self) -> None:
        self._saved = Call._judge_quiet_frames
        Call._judge_quiet_frames = lambda self, start, flags, i: i  # type: ignore[method-assign]

    def __exit__(self, *exc: object) -> None:
        Call._judge_quiet_frames = self._saved  # type: ignore[method-assign]


def test_a_minute_of_speech_keys_and_noise_gives_the_same_events_both_ways() -> None:
    audio = mixed_clip()
    body = record_body(
        playBeep=True,
        maxRecordDurationInSeconds=10,
        maxSilenceTimeoutInSeconds=2,
        initialSilenceTimeoutInSeconds=5,
        stopTones=["#", "5"],
    )
    general_frames: list[int] = []

    def run() -> list[ev.Event]:
        call = new_call()
        for _ in range(20):
            call.action("recordResponse", body)
        original = call._judge_frame
        count = [0]

        def counted(a: int, b: int, is_speech: bool | None) -> None:
            count[0] += 1
            original(a, b, is_speech)

        call._judge_frame = counted  # type: ignore[method-assign]
        events = feed_all(call, audio, block=8000).events
        general_frames.append(count[0])
        return events

    fast, general = both_ways(run)
    assert fast == general
    endings = [e.subcode for e in fast if isinstance(e, ev.OperationEnded)]
    assert len(endings) >= 8 and len(set(endings)) >= 3
    # The fast path took most frames (else this test would compare the general path to itself).
    assert general_frames[0] < 0.3 * general_frames[1]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    parts=st.lists(st.tuples(st.sampled_from("vs"), st.floats(0.05, 2.5)), min_size=1, max_size=8),
    timers=st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 6)),
    block=st.sampled_from([37, 320, 1000, 8000]),
    keys=st.lists(
        st.tuples(st.floats(0.0, 12.0), st.sampled_from("#15"), st.sampled_from(["oob", "ib"])),
        max_size=3,
    ),
    actions=st.lists(
        st.tuples(st.floats(0.0, 12.0), st.sampled_from(["record", "cancel", "hangup", "gap"])),
        max_size=3,
    ),
)
def test_random_calls_give_the_same_events_both_ways(
    parts: list[tuple[str, float]],
    timers: tuple[int, int, int],
    block: int,
    keys: list[tuple[float, str, str]],
    actions: list[tuple[float, str]],
) -> None:
    audio = track(*parts, ("s", 7.0))  # long enough for every timer to run out
    initial_s, silence_s, duration_s = timers
    body = record_body(
        initialSilenceTimeoutInSeconds=initial_s,
        maxSilenceTimeoutInSeconds=silence_s,
        maxRecordDurationInSeconds=duration_s,
        stopTones=["#"],
    )
    timed: list[tuple[float, Callable[[Call], Any]]] = []
    for at_s, key, how in keys:
        oob = how == "oob"
        timed.append((at_s, lambda c, k=key, o=oob: c.press_key(k, out_of_band=o, in_band=not o)))
    for at_s, what in actions:
        if what == "record":
            timed.append((at_s, lambda c: c.action("recordResponse", body)))
        elif what == "cancel":
            timed.append((at_s, lambda c: c.action("cancelMediaProcessing", {})))
        elif what == "hangup":
            timed.append((at_s, lambda c: c.hang_up("caller")))
        else:
            timed.append((at_s, lambda c: c.feed_no_media(4000)))

    def run() -> list[ev.Event]:
        call = new_call()
        call.action("recordResponse", body)
        call.action("recordResponse", body)
        return feed_all(call, audio, block=block, at=timed).events

    fast, general = both_ways(run)
    assert fast == general
    assert any(isinstance(e, ev.OperationEnded) for e in fast)
