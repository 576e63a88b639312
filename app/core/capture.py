"""How a capture ends: stop tone, max duration, silence timers, media timeout, in that order.

``capture_ending`` answers, for the running recordResponse and the frame ending at ``b``, either
the ending it reaches (sample and Ending, ``ENDING_PRIORITY`` breaking ties) or how far its
recording may be committed. Nothing is final while it could still change: a silence timer whose
deadline passed while a speech candidate that began before it is unconfirmed is *undecided*, and
one DTMF block is held back from the commit, as a tone starting just after ``b`` may still trim
it (docs/architecture.md §3 "app/core").
"""

from __future__ import annotations

from app.core.feed import DTMF_MASK_MARGIN_SAMPLES
from app.core.keys import KeyPress
from app.core.operations import ENDING_PRIORITY, Operation, RecordOperation
from app.core.vad.endpointer import Endpointer
from app.graph.results import Ending


def media_timeout_at(
    op: Operation, no_media: list[tuple[int, int]], timeout_samples: int, b: int
) -> int | None:
    """Sample at which a no-media gap during ``op`` reaches the media timeout, if by ``b``."""
    since = op.started_at or 0
    for start, end in no_media:
        lo = max(start, since)
        if end - lo >= timeout_samples:
            at = lo + timeout_samples
            if at <= b:
                return at
    return None


def capture_ending(
    op: RecordOperation,
    b: int,
    *,
    judged: int,
    presses: list[KeyPress],
    no_media: list[tuple[int, int]],
    endpointer: Endpointer,
    media_timeout_samples: int,
) -> tuple[int, Ending] | int:
    """The ending the capture reaches before ``b`` if already certain, else the sample its
    recording may be committed up to.

    Picking a stop tone sets ``op.trim_to``/``op.stop_press`` (and marks the press consumed
    when it wins); another ending clears them.
    """
    assert op.request is not None and op.capture_start is not None
    safe = b - DTMF_MASK_MARGIN_SAMPLES
    # Fast path (most frames): no timer due, no key, no media gap -> just commit.
    if not presses and not no_media and all(t.deadline > b for t in op.timers.values()):
        return safe
    candidates: list[tuple[int, int, Ending]] = []
    undecided: int | None = None
    stop_tones = op.request.stop_tones
    if stop_tones:
        # The earliest stop press heard before b, from the sources heard before b
        # (KeyPress.heard_before says why a later source does not count yet).
        stop: tuple[int, bool, KeyPress] | None = None
        for press in presses:
            if press.key not in stop_tones or press.consumed:
                continue
            heard = press.heard_before(b)
            if (
                heard is not None
                and heard[0] >= op.capture_start
                and (stop is None or heard[0] < stop[0])
            ):
                stop = (heard[0], heard[1], press)
        if stop is not None:
            start, in_band_audio, press = stop
            candidates.append((start, ENDING_PRIORITY[Ending.STOP_TONE], Ending.STOP_TONE))
            # The tone is trimmed from the recording (docs/graph-contract.md §6.4 [I]); in-band
            # starts are known to one detector block, so cut one block earlier.
            margin = DTMF_MASK_MARGIN_SAMPLES if in_band_audio else 0
            op.trim_to = max(op.capture_start, start - margin)
            op.stop_press = press
    duration = op.timers.get("maxDuration")
    if duration is not None and duration.deadline <= b:
        p = ENDING_PRIORITY[Ending.MAX_RECORD_DURATION]
        candidates.append((duration.deadline, p, Ending.MAX_RECORD_DURATION))
    for name, ending in (
        ("initialSilence", Ending.INITIAL_SILENCE),
        ("maxSilence", Ending.MAX_SILENCE),
    ):
        timer = op.timers.get(name)
        if timer is None or timer.deadline > b or timer.deadline > judged:
            continue
        cand = endpointer.candidate_start
        if not endpointer.in_speech and cand is not None and cand < timer.deadline:
            undecided = timer.deadline if undecided is None else min(undecided, timer.deadline)
        else:
            candidates.append((timer.deadline, ENDING_PRIORITY[ending], ending))
    media_end = media_timeout_at(op, no_media, media_timeout_samples, b)
    if media_end is not None:
        p = ENDING_PRIORITY[Ending.MEDIA_RECEIVE_TIMEOUT]
        candidates.append((media_end, p, Ending.MEDIA_RECEIVE_TIMEOUT))
    # Hold back one DTMF block (``safe``): a tone starting just after b may still trim it.
    if not candidates:
        return min(safe, undecided) if undecided is not None else safe
    at, _, ending = min(candidates)
    if undecided is not None and undecided <= at:
        return min(safe, undecided)
    if ending is Ending.STOP_TONE:
        assert op.stop_press is not None
        op.stop_press.consumed = True
    else:
        op.trim_to = op.stop_press = None
    return at, ending
