"""The fake caller of a served call: who speaks, presses keys and hangs up on the caller's side.

A served call gets its caller from a ``CallerFactory`` when it becomes established. Headless, the
caller is scripted (a scenario's ``[[caller]]`` entries, a WAV, or silence) and fed in real time
(or ``speed`` times faster) by one shared ``CallerPacer`` thread, so 50 calls cost one feeding
thread, not 50. Each caller is fed whole 50 ms ticks on its own phase, so the engines of 100
calls wake one after another instead of all at once. The GUI supplies its own factory that
attaches the live microphone and keypad.
Script times count from the moment the call became established (engine sample 0: nothing is
fed before that), or from the engine sample at which the first recording started capturing.
Either way the script is placed on the call's sample clock, never by wall-clock arrival: a
loaded machine may feed late and in bursts, but every clip and key lands on its sample.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from app.audio.wav import read_engine_audio
from app.core import events as ev
from app.core.call import LOOKAHEAD_SAMPLES
from app.core.clock import ENGINE_RATE_HZ
from app.engine.host import EngineHost
from app.scenario.model import CallerEntry, Scenario
from app.scenario.runner import caller_track, timed_entries
from app.server.calls import Caller, CallerFactory, ServerCall

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]

# One tick per 50 ms: ``Call.feed`` gathers smaller blocks to 50 ms before its DSP runs anyway,
# so shorter ticks only add thread wake-ups (20 ms ticks cost 2.5x the feeds per call). An ending
# is still known within the engine's 100 ms look-ahead plus one tick of its sample.
PACER_TICK_S = 0.05
# The pacer sleeps at least this long between passes: callers whose ticks fall this close
# together are fed in one wake-up (at most 400 a second, whatever the number of calls), each at
# most this late. Short against the tick, so an ending is still known within look-ahead + tick.
PACER_MIN_SLEEP_S = 0.0025
# Stagger: the n-th caller's ticks fall at fraction (n x this) mod 1 of the tick, the golden
# ratio's low-discrepancy sequence, so any number of callers spreads evenly over the tick.
_PHASE_STEP = 0.6180339887498949


@dataclass(frozen=True)
class ScriptAction:
    """A caller action at ``sample`` (from establishment): a key, a media gap, or hang-up."""

    sample: int
    kind: str  # "key", "no_media", "hangup"
    key: str = ""
    out_of_band: bool = True
    in_band: bool = True
    duration_s: float = 0.1
    no_media_samples: int = 0


@dataclass(frozen=True)
class CallerScript:
    """What a scripted caller does: one 16 kHz track plus timed actions, then silence."""

    name: str
    track: FloatArray = field(repr=False, default_factory=lambda: np.zeros(0, np.float32))
    actions: tuple[ScriptAction, ...] = ()

    @classmethod
    def silence(cls) -> CallerScript:
        """A caller who says nothing and never hangs up."""
        return cls("silence")

    @classmethod
    def from_wav(cls, path: Path) -> CallerScript:
        """A caller who plays ``path`` (any rate) from the start, then stays silent."""
        return cls(f"WAV {path.name}", read_engine_audio(path))

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> CallerScript:
        """The scenario's ``[[caller]]`` entries; its ``[[bot]]`` entries are the real bot's job."""
        actions: list[ScriptAction] = []
        # The same expansion as `callsim run` (a "dtmf" string becomes one press per key).
        for at, _, kind, payload in timed_entries(scenario):
            if kind == "key":
                key, entry = payload
                assert isinstance(entry, CallerEntry)
                actions.append(
                    ScriptAction(
                        at,
                        "key",
                        key=key,
                        out_of_band=entry.dtmf_mode in ("both", "out-of-band"),
                        in_band=entry.dtmf_mode in ("both", "in-band"),
                        duration_s=entry.dtmf_on_s,
                    )
                )
            elif kind == "no_media":
                actions.append(ScriptAction(at, "no_media", no_media_samples=int(payload)))
            elif kind == "hangup":
                actions.append(ScriptAction(at, "hangup"))
        return cls(f"scenario {scenario.name}", caller_track(scenario), tuple(actions))


StartOn = Literal["established", "capture"]
START_ON: tuple[StartOn, ...] = ("established", "capture")


class ScriptedCaller:
    """Plays a ``CallerScript`` into one host, paced by a ``CallerPacer``.

    ``start_on="established"`` starts the script when the call is established (engine sample
    0). ``"capture"`` keeps the caller silent until the first recordResponse starts capturing,
    then anchors the script on the engine sample of ``CaptureStarted``, so a bot that is slow to
    send its first recordResponse still hears the answer, at the same samples whatever the load.

    The pacer feeds whole ticks on a grid of samples (``phase_samples + k * tick``): a block of a
    full tick is analysed as soon as it arrives, where a block one sample short of the engine's
    50 ms gathering size would wait a whole tick for the next one (``Call.feed``). Only an
    action's sample splits a tick.

    The engine reports a capture start only once it has been fed its 100 ms look-ahead past it,
    so that much silence is already fed when the script starts: before the capture, silence is
    fed at most one tick ahead of what the engine has consumed, which keeps this under
    ``headroom_samples`` (the look-ahead plus two ticks: 0.2 s at speed 1) whatever the load.
    Script audio in that head is skipped (a warning says so) and everything after it lands on
    its exact sample: start such a script with that much silence.
    """

    def __init__(
        self,
        host: EngineHost,
        script: CallerScript,
        pacer: CallerPacer,
        *,
        speed: float = 1.0,
        start_on: StartOn = "established",
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        if start_on not in START_ON:
            raise ValueError(f"start_on must be one of {START_ON}, got {start_on!r}")
        self.host = host
        self.script = script
        self.pacer = pacer
        self.speed = speed
        self.start_on = start_on
        self.position = 0  # samples fed (or skipped by a media gap) so far
        self.script_start: int | None = 0 if start_on == "established" else None
        self.done = False  # hung up: nothing more is fed
        self._next_action = 0
        self._t0: float | None = None
        # The engine sample of the first CaptureStarted: written once by the engine thread, read
        # by the pacer (an int reference; no lock needed).
        self._capture_sample: int | None = None
        self._tick_samples = max(1, round(pacer.tick_s * ENGINE_RATE_HZ * speed))
        # Look-ahead, then one tick of backlog and one of tick phase (see the class doc).
        self.headroom_samples = LOOKAHEAD_SAMPLES + 2 * self._tick_samples
        # The next grid sample to feed up to; the pacer places the grid when it adds the caller.
        self._next_tick_sample = self._tick_samples

    @property
    def started_at_s(self) -> float | None:
        """``time.monotonic()`` when sample 0 was due (None before ``start``)."""
        return self._t0

    def start(self) -> None:
        """Begin feeding (registers with the pacer)."""
        if self.start_on == "capture":
            self.host.add_listener(self._on_engine_event)
        self._t0 = time.monotonic()
        self.pacer.add(self)

    def stop(self) -> None:
        """Stop feeding."""
        self.pacer.remove(self)

    def _on_engine_event(self, event: ev.Event) -> None:
        # Engine thread: only note the sample; the pacer thread acts on it.
        if isinstance(event, ev.CaptureStarted) and self._capture_sample is None:
            self._capture_sample = event.sample_index
            self.host.remove_listener(self._on_engine_event)

    def due_samples(self, now: float) -> int:
        """How many samples should have been fed by ``now`` (monotonic seconds)."""
        assert self._t0 is not None
        return int((now - self._t0) * ENGINE_RATE_HZ * self.speed)

    def place_grid(self, phase_s: float) -> None:
        """Put this caller's ticks at ``phase_s`` (modulo the tick) on the monotonic clock."""
        assert self._t0 is not None
        tick_s = self._tick_samples / (ENGINE_RATE_HZ * self.speed)
        offset_s = (phase_s - self._t0) % tick_s
        # The first block is one to two ticks long: never shorter than the engine's gathering.
        self._next_tick_sample = self._tick_samples + int(offset_s * ENGINE_RATE_HZ * self.speed)

    def next_tick_at(self) -> float:
        """``time.monotonic()`` at which the next grid sample, or an earlier timer decision
        (``_decision_sample``), is due."""
        assert self._t0 is not None
        decision = self._decision_sample()
        # Half a sample late, so that the wake-up finds the decision sample due.
        sample = self._next_tick_sample if decision is None else decision + 0.5
        return self._t0 + sample / (ENGINE_RATE_HZ * self.speed)

    def _decision_sample(self) -> int | None:
        """The sample that lets the engine decide a running timer's expiry, if it falls
        between what is fed and the next grid sample: fed then (with ``analyse_now``) instead
        of at the grid, the timer's ending is known look-ahead after its deadline, not up to a
        tick later (``Call.decision_sample``). At most one extra feed per timer expiry."""
        decision = self.host.decision_sample
        if decision is None or not self.position < decision < self._next_tick_sample:
            return None
        return decision

    def tick(self, now: float) -> None:
        """Feed the whole ticks due by ``now``, or a timer's decision sample if that is all
        that is due (pacer thread; call at or after next_tick_at)."""
        tick = self._tick_samples
        target = self._next_tick_sample
        due = self.due_samples(now)
        decision = self._decision_sample()
        if decision is not None and due < target:  # woken for it (next_tick_at)
            if decision <= due:
                self.advance(decision, analyse_now=True)
            return
        if due < target - tick // 50:
            # Woken for a decision the engine has since dropped (the speech resumed): the grid
            # sample is over 1 ms of the tick away yet; feeding it now would run ahead of time.
            return
        behind = due - target
        if behind > 0:  # a late wake-up: every whole tick due, in one feed
            target += behind // tick * tick
        # A tick that holds a timer's decision sample (the pacer woke past it) is just as urgent.
        decision = self.host.decision_sample
        self.advance(
            target, analyse_now=decision is not None and self.position < decision <= target
        )
        self._next_tick_sample = target + tick

    def advance(self, due: int, *, analyse_now: bool = False) -> None:
        """Feed up to sample ``due``, applying each action exactly at its sample (pacer thread).
        ``analyse_now`` asks the engine to analyse the feed that reaches ``due`` at once."""
        if self.script_start is None:
            capture = self._capture_sample
            if capture is None:
                # Silence until the bot starts recording, at most one tick ahead of what the
                # engine has consumed: a lagging engine then finds the capture start close to
                # the feed, so little of the script's head is already past (see the class doc).
                end = min(due, self.host.fed_samples + self._tick_samples)
                if end > self.position:
                    self.host.feed(
                        np.zeros(end - self.position, dtype=np.float32),
                        analyse_now=analyse_now and end == due,
                    )
                    self.position = end
                return
            self.script_start = capture
            self._check_head(self.position - capture)
        offset = self.script_start
        actions = self.script.actions
        track = self.script.track
        while not self.done:
            pending = self._next_action < len(actions)
            if pending and offset + actions[self._next_action].sample <= self.position:
                self._apply(actions[self._next_action])
                self._next_action += 1
                continue
            if self.position >= due:
                return
            end = due
            if self._next_action < len(actions):
                end = min(end, offset + actions[self._next_action].sample)
            block = track[self.position - offset : end - offset]
            if len(block) < end - self.position:
                block = np.concatenate(
                    [block, np.zeros(end - self.position - len(block), dtype=np.float32)]
                )
            self.host.feed(
                np.array(block, dtype=np.float32, copy=True),
                analyse_now=analyse_now and end == due,
            )
            self.position = end

    def _check_head(self, fed_past_anchor: int) -> None:
        """Warn if script sound or actions fall in the head already fed as silence."""
        head = self.script.track[:fed_past_anchor]
        early = [a for a in self.script.actions if a.sample < fed_past_anchor]
        if fed_past_anchor > self.headroom_samples or np.any(head) or early:
            log.warning(
                "caller script %r starts on capture, but its first %.3f s were already fed as "
                "silence (the engine's look-ahead): their sound is skipped and %d action(s) "
                "come late; start the script with %.2f s of silence",
                self.script.name,
                fed_past_anchor / ENGINE_RATE_HZ,
                len(early),
                self.headroom_samples / ENGINE_RATE_HZ,
            )

    def _apply(self, action: ScriptAction) -> None:
        if action.kind == "key":
            self.host.press_key(
                action.key,
                out_of_band=action.out_of_band,
                in_band=action.in_band,
                duration_s=action.duration_s,
            )
        elif action.kind == "no_media":
            self.host.feed_no_media(action.no_media_samples)
            self.position += action.no_media_samples
        elif action.kind == "hangup":
            self.host.hang_up("caller")
            self.done = True


class CallerPacer:
    """One thread that feeds every registered scripted caller in real time (× its speed).

    Each caller is fed when its own next tick is due (a heap orders them), its ticks staggered
    against the others', so the engines of many calls do not all wake in the same instant and
    queue for the interpreter together; a wake-up feeds every caller due by then.
    """

    def __init__(self, tick_s: float = PACER_TICK_S) -> None:
        self.tick_s = tick_s
        # Each paced caller with the number of its live heap entry (a re-added caller's old
        # entry is stale); the heap holds (next tick, entry number, caller).
        self._callers: dict[ScriptedCaller, int] = {}
        self._due: list[tuple[float, int, ScriptedCaller]] = []
        self._entries = itertools.count()
        self._added = 0  # callers added so far: the next one's place in the stagger sequence
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self.max_lag_s = 0.0  # worst lateness of a feed against its tick so far (load indicator)

    def add(self, caller: ScriptedCaller) -> None:
        """Start pacing ``caller`` (starts the thread on first use)."""
        with self._lock:
            caller.place_grid((self._added * _PHASE_STEP % 1.0) * self.tick_s)
            self._added += 1
            self._push(caller)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="caller-pacer", daemon=True)
                self._thread.start()
        self._wake.set()  # its first tick may come before the pacer's planned wake-up

    def remove(self, caller: ScriptedCaller) -> None:
        """Stop pacing ``caller`` (its heap entry is dropped when it comes up)."""
        with self._lock:
            self._callers.pop(caller, None)

    def stop(self) -> None:
        """Stop the thread (callers stay registered but are no longer fed)."""
        with self._lock:
            self._stop = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join(2.0)

    def _push(self, caller: ScriptedCaller) -> None:
        entry = next(self._entries)
        self._callers[caller] = entry
        heapq.heappush(self._due, (caller.next_tick_at(), entry, caller))

    def _run(self) -> None:
        while True:
            self._wake.clear()
            now = time.monotonic()
            due: list[ScriptedCaller] = []
            with self._lock:
                if self._stop:
                    return
                while self._due and self._due[0][0] <= now:
                    at, entry, caller = heapq.heappop(self._due)
                    if self._callers.get(caller) == entry:
                        self.max_lag_s = max(self.max_lag_s, now - at)
                        due.append(caller)
            for caller in due:
                caller.tick(now)
            with self._lock:
                for caller in due:
                    if caller.done:
                        self._callers.pop(caller, None)
                    elif caller in self._callers:
                        self._push(caller)
                next_at = self._due[0][0] if self._due else now + self.tick_s
            # Callers due within PACER_MIN_SLEEP_S of each other share one wake-up.
            now = time.monotonic()
            self._wake.wait(max(PACER_MIN_SLEEP_S, next_at - now))


def scripted_caller_factory(
    script: CallerScript,
    pacer: CallerPacer,
    *,
    speed: float = 1.0,
    start_on: StartOn = "established",
) -> CallerFactory:
    """A factory giving every served call a caller that plays ``script``."""

    def make(call: ServerCall) -> Caller:
        return ScriptedCaller(call.host, script, pacer, speed=speed, start_on=start_on)

    return make
