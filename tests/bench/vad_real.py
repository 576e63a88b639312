"""VAD evaluation on real human speech: speech onsets and ends against labels from the clean signal.

Run: ``uv run python -m tests.bench.vad_real`` (a markdown table), ``--relabel`` to rewrite
``tests/data/speech/real/labels.json`` from the clean recordings.

Material: the real recordings of tests/data/speech/real (silero-vad's test file and its 8 kHz
telephone-band example, MIT; SpeechRecognition's English example, BSD-3; see the README
there), at 16 kHz, each padded with 1 s of silence before and 1.5 s after, clean and with white
noise at 20 dB SNR (active speech level over noise RMS, as in tests/bench/vad_eval.py).

Labels (``label_spans``, kept in labels.json so that a change to the procedure shows in review):
from the clean signal, 10 ms hops of a 20 ms window; a hop is speech when its broadband level
is above both the recording's 5th-percentile level + LABEL_MARGIN_DB (10 dB) and its peak level −
LABEL_RANGE_DB. Broadband on purpose: unvoiced consonants ("s", "t", "f") carry their energy
above 2 kHz, where the energy VAD's 200-2000 Hz band does not look. Runs shorter than
LABEL_MIN_SPAN_S are dropped (clicks), and labelled spans closer than MERGE_GAP_S (0.6 s, the
same as the scoring's merge of detected segments) form one utterance: an end is the end of
speech before a pause of at least 0.6 s, which is what the max-silence timer measures from.

Scores per classifier and condition: utterances missed, false onsets, onset error (first
detected start − labelled start) and end error (last detected end − labelled end; negative =
early), the share of ends within ±END_TOLERANCE_MS of the label and of onsets within one frame
(20 ms) of it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from app.core.clock import ENGINE_RATE_HZ, FRAME_SAMPLES
from app.core.vad.base import FrameClassifier
from tests.bench.vad_eval import (
    MERGE_GAP_S,
    Condition,
    Scores,
    Signal,
    Span,
    classify_stream,
    evaluated_classifiers,
    merge,
    mix,
    score,
    seconds,
)

REAL_DIR = Path(__file__).resolve().parents[1] / "data" / "speech" / "real"
LABELS = REAL_DIR / "labels.json"
RECORDINGS = ("silero-test-16k.wav", "silero-aepyx-8k.wav", "sr-english-44k.wav")
LEAD_S = 1.0
TAIL_S = 1.5
LABEL_HOP_S = 0.010
LABEL_WINDOW_S = 0.020
LABEL_MARGIN_DB = 10.0
LABEL_RANGE_DB = 50.0
LABEL_MIN_SPAN_S = 0.05
END_TOLERANCE_MS = 60.0
CONDITIONS: tuple[Condition, ...] = (
    Condition("clean", "none", None),
    Condition("white 20 dB", "white", 20.0),
)


def load_recording(name: str) -> Signal:
    """A recording at 16 kHz mono float32, padded with LEAD_S and TAIL_S of silence."""
    x, rate_hz = sf.read(str(REAL_DIR / name), dtype="float32", always_2d=True)
    mono = x.mean(axis=1, dtype=np.float32)
    if rate_hz != ENGINE_RATE_HZ:
        mono = soxr.resample(mono, rate_hz, ENGINE_RATE_HZ, quality="HQ").astype(np.float32)
    lead = np.zeros(seconds(LEAD_S), dtype=np.float32)
    tail = np.zeros(seconds(TAIL_S), dtype=np.float32)
    return np.concatenate([lead, mono, tail])


def label_spans(clean: Signal) -> list[Span]:
    """Speech spans of a clean recording (see the module docstring for the rule)."""
    hop = seconds(LABEL_HOP_S)
    window = seconds(LABEL_WINDOW_S)
    starts = np.arange(0, len(clean) - window + 1, hop)
    power = np.array([np.mean(np.square(clean[s : s + window], dtype=np.float64)) for s in starts])
    level = 10 * np.log10(np.maximum(power, 1e-12))
    audible = level[level > -100]
    threshold = max(
        float(np.percentile(audible, 5)) + LABEL_MARGIN_DB, float(level.max()) - LABEL_RANGE_DB
    )
    spans: list[Span] = []
    for index in np.flatnonzero(level > threshold).tolist():
        begin, end = starts[index], starts[index] + window
        if spans and begin <= spans[-1][1]:
            spans[-1] = (spans[-1][0], int(end))
        else:
            spans.append((int(begin), int(end)))
    return [(a, b) for a, b in spans if b - a >= seconds(LABEL_MIN_SPAN_S)]


def relabel() -> None:
    doc = {
        "about": "speech spans in samples at 16 kHz of each recording as padded by "
        "tests/bench/vad_real.py (1 s of silence before); made by label_spans from the clean "
        "signal, see its docstring",
        "recordings": {name: label_spans(load_recording(name)) for name in RECORDINGS},
    }
    LABELS.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


def load_labels() -> dict[str, list[Span]]:
    doc = json.loads(LABELS.read_text(encoding="utf-8"))
    return {name: [(int(a), int(b)) for a, b in spans] for name, spans in doc["recordings"].items()}


def evaluate(
    classifiers: dict[str, Callable[[], FrameClassifier]] | None = None,
    conditions: Sequence[Condition] = CONDITIONS,
    seed: int = 0,
) -> dict[tuple[str, str], Scores]:
    """Every classifier over every recording and condition."""
    factories = classifiers if classifiers is not None else evaluated_classifiers()
    labels = load_labels()
    result: dict[tuple[str, str], Scores] = {}
    for name in RECORDINGS:
        speech = load_recording(name)
        spans = labels[name]
        utterances = merge(spans, seconds(MERGE_GAP_S))
        for condition in conditions:
            signal = mix(speech, spans, condition, seed)
            for vad, factory in factories.items():
                decisions, _ = classify_stream(factory(), signal)
                scores = result.setdefault((vad, condition.name), Scores())
                score(scores, decisions, len(signal), utterances, spans)
    return result


def summary(scores: Scores) -> dict[str, float]:
    """The figures of one classifier in one condition."""
    ends = np.asarray(scores.offset_errors_ms)
    onsets = np.asarray(scores.onset_errors_ms)
    frame_ms = 1e3 * FRAME_SAMPLES / ENGINE_RATE_HZ
    found = max(len(ends), 1)
    return {
        "utterances": scores.utterances,
        "missed": scores.missed,
        "false_onsets": scores.false_onsets,
        "onset_median_ms": float(np.median(onsets)) if len(onsets) else float("nan"),
        "end_median_ms": float(np.median(ends)) if len(ends) else float("nan"),
        "end_p5_ms": float(np.percentile(ends, 5)) if len(ends) else float("nan"),
        "ends_within_tolerance": float(np.sum(np.abs(ends) <= END_TOLERANCE_MS)) / found,
        "onsets_within_frame": float(np.sum(np.abs(onsets) <= frame_ms)) / found,
    }


def markdown(result: dict[tuple[str, str], Scores]) -> str:
    lines = [
        "| VAD | condition | utterances | missed | false onsets | onset median | "
        f"end median | end p5 | ends within ±{END_TOLERANCE_MS:.0f} ms | onsets within 20 ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (vad, condition), scores in result.items():
        s = summary(scores)
        lines.append(
            f"| {vad} | {condition} | {s['utterances']:.0f} | {s['missed']:.0f} "
            f"| {s['false_onsets']:.0f} | {s['onset_median_ms']:+.0f} ms "
            f"| {s['end_median_ms']:+.0f} ms | {s['end_p5_ms']:+.0f} ms "
            f"| {100 * s['ends_within_tolerance']:.0f} % | {100 * s['onsets_within_frame']:.0f} % |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--relabel", action="store_true", help="rewrite labels.json")
    args = parser.parse_args(argv)
    if args.relabel:
        relabel()
    print(markdown(evaluate()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
