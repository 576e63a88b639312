"""Endpointer: turns per-frame speech decisions into back-dated speech start/end edges.

Shared post-processing, independent of the classifier (docs/dsp.md §3.4):
- onset: a candidate starts at the first speech frame after non-speech and is confirmed once
  onset_speech_frames speech frames fall within onset_window_frames frames counted from it
  (default 10 of 15 = 200 ms of speech within 300 ms, between FreeSWITCH's 10 × 20 ms
  `listen_hits` and Silero's 250 ms minimum speech). The start edge is back-dated to the
  candidate's first frame. An unconfirmed candidate slides to the next speech frame of its window.
- offset: while in speech, min_pause_frames consecutive non-speech frames (default 5 = 100 ms;
  shorter dips are ignored) end the speech; the end edge is the start of that non-speech run.
Frames must be pushed consecutively; the caller masks prompt/beep/DTMF frames by pushing False.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

from app.core.clock import FRAME_SAMPLES

# 15 frames = 300 ms window, 10 frames = 200 ms of speech inside it (docs/dsp.md §3.4).
ONSET_WINDOW_FRAMES = 15
ONSET_SPEECH_FRAMES = 10
# 5 frames = 100 ms: shorter non-speech dips inside speech are ignored (docs/dsp.md §3.4).
MIN_PAUSE_FRAMES = 5


@dataclass(frozen=True, slots=True)
class SpeechEdge:
    """A speech start or end at sample_index, decided when the stream reached decided_at."""

    kind: Literal["start", "end"]
    sample_index: int
    decided_at: int


class Endpointer:
    """Onset confirmation (N of M frames, back-dated) and pause detection over frame decisions."""

    def __init__(
        self,
        *,
        onset_window_frames: int = ONSET_WINDOW_FRAMES,
        onset_speech_frames: int = ONSET_SPEECH_FRAMES,
        min_pause_frames: int = MIN_PAUSE_FRAMES,
        frame_samples: int = FRAME_SAMPLES,
    ) -> None:
        if not 1 <= onset_speech_frames <= onset_window_frames:
            raise ValueError("need 1 <= onset_speech_frames <= onset_window_frames")
        if min_pause_frames < 1 or frame_samples < 1:
            raise ValueError("min_pause_frames and frame_samples must be >= 1")
        self.onset_window_frames = onset_window_frames
        self.onset_speech_frames = onset_speech_frames
        self.min_pause_frames = min_pause_frames
        self.frame_samples = frame_samples
        # Onset window: (frame_start, is_speech) of the frames since the candidate, oldest first;
        # empty when there is no candidate. Its first entry is always a speech frame.
        self._window: deque[tuple[int, bool]] = deque()
        self._window_speech = 0
        self._in_speech = False
        self._pause_start: int | None = None
        self._pause_frames = 0
        self._next_start: int | None = None

    @property
    def in_speech(self) -> bool:
        """True between a confirmed start and the following end."""
        return self._in_speech

    @property
    def candidate_start(self) -> int | None:
        """Start sample of a not-yet-confirmed speech run (only while not in speech)."""
        return self._window[0][0] if self._window else None

    @property
    def pause_start(self) -> int | None:
        """While in speech: start of the current non-speech run not yet long enough to end it."""
        return self._pause_start

    def reset(self) -> None:
        """Forget everything, as if newly built; the next push may start at any sample."""
        self._window.clear()
        self._window_speech = 0
        self._in_speech = False
        self._pause_start = None
        self._pause_frames = 0
        self._next_start = None

    def push(self, frame_start_sample: int, is_speech: bool) -> list[SpeechEdge]:
        """Feed the decision for the frame starting at frame_start_sample; return new edges."""
        if self._next_start is not None and frame_start_sample != self._next_start:
            raise ValueError(
                f"frames must be consecutive: expected start {self._next_start}, "
                f"got {frame_start_sample}"
            )
        frame_end = frame_start_sample + self.frame_samples
        self._next_start = frame_end
        if self._in_speech:
            return self._push_in_speech(frame_start_sample, frame_end, is_speech)
        return self._push_onset(frame_start_sample, frame_end, is_speech)

    def _push_in_speech(
        self, frame_start: int, frame_end: int, is_speech: bool
    ) -> list[SpeechEdge]:
        """Track the current non-speech run; end the speech once it is a pause."""
        if is_speech:
            self._pause_start = None
            self._pause_frames = 0
            return []
        if self._pause_start is None:
            self._pause_start = frame_start
        self._pause_frames += 1
        if self._pause_frames < self.min_pause_frames:
            return []
        edge = SpeechEdge("end", self._pause_start, frame_end)
        self._in_speech = False
        self._pause_start = None
        self._pause_frames = 0
        return [edge]

    def _push_onset(self, frame_start: int, frame_end: int, is_speech: bool) -> list[SpeechEdge]:
        """Grow, confirm or slide the onset candidate."""
        if not self._window:
            if is_speech:
                self._window.append((frame_start, True))
                self._window_speech = 1
                if self._window_speech >= self.onset_speech_frames:
                    return [self._confirm(frame_end)]
            return []
        self._window.append((frame_start, is_speech))
        self._window_speech += is_speech
        if self._window_speech >= self.onset_speech_frames:
            return [self._confirm(frame_end)]
        if len(self._window) >= self.onset_window_frames:
            # Window spent unconfirmed: drop the candidate frame, then any non-speech frames,
            # so the next speech frame of the window (if any) becomes the candidate.
            self._window.popleft()
            self._window_speech -= 1
            while self._window and not self._window[0][1]:
                self._window.popleft()
        return []

    def _confirm(self, frame_end: int) -> SpeechEdge:
        """Enter speech; the start edge is back-dated to the candidate's first frame."""
        edge = SpeechEdge("start", self._window[0][0], frame_end)
        self._window.clear()
        self._window_speech = 0
        self._in_speech = True
        self._pause_start = None
        self._pause_frames = 0
        return edge
