"""ScriptedClassifier: speech iff a frame overlaps labelled spans by at least half a frame."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.vad.endpointer import Endpointer, SpeechEdge
from app.core.vad.scripted import ScriptedClassifier

F = 320
FRAME = np.zeros(F, dtype=np.float32)


def flags(classifier: ScriptedClassifier, n_frames: int) -> list[bool]:
    return [classifier.classify(FRAME, i * F) for i in range(n_frames)]


def test_half_frame_rule() -> None:
    assert flags(ScriptedClassifier([(0, 160)]), 2) == [True, False]  # exactly half
    assert flags(ScriptedClassifier([(0, 159)]), 2) == [False, False]
    assert flags(ScriptedClassifier([(160, 480)]), 3) == [True, True, False]
    assert flags(ScriptedClassifier([(200, 440)]), 3) == [False, False, False]  # 120 + 120


def test_overlap_sums_over_several_spans() -> None:
    scripted = ScriptedClassifier([(0, 100), (150, 250)])
    assert scripted.overlap_samples(0, F) == 200
    assert flags(scripted, 1) == [True]


def test_spans_are_sorted_and_merged() -> None:
    scripted = ScriptedClassifier([(640, 700), (100, 200), (0, 150), (200, 260)])
    assert scripted.spans == ((0, 260), (640, 700))
    assert scripted.overlap_samples(0, 1000) == 320
    assert scripted.overlap_samples(650, 660) == 10
    assert scripted.overlap_samples(300, 640) == 0


def test_empty_spans_and_bad_spans() -> None:
    assert flags(ScriptedClassifier([]), 3) == [False] * 3
    assert ScriptedClassifier([(50, 50)]).spans == ()
    with pytest.raises(ValueError):
        ScriptedClassifier([(10, 5)])


def test_ignores_audio_and_reset_is_harmless() -> None:
    scripted = ScriptedClassifier([(0, F)])
    loud = np.ones(F, dtype=np.float32)
    assert scripted.classify(loud, F) is False
    scripted.reset()
    assert scripted.classify(FRAME, 0) is True


def test_drives_the_endpointer_to_exact_edges() -> None:
    # 1.0 s of speech from 0.5 s, a 0.5 s pause, then 0.4 s more (at 16 kHz).
    scripted = ScriptedClassifier([(8_000, 24_000), (32_000, 38_400)])
    endpointer = Endpointer()
    edges: list[SpeechEdge] = []
    for i in range(150):
        edges.extend(endpointer.push(i * F, scripted.classify(FRAME, i * F)))
    assert edges == [
        SpeechEdge("start", 8_000, 8_000 + 10 * F),
        SpeechEdge("end", 24_000, 24_000 + 5 * F),
        SpeechEdge("start", 32_000, 32_000 + 10 * F),
        SpeechEdge("end", 38_400, 38_400 + 5 * F),
    ]
