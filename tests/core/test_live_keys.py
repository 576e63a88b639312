"""Live keys end a recording without waiting for the look-ahead, and replay to the same events.

docs/architecture.md §3 "Live keys": a live out-of-band key is placed at the analysis position
(``press_key(..., out_of_band_at="analysis")``), so a stop tone ends the recording as the engine
takes it; ``input_log`` holds the sample it was placed at, and a replay pressing it there (the
runner's way) gives the same events. An in-band stop tone lets the analysis run to its start as
soon as the detector decides it, and that decides exactly what the look-ahead would have.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.core import events as ev
from app.core.call import Call
from app.core.clock import FRAME_SAMPLES, seconds_to_samples
from tests.core.helpers import Run, feed_all, new_call, record_body, track

STOP = record_body(stopTones=["#"], maxRecordDurationInSeconds=20)


def _replay(call_log: list[tuple[int, str, dict[str, Any]]], audio: np.ndarray) -> Run:
    """Feed ``audio`` and apply each logged input at its sample, as ``callsim run`` does."""
    order = {"action": 0}  # bots before the caller at one sample (app/scenario/runner.py)
    entries = sorted(
        enumerate(call_log), key=lambda item: (item[1][0], order.get(item[1][1], 1), item[0])
    )
    timed = [(at / 16000, _apply(kind, p)) for _, (at, kind, p) in entries]
    return feed_all(new_call(), audio, block=1000, at=timed)


def _apply(kind: str, p: dict[str, Any]) -> Callable[[Call], Any]:
    """The call's method that applies a logged input of ``kind`` with payload ``p``."""
    if kind == "action":
        return lambda c: c.action(p["action"], p["body"])
    if kind == "key":
        return lambda c: c.press_key(
            p["key"], out_of_band=p["out_of_band"], in_band=p["in_band"], duration_s=p["duration_s"]
        )
    assert kind == "hangup", kind
    return lambda c: c.hang_up("caller")


def test_an_out_of_band_stop_key_ends_the_recording_at_once() -> None:
    call = new_call()
    call.action("recordResponse", STOP)
    run = Run(call)
    audio = track(("v", 1.0), ("s", 1.0))
    for pos in range(0, len(audio), 320):  # a 20 ms device block at a time
        call.feed(audio[pos : pos + 320])
    run.pump()
    assert not run.endings
    call.press_key("#", out_of_band_at="analysis")
    run.pump()  # no further audio fed
    judged = call.judged_samples
    assert call.fed_samples - judged >= 1600  # the look-ahead
    assert call.input_log[-1][:2] == (judged, "key")
    assert [(e.subcode, e.sample_index) for e in run.endings] == [(8514, judged)]
    # The recording holds the caller's audio up to the key's sample exactly.
    assert run.endings[0].recording_samples == judged - run.of(ev.CaptureStarted)[0].sample_index


def test_an_in_band_stop_tone_ends_the_recording_when_the_detector_decides() -> None:
    call = new_call()
    call.action("recordResponse", STOP)
    run = Run(call)
    audio = track(("v", 1.0), ("s", 2.0))
    ended_at_fed: int | None = None
    for pos in range(0, len(audio), 160):
        if pos == 24000:
            call.press_key("#", out_of_band=False, in_band=True)
        call.feed(audio[pos : pos + 160])
        run.pump()
        if run.endings and ended_at_fed is None:
            ended_at_fed = call.fed_samples
    call.flush()
    run.pump()
    key = run.of(ev.KeyPressed)[0]
    assert run.endings[0].subcode == 8514 and ended_at_fed is not None
    # Out with the first analysis after the decision: blocks are gathered to 50 ms before
    # the DSP runs (app/core/feed.py), so within 800 samples plus one block of it, where the
    # look-ahead alone would wait for the tone's start + 1600 + a frame.
    assert ended_at_fed - key.decided_at <= 800 + 160
    assert ended_at_fed < key.sample_index + 1600 + FRAME_SAMPLES


def test_a_stop_key_on_a_frame_boundary_ends_the_recording_before_that_frame_is_judged() -> None:
    # Speech from 0.734 s: its onset (back-dated to 11520) is confirmed only by the frame
    # [14400, 14720). A stop key at 14400 ends the recording there first, so the onset, which
    # needs audio after the recording's end, is not reported (docs/graph-contract.md §6.4).
    audio = track(("s", 0.734375), ("v", 1.0), ("s", 2.0))
    for placement in ("feed", "analysis"):
        call = new_call()
        call.action("recordResponse", STOP)
        press_at_s = 0.9 if placement == "feed" else 1.0  # both place it at sample 14400
        run = feed_all(
            call,
            audio,
            block=37,
            at=[(press_at_s, lambda c, p=placement: c.press_key("#", out_of_band_at=p))],
        )
        assert [e[0] for e in call.input_log if e[1] == "key"] == [14400]
        assert [(e.subcode, e.sample_index) for e in run.endings] == [(8514, 14400)]
        assert not run.of(ev.SpeechStarted)
        stopped = run.of(ev.TimerStopped)
        assert {(e.timer, e.sample_index) for e in stopped} == {
            ("initialSilence", 14400),
            ("maxDuration", 14400),
        }


def test_an_in_band_stop_tone_ends_the_recording_at_its_start_before_a_later_key_event() -> None:
    # The tone starts near 2030; an out-of-band '#' at 2240, within the merge window, joins its
    # press. The recording ends at the tone (heard first, trimmed one detector block earlier)
    # whether the event came before the analysis reached the tone (a replay) or after (live).
    audio = track(("v", 1.0))
    results = []
    for placement, oob_at_s in (("feed", 0.14), ("analysis", 0.25)):
        call = new_call()
        call.action("recordResponse", STOP)
        run = feed_all(
            call,
            audio,
            block=37,
            at=[
                (0.125, lambda c: c.press_key("#", out_of_band=False, in_band=True)),
                (oob_at_s, lambda c, p=placement: c.press_key("#", out_of_band_at=p)),
            ],
        )
        assert [e[0] for e in call.input_log if e[1] == "key"] == [2000, 2240]
        (pressed,) = run.of(ev.KeyPressed)
        assert pressed.sample_index == 2240 and pressed.sources == {"inBand", "outOfBand"}
        (ended,) = run.endings
        assert ended.subcode == 8514 and 2000 < ended.sample_index < 2240
        assert ended.recording_samples == ended.sample_index - 204
        results.append(run.events)
    assert results[0] == results[1]


class _LookAheadOnly:
    """Within it, a decided stop tone does not move the analysis ahead of the look-ahead."""

    def __enter__(self) -> None:
        self._saved = Call._on_in_band_tone

        def plain(call: Call, tone: Any) -> None:
            call._keys.add_source(tone.key, tone.start_sample, "inBand", decided_at=tone.decided_at)

        Call._on_in_band_tone = plain  # type: ignore[method-assign]

    def __exit__(self, *exc: object) -> None:
        Call._on_in_band_tone = self._saved  # type: ignore[method-assign]


_keys = st.lists(
    st.tuples(
        st.floats(0.0, 6.0),
        st.sampled_from("#15"),
        st.sampled_from(["out-of-band", "in-band", "both"]),
    ),
    min_size=1,
    max_size=4,
)
_parts = st.lists(st.tuples(st.sampled_from("vs"), st.floats(0.05, 1.5)), min_size=1, max_size=6)


def _timed_keys(
    keys: list[tuple[float, str, str]], placement: str
) -> list[tuple[float, Callable[[Call], Any]]]:
    timed: list[tuple[float, Callable[[Call], Any]]] = []
    for at_s, key, mode in keys:
        oob, inb = mode != "in-band", mode != "out-of-band"
        timed.append(
            (
                at_s,
                lambda c, k=key, o=oob, i=inb: c.press_key(
                    k, out_of_band=o, in_band=i, out_of_band_at=placement
                ),
            )
        )
    return timed


@settings(max_examples=40, deadline=None, derandomize=True)
# A live key on the frame boundary where a speech onset is still unconfirmed (the replay judged
# that frame before the key and reported the onset).
@example(parts=[("s", 0.734375), ("v", 1.0)], keys=[(1.0, "#", "out-of-band")], block=37, records=1)
# An in-band stop tone the analysis passed before a live out-of-band '#' merged into its press
# (the replay had the event first and ended the recording there, not at the tone).
@example(
    parts=[("v", 1.0)],
    keys=[(0.25, "#", "out-of-band"), (0.125, "#", "in-band")],
    block=37,
    records=1,
)
@given(parts=_parts, keys=_keys, block=st.sampled_from([37, 320, 882]), records=st.integers(1, 3))
def test_a_live_session_replays_to_the_same_events(
    parts: list[tuple[str, float]], keys: list[tuple[float, str, str]], block: int, records: int
) -> None:
    audio = track(*parts, ("s", 7.0))
    body = record_body(stopTones=["#"], maxSilenceTimeoutInSeconds=2, maxRecordDurationInSeconds=4)
    live_call = new_call()
    for _ in range(records):
        live_call.action("recordResponse", body)
    live = feed_all(live_call, audio, block=block, at=_timed_keys(keys, "analysis"))
    replay = _replay(live_call.input_log, audio)
    assert live.events == replay.events
    assert live.endings


@settings(max_examples=40, deadline=None, derandomize=True)
@given(parts=_parts, keys=_keys, block=st.sampled_from([37, 160, 1000]))
def test_running_to_a_decided_stop_tone_decides_what_the_look_ahead_does(
    parts: list[tuple[str, float]], keys: list[tuple[float, str, str]], block: int
) -> None:
    audio = track(*parts, ("s", 7.0))
    body = record_body(stopTones=["#", "5"], maxSilenceTimeoutInSeconds=2)

    def run() -> list[ev.Event]:
        call = new_call()
        call.action("recordResponse", body)
        call.action("recordResponse", body)
        return feed_all(call, audio, block=block, at=_timed_keys(keys, "feed")).events

    early = run()
    with _LookAheadOnly():
        reference = run()
    assert early == reference
    assert any(isinstance(e, ev.OperationEnded) for e in early)


def test_a_live_key_s_tone_follows_its_event_and_both_count_once() -> None:
    call = new_call()
    call.action("recordResponse", record_body(stopTones=["9"]))
    audio = track(("v", 1.0), ("s", 2.0))
    run = feed_all(
        call,
        audio,
        block=320,
        at=[(1.0, lambda c: c.press_key("#", in_band=True, out_of_band_at="analysis"))],
    )
    keys = [e for e in call.input_log if e[1] == "key"]
    assert [(p["out_of_band"], p["in_band"]) for _, _, p in keys] == [(True, False), (False, True)]
    assert keys[1][0] == seconds_to_samples(1.0) and 1600 <= keys[1][0] - keys[0][0] < 1920
    pressed = run.of(ev.KeyPressed)
    assert [(e.key, e.sample_index, sorted(e.sources)) for e in pressed] == [
        ("#", keys[0][0], ["inBand", "outOfBand"])
    ]
