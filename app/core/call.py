"""A call as the Graph service sees it: media queue, recordResponse timers, keys, hang-up.

Everything here counts samples at 16 kHz from call start. Inputs (audio, keys, bot actions,
hang-up) are stamped with the number of samples fed so far (``fed_samples``); the analysis runs
``LOOKAHEAD_SAMPLES`` behind the feed so that, when a frame is judged, every DTMF tone touching
it is already known (in-band detection is decided up to ~40 ms after a tone starts or stops,
docs/dsp.md §5). Decisions are therefore exact in samples, whatever the block sizes, and the
same input gives the same events live, headless and under test.

Usage: ``call.feed(samples, rate_hz)``, ``call.press_key(...)``, ``call.action(name, body)``,
``call.hang_up()``, ``call.flush()`` at end of input; ``call.drain()`` returns new events.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from app.core import events as ev
from app.core.capture import capture_ending, media_timeout_at
from app.core.clock import ENGINE_RATE_HZ, FRAME_SAMPLES, seconds_to_samples
from app.core.config import CallConfig
from app.core.dsp.dtmf import DtmfTone, dtmf_tone
from app.core.dsp.resample import to_pcm16
from app.core.feed import DTMF_MASK_MARGIN_SAMPLES, CallerFeed
from app.core.graph_view import (
    accepted_resource,
    accepted_response,
    call_end_notifications,
    error_response,
)
from app.core.inputs import (
    ACTIONS,
    AcceptedAction,
    ActionName,
    HangUp,
    HangUpBy,
    Pending,
    PendingInputs,
    PromptLoaded,
)
from app.core.keys import KeyPresses
from app.core.media import (
    LoadedPrompt,
    PromptLoader,
    PromptLoadError,
    PromptRequester,
    default_beep,
)
from app.core.media_queue import MediaQueue
from app.core.operations import (
    Operation,
    PlayPromptOperation,
    RecordOperation,
)
from app.core.prompt_stage import PromptStage
from app.core.vad.base import (
    FrameClassifier,
    frames_classifier,
    make_classifier,
)
from app.core.vad.endpointer import Endpointer, SpeechEdge
from app.graph import payloads
from app.graph.errors import GraphError, graph_date
from app.graph.requests import (
    CancelMediaProcessingRequest,
    PlayPromptRequest,
    RecordResponseRequest,
    SubscribeToToneRequest,
    parse_action,
    parse_json_body,
)
from app.graph.results import CallEnd, Ending

FloatArray = npt.NDArray[np.float32]
# Where an out-of-band key is placed on the sample clock (Call.press_key).
KeyPlacement = Literal["feed", "analysis"]

# Look-ahead of the analysis behind the feed: covers the DTMF detector's decision delay
# (≤ 40 ms after a tone starts or ends, docs/dsp.md §1.4/§5) plus one 20 ms frame, with margin.
LOOKAHEAD_SAMPLES = 5 * FRAME_SAMPLES

# Recording chunks are emitted every 100 ms of committed audio (docs/design.md §3: a crash loses
# at most one block).
COMMIT_SAMPLES = 1600
# A sample index later than any stream reaches (a horizon with no timer or input in it).
_NEVER = 2**62

__all__ = ["ACTIONS", "LOOKAHEAD_SAMPLES", "Call", "CallConfig", "KeyPlacement"]


class Call:
    """One call on the simulated Graph service, fed with caller audio block by block."""

    def __init__(
        self,
        config: CallConfig | None = None,
        *,
        call_id: str | None = None,
        prompt_loader: PromptLoader | None = None,
        recording_location: Callable[[str], str] | None = None,
        id_factory: Callable[[], str] | None = None,
        token_factory: Callable[[], str] | None = None,
        classifier: FrameClassifier | None = None,
        wall_clock_s: Callable[[], float] | None = None,
    ) -> None:
        self.config = config or CallConfig()
        self._new_id = id_factory or (lambda: str(uuid.uuid4()))
        self._new_token = token_factory or (lambda: secrets.token_urlsafe(32))
        self.call_id = call_id or self._new_id()
        # Only for the "date" of Graph error bodies; the engine never reads time otherwise.
        self._wall_clock_s = wall_clock_s or (lambda: 0.0)
        self._recording_location = recording_location or (lambda op_id: f"recordings/{op_id}.wav")
        self._prompts = PromptStage(
            load_prompt=prompt_loader or _no_prompt_loader,
            beep=default_beep() if self.config.beep is None else self.config.beep,
            lenient=self.config.lenient_prompts,
        )
        self._classify_frames = frames_classifier(
            classifier or make_classifier(self.config.vad, **dict(self.config.vad_options))
        )
        self._endpointer = Endpointer()
        self._feed = CallerFeed(
            in_band_detection=self.config.in_band_detection, on_key_tone=self._on_in_band_tone
        )
        self._judged = 0
        self._analyse_to = 0  # the analysis may run this far ahead of the look-ahead
        self._events: list[ev.Event] = []
        self._inputs = PendingInputs()
        self._media = MediaQueue(
            call_id=self.call_id,
            config=self.config,
            prompts=self._prompts,
            emit=self._emit,
            commit=self._commit,
            reset_endpointer=self._endpointer.reset,
            recording_location=self._recording_location,
            new_token=self._new_token,
        )
        self._keys = KeyPresses(seconds_to_samples(self.config.key_merge_window_s))
        self._subscribed = False
        self._tone_sequence = 0
        self.ended = False
        self._merge_samples = self._keys.merge_samples
        self._media_timeout_samples = seconds_to_samples(self.config.media_timeout_s)
        self._echo_tail_samples = seconds_to_samples(self.config.echo_tail_s)
        # Every input with its stamp, so a live session can be saved as a scenario that
        # reproduces it (audio is kept by the caller of feed()).
        self.input_log: list[tuple[int, str, dict[str, Any]]] = []

    # ------------------------------------------------------------------ inputs

    @property
    def fed_samples(self) -> int:
        """Samples fed so far: the stamp of any input given now."""
        return self._feed.fed

    @property
    def judged_samples(self) -> int:
        """Samples analysed so far (lags the feed by the look-ahead)."""
        return self._judged

    @property
    def feed_gather_ms(self) -> int:
        """Audio gathered before the analysis runs (50 ms; app/core/feed.py says why). Only
        when the analysis runs depends on it, never what it decides."""
        return self._feed.gather_ms

    @feed_gather_ms.setter
    def feed_gather_ms(self, gather_ms: int) -> None:
        self._feed.gather_ms = gather_ms

    @property
    def decision_sample(self) -> int | None:
        """How much audio must have been fed for the earliest running timer's expiry to be
        decided (None if no timer runs): the frame holding its deadline, judged, plus the
        look-ahead. A feeder that knows its audio ahead (a scripted caller) feeds up to here
        with ``analyse_now`` when it is due, so the timer's ending comes out when it is due
        instead of at the next regular block (app/server/caller.py). What is decided never
        depends on it; only when.
        """
        op = self._media.head
        if not isinstance(op, RecordOperation) or op.phase != "capture" or not op.timers:
            return None
        deadline = min(t.deadline for t in op.timers.values())
        # The analysis judges whole frames from where it stands (_advance), and a silence timer
        # fires once its deadline is judged (app/core/capture.py).
        frames = max(0, -(-(deadline - self._judged) // FRAME_SAMPLES))
        return self._judged + frames * FRAME_SAMPLES + LOOKAHEAD_SAMPLES

    @property
    def idle(self) -> bool:
        """True when no operation runs or waits and no input is pending."""
        return not self._media.ops and not self._inputs

    def feed(
        self, samples: npt.ArrayLike, rate_hz: int = ENGINE_RATE_HZ, *, analyse_now: bool = False
    ) -> None:
        """Feed the caller's next audio block (any rate, channels, dtype, block size).

        ``analyse_now`` analyses it at once instead of gathering 50 ms first (``decision_sample``
        says when that helps); the analysis decides the same either way.
        """
        if self.ended:
            return
        if self._feed.pending_rate_hz != rate_hz:
            self._process_pending()
            self._feed.pending_rate_hz = rate_hz
        # Blocks are gathered (app/core/feed.py says why); any stamped input (key, action,
        # hang-up) processes them first, so stamps stay exact.
        if self._feed.gather(samples) or analyse_now:
            self._process_pending()

    def _process_pending(self) -> None:
        """Resample and analyse the gathered input blocks."""
        if self._feed.process_gathered():
            self._advance(flush=False)

    def feed_no_media(self, n_samples: int) -> None:
        """Let ``n_samples`` of time pass with no media from the caller (network loss)."""
        if self.ended or n_samples <= 0:
            return
        self._process_pending()
        fed = self._feed.fed
        end = fed + n_samples
        last = self.input_log[-1] if self.input_log else None
        if last is not None and last[1] == "no_media" and last[0] + last[2]["samples"] == fed:
            self.input_log[-1] = (last[0], "no_media", {"samples": end - last[0]})
        else:
            self.input_log.append((fed, "no_media", {"samples": n_samples}))
        self._feed.add_gap(n_samples)
        self._advance(flush=False)

    def press_key(
        self,
        key: str,
        *,
        out_of_band: bool = True,
        in_band: bool = False,
        duration_s: float = 0.1,
        out_of_band_at: KeyPlacement = "feed",
    ) -> None:
        """The caller presses a key now: an out-of-band event and/or an in-band tone.

        The in-band tone is mixed into the audio from the feed's end on. The out-of-band event
        is placed there too (``out_of_band_at="feed"``, scenarios), or at the analysis position
        (``"analysis"``, a live key): the sample the engine has fully analysed, so a stop tone
        ends the recording at once instead of after the look-ahead (docs/architecture.md §3
        "Live keys"). Either way ``input_log`` holds each source at the sample it was placed,
        and a replay pressing it there gives the same events.
        """
        if self.ended:
            return
        key = key.upper()
        if len(key) != 1 or key not in "0123456789*#ABCD":
            raise ValueError(f"not a DTMF key: {key!r}")
        self._process_pending()
        at = self._feed.fed
        oob_at = self._judged if out_of_band and out_of_band_at == "analysis" else at
        if oob_at == at:
            self._log_key(at, key, out_of_band=out_of_band, in_band=in_band, duration_s=duration_s)
        else:
            self._log_key(oob_at, key, out_of_band=True, in_band=False, duration_s=duration_s)
            if in_band:
                self._log_key(at, key, out_of_band=False, in_band=True, duration_s=duration_s)
        if in_band:
            self._feed.inject(at, dtmf_tone(key, duration_s))
        if out_of_band:
            self._keys.add_source(key, oob_at, "outOfBand", decided_at=oob_at)
            if oob_at < at:
                # Everything before oob_at is settled; what happens at oob_at (a stop tone's
                # ending) is applied now, as _judge_frame does before the frame from there.
                self._settle_key_sample(oob_at)

    def _log_key(
        self, at: int, key: str, *, out_of_band: bool, in_band: bool, duration_s: float
    ) -> None:
        payload = {
            "key": key,
            "out_of_band": out_of_band,
            "in_band": in_band,
            "duration_s": duration_s,
        }
        self.input_log.append((at, "key", payload))

    def action(
        self,
        action: ActionName | str,
        body: object,
        *,
        request_id: str | None = None,
        client_request_id: str | None = None,
        date: str | None = None,
    ) -> ev.ActionResponse:
        """A bot action now: validate, answer synchronously, apply at the current sample."""
        request_id = request_id or self._new_id()
        client_request_id = client_request_id or request_id
        self._process_pending()
        at = self._feed.fed
        if not self.ended:
            raw = body.decode("utf-8", "replace") if isinstance(body, bytes | bytearray) else body
            self.input_log.append((at, "action", {"action": action, "body": raw}))
        try:
            if self.ended:
                raise GraphError(404, "NotFound", f"Call {self.call_id} has ended.")
            if isinstance(body, bytes | bytearray | str):
                body = parse_json_body(bytes(body) if not isinstance(body, str) else body)
            request = parse_action(action, body)
        except GraphError as err:
            response = error_response(
                at,
                action,
                err,
                request_id=request_id,
                client_request_id=client_request_id,
                date=date or graph_date(self._wall_clock_s()),
            )
            self._emit(response)
            return response
        op_id = self._new_id()
        busy = bool(self._media.ops) or self._inputs.media_waiting()
        resource = accepted_resource(request, op_id, busy=busy)
        self._media.snapshots[op_id] = resource
        location = payloads.operation_location(self.config.graph_base_url, self.call_id, op_id)
        response = accepted_response(
            at,
            action,
            resource,
            location=location,
            operation_id=op_id,
            request_id=request_id,
            client_request_id=client_request_id,
        )
        self._emit(response)
        name: ActionName = request_action_name(request)
        self._inputs.add(at, AcceptedAction(name, op_id, request))
        return response

    def load_prompts_via(self, requester: PromptRequester | None) -> None:
        """Load prompts off the engine's thread: ``requester(key, uri)`` starts a load whose
        result comes back through ``prompt_loaded(key, result)``; meanwhile the operation waits
        on the sample clock (phase "loading"), its media timeout running. None: load inline.
        """
        self._prompts.requester = requester

    def prompt_loaded(self, key: str, result: LoadedPrompt | PromptLoadError) -> None:
        """A prompt requested through ``load_prompts_via`` is loaded (or failed) now.

        Applied at the analysis position, where every phase change happens (the prompt starts
        playing there); a result for an operation that has ended meanwhile is dropped.
        """
        if self.ended:
            return
        self._process_pending()
        self._inputs.add(self._judged, PromptLoaded(key, result))
        self._run_until(self._judged)
        self._release_keys(self._judged)

    def hang_up(self, by: HangUpBy = "caller", *, reason: CallEnd | None = None) -> None:
        """End the call now; everything fed so far is analysed first.

        ``reason`` sets the call's resultInfo (app/graph/results.py); by default the caller or
        the bot hung up.
        """
        if self.ended:
            return
        if reason is None:
            reason = CallEnd.CALLER_HUNG_UP if by == "caller" else CallEnd.BOT_HUNG_UP
        self._process_pending()
        at = self._feed.fed
        self.input_log.append((at, "hangup", {"by": by, "reason": reason.value}))
        self._inputs.add(at, HangUp(by, reason))
        self._advance(flush=True)

    def flush(self) -> None:
        """End of input: analyse everything fed so far without waiting for look-ahead."""
        self._process_pending()
        self._feed.flush_resampler()
        self._advance(flush=True)

    def drain(self) -> list[ev.Event]:
        """Return (and forget) the events emitted since the last drain."""
        out, self._events = self._events, []
        return out

    def operation_resource(self, operation_id: str) -> dict[str, Any] | None:
        """The operation's current Graph JSON (for GET operations/{id}), or None if unknown."""
        snap = self._media.snapshots.get(operation_id)
        return json.loads(json.dumps(snap)) if snap is not None else None

    def current_playback(self) -> tuple[str, str, FloatArray] | None:
        """What the caller should be hearing now: (operation id, "prompt"|"beep", the rest).

        For a speaker that attaches to a call already in progress (a served call picked up
        by the GUI); "now" is the analysis position, where PlaybackStarted events are emitted.
        """
        op = self._media.head
        if op is None or op.phase not in ("prompt", "beep"):
            return None
        what, start, _, samples = op.playback[op.playback_index]
        rest = samples[max(0, self._judged - start) :]
        return op.operation_id, what, rest

    @property
    def subscribed_to_tones(self) -> bool:
        """Whether subscribeToTone is in force."""
        return self._subscribed

    # ------------------------------------------------------------------ internals

    def _emit(self, event: ev.Event) -> None:
        self._events.append(event)

    def _on_in_band_tone(self, tone: DtmfTone) -> None:
        self._keys.add_source(tone.key, tone.start_sample, "inBand", decided_at=tone.decided_at)
        op = self._media.head
        if (
            isinstance(op, RecordOperation)
            and op.request is not None
            and tone.key in op.request.stop_tones
        ):
            # A stop tone is decided: every tone touching the frames before it is known now
            # (the detector decides tones in order, and the next cannot start within a frame
            # plus the mask margin of this one), so the analysis may run to the frame holding
            # its start without waiting for the look-ahead; the frames are judged exactly as
            # they would be later (docs/architecture.md §3 "Live keys").
            self._analyse_to = max(self._analyse_to, tone.start_sample + 1)

    # ------------------------------------------------------------------ the analysis loop

    def _advance(self, *, flush: bool) -> None:
        """Judge frames up to the feed (minus look-ahead unless flushing)."""
        fed = self._feed.fed
        limit = fed if flush else fed - LOOKAHEAD_SAMPLES
        if self._analyse_to > limit:
            # Up to the end of the frame holding a decided stop tone (_on_in_band_tone).
            frame_end = -(-self._analyse_to // FRAME_SAMPLES) * FRAME_SAMPLES
            limit = min(fed, max(limit, frame_end))
        # Whole frames first, in one batch for the classifier (the hot path).
        n_frames = max(0, (limit - self._judged) // FRAME_SAMPLES)
        if n_frames:
            start = self._judged
            block = self._feed.audio.view(start, start + n_frames * FRAME_SAMPLES)
            frames = block.reshape(n_frames, FRAME_SAMPLES)
            flags = self._classify_frames(frames, start)
            i = 0
            while i < n_frames:
                i = self._judge_quiet_frames(start, flags, i)
                if i < n_frames:
                    a = start + i * FRAME_SAMPLES
                    self._judge_frame(a, a + FRAME_SAMPLES, flags[i])
                    i += 1
        if flush and self._judged < fed:
            # A partial last frame: it still advances time exactly, but is too short to judge.
            self._judge_frame(self._judged, fed, None)
        if flush:
            self._run_until(fed)
            self._release_keys(fed + self._merge_samples)
        keep_from = min(
            [self._judged - LOOKAHEAD_SAMPLES]
            + [op.committed_upto for op in self._media.ops if isinstance(op, RecordOperation)]
        )
        self._feed.audio.drop_before(max(0, keep_from))

    def _judge_frame(self, a: int, b: int, is_speech: bool | None) -> None:
        """Process the frame [a, b): VAD edges, then inputs, phases, endings, commits.

        Everything at samples < a was settled by the previous frame's ``_run_until``.
        """
        if self._keys.presses and self._keys.heard_at(a):
            self._settle_key_sample(a)
        op = self._media.head
        if (
            isinstance(op, RecordOperation)
            and op.phase == "capture"
            and op.capture_start is not None
            and a >= op.capture_start
            and is_speech is not None
        ):
            masked = a < op.capture_start + self._echo_tail_samples or self._feed.masked(a, b)
            for edge in self._endpointer.push(a, is_speech and not masked):
                self._on_speech_edge(op, edge)
        self._judged = b
        self._run_until(b)
        self._release_keys(b)

    def _settle_key_sample(self, at: int) -> None:
        """Apply what a key heard at sample ``at`` (a frame boundary) does there, before the
        frame from ``at`` is judged: a stop tone ends the recording at ``at``, so that frame,
        audio after the recording's end, decides none of its speech edges.

        A live key placed at the analysis position (``press_key(..., out_of_band_at=
        "analysis")``) runs this as it arrives, and a replay pressing it at that sample runs it
        from ``_judge_frame``, before the frame, so both give the same events
        (docs/architecture.md §3 "Live keys"). No commit: a capture that does not end keeps the
        chunk boundaries it has without the key.
        """
        self._run_until(at + 1, commit=False)

    def _judge_quiet_frames(self, start: int, flags: list[bool], i: int) -> int:
        """Judge frames from index ``i`` on while nothing but the VAD and commits can happen.

        The hot path of a capture: no key, tone or media gap about, no input or timer due in
        the frame, no speech edge. Exactly what ``_judge_frame`` does for such a frame, without
        its general bookkeeping (about 12 % of the engine's time in tests/bench). Returns the
        index of the first frame left for ``_judge_frame``; a frame that yields a speech edge
        is finished here. tests/core/test_call_fast_path.py runs random calls both ways.
        """
        op = self._media.head
        if (
            self.ended
            or not isinstance(op, RecordOperation)
            or op.phase != "capture"
            or op.capture_start is None
            or self._keys.presses
            or self._feed.tone_spans
            or self._feed.no_media
        ):
            return i
        # A frame [a, b) is quiet while b is before every timer deadline and every input.
        horizon = min((t.deadline for t in op.timers.values()), default=_NEVER)
        if self._inputs:
            horizon = min(horizon, self._inputs.first().at)
        earliest = max(op.capture_start, op.capture_start + self._echo_tail_samples)
        push = self._endpointer.push
        n_frames = len(flags)
        while i < n_frames:
            a = start + i * FRAME_SAMPLES
            b = a + FRAME_SAMPLES
            if b >= horizon or a < earliest:
                return i
            edges = push(a, flags[i])
            if edges:
                for edge in edges:
                    self._on_speech_edge(op, edge)
                self._judged = b
                self._run_until(b)
                self._release_keys(b)
                return i + 1
            self._judged = b
            safe = b - DTMF_MASK_MARGIN_SAMPLES
            if safe - op.committed_upto >= COMMIT_SAMPLES:
                self._commit(op, safe)
            i += 1
        return i

    def _on_speech_edge(self, op: RecordOperation, edge: SpeechEdge) -> None:
        if edge.kind == "start":
            self._emit(ev.SpeechStarted(edge.sample_index, decided_at=edge.decided_at))
            op.speech_started = True
            for name in ("initialSilence", "maxSilence"):
                timer = op.timers.get(name)
                if timer is not None and edge.sample_index < timer.deadline:
                    del op.timers[name]
                    self._emit(ev.TimerStopped(edge.sample_index, op.operation_id, timer.name))
        else:
            self._emit(ev.SpeechEnded(edge.sample_index, decided_at=edge.decided_at))
            timer = op.max_silence_timer(edge.sample_index)
            self._emit(
                ev.TimerStarted(timer.started_at, op.operation_id, timer.name, timer.deadline)
            )

    def _run_until(self, b: int, *, commit: bool = True) -> None:
        """Apply everything that happens at samples < ``b`` that the analysis has reached.

        Loops because one thing enables the next (an operation ends, the next one starts at the
        same sample and may reach its own ending before ``b``). ``commit=False``: a capture
        that does not end commits nothing (a live key looking for its ending mid-frame).
        """
        while not self.ended:
            nxt = self._next_happening(b, commit=commit)
            if nxt is None:
                return
            at, what, payload = nxt
            if what == "input":
                self._inputs.remove(payload)
                self._apply_input(payload)
            elif what == "phase":
                self._media.advance_phase(payload, at)
            elif what == "end":
                op, ending = payload
                self._media.finish(op, ending, at)

    def _next_happening(self, b: int, *, commit: bool = True) -> tuple[int, str, Any] | None:
        """The earliest thing before ``b``: an input, a phase change, an ending, or None."""
        best: tuple[int, int, str, Any] | None = None  # (at, order, what, payload)
        if self._inputs:
            first = self._inputs.first()
            if first.at < b or (first.at == b and first.at <= self._judged):
                best = (first.at, 0, "input", first)
        op = self._media.head
        if op is not None:
            if op.phase == "queued":
                assert op.started_at is not None  # set when it became the head of the queue
                if op.started_at <= b and (best is None or (op.started_at, 1) < best[:2]):
                    best = (op.started_at, 1, "phase", op)
            elif op.phase in ("prompt", "beep", "loading"):
                if op.phase != "loading":  # a loading prompt has no end on the clock yet
                    _, _, end, _ = op.playback[op.playback_index]
                    if end <= b and (best is None or (end, 1) < best[:2]):
                        best = (end, 1, "phase", op)
                media_end = self._media_timeout_in(op, b)
                if media_end is not None and (best is None or (media_end, 2) < best[:2]):
                    best = (media_end, 2, "end", (op, Ending.MEDIA_RECEIVE_TIMEOUT))
            elif op.phase == "capture" and isinstance(op, RecordOperation):
                ending = self._capture_ending(op, b, commit=commit)
                if ending is not None and (best is None or (ending[0], 2) < best[:2]):
                    best = (ending[0], 2, "end", (op, ending[1]))
        if best is None:
            return None
        return best[0], best[2], best[3]

    def _media_timeout_in(self, op: Operation, b: int) -> int | None:
        """Sample at which a no-media gap during ``op`` reaches the media timeout, if before b."""
        return media_timeout_at(op, self._feed.no_media, self._media_timeout_samples, b)

    def _capture_ending(
        self, op: RecordOperation, b: int, *, commit: bool = True
    ) -> tuple[int, Ending] | None:
        """The ending the capture reaches before ``b`` if already certain (app/core/capture.py);
        else commit what can no longer change and return None."""
        decision = capture_ending(
            op,
            b,
            judged=self._judged,
            presses=self._keys.presses,
            no_media=self._feed.no_media,
            endpointer=self._endpointer,
            media_timeout_samples=self._media_timeout_samples,
        )
        if isinstance(decision, int):
            if commit:
                self._commit(op, decision)
            return None
        return decision

    def _commit(self, op: RecordOperation, upto: int, *, final: bool = False) -> None:
        """Emit recording samples of ``op`` up to ``upto`` (they can no longer be trimmed).

        Chunks are emitted every COMMIT_SAMPLES (100 ms) so a crash loses at most that much,
        and at the end (``final``).
        """
        upto = min(upto, self._judged, self._feed.fed)
        if upto <= op.committed_upto or (not final and upto - op.committed_upto < COMMIT_SAMPLES):
            return
        samples = self._feed.audio.view(op.committed_upto, upto)
        self._emit(ev.RecordingChunk(op.committed_upto, op.operation_id, to_pcm16(samples)))
        op.committed_upto = upto

    def _release_keys(self, b: int) -> None:
        """Emit key presses whose merge window has passed (so every source is known)."""
        if not self._keys.presses and not self._feed.tone_spans and not self._feed.no_media:
            return
        for press in self._keys.release(b, all_now=self.ended):
            self._emit(
                ev.KeyPressed(
                    press.start, press.key, frozenset(press.sources), decided_at=press.decided_at
                )
            )
            if self._subscribed:
                self._tone_sequence += 1
                envelope = payloads.tone_updated(self.call_id, self._tone_sequence, press.key)
                self._notify(
                    press.start,
                    envelope,
                    f"toneInfo {press.key} (sequenceId {self._tone_sequence})",
                )
        self._keys.forget_before(b)
        self._feed.forget_before(self._judged - 10 * LOOKAHEAD_SAMPLES)

    # ------------------------------------------------------------------ applying things

    def _apply_input(self, pending: Pending) -> None:
        at = pending.at
        match pending.input:
            case HangUp(by, reason):
                self._do_hang_up(at, by, reason)
            case PromptLoaded(key, result):
                self._media.prompt_loaded(at, key, result)
            case AcceptedAction(operation_id=op_id, request=RecordResponseRequest() as request):
                op = RecordOperation(
                    op_id, "recordResponse", request.client_context, at, request=request
                )
                if request.barge_in_allowed:
                    self._media.cancel_all(at)
                self._media.enqueue(op, at)
            case AcceptedAction(operation_id=op_id, request=PlayPromptRequest() as request):
                self._media.enqueue(
                    PlayPromptOperation(
                        op_id, "playPrompt", request.client_context, at, request=request
                    ),
                    at,
                )
            case AcceptedAction(request=CancelMediaProcessingRequest()):
                self._media.cancel_all(at)
            case AcceptedAction(request=SubscribeToToneRequest()):
                self._subscribed = True

    def _notify(self, at: int, envelope: dict[str, Any], summary: str) -> None:
        self._emit(ev.Notification(at, self.call_id, json.dumps(envelope), summary))

    def _do_hang_up(self, at: int, by: HangUpBy, reason: CallEnd) -> None:
        self._media.drop_all(at)
        self.ended = True
        for envelope, summary in call_end_notifications(self.call_id, reason):
            self._notify(at, envelope, summary)
        self._emit(ev.CallEnded(at, by, reason.value))


def _no_prompt_loader(uri: str) -> PromptLoadError:
    return PromptLoadError("download", f"no prompt loader configured for {uri}")


def request_action_name(request: object) -> ActionName:
    """The action a parsed request belongs to."""
    if isinstance(request, RecordResponseRequest):
        return "recordResponse"
    if isinstance(request, PlayPromptRequest):
        return "playPrompt"
    if isinstance(request, CancelMediaProcessingRequest):
        return "cancelMediaProcessing"
    assert isinstance(request, SubscribeToToneRequest), request
    return "subscribeToTone"
