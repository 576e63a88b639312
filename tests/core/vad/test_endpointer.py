"""Endpointer semantics on synthetic frame decisions (no audio)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.vad.endpointer import Endpointer, SpeechEdge

F = 320  # frame_samples


def run(pattern: str | Iterable[bool], endpointer: Endpointer | None = None, first: int = 0):
    """Push a pattern ('1' speech, '0' not) from frame index first; return all edges."""
    ep = endpointer if endpointer is not None else Endpointer()
    flags = [c == "1" for c in pattern] if isinstance(pattern, str) else list(pattern)
    edges: list[SpeechEdge] = []
    for offset, flag in enumerate(flags):
        edges.extend(ep.push((first + offset) * F, flag))
    return edges


def test_onset_is_back_dated_to_first_speech_frame() -> None:
    edges = run("0" * 7 + "1" * 10)
    # Ten consecutive speech frames from frame 7: confirmed by frame 16, dated at frame 7.
    assert edges == [SpeechEdge("start", 7 * F, 17 * F)]


def test_ten_speech_frames_within_fifteen_confirm_with_gaps() -> None:
    # 10 speech frames spread over exactly 15 frames (the 200 ms in 300 ms rule): the 10th
    # speech frame is the 15th frame of the window.
    pattern = "1" + "0" * 5 + "1" * 9
    assert len(pattern) == 15 and pattern.count("1") == 10
    edges = run("000" + pattern)
    assert edges == [SpeechEdge("start", 3 * F, 18 * F)]


def test_nine_of_fifteen_does_not_confirm() -> None:
    # Period "10" repeated: never 10 speech frames in any 15-frame window.
    ep = Endpointer()
    edges = run("10" * 40, ep)
    assert edges == []
    assert not ep.in_speech


def test_candidate_slides_to_next_speech_frame() -> None:
    ep = Endpointer()
    # Frame 0 speech, then 6 silent, then 10 speech from frame 7: the window from frame 0
    # (frames 0-14) holds only 1 + 8 speech frames, so the candidate slides to frame 7, whose
    # window is confirmed by its 10th speech frame, frame 16.
    edges = run("1" + "0" * 6 + "1" * 10, ep)
    assert edges == [SpeechEdge("start", 7 * F, 17 * F)]


def test_candidate_start_property_follows_the_window() -> None:
    ep = Endpointer()
    run("0001", ep)
    assert ep.candidate_start == 3 * F
    run("0" * 13, ep, first=4)
    assert ep.candidate_start == 3 * F  # 14 frames of its 15-frame window so far
    run("0", ep, first=17)  # window spent with one speech frame: dropped
    assert ep.candidate_start is None
    run("1", ep, first=18)
    assert ep.candidate_start == 18 * F
    assert ep.pause_start is None


def test_short_dips_are_ignored_and_a_pause_ends_speech() -> None:
    ep = Endpointer()
    edges = run("1" * 10 + "0000" + "1" * 3 + "00000" + "1", ep)
    # The 4-frame dip (80 ms) is not a pause; the 5-frame run from frame 17 is.
    assert edges == [SpeechEdge("start", 0, 10 * F), SpeechEdge("end", 17 * F, 22 * F)]
    # The trailing speech frame is a new candidate that still needs confirming.
    assert not ep.in_speech
    assert ep.candidate_start == 22 * F


def test_pause_start_property_while_in_speech() -> None:
    ep = Endpointer()
    run("1" * 10, ep)
    assert ep.in_speech and ep.pause_start is None and ep.candidate_start is None
    run("000", ep, first=10)
    assert ep.pause_start == 10 * F
    run("1", ep, first=13)
    assert ep.pause_start is None
    edges = run("00000", ep, first=14)
    assert edges == [SpeechEdge("end", 14 * F, 19 * F)]
    assert ep.pause_start is None


def test_new_onset_after_end_needs_confirmation_again() -> None:
    edges = run("1" * 10 + "0" * 5 + "1" * 9 + "0" * 10 + "1" * 10)
    assert edges == [
        SpeechEdge("start", 0, 10 * F),
        SpeechEdge("end", 10 * F, 15 * F),
        SpeechEdge("start", 34 * F, 44 * F),
    ]


def test_reset_forgets_state_and_frame_position() -> None:
    ep = Endpointer()
    run("1" * 12 + "00", ep)
    assert ep.in_speech
    ep.reset()
    assert not ep.in_speech and ep.candidate_start is None and ep.pause_start is None
    # After a reset any start sample is accepted again.
    edges = run("1" * 10, ep, first=1000)
    assert edges == [SpeechEdge("start", 1000 * F, 1010 * F)]


def test_frames_must_be_consecutive() -> None:
    ep = Endpointer()
    ep.push(0, False)
    with pytest.raises(ValueError, match="consecutive"):
        ep.push(2 * F, False)


def test_custom_parameters() -> None:
    ep = Endpointer(onset_window_frames=4, onset_speech_frames=2, min_pause_frames=2)
    edges = run("0101" + "1" + "00", ep)
    assert edges == [SpeechEdge("start", 1 * F, 4 * F), SpeechEdge("end", 5 * F, 7 * F)]


def test_single_frame_onset_confirms_immediately() -> None:
    ep = Endpointer(onset_window_frames=1, onset_speech_frames=1, min_pause_frames=1)
    assert run("0110", ep) == [
        SpeechEdge("start", 1 * F, 2 * F),
        SpeechEdge("end", 3 * F, 4 * F),
    ]


def test_invalid_parameters_are_rejected() -> None:
    with pytest.raises(ValueError):
        Endpointer(onset_window_frames=5, onset_speech_frames=6)
    with pytest.raises(ValueError):
        Endpointer(min_pause_frames=0)


def test_decided_at_is_never_before_sample_index() -> None:
    # Pseudo-random pattern with fixed seed; every edge is decided after the time it names.
    import random

    rng = random.Random(1234)
    pattern = [rng.random() < 0.6 for _ in range(2000)]
    edges = run(pattern)
    assert edges, "pattern should produce some edges"
    kinds = [e.kind for e in edges]
    assert kinds[::2] == ["start"] * len(kinds[::2])
    assert kinds[1::2] == ["end"] * len(kinds[1::2])
    for edge in edges:
        assert edge.decided_at > edge.sample_index
        assert edge.sample_index % F == 0 and edge.decided_at % F == 0


def reference_edges(
    flags: list[bool], window: int, needed: int, pause: int
) -> list[tuple[Literal["start", "end"], int, int]]:
    """Brute-force restatement of the rules, frame indices: (kind, first frame, deciding frame)."""
    edges: list[tuple[Literal["start", "end"], int, int]] = []
    position = 0
    n = len(flags)
    while position < n:
        # Onset: try each speech frame as the candidate; confirmed at the frame where the
        # count of speech frames from the candidate reaches `needed` inside the window.
        confirmed: tuple[int, int] | None = None
        for candidate in range(position, n):
            if not flags[candidate]:
                continue
            count = 0
            for j in range(candidate, min(candidate + window, n)):
                count += flags[j]
                if count >= needed:
                    confirmed = (candidate, j)
                    break
            if confirmed:
                break
        if confirmed is None:
            return edges
        edges.append(("start", confirmed[0], confirmed[1]))
        # Offset: the first run of `pause` non-speech frames after the confirming frame.
        run_start, run = None, 0
        ended = False
        for j in range(confirmed[1] + 1, n):
            if flags[j]:
                run_start, run = None, 0
                continue
            run_start = j if run_start is None else run_start
            run += 1
            if run >= pause:
                edges.append(("end", run_start, j))
                position = j + 1
                ended = True
                break
        if not ended:
            return edges
    return edges


@given(
    flags=st.lists(st.booleans(), max_size=300),
    window=st.integers(1, 20),
    needed_fraction=st.floats(0.0, 1.0),
    pause=st.integers(1, 8),
)
@settings(max_examples=300, deadline=None, derandomize=True)
def test_matches_brute_force_reference(
    flags: list[bool], window: int, needed_fraction: float, pause: int
) -> None:
    needed = max(1, round(needed_fraction * window))
    ep = Endpointer(onset_window_frames=window, onset_speech_frames=needed, min_pause_frames=pause)
    edges = run(flags, ep)
    expected = [
        SpeechEdge(kind, first * F, (decided + 1) * F)
        for kind, first, decided in reference_edges(flags, window, needed, pause)
    ]
    assert edges == expected
