"""The FIFO of media operations of one call: start, prompts, beep, capture, finish, cancel.

The head of ``ops`` is the running operation; the others wait ("queued"). The call's analysis
loop decides *when* (an operation's phase ends, an ending is reached, an input arrives at a
sample) and calls ``advance_phase``/``finish``/``enqueue``/``cancel_all``/``drop_all``; this
queue does what happens then: the events, the operation's final resource and its
notification, the next operation starting at the same sample (docs/architecture.md §3
"app/core").
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

from app.core import events as ev
from app.core.config import CallConfig
from app.core.graph_view import ended_resource
from app.core.media import LoadedPrompt, PromptLoadError
from app.core.operations import Operation, PlayPromptOperation, RecordOperation
from app.core.prompt_stage import PromptStage, Slot
from app.graph import payloads
from app.graph.results import Ending, result_for


class Commit(Protocol):
    """Emits ``op``'s recording up to ``upto`` (``Call._commit``)."""

    def __call__(self, op: RecordOperation, upto: int, *, final: bool = False) -> None: ...


class MediaQueue:
    """The operations of one call in order, and what happens at each of their steps."""

    def __init__(
        self,
        *,
        call_id: str,
        config: CallConfig,
        prompts: PromptStage,
        emit: Callable[[ev.Event], None],
        commit: Commit,
        reset_endpointer: Callable[[], None],
        recording_location: Callable[[str], str],
        new_token: Callable[[], str],
    ) -> None:
        self.call_id = call_id
        self.config = config
        self.ops: list[Operation] = []  # head is the running operation
        # Each operation's latest Graph resource (GET operations/{id}).
        self.snapshots: dict[str, dict[str, Any]] = {}
        self._prompts = prompts
        self._emit = emit
        self._commit = commit
        self._reset_endpointer = reset_endpointer
        self._recording_location = recording_location
        self._new_token = new_token
        self._etag = 0

    @property
    def head(self) -> Operation | None:
        """The running operation, if any."""
        return self.ops[0] if self.ops else None

    def enqueue(self, op: Operation, at: int) -> None:
        if not self.ops:
            op.started_at = at
        self.ops.append(op)

    def cancel_all(self, at: int) -> None:
        """cancelMediaProcessing / barge-in: running and queued ops fail 8508 (§9.2, §6.5)."""
        for op in list(self.ops):
            self.finish(op, Ending.CANCELLED, at, advance_queue=False)
        self.ops = []

    def advance_phase(self, op: Operation, at: int) -> None:
        if op.phase == "queued":
            self._start(op, at)
            return
        what, _, _, _ = op.playback[op.playback_index]
        self._emit(ev.PlaybackEnded(at, op.operation_id, what))
        op.playback_index += 1
        self._continue(op, at)

    def _continue(self, op: Operation, at: int) -> None:
        """After a playback (or none): the next one, else capture (record) or completion."""
        if op.playback_index < len(op.playback):
            self._start_playback(op, at)
        elif isinstance(op, RecordOperation):
            self._begin_capture(op, at)
        else:
            self.finish(op, Ending.PLAY_PROMPT_COMPLETED, at)

    def _start(self, op: Operation, at: int) -> None:
        op.started_at = at
        request = op.request if isinstance(op, RecordOperation | PlayPromptOperation) else None
        self._emit(ev.OperationStarted(at, op.operation_id, op.kind, request))
        slots = self._prompts.begin(op)
        if slots is not None:  # else it waits, phase "loading", for prompt_loaded
            self._play_prompts(op, at, slots)

    def prompt_loaded(self, at: int, key: str, result: LoadedPrompt | PromptLoadError) -> None:
        ready = self._prompts.loaded(key, result)
        if ready is not None and self.ops and self.ops[0] is ready[0]:
            op, slots = ready
            self._prompts.forget(op.operation_id)
            self._play_prompts(op, at, slots)

    def _play_prompts(self, op: Operation, at: int, loaded: list[Slot]) -> None:
        """Schedule the prompts (``None``: load inline now) and the beep from ``at``."""
        schedule = self._prompts.schedule(op, at, loaded)
        if isinstance(schedule, Ending):
            self.finish(op, schedule, at)
            return
        op.playback = schedule
        op.playback_index = 0
        self._continue(op, at)

    def _start_playback(self, op: Operation, at: int) -> None:
        what, start, end, samples = op.playback[op.playback_index]
        op.phase = "prompt" if what == "prompt" else "beep"
        # Re-anchor on the actual start (the schedule was made assuming no gaps).
        shift = at - start
        if shift:
            op.playback = [(w, s + shift, e + shift, x) for (w, s, e, x) in op.playback]
        readonly = samples.view()
        readonly.flags.writeable = False
        self._emit(ev.PlaybackStarted(at, op.operation_id, what, end - start, readonly))

    def _begin_capture(self, op: RecordOperation, at: int) -> None:
        for timer in op.start_capture(at):
            self._emit(ev.TimerStarted(at, op.operation_id, timer.name, timer.deadline))
        self._reset_endpointer()
        op.recording_location = self._recording_location(op.operation_id)
        op.recording_access_token = self._new_token()
        self._emit(ev.CaptureStarted(at, op.operation_id))

    def finish(self, op: Operation, ending: Ending, at: int, *, advance_queue: bool = True) -> None:
        """End ``op`` at sample ``at`` with ``ending``: events, notification, next in queue."""
        self._prompts.forget(op.operation_id)
        if op.phase in ("prompt", "beep") and op.playback_index < len(op.playback):
            what = op.playback[op.playback_index][0]
            self._emit(ev.PlaybackEnded(at, op.operation_id, what, interrupted=True))
        result = result_for(ending, op.kind)
        recording_samples = 0
        location = ""
        token = ""
        if isinstance(op, RecordOperation):
            expired = _TIMER_ENDINGS.get(ending)
            for timer in sorted(op.timers.values(), key=lambda t: t.name != expired):
                if timer.name == expired:
                    self._emit(ev.TimerExpired(timer.deadline, op.operation_id, timer.name))
                else:
                    self._emit(ev.TimerStopped(at, op.operation_id, timer.name))
            op.timers = {}
            if op.phase == "capture":
                self._commit(op, op.trim_to if op.trim_to is not None else at, final=True)
                assert op.capture_start is not None
                recording_samples = op.committed_upto - op.capture_start
                delivered = result.status == "completed"
                if delivered:
                    location, token = op.recording_location, op.recording_access_token
                self._emit(
                    ev.RecordingFinished(
                        at, op.operation_id, recording_samples, delivered, location or ""
                    )
                )
        op.phase = "done"
        op.ended_at = at
        self._emit(
            ev.OperationEnded(
                at,
                op.operation_id,
                op.kind,
                result.status,
                result.code,
                result.subcode,
                result.completion_reason,
                result.message,
                recording_samples,
            )
        )
        self._etag += 1
        resource = ended_resource(
            op,
            result,
            location=location,
            token=token,
            call_id=self.call_id,
            etag=f'W/"{self._etag}"',
        )
        self.snapshots[op.operation_id] = resource
        envelope = payloads.operation_deleted(
            self.call_id, resource, legacy_resource=self.config.legacy_resource
        )
        summary = (
            f"{op.kind} {result.status} {result.code}/{result.subcode} {result.completion_reason}"
        )
        self._notify(at, envelope, summary)
        if advance_queue and self.ops and self.ops[0] is op:
            self.ops.pop(0)
            if self.ops:
                self.ops[0].started_at = at

    def _notify(self, at: int, envelope: dict[str, Any], summary: str) -> None:
        self._emit(ev.Notification(at, self.call_id, json.dumps(envelope), summary))

    def drop_all(self, at: int) -> None:
        """The call ends at ``at``: every operation stops, running or queued."""
        for op in list(self.ops):
            running = op is self.ops[0]
            if (
                running
                and isinstance(op, RecordOperation)
                and op.phase == "capture"
                and self.config.hangup_delivers_recording
            ):
                self.finish(op, Ending.CALL_TERMINATED, at, advance_queue=False)
                continue
            # Faithful default: the field reports no operation notification at all when the
            # caller hangs up (docs/graph-contract.md §5.3 item 6 [V S26]); the engine still says
            # so.
            if op.phase in ("prompt", "beep"):
                what = op.playback[op.playback_index][0]
                self._emit(ev.PlaybackEnded(at, op.operation_id, what, interrupted=True))
            if isinstance(op, RecordOperation) and op.phase == "capture":
                for timer in op.timers.values():
                    self._emit(ev.TimerStopped(at, op.operation_id, timer.name))
                self._commit(op, at, final=True)
                assert op.capture_start is not None
                n = op.committed_upto - op.capture_start
                self._emit(ev.RecordingFinished(at, op.operation_id, n, False, ""))
            op.phase = "done"
            self._emit(
                ev.OperationEnded(
                    at,
                    op.operation_id,
                    op.kind,
                    "dropped",
                    0,
                    0,
                    "callTerminated",
                    "No notification: the call ended while the operation was pending.",
                )
            )
        self.ops = []
        self._prompts.forget_all()


_TIMER_ENDINGS = {
    Ending.INITIAL_SILENCE: "initialSilence",
    Ending.MAX_SILENCE: "maxSilence",
    Ending.MAX_RECORD_DURATION: "maxDuration",
}
