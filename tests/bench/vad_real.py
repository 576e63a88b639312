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

What is scored ("word" here): a labelled utterance, i.e. labelled speech followed by at least
MERGE_GAP_S of silence; its end is where a max-silence timer should start. Lexical words inside
an utterance are not labelled (the labels are energy runs, split at any 10 ms dip) and are not
scored: the endpointer bridges pauses under 100 ms and no timer of Graph's (≥ 1 s) ends on a
pause under 0.6 s.

Per-edge matching (``score_edges``): each labelled utterance end is matched to the NEAREST
endpointer end (the raw speech segments, before any merging: each is a point a max-silence timer
runs from), each labelled start to the nearest endpointer start. A labelled edge with no detected
edge within ±MATCH_WINDOW_MS is a missed end/onset (counted apart, not as an error); a detected
end after a pause of ≥ MERGE_GAP_S that no labelled end lies within ±MATCH_WINDOW_MS of is an
extra end (speech lost inside an utterance). "Ends within ±END_TOLERANCE_MS" is over ALL
labelled ends, missed ones counting as outside. (Matching by utterance instead, first and last
overlapping segment, charged a VAD that bridged a 0.73 s pause with the whole next utterance:
errors of −4.8 s.)

The old utterance-level figures stay (``Scores``): utterances missed, false onsets.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf
import soxr

from app.core.clock import ENGINE_RATE_HZ, FRAME_SAMPLES
from app.core.vad.base import FrameClassifier, make_classifier
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
    segments,
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
# A detected edge farther than this from a labelled one is not its match (missed / extra).
MATCH_WINDOW_MS = 300.0
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


@dataclass(slots=True)
class EdgeScores:
    """Per-edge results (see the module docstring): errors of matched edges, misses, extras."""

    utterances: Scores = field(default_factory=Scores)
    end_errors_ms: list[float] = field(default_factory=list)
    onset_errors_ms: list[float] = field(default_factory=list)
    # (recording, labelled end in ms, error in ms or None if missed), in order.
    ends: list[tuple[str, float, float | None]] = field(default_factory=list)
    labelled_ends: int = 0
    missed_ends: int = 0
    missed_onsets: int = 0
    extra_ends: int = 0


def _nearest_ms(targets: Sequence[int], edge: int) -> float | None:
    """Signed distance in ms from edge to the nearest target within MATCH_WINDOW_MS, or None."""
    if not targets:
        return None
    nearest = min(targets, key=lambda t: abs(t - edge))
    error_ms = 1e3 * (nearest - edge) / ENGINE_RATE_HZ
    return error_ms if abs(error_ms) <= MATCH_WINDOW_MS else None


def score_edges(
    scores: EdgeScores,
    recording: str,
    decisions: npt.NDArray[np.bool_],
    n_samples: int,
    utterances: Sequence[Span],
) -> None:
    """Add one stream's per-edge results (module docstring) to scores."""
    raw = segments(decisions, n_samples)
    starts = [start for start, _ in raw]
    ends = [end for _, end in raw]
    for utt_start, utt_end in utterances:
        scores.labelled_ends += 1
        end_error = _nearest_ms(ends, utt_end)
        scores.ends.append((recording, 1e3 * utt_end / ENGINE_RATE_HZ, end_error))
        if end_error is None:
            scores.missed_ends += 1
        else:
            scores.end_errors_ms.append(end_error)
        onset_error = _nearest_ms(starts, utt_start)
        if onset_error is None:
            scores.missed_onsets += 1
        else:
            scores.onset_errors_ms.append(onset_error)
    labelled_ends = [end for _, end in utterances]
    for _, end in merge(raw, seconds(MERGE_GAP_S)):
        if end < n_samples and _nearest_ms(labelled_ends, end) is None:
            scores.extra_ends += 1


def evaluate(
    classifiers: dict[str, Callable[[], FrameClassifier]] | None = None,
    conditions: Sequence[Condition] = CONDITIONS,
    seed: int = 0,
) -> dict[tuple[str, str], EdgeScores]:
    """Every classifier over every recording and condition."""
    factories = classifiers if classifiers is not None else compared_classifiers()
    labels = load_labels()
    result: dict[tuple[str, str], EdgeScores] = {}
    for name in RECORDINGS:
        speech = load_recording(name)
        spans = labels[name]
        utterances = merge(spans, seconds(MERGE_GAP_S))
        for condition in conditions:
            signal = mix(speech, spans, condition, seed)
            for vad, factory in factories.items():
                decisions, _ = classify_stream(factory(), signal)
                scores = result.setdefault((vad, condition.name), EdgeScores())
                score(scores.utterances, decisions, len(signal), utterances, spans)
                score_edges(scores, name, decisions, len(signal), utterances)
    return result


def compared_classifiers() -> dict[str, Callable[[], FrameClassifier]]:
    """Every installed classifier, plus the energy classifier without its end extension."""
    factories: dict[str, Callable[[], FrameClassifier]] = {
        "energy, band only": lambda: make_classifier("energy", extend_max_s=0.0),
    }
    factories.update(evaluated_classifiers())
    return factories


def summary(scores: EdgeScores) -> dict[str, float]:
    """The figures of one classifier in one condition."""
    ends = np.asarray(scores.end_errors_ms)
    onsets = np.asarray(scores.onset_errors_ms)
    frame_ms = 1e3 * FRAME_SAMPLES / ENGINE_RATE_HZ
    labelled = max(scores.labelled_ends, 1)
    return {
        "utterances": scores.utterances.utterances,
        "missed": scores.utterances.missed,
        "false_onsets": scores.utterances.false_onsets,
        "missed_ends": scores.missed_ends,
        "extra_ends": scores.extra_ends,
        "onset_median_ms": float(np.median(onsets)) if len(onsets) else float("nan"),
        "end_median_ms": float(np.median(ends)) if len(ends) else float("nan"),
        "end_p5_ms": float(np.percentile(ends, 5)) if len(ends) else float("nan"),
        "ends_within_tolerance": float(np.sum(np.abs(ends) <= END_TOLERANCE_MS)) / labelled,
        "onsets_within_frame": float(np.sum(np.abs(onsets) <= frame_ms)) / labelled,
    }


def markdown(result: dict[tuple[str, str], EdgeScores]) -> str:
    lines = [
        "| VAD | condition | utterances | missed | false onsets | missed ends | extra ends "
        f"| onset median | end median | end p5 | ends within ±{END_TOLERANCE_MS:.0f} ms "
        "| onsets within 20 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (vad, condition), scores in result.items():
        s = summary(scores)
        lines.append(
            f"| {vad} | {condition} | {s['utterances']:.0f} | {s['missed']:.0f} "
            f"| {s['false_onsets']:.0f} | {s['missed_ends']:.0f} | {s['extra_ends']:.0f} "
            f"| {s['onset_median_ms']:+.0f} ms "
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
