"""A classifier that replays labelled speech spans, for GUI and integration tests.

It ignores the audio: a frame is speech iff it overlaps a labelled [start_sample, end_sample)
span by at least half a frame (docs/dsp.md §3.4, "scripted"). Tests can thus drive the
endpointer and the recordResponse timers with exact, known speech times.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from app.core.clock import FRAME_SAMPLES


class ScriptedClassifier:
    """Speech iff the frame overlaps a labelled span by at least half a frame."""

    name: str = "scripted"

    def __init__(self, spans: Sequence[tuple[int, int]], *, frame_samples: int = FRAME_SAMPLES):
        cleaned = sorted((int(start), int(end)) for start, end in spans)
        for start, end in cleaned:
            if end < start:
                raise ValueError(f"span end before start: ({start}, {end})")
        # Merge overlapping or touching spans so a frame's overlap is one sum over disjoint spans.
        merged: list[tuple[int, int]] = []
        for start, end in cleaned:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            elif end > start:
                merged.append((start, end))
        self.spans: tuple[tuple[int, int], ...] = tuple(merged)
        self.frame_samples = int(frame_samples)
        self._ends = [end for _, end in merged]

    def reset(self) -> None:
        """Nothing adapts; present for the FrameClassifier contract."""

    def classify(self, frame: npt.NDArray[np.float32], start_sample: int) -> bool:
        """True if [start_sample, start_sample + frame length) overlaps spans by >= half a frame."""
        return self.overlap_samples(start_sample, start_sample + len(frame)) * 2 >= len(frame)

    def overlap_samples(self, start_sample: int, end_sample: int) -> int:
        """Number of samples of [start_sample, end_sample) covered by the spans."""
        covered = 0
        # First span that ends after start_sample; spans are disjoint and sorted.
        index = bisect.bisect_right(self._ends, start_sample)
        while index < len(self.spans) and self.spans[index][0] < end_sample:
            span_start, span_end = self.spans[index]
            covered += min(end_sample, span_end) - max(start_sample, span_start)
            index += 1
        return covered
