"""VAD evaluation: every classifier + the endpointer on labelled speech in noise, and on tones.

Run: `uv run python -m tests.bench.vad_eval [--seeds N]`. Prints markdown tables.

Material: the espeak-ng fixtures of tests/data/speech (labels.json gives their speech spans),
concatenated in a seeded random order with silences of 0.6-2.5 s (plus each clip's own 0.3 s
padding), then mixed with noise at a given SNR (active speech level over noise RMS):
white noise, and "pink-mod": pink noise with a random 2-5 Hz amplitude modulation of about
±6 dB, a stand-in for babble's non-stationarity without its speech-like spectrum.

Scoring, per utterance (one fixture clip: first labelled sample to last):
- detected segments are the endpointer's start/end pairs; those separated by less than
  MERGE_GAP_S are merged first, because the engine's max-silence timer is at least 1 s (Graph's
  minimum) and never ends a recording on such a short pause;
- a segment belongs to an utterance if it overlaps [start, end + MATCH_TAIL_S); onset error =
  first such segment's start − labelled start, offset error = last such segment's end −
  labelled end (positive = late);
- missed = utterance without a segment; false onset = segment that belongs to no utterance;
- frame recall / false alarm: per-frame classifier output against the labels (a frame is speech
  when it overlaps a labelled span by at least half a frame, as ScriptedClassifier decides).
False triggers: endpointer starts on noise only, on a noise step (silence, then noise), on DTMF
digits (−9/−7 dBm0, 100 ms on/off, and 400 ms "held" keys) and on a 1 kHz beep.
"""

from __future__ import annotations

import argparse
import json
import time
import wave
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.core.clock import ENGINE_RATE_HZ, FRAME_SAMPLES
from app.core.vad.base import (
    CLASSIFIER_NAMES,
    FrameClassifier,
    frames_classifier,
    make_classifier,
)
from app.core.vad.endpointer import Endpointer
from app.core.vad.scripted import ScriptedClassifier

Signal = npt.NDArray[np.float32]
Span = tuple[int, int]

SPEECH_DIR = Path(__file__).resolve().parents[1] / "data" / "speech"

# Silence between clips (each clip adds its own 0.3 s of padding on both sides), so utterances
# are at least 1.2 s apart: longer than MERGE_GAP_S, as a new answer after a pause should be.
GAP_MIN_S = 0.6
GAP_MAX_S = 2.5
LEAD_S = 1.0
TAIL_S = 1.5
# Pauses shorter than this inside detected speech are merged before scoring (see module doc).
MERGE_GAP_S = 0.6
# A segment still belongs to an utterance if it starts within this time after the labelled end.
MATCH_TAIL_S = 0.3
# Fixtures are normalised to −20 dBFS active level (make_speech_fixtures.py); "quiet" plays them
# 15 dB lower, a soft-spoken caller on a low-gain microphone.
QUIET_GAIN_DB = -15.0
# 0 dBm0 as a digital sine: full scale = +3.14 dBm0 (A-law; docs/dsp.md §0).
DBM0_FULL_SCALE_SINE = 3.14
# DTMF generation levels: low −9 dBm0, high −7 dBm0 (docs/dsp.md §0, our generator default).
DTMF_LOW_DBM0 = -9.0
DTMF_HIGH_DBM0 = -7.0
DTMF_ROWS_HZ = (697.0, 770.0, 852.0, 941.0)
DTMF_COLS_HZ = (1209.0, 1336.0, 1477.0, 1633.0)
DTMF_KEYS = ("123A", "456B", "789C", "*0#D")
BEEP_FREQ_HZ = 1000.0
BEEP_LEVEL_DBFS = -12.0
BEEP_S = 0.5
# Background under the tone tests and before the noise step: a quiet line, not digital silence.
QUIET_LINE_DBFS = -65.0


@dataclass(frozen=True, slots=True)
class Clip:
    """A fixture clip with its labelled speech spans (samples)."""

    name: str
    samples: Signal
    spans: tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class Condition:
    """One test condition: noise kind ('none', 'white', 'pinkmod'), SNR and speech gain."""

    name: str
    noise: str
    snr_db: float | None
    gain_db: float = 0.0


CONDITIONS: tuple[Condition, ...] = (
    Condition("clean", "none", None),
    Condition("white 20 dB", "white", 20.0),
    Condition("white 10 dB", "white", 10.0),
    Condition("white 5 dB", "white", 5.0),
    Condition("pink-mod 20 dB", "pinkmod", 20.0),
    Condition("pink-mod 10 dB", "pinkmod", 10.0),
    Condition("pink-mod 5 dB", "pinkmod", 5.0),
    Condition("quiet −35 dBFS, white 20 dB", "white", 20.0, QUIET_GAIN_DB),
)


@dataclass(slots=True)
class Scores:
    """Accumulated results of one classifier in one condition (over seeds)."""

    onset_errors_ms: list[float] = field(default_factory=list)
    offset_errors_ms: list[float] = field(default_factory=list)
    utterances: int = 0
    missed: int = 0
    false_onsets: int = 0
    speech_frames: int = 0
    speech_frames_hit: int = 0
    silence_frames: int = 0
    silence_frames_hit: int = 0


def read_wav(path: Path) -> Signal:
    """Read a 16 kHz mono PCM16 WAV as float32 (full scale 1.0)."""
    with wave.open(str(path), "rb") as wav:
        if (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) != (ENGINE_RATE_HZ, 1, 2):
            raise ValueError(f"{path.name}: expected 16 kHz mono PCM16")
        raw = wav.readframes(wav.getnframes())
    return (np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0).astype(np.float32)


def load_clips(speech_dir: Path = SPEECH_DIR) -> list[Clip]:
    """Load every fixture listed in labels.json, in file order."""
    labels = json.loads((speech_dir / "labels.json").read_text(encoding="utf-8"))
    clips = []
    for name, entry in labels["clips"].items():
        spans = tuple((int(a), int(b)) for a, b in entry["spans"])
        clips.append(Clip(name, read_wav(speech_dir / name), spans))
    return clips


def seconds(value_s: float) -> int:
    """Seconds to samples at the engine rate."""
    return round(value_s * ENGINE_RATE_HZ)


def build_stream(clips: Sequence[Clip], seed: int) -> tuple[Signal, list[Span], list[Span]]:
    """Concatenate the clips in a seeded order with seeded gaps: signal, utterances, spans."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(clips))
    parts: list[Signal] = [np.zeros(seconds(LEAD_S), dtype=np.float32)]
    position = len(parts[0])
    utterances: list[Span] = []
    spans: list[Span] = []
    for index in order:
        clip = clips[int(index)]
        parts.append(clip.samples)
        spans.extend((position + a, position + b) for a, b in clip.spans)
        utterances.append((position + clip.spans[0][0], position + clip.spans[-1][1]))
        position += len(clip.samples)
        gap = np.zeros(seconds(float(rng.uniform(GAP_MIN_S, GAP_MAX_S))), dtype=np.float32)
        parts.append(gap)
        position += len(gap)
    parts.append(np.zeros(seconds(TAIL_S), dtype=np.float32))
    return np.concatenate(parts), utterances, spans


def pink_noise(n_samples: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """Unit-RMS pink (1/f power) noise by spectral shaping of white noise."""
    spectrum = np.fft.rfft(rng.standard_normal(n_samples))
    freqs = np.fft.rfftfreq(n_samples, 1.0 / ENGINE_RATE_HZ)
    # Flat below 50 Hz so DC and rumble do not dominate.
    spectrum /= np.sqrt(np.maximum(freqs, 50.0))
    pink = np.fft.irfft(spectrum, n_samples)
    result: npt.NDArray[np.float64] = pink / np.sqrt(np.mean(pink * pink))
    return result


def make_noise(kind: str, n_samples: int, seed: int) -> npt.NDArray[np.float64]:
    """Unit-RMS noise of the given kind ('white' or 'pinkmod'), seeded."""
    rng = np.random.default_rng(10_000 + seed)
    if kind == "white":
        return rng.standard_normal(n_samples)
    if kind == "pinkmod":
        pink = pink_noise(n_samples, rng)
        # Random envelope: white noise low-passed to ~3.5 Hz (a 0.3 s moving average at 100 Hz
        # control rate), mapped to ±6 dB around unity power.
        control = rng.standard_normal(n_samples // 160 + 2)
        kernel = np.ones(30) / 30.0
        smooth = np.convolve(control, kernel, mode="same")
        smooth /= np.max(np.abs(smooth))
        envelope_db = 6.0 * smooth
        envelope = np.repeat(10.0 ** (envelope_db / 20.0), 160)[:n_samples]
        noisy = pink * envelope
        result: npt.NDArray[np.float64] = noisy / np.sqrt(np.mean(noisy * noisy))
        return result
    raise ValueError(f"unknown noise kind {kind!r}")


def active_power(signal: Signal, spans: Iterable[Span]) -> float:
    """Mean power over the labelled speech spans."""
    total = 0.0
    count = 0
    for start, end in spans:
        segment = signal[start:end].astype(np.float64)
        total += float(np.dot(segment, segment))
        count += end - start
    return total / count


def mix(speech: Signal, spans: Sequence[Span], condition: Condition, seed: int) -> Signal:
    """Apply the condition's speech gain and add its noise at its SNR."""
    signal = speech.astype(np.float64) * 10.0 ** (condition.gain_db / 20.0)
    if condition.snr_db is not None:
        speech_power = active_power(speech, spans) * 10.0 ** (condition.gain_db / 10.0)
        noise_rms = np.sqrt(speech_power / 10.0 ** (condition.snr_db / 10.0))
        signal = signal + noise_rms * make_noise(condition.noise, len(signal), seed)
    return np.clip(signal, -1.0, 1.0).astype(np.float32)


def tone(freqs_hz: Sequence[float], levels_dbfs: Sequence[float], n_samples: int) -> Signal:
    """Sum of sines, each with its RMS level in dBFS."""
    t = np.arange(n_samples) / ENGINE_RATE_HZ
    total = np.zeros(n_samples)
    for freq_hz, level_dbfs in zip(freqs_hz, levels_dbfs, strict=True):
        amplitude = np.sqrt(2.0) * 10.0 ** (level_dbfs / 20.0)
        total += amplitude * np.sin(2.0 * np.pi * freq_hz * t)
    return total.astype(np.float32)


def dtmf_sequence(keys: str, on_s: float, off_s: float) -> Signal:
    """DTMF digits at the generator levels (dBm0 -> dBFS RMS via the A-law full-scale sine)."""
    # A full-scale sine (RMS −3.01 dBFS) is +3.14 dBm0, so x dBm0 = x − 3.14 − 3.01 dBFS RMS.
    offset_db = -DBM0_FULL_SCALE_SINE - 3.01
    parts = [np.zeros(seconds(1.0), dtype=np.float32)]
    for key in keys:
        row = next(i for i, keys_row in enumerate(DTMF_KEYS) if key in keys_row)
        col = DTMF_KEYS[row].index(key)
        parts.append(
            tone(
                (DTMF_ROWS_HZ[row], DTMF_COLS_HZ[col]),
                (DTMF_LOW_DBM0 + offset_db, DTMF_HIGH_DBM0 + offset_db),
                seconds(on_s),
            )
        )
        parts.append(np.zeros(seconds(off_s), dtype=np.float32))
    parts.append(np.zeros(seconds(1.0), dtype=np.float32))
    return np.concatenate(parts)


def with_line_noise(signal: Signal, seed: int) -> Signal:
    """Add a quiet white line noise at QUIET_LINE_DBFS."""
    noise = 10.0 ** (QUIET_LINE_DBFS / 20.0) * make_noise("white", len(signal), seed)
    return (signal + noise).astype(np.float32)


def false_trigger_signals(seed: int) -> dict[str, Signal]:
    """Signals without speech: any endpointer start on them is a false trigger."""
    n_noise = seconds(30.0)
    level = 10.0 ** (-30.0 / 20.0)
    step = np.concatenate(
        [
            10.0 ** (QUIET_LINE_DBFS / 20.0) * make_noise("white", seconds(5.0), seed),
            level * make_noise("white", n_noise, seed + 1),
        ]
    )
    beep = np.concatenate(
        [
            np.zeros(seconds(1.0), dtype=np.float32),
            tone((BEEP_FREQ_HZ,), (BEEP_LEVEL_DBFS,), seconds(BEEP_S)),
            np.zeros(seconds(1.0), dtype=np.float32),
        ]
    )
    return {
        "white −30 dBFS": (level * make_noise("white", n_noise, seed)).astype(np.float32),
        "pink-mod −30 dBFS": (level * make_noise("pinkmod", n_noise, seed)).astype(np.float32),
        "noise step −65→−30": step.astype(np.float32),
        "DTMF 12×100 ms": with_line_noise(dtmf_sequence("0123456789*#", 0.1, 0.1), seed),
        "DTMF 4×400 ms": with_line_noise(dtmf_sequence("5#0*", 0.4, 0.2), seed),
        "beep 1 kHz 500 ms": with_line_noise(beep, seed),
    }


# Frames per classifier call: 0.5 s, the block ``callsim run`` feeds.
BATCH_FRAMES = 25


def frames_of(signal: Signal) -> npt.NDArray[np.float32]:
    """Whole frames of the signal as rows (the trailing partial frame is dropped)."""
    n_frames = len(signal) // FRAME_SAMPLES
    return signal[: n_frames * FRAME_SAMPLES].reshape(n_frames, FRAME_SAMPLES)


def classify_stream(
    classifier: FrameClassifier, signal: Signal
) -> tuple[npt.NDArray[np.bool_], float]:
    """Run a fresh classifier over the signal: decisions and µs per frame (wall clock).

    Frames go in batches of 25 (0.5 s), as ``callsim run`` feeds the engine; the decisions are
    those of frame-by-frame ``classify`` (tests/core/vad/test_classifiers.py).
    """
    classifier.reset()
    frames = frames_of(signal)
    classify = frames_classifier(classifier)
    decisions = np.zeros(len(frames), dtype=np.bool_)
    began = time.perf_counter()
    for lo in range(0, len(frames), BATCH_FRAMES):
        decisions[lo : lo + BATCH_FRAMES] = classify(
            frames[lo : lo + BATCH_FRAMES], lo * FRAME_SAMPLES
        )
    elapsed = time.perf_counter() - began
    return decisions, 1e6 * elapsed / max(len(frames), 1)


def segments(decisions: npt.NDArray[np.bool_], n_samples: int) -> list[Span]:
    """Endpointer speech segments [start, end) from frame decisions (open ones end at the end)."""
    endpointer = Endpointer()
    result: list[Span] = []
    start: int | None = None
    for index, is_speech in enumerate(decisions.tolist()):
        for edge in endpointer.push(index * FRAME_SAMPLES, is_speech):
            if edge.kind == "start":
                start = edge.sample_index
            elif start is not None:
                result.append((start, edge.sample_index))
                start = None
    if start is not None:
        result.append((start, n_samples))
    return result


def merge(spans: Sequence[Span], gap_samples: int) -> list[Span]:
    """Merge spans separated by less than gap_samples."""
    merged: list[Span] = []
    for start, end in spans:
        if merged and start - merged[-1][1] < gap_samples:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def score(
    scores: Scores,
    decisions: npt.NDArray[np.bool_],
    n_samples: int,
    utterances: Sequence[Span],
    spans: Sequence[Span],
) -> None:
    """Add one stream's results to scores."""
    detected = merge(segments(decisions, n_samples), seconds(MERGE_GAP_S))
    used = [False] * len(detected)
    for utt_start, utt_end in utterances:
        scores.utterances += 1
        match_end = utt_end + seconds(MATCH_TAIL_S)
        matched = [
            i for i, (start, end) in enumerate(detected) if start < match_end and end > utt_start
        ]
        if not matched:
            scores.missed += 1
            continue
        for i in matched:
            used[i] = True
        scores.onset_errors_ms.append(1e3 * (detected[matched[0]][0] - utt_start) / ENGINE_RATE_HZ)
        scores.offset_errors_ms.append(1e3 * (detected[matched[-1]][1] - utt_end) / ENGINE_RATE_HZ)
    scores.false_onsets += used.count(False)

    frame_truth = frame_labels(spans, len(decisions))
    scores.speech_frames += int(frame_truth.sum())
    scores.speech_frames_hit += int((frame_truth & decisions).sum())
    scores.silence_frames += int((~frame_truth).sum())
    scores.silence_frames_hit += int((~frame_truth & decisions).sum())


def frame_labels(spans: Sequence[Span], n_frames: int) -> npt.NDArray[np.bool_]:
    """Per-frame truth: the frame overlaps labelled spans by at least half a frame.

    The same rule as ScriptedClassifier, vectorised with a cumulative sample count.
    """
    covered = np.zeros(n_frames * FRAME_SAMPLES + 1, dtype=np.int64)
    for start, end in spans:
        covered[min(start, len(covered) - 1)] += 1
        covered[min(end, len(covered) - 1)] -= 1
    in_span = np.cumsum(covered[:-1]) > 0
    per_frame = in_span.reshape(n_frames, FRAME_SAMPLES).sum(axis=1)
    result: npt.NDArray[np.bool_] = per_frame * 2 >= FRAME_SAMPLES
    return result


def starts_on(decisions: npt.NDArray[np.bool_], n_samples: int) -> int:
    """Number of endpointer speech starts."""
    return len(segments(decisions, n_samples))


def evaluated_classifiers() -> dict[str, Callable[[], FrameClassifier]]:
    """The classifiers under test (all real ones; 'scripted' is the labels themselves)."""
    result: dict[str, Callable[[], FrameClassifier]] = {}
    for name in CLASSIFIER_NAMES:
        if name != "scripted":
            result[name] = lambda name=name: make_classifier(name)  # type: ignore[misc]
    return result


@dataclass(slots=True)
class Report:
    """Everything the evaluation measured."""

    scores: dict[tuple[str, str], Scores]
    false_triggers: dict[tuple[str, str], int]
    us_per_frame: dict[str, list[float]]
    seeds: int


def evaluate(
    seeds: int = 3,
    conditions: Sequence[Condition] = CONDITIONS,
    classifiers: dict[str, Callable[[], FrameClassifier]] | None = None,
) -> Report:
    """Run every classifier over every condition and seed, plus the false-trigger signals."""
    factories = classifiers if classifiers is not None else evaluated_classifiers()
    clips = load_clips()
    report = Report({}, {}, {name: [] for name in factories}, seeds)
    for seed in range(seeds):
        speech, utterances, spans = build_stream(clips, seed)
        reference = ScriptedClassifier(spans)
        ref_decisions, _ = classify_stream(reference, speech)
        ref_scores = report.scores.setdefault(("labels (scripted)", "any"), Scores())
        score(ref_scores, ref_decisions, len(speech), utterances, spans)
        for condition in conditions:
            signal = mix(speech, spans, condition, seed)
            for name, factory in factories.items():
                decisions, us_per_frame = classify_stream(factory(), signal)
                report.us_per_frame[name].append(us_per_frame)
                scores = report.scores.setdefault((name, condition.name), Scores())
                score(scores, decisions, len(signal), utterances, spans)
        for case, signal in false_trigger_signals(seed).items():
            for name, factory in factories.items():
                decisions, _ = classify_stream(factory(), signal)
                key = (name, case)
                report.false_triggers[key] = report.false_triggers.get(key, 0) + starts_on(
                    decisions, len(signal)
                )
    return report


def _stat(values: Sequence[float], q: float, absolute: bool = False) -> str:
    """Percentile of values (of |values| if absolute) formatted in ms, or '–' if none."""
    if not values:
        return "–"
    data = np.abs(values) if absolute else np.asarray(values)
    return f"{float(np.percentile(data, q)):.0f}"


def _pct(part: int, whole: int) -> str:
    """A percentage with one decimal."""
    return f"{100.0 * part / whole:.1f}" if whole else "–"


def markdown(report: Report) -> str:
    """The report as markdown tables."""
    lines = [
        f"### Speech in noise ({report.seeds} seeds × 8 utterances per row)",
        "",
        "Onset/offset: median signed error and p95 of |error|, ms (positive = late). "
        "Frames: recall of labelled speech frames, false alarms on labelled silence.",
        "",
        "| classifier | condition | onset med | onset p95 | offset med | offset p95 "
        "| missed | false onsets | frame recall % | frame FA % |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (name, condition), s in report.scores.items():
        lines.append(
            f"| {name} | {condition} | {_stat(s.onset_errors_ms, 50)} "
            f"| {_stat(s.onset_errors_ms, 95, True)} | {_stat(s.offset_errors_ms, 50)} "
            f"| {_stat(s.offset_errors_ms, 95, True)} | {s.missed}/{s.utterances} "
            f"| {s.false_onsets} | {_pct(s.speech_frames_hit, s.speech_frames)} "
            f"| {_pct(s.silence_frames_hit, s.silence_frames)} |"
        )
    names = list(report.us_per_frame)
    lines += ["", f"### Summary over all noise conditions ({report.seeds} seeds)", ""]
    lines += [
        "| classifier | missed | false onsets | onset p95 ms | offset p95 ms | µs/frame "
        "| × real time |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    frame_us = 1e6 * FRAME_SAMPLES / ENGINE_RATE_HZ
    for name in names:
        rows = [s for (n, _), s in report.scores.items() if n == name]
        onsets = [e for s in rows for e in s.onset_errors_ms]
        offsets = [e for s in rows for e in s.offset_errors_ms]
        us = float(np.median(report.us_per_frame[name]))
        lines.append(
            f"| {name} | {sum(s.missed for s in rows)}/{sum(s.utterances for s in rows)} "
            f"| {sum(s.false_onsets for s in rows)} | {_stat(onsets, 95, True)} "
            f"| {_stat(offsets, 95, True)} | {us:.1f} | {frame_us / us:.0f} |"
        )
    cases = list(dict.fromkeys(case for _, case in report.false_triggers))
    lines += ["", f"### False speech starts without speech (sum over {report.seeds} seeds)", ""]
    lines += ["| classifier | " + " | ".join(cases) + " |"]
    lines += ["|---|" + "---:|" * len(cases)]
    for name in names:
        counts = [str(report.false_triggers[(name, case)]) for case in cases]
        lines.append(f"| {name} | " + " | ".join(counts) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the evaluation and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seeds", type=int, default=3, help="streams per condition")
    args = parser.parse_args(argv)
    print(markdown(evaluate(seeds=args.seeds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
