"""Runs a scenario headless, as fast as the CPU allows, and writes its outputs.

The caller's clips are mixed at 16 kHz as the run goes (``CallerMix`` reads each file block by
block); the run walks the time line, feeding audio up to each entry's exact sample and then
applying the entry, so the same file always gives the same events at the same samples
(docs/design.md §5). Memory stays flat whatever the scenario's length: audio is read a block ahead,
events are written to events.jsonl as they come, and ``run_scenario(keep_events=False)`` (the
CLI) keeps only the operation endings.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from app.audio.prompts import make_prompt_loader
from app.audio.wav import AudioFileError, EngineAudioReader, RecordingWriter, read_engine_audio
from app.core import events as ev
from app.core.call import Call, CallConfig
from app.core.clock import ENGINE_RATE_HZ, FRAME_SAMPLES, seconds_to_samples
from app.core.timeline import Timeline
from app.core.vad.base import DEFAULT_CLASSIFIER
from app.core.vad.endpointer import ONSET_WINDOW_FRAMES
from app.scenario.model import BotEntry, CallerEntry, Scenario, ScenarioError
from app.scenario.output import EventLog, sorted_records, write_json

FloatArray = npt.NDArray[np.float32]

# Audio is fed in blocks of this size between entries: big enough to batch the VAD, small
# enough that "is the call idle yet?" is asked often when the time line has run out.
FEED_BLOCK_SAMPLES = ENGINE_RATE_HZ // 2

# events.jsonl lines are written this far behind the analysis: no event is emitted later than
# this after its own sample. The longest wait is a speech onset, confirmed within the 300 ms
# onset window and back-dated to its first frame (docs/dsp.md §3.4), plus one frame; a key
# waits 150 ms (its merge window), an ending held by an undecided onset less than the window.
EVENT_HOLD_SAMPLES = (ONSET_WINDOW_FRAMES + 1) * FRAME_SAMPLES


@dataclass
class RunResult:
    """What a run produced (also written to the output folder when one is given)."""

    call: Call
    events: list[ev.Event]
    records: list[dict[str, Any]]
    timeline: dict[str, Any]
    recordings: dict[str, Path] = field(default_factory=dict)
    # True if an event came too late for the streamed order and events.jsonl was rewritten
    # at the end (EVENT_HOLD_SAMPLES too short; tests/scenario checks the examples).
    events_rewritten: bool = False

    @property
    def endings(self) -> list[ev.OperationEnded]:
        """Every operation ending, in order."""
        return [e for e in self.events if isinstance(e, ev.OperationEnded)]


def caller_track(scenario: Scenario) -> FloatArray:
    """Mix every [[caller]] audio clip onto one engine-rate track, starting at its ``at``."""
    clips: list[tuple[int, FloatArray]] = []
    for index, entry in enumerate(scenario.caller, 1):
        if entry.audio is None:
            continue
        try:
            samples = read_engine_audio(entry.audio)
        except AudioFileError as exc:
            raise ScenarioError(scenario.path, f"[[caller]] #{index}", str(exc)) from None
        if entry.gain_db:
            samples = samples * np.float32(10 ** (entry.gain_db / 20))
        clips.append((seconds_to_samples(entry.at_s), samples))
    total = max((at + len(x) for at, x in clips), default=0)
    track = np.zeros(total, dtype=np.float32)
    for at, x in clips:
        track[at : at + len(x)] += x
    return track


class _Clip:
    """One [[caller]] audio clip, decoded a block ahead of the feed and dropped behind it."""

    def __init__(self, index: int, entry: CallerEntry, scenario: Scenario) -> None:
        assert entry.audio is not None
        self.where = f"[[caller]] #{index}"
        self.path = entry.audio
        self.scenario_path = scenario.path
        self.start = seconds_to_samples(entry.at_s)
        self.gain = np.float32(10 ** (entry.gain_db / 20)) if entry.gain_db else None
        self._reader: EngineAudioReader | None = None
        self._buffer = np.zeros(0, dtype=np.float32)  # clip samples from _offset on
        self._offset = 0
        self.finished = False
        self._open()  # checks the file now: a broken scenario fails before the run starts

    @property
    def produced(self) -> int:
        """Clip samples decoded so far (the clip's length once ``finished``)."""
        return self._offset + len(self._buffer)

    def ensure(self, upto: int) -> None:
        """Decode until ``upto`` clip samples are known, or the clip has ended."""
        while not self.finished and self.produced < upto:
            reader = self._reader if self._reader is not None else self._open()
            try:
                block = reader.read()
            except AudioFileError as exc:
                raise ScenarioError(self.scenario_path, self.where, str(exc)) from None
            if self.gain is not None:
                block = block * self.gain
            self._buffer = np.concatenate([self._buffer, block]) if len(self._buffer) else block
            if reader.ended:
                self.finished = True
                self._reader = None

    def take(self, begin: int, end: int) -> FloatArray:
        """Clip samples [begin, end) (fewer at its end); nothing before ``end`` is kept."""
        self.ensure(end)
        part = self._buffer[max(0, begin - self._offset) : end - self._offset]
        drop = min(len(self._buffer), max(0, end - self._offset))
        self._buffer = self._buffer[drop:].copy() if drop else self._buffer
        self._offset += drop
        return part

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _open(self) -> EngineAudioReader:
        try:
            self._reader = EngineAudioReader(self.path)
        except AudioFileError as exc:
            raise ScenarioError(self.scenario_path, self.where, str(exc)) from None
        return self._reader


class CallerMix:
    """Every [[caller]] audio clip mixed at 16 kHz from its ``at``, read as the run goes.

    ``read`` gives the same samples as slicing ``caller_track`` (clips summed in scenario
    order in float32, gain applied first), but holds only about one block of each playing
    clip: a 24-hour scenario needs no more memory than a 1-minute one.
    """

    def __init__(self, scenario: Scenario) -> None:
        self._clips = [
            _Clip(index, entry, scenario)
            for index, entry in enumerate(scenario.caller, 1)
            if entry.audio is not None
        ]
        # One file open at a time per playing clip: close them until their turn comes.
        for clip in self._clips:
            clip.close()

    def read(self, begin: int, count: int) -> FloatArray:
        """The mixed samples [begin, begin + count); calls must not go back in time."""
        out = np.zeros(count, dtype=np.float32)
        end = begin + count
        for clip in self._clips:
            if clip.start >= end or (clip.finished and clip.start + clip.produced <= begin):
                continue
            part = clip.take(begin - clip.start, end - clip.start)
            at = max(0, clip.start - begin)
            out[at : at + len(part)] += part
        return out

    def length_within(self, horizon: int) -> int | None:
        """The mix's total length if it is at most ``horizon`` samples, else None.

        Decodes at most up to ``horizon`` (plus one read block) to find out.
        """
        for clip in self._clips:
            if clip.start > horizon:
                return None
            clip.ensure(horizon - clip.start + 1)
            if not clip.finished:
                return None
        length = max((clip.start + clip.produced for clip in self._clips), default=0)
        return length if length <= horizon else None

    def close(self) -> None:
        """Close any file still open."""
        for clip in self._clips:
            clip.close()


def seeded_ids(seed: int) -> tuple[Callable[[], str], Callable[[], str]]:
    """Deterministic operation ids and tokens for bit-for-bit reproducible runs."""
    rng = random.Random(seed)

    def new_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def new_token() -> str:
        return f"{rng.getrandbits(256):064x}"

    return new_id, new_token


def timed_entries(scenario: Scenario) -> list[tuple[int, int, str, Any]]:
    """Entries as (sample, order, kind, payload), expanding key strings into single presses."""
    items: list[tuple[int, int, str, Any]] = []
    order = 0
    for bot in scenario.bot:
        order += 1
        items.append((seconds_to_samples(bot.at_s), order, "bot", bot))
    for entry in scenario.caller:
        order += 1
        at = seconds_to_samples(entry.at_s)
        if entry.dtmf is not None:
            step = seconds_to_samples(entry.dtmf_on_s + entry.dtmf_off_s)
            for i, key in enumerate(entry.dtmf):
                items.append((at + i * step, order, "key", (key, entry)))
        elif entry.no_media_s is not None:
            items.append((at, order, "no_media", seconds_to_samples(entry.no_media_s)))
        elif entry.hangup:
            items.append((at, order, "hangup", None))
    items.sort(key=lambda item: (item[0], item[1]))
    return items


# A seeded run's error-body dates: this fixed epoch (2000-01-01T00:00:00Z) plus the call's own
# time, reproducible bit-for-bit; the Unix epoch's "1970-01-01" read as a bug (issue 9, 10).
SEEDED_DATE_EPOCH_S = 946_684_800.0


def make_call(
    scenario: Scenario,
    recordings_dir: Path | None,
    *,
    wall_clock_s: Callable[[], float] | None = None,
) -> Call:
    """The engine call for a scenario, with its options, prompt loader and recording URIs.

    ``wall_clock_s`` overrides the clock of error-body dates (a live call passes ``time.time``).
    """
    options = scenario.call
    kwargs: dict[str, Any] = {}
    made: list[Call] = []
    if options.seed is not None:
        kwargs["id_factory"], kwargs["token_factory"] = seeded_ids(options.seed)
        kwargs["wall_clock_s"] = lambda: (
            SEEDED_DATE_EPOCH_S + (made[0].fed_samples / ENGINE_RATE_HZ if made else 0.0)
        )
    else:
        kwargs["wall_clock_s"] = time.time
    if wall_clock_s is not None:
        kwargs["wall_clock_s"] = wall_clock_s
    config = CallConfig(
        vad=options.vad or DEFAULT_CLASSIFIER,
        lenient_prompts=options.lenient_prompts,
        hangup_delivers_recording=options.hangup_delivers_recording,
        media_timeout_s=options.media_timeout_s,
        in_band_detection=options.in_band_detection,
    )

    def location(operation_id: str) -> str:
        # Headless runs point the bot at the saved WAV itself (a file: URI); the HTTP
        # endpoint serves its own URLs instead.
        folder = recordings_dir if recordings_dir is not None else Path("recordings")
        return (folder / f"{operation_id}.wav").resolve().as_uri()

    call = Call(
        config,
        prompt_loader=make_prompt_loader(scenario.base_dir),
        recording_location=location,
        **kwargs,
    )
    made.append(call)
    return call


def run_scenario(
    scenario: Scenario, out_dir: Path | None = None, *, keep_events: bool = True
) -> RunResult:
    """Run ``scenario``; if ``out_dir`` is given write events.jsonl, recordings/, timeline.json.

    Recordings and events.jsonl are written while the run goes (a killed run leaves valid WAVs
    and whole lines, tests/scenario/test_crash.py); timeline.json is written at the end. With
    ``keep_events=False`` the result keeps only the operation endings (``events`` holds just
    those and ``records`` is empty), so memory does not grow with the scenario's length.
    """
    recordings_dir = out_dir / "recordings" if out_dir is not None else None
    mix = CallerMix(scenario)
    call = make_call(scenario, recordings_dir)
    writer = RecordingWriter(recordings_dir) if recordings_dir is not None else None
    log = EventLog(out_dir / "events.jsonl") if out_dir is not None else None
    events: list[ev.Event] = []
    timeline = Timeline()

    def collect() -> None:
        batch = call.drain()
        for event in batch:
            if keep_events or isinstance(event, ev.OperationEnded):
                events.append(event)
            timeline.add(event)
            if writer is not None:
                writer.handle(event)
        # After the audio: every line on disk is covered by the recordings written before it.
        if log is not None:
            log.add(batch)
            log.release(call.judged_samples - EVENT_HOLD_SAMPLES)

    pos = 0

    def feed_to(target: int) -> None:
        nonlocal pos
        while pos < target and not call.ended:
            end = min(target, pos + FEED_BLOCK_SAMPLES)
            call.feed(mix.read(pos, end - pos))
            pos = end
            collect()

    finished = False
    try:
        entries = timed_entries(scenario)
        for at, _, kind, payload in entries:
            feed_to(at)
            if call.ended:
                break
            if kind == "bot":
                _apply_bot(call, payload)
            elif kind == "key":
                key, caller = payload
                assert isinstance(caller, CallerEntry)
                call.press_key(
                    key,
                    out_of_band=caller.dtmf_mode in ("both", "out-of-band"),
                    in_band=caller.dtmf_mode in ("both", "in-band"),
                    duration_s=caller.dtmf_on_s,
                )
            elif kind == "no_media":
                call.feed_no_media(payload)
                pos += payload
            elif kind == "hangup":
                call.hang_up("caller")
            collect()

        last = entries[-1][0] if entries else 0
        if scenario.call.end_s is not None:
            feed_to(seconds_to_samples(scenario.call.end_s))
        else:
            # Give up tail_limit after the last entry or the end of the caller's audio, and
            # stop once the call is idle after the audio. The audio's length is learnt as the
            # run reaches it: while it is longer than the next block, neither bound is near.
            while not call.ended:
                length = mix.length_within(pos + FEED_BLOCK_SAMPLES)
                if length is None:
                    feed_to(pos + FEED_BLOCK_SAMPLES)
                    continue
                limit = max(last, length) + seconds_to_samples(scenario.call.tail_limit_s)
                if pos >= limit or (call.idle and pos >= length):
                    break
                feed_to(min(limit, pos + FEED_BLOCK_SAMPLES))
        call.flush()
        collect()
        finished = True
    finally:
        # On an error too: what was recorded and logged stays, in valid files.
        mix.close()
        if writer is not None:
            writer.close()
        if log is not None and not finished:
            log.close()

    records = sorted_records(events) if keep_events else []
    if log is not None:
        log.close(records if keep_events else None, resort=not keep_events)
    timeline_doc = timeline.to_json(call_id=call.call_id, duration_samples=call.fed_samples)
    result = RunResult(call, events, records, timeline_doc)
    result.events_rewritten = log is not None and log.out_of_order
    if out_dir is not None:
        write_json(out_dir / "timeline.json", timeline_doc)
        if writer is not None:
            result.recordings = dict(writer.finished)
    return result


def _apply_bot(call: Call, entry: BotEntry) -> None:
    if entry.raw_body is not None:
        call.action(entry.action, entry.raw_body.encode("utf-8"))
    else:
        call.action(entry.action, entry.body)
