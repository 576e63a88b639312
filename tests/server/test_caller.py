"""Scripted callers: scenario entries become exact-sample actions on a real engine."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from app.core import events as ev
from app.core.call import LOOKAHEAD_SAMPLES, Call
from app.core.clock import ENGINE_RATE_HZ, FRAME_SAMPLES
from app.engine.host import EngineHost
from app.scenario.model import load_scenario
from app.server.caller import CallerPacer, CallerScript, ScriptAction, ScriptedCaller
from tests.server.support import SHORT_SPEECH


def write_scenario(tmp_path: Path) -> Path:
    path = tmp_path / "caller.toml"
    path.write_text(
        f"""
name = "scripted"
[[bot]]
at = 0.0
action = "recordResponse"
body = {{ stopTones = ["#"] }}
[[caller]]
at = 0.5
audio = "{SHORT_SPEECH.as_posix()}"
[[caller]]
at = 3.0
dtmf = "1#"
mode = "out-of-band"
on = 0.05
off = 0.05
[[caller]]
at = 3.5
no_media = 0.25
[[caller]]
at = 4.0
hangup = true
""",
        encoding="utf-8",
    )
    return path


def test_scenario_caller_entries_become_actions_and_bot_entries_are_dropped(
    tmp_path: Path,
) -> None:
    script = CallerScript.from_scenario(load_scenario(write_scenario(tmp_path)))
    assert [(a.sample, a.kind, a.key) for a in script.actions] == [
        (48000, "key", "1"),
        (49600, "key", "#"),  # one press per key, on + off apart
        (56000, "no_media", ""),
        (64000, "hangup", ""),
    ]
    assert script.actions[0].out_of_band and not script.actions[0].in_band
    assert script.actions[2].no_media_samples == 4000
    assert len(script.track) == 8000 + 34656  # 0.5 s lead + the clip


def test_actions_land_on_their_exact_samples_whatever_the_pacing(tmp_path: Path) -> None:
    script = CallerScript.from_scenario(load_scenario(write_scenario(tmp_path)))
    host = EngineHost(Call()).start()
    events = host.subscribe()
    caller = ScriptedCaller(host, script, CallerPacer())
    # Irregular ticks, as a loaded machine would deliver them.
    for due in (100, 777, 20000, 48001, 49000, 60000, 100000):
        caller.advance(due)
    assert caller.done
    assert caller.position == 64000
    host.stop()
    seen = []
    while not events.empty():
        seen.append(events.get())
    keys = [(e.key, e.sample_index) for e in seen if isinstance(e, ev.KeyPressed)]
    assert keys == [("1", 48000), ("#", 49600)]
    ended = [e for e in seen if isinstance(e, ev.CallEnded)]
    assert [(e.by, e.sample_index) for e in ended] == [("caller", 64000)]
    assert host.call.input_log[-1] == (64000, "hangup", {"by": "caller", "reason": "callerHungUp"})


def test_wav_and_silence_scripts(tmp_path: Path) -> None:
    assert len(CallerScript.silence().track) == 0
    assert CallerScript.from_wav(SHORT_SPEECH).name == "WAV us_female_short.wav"
    host = EngineHost(Call()).start()
    caller = ScriptedCaller(host, CallerScript.silence(), CallerPacer())
    caller.advance(16000)
    assert host.flush().result(5) is None
    assert host.fed_samples == 16000  # silence is fed, not skipped
    host.stop()
    with pytest.raises(ValueError):
        ScriptedCaller(host, CallerScript.silence(), CallerPacer(), speed=0)


def test_the_pacer_feeds_in_real_time_times_speed() -> None:
    host = EngineHost(Call()).start()
    pacer = CallerPacer()
    script = CallerScript("tone", np.full(16000, 0.1, np.float32), (ScriptAction(0, "key", "5"),))
    caller = ScriptedCaller(host, script, pacer, speed=4.0)
    start = time.monotonic()
    caller.start()
    deadline = start + 5.0
    while caller.position < 32000 and time.monotonic() < deadline:
        time.sleep(0.01)
    elapsed_s = time.monotonic() - start
    caller.stop()
    pacer.stop()
    host.stop()
    assert caller.position >= 32000
    # 2 s of audio at 4x takes about 0.5 s: not instantly, not at 1x.
    assert 0.35 < elapsed_s < 1.5
    assert pacer.max_lag_s < 0.5


def test_capture_start_waits_for_the_first_recording() -> None:
    """start_on="capture": silence until recordResponse captures, then the script from there."""
    host = EngineHost(Call()).start()
    events = host.subscribe()
    pacer = CallerPacer()
    script = CallerScript("key", actions=(ScriptAction(8000, "key", "#"),))
    caller = ScriptedCaller(host, script, pacer, speed=2.0, start_on="capture")
    caller.start()
    try:
        deadline = time.monotonic() + 5.0
        while caller.position < 8000 and time.monotonic() < deadline:
            time.sleep(0.01)  # 0.5 s of call time pass: no key, the script has not started
        assert caller.script_start is None
        host.action("recordResponse", {"playBeep": False, "stopTones": ["#"]}).result(5)
        seen: list[ev.Event] = []
        # The key is reported after its merge window, so after the operation ended.
        while not any(isinstance(e, ev.KeyPressed) for e in seen):
            seen.append(events.get(timeout=5.0))
    finally:
        caller.stop()
        pacer.stop()
        host.stop()
    capture = next(e for e in seen if isinstance(e, ev.CaptureStarted))
    key = next(e for e in seen if isinstance(e, ev.KeyPressed))
    ended = next(e for e in seen if isinstance(e, ev.OperationEnded))
    assert ended.subcode == 8514
    # Anchored on the engine's capture sample, not on when the pacer noticed it.
    assert caller.script_start == capture.sample_index
    assert key.sample_index == capture.sample_index + 8000


class FeedLog(EngineHost):
    """A real engine host that also notes the size of every block fed to it."""

    def __init__(self) -> None:
        super().__init__(Call())
        self.blocks: list[int] = []
        self.analysed_now: list[bool] = []

    def feed(
        self, samples: npt.ArrayLike, rate_hz: int = ENGINE_RATE_HZ, *, analyse_now: bool = False
    ) -> None:
        self.blocks.append(len(np.asarray(samples)))
        self.analysed_now.append(analyse_now)
        super().feed(samples, rate_hz, analyse_now=analyse_now)


def test_the_pacer_feeds_whole_ticks_on_staggered_phases() -> None:
    """Every block is a whole tick (the engine analyses it at once; one sample short, it would
    wait a tick for the next), and the callers' ticks are spread over the tick, not together."""
    pacer = CallerPacer()
    hosts = [FeedLog().start() for _ in range(3)]
    callers = [ScriptedCaller(h, CallerScript.silence(), pacer, speed=4.0) for h in hosts]
    tick = round(pacer.tick_s * ENGINE_RATE_HZ * 4.0)
    try:
        for caller in callers:
            caller.start()
        deadline = time.monotonic() + 5.0
        while min(len(h.blocks) for h in hosts) < 10 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        pacer.stop()
        for host in hosts:
            host.stop()
    for host in hosts:
        first, *rest = host.blocks
        assert tick <= first < 2 * tick  # the first block carries the caller's phase
        assert rest and all(n % tick == 0 for n in rest), host.blocks
    # Where in the tick each caller is fed (monotonic seconds modulo the tick).
    tick_s = tick / (ENGINE_RATE_HZ * 4.0)
    phases = sorted(c.next_tick_at() % tick_s for c in callers)
    gaps = [b - a for a, b in itertools.pairwise(phases)] + [phases[0] + tick_s - phases[-1]]
    assert min(gaps) > tick_s / 5, phases


@pytest.mark.parametrize("late_s", [0.0, 0.06], ids=["on time", "woken past the next tick"])
def test_a_timer_due_between_ticks_is_fed_when_due_not_at_the_next_tick(late_s: float) -> None:
    """A running timer's ending is known once the engine has its deadline's frame plus the
    look-ahead: the caller wakes and feeds exactly that much (analysed at once, so urgent on
    the engine pool), not the rest of the tick (app/server/caller.py). Woken too late for that,
    the whole ticks it feeds are marked urgent instead. The ending's sample is the same as with
    whole ticks."""
    host = FeedLog().start()
    fed_at_end: list[int] = []
    ended: list[ev.OperationEnded] = []

    def on_event(event: ev.Event) -> None:
        if isinstance(event, ev.OperationEnded):
            fed_at_end.append(host.fed_samples)  # the engine's feed when it decided
            ended.append(event)

    host.add_listener(on_event)
    body = {"playBeep": False, "maxSilenceTimeoutInSeconds": 1}
    assert host.action("recordResponse", body).result(5).status == 200
    pacer = CallerPacer()
    pacer.stop()  # no pacer thread: this test is the clock, waking the caller when it asks
    caller = ScriptedCaller(host, CallerScript.from_wav(SHORT_SPEECH), pacer)
    caller.start()
    for _ in range(400):  # 20 s of ticks at most
        caller.tick(caller.next_tick_at() + late_s)
        host.submit(lambda call: None).result(5)  # the engine has taken the feed
        if ended:
            break
    host.stop()
    [end] = ended
    assert end.subcode == 8509
    frame_end = -(-end.sample_index // FRAME_SAMPLES) * FRAME_SAMPLES
    if late_s == 0:
        assert fed_at_end == [frame_end + LOOKAHEAD_SAMPLES]
    else:  # the whole late ticks reach past it
        assert fed_at_end[0] > frame_end + LOOKAHEAD_SAMPLES
    assert host.analysed_now.count(True) == 1 and host.analysed_now[-1]
    # The same ending as a whole-tick feed of the same script gives.
    other = EngineHost(Call()).start()
    events = other.subscribe()
    assert other.action("recordResponse", body).result(5).status == 200
    whole = ScriptedCaller(other, CallerScript.from_wav(SHORT_SPEECH), CallerPacer())
    whole.advance(end.sample_index + 16000)
    other.flush().result(5)
    other.stop()
    seen = []
    while not events.empty():
        seen.append(events.get())
    assert [e.sample_index for e in seen if isinstance(e, ev.OperationEnded)] == [end.sample_index]
