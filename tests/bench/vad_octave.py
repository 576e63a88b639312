"""A per-octave end rule for the energy VAD, prototyped on the real recordings (issue 12).

Run: ``uv run python -m tests.bench.vad_octave`` (a markdown table, then the ends it misses, then
how far each scored end lies over the noise at 20 dB SNR: ``--reach``).

Not an engine classifier: an offline but causal model of one, to measure whether the labelling
rule of tests/bench/vad_real.py, run online, would place speech ends within ±60 ms of the labels
(docs/dsp.md §3.3, "Per-octave end"). Every quantity is computed frame by frame from the past
only, in the order the engine would; the frames' band powers are the exact ones of the labels
(``hop_band_powers``: Hann 20 ms windows every 10 ms, the six SII octave bands).

The model, each constant taken from the labelling rule or from the engine, none fitted to the
ends:
- the band-only energy classifier (``EnergyClassifier(extend_max_s=0)``) and the endpointer
  decide onsets exactly as in the engine (onset 10 of 15 frames, docs/dsp.md §3.4);
- per octave band, over the two Hann hops that end in each 20 ms frame (one straddling the
  frame before, one the frame itself): a noise floor (the engine's windowed-minimum tracker,
  NOISE_WINDOW_S with the same hold) and the talker's band level, the POWER mean of the hops
  the band classifier calls speech that lie LABEL_MARGIN_DB over that floor (ITU-T P.56's
  active level is a power mean over all active speech; ``level_tau_s=None`` keeps all of it, a
  number forgets with that time constant);
- a hop is speech in the octave rule when in any band it is within SPEECH_RANGE_DB (15 dB) of
  the band's level and LABEL_MARGIN_DB (10 dB) over its floor: the labels' rule, with running
  estimates in place of the whole file's levels;
- once the endpointer is in speech, a frame is speech when either of its hops is (the band
  decision no longer counts), so the 100 ms pause that ends speech is a pause of the rule;
- the end is then moved back to the end of the last run of rule hops at least LABEL_MIN_SPAN_S
  long (gaps of one hop bridged, as the labels merge overlapping windows): a look-back only,
  the end is decided when the engine decides it now.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.core.clock import ENGINE_RATE_HZ, FRAME_SAMPLES
from app.core.vad.base import make_classifier
from app.core.vad.endpointer import MIN_PAUSE_FRAMES, Endpointer
from app.core.vad.energy import NOISE_HOLD_S, NOISE_SUBWINDOWS, NOISE_WINDOW_S, _MinimumTracker
from tests.bench import vad_real
from tests.bench.vad_eval import MATCH_TAIL_S, MERGE_GAP_S, Span, classify_stream, merge, seconds

HOP_SAMPLES = seconds(vad_real.LABEL_HOP_S)
WINDOW_SAMPLES = seconds(vad_real.LABEL_WINDOW_S)
HOPS_PER_FRAME = FRAME_SAMPLES // HOP_SAMPLES
# A run of rule hops is kept when its windows span LABEL_MIN_SPAN_S: (hops - 1) · 10 ms + 20 ms.
MIN_RUN_HOPS = math.ceil((seconds(vad_real.LABEL_MIN_SPAN_S) - WINDOW_SAMPLES) / HOP_SAMPLES) + 1


@dataclass(frozen=True)
class OctaveEnd:
    """The prototype's settings (module docstring)."""

    level_tau_s: float | None = None
    speech_range_db: float = vad_real.SPEECH_RANGE_DB
    margin_db: float = vad_real.LABEL_MARGIN_DB


def frame_hop_levels(signal: vad_real.Signal) -> npt.NDArray[np.float64]:
    """(frames, HOPS_PER_FRAME, bands): the octave levels in dB of the hops ending in each
    frame, from the labels' exact hop powers; NaN for the hop that would start before the
    signal (the engine has nothing there: a silent hop would pull every floor down for 2 s)."""
    starts, powers = vad_real.hop_band_powers(signal)
    levels = 10.0 * np.log10(np.maximum(powers, 1e-12))
    n_frames = len(signal) // FRAME_SAMPLES
    out = np.full((n_frames, HOPS_PER_FRAME, levels.shape[1]), math.nan)
    for frame in range(n_frames):
        for k in range(HOPS_PER_FRAME):
            # The hop whose window ends where hop k of the frame ends.
            start = frame * FRAME_SAMPLES + (k + 1) * HOP_SAMPLES - WINDOW_SAMPLES
            if start >= 0 and start // HOP_SAMPLES < len(starts):
                out[frame, k] = levels[start // HOP_SAMPLES]
    return out


def octave_segments(
    decisions: npt.NDArray[np.bool_],
    hop_levels: npt.NDArray[np.float64],
    n_samples: int,
    settings: OctaveEnd,
) -> list[Span]:
    """Speech segments of the band decisions with the octave rule's pause and end (module doc)."""
    n_frames, hops, n_bands = hop_levels.shape
    hops_per_s = ENGINE_RATE_HZ / HOP_SAMPLES
    subwindow = round(NOISE_WINDOW_S * hops_per_s) // NOISE_SUBWINDOWS
    floors = [
        _MinimumTracker(subwindow, round(NOISE_HOLD_S * hops_per_s / subwindow))
        for _ in range(n_bands)
    ]
    weight = (
        1.0
        if settings.level_tau_s is None
        else math.exp(-HOP_SAMPLES / (settings.level_tau_s * ENGINE_RATE_HZ))
    )
    level_power = [0.0] * n_bands
    counts = [0] * n_bands
    rule = np.zeros(n_frames * hops, dtype=np.bool_)
    endpointer = Endpointer()
    result: list[Span] = []
    start: int | None = None
    gap = MIN_PAUSE_FRAMES
    for frame, band_speech in enumerate(decisions.tolist()):
        hold = gap < MIN_PAUSE_FRAMES
        for k in range(hops):
            levels = hop_levels[frame, k].tolist()
            speech = False
            if math.isnan(levels[0]):
                continue
            for band in range(n_bands):
                level = levels[band]
                floor = floors[band].push(level, hold)
                audible = level >= floor + settings.margin_db
                if counts[band]:
                    talker = 10.0 * math.log10(level_power[band])
                    speech |= audible and level >= talker - settings.speech_range_db
                else:
                    speech |= audible
                if band_speech and audible:
                    # A running power mean (P.56-like); a plain mean until 1/count < 1 - weight.
                    counts[band] += 1
                    w = min(weight, 1.0 - 1.0 / counts[band])
                    level_power[band] = w * level_power[band] + (1.0 - w) * 10.0 ** (level / 10.0)
            rule[frame * hops + k] = speech
        gap = 0 if band_speech else gap + 1
        is_speech = band_speech
        if endpointer.in_speech:
            is_speech = bool(rule[frame * hops : (frame + 1) * hops].any())
        for edge in endpointer.push(frame * FRAME_SAMPLES, is_speech):
            if edge.kind == "start":
                start = edge.sample_index
            elif start is not None:
                first_hop = start // FRAME_SAMPLES * hops
                last_hop = edge.sample_index // FRAME_SAMPLES * hops
                end = _last_run_end(rule, first_hop, last_hop)
                result.append((start, edge.sample_index if end is None else end))
                start = None
    if start is not None:
        result.append((start, n_samples))
    return result


def _last_run_end(rule: npt.NDArray[np.bool_], first: int, last: int) -> int | None:
    """End sample of the last run of rule hops in [first, last) spanning LABEL_MIN_SPAN_S (runs
    joined over one-hop gaps), or None."""
    j = last - 1
    while j >= first:
        if not rule[j]:
            j -= 1
            continue
        run_last = run_first = j
        while run_first - 1 >= first and (
            rule[run_first - 1] or (run_first - 2 >= first and rule[run_first - 2])
        ):
            run_first -= 1
        while not rule[run_first]:
            run_first += 1
        if run_last - run_first + 1 >= MIN_RUN_HOPS:
            # Hop k of frame f ends at f·FRAME + (k + 1)·HOP.
            return (run_last + 1) * HOP_SAMPLES
        j = run_first - 1
    return None


def evaluate(
    settings: OctaveEnd, conditions: Sequence[vad_real.Condition] = vad_real.CONDITIONS
) -> dict[str, vad_real.EdgeScores]:
    """The prototype over every recording and condition, scored like tests/bench/vad_real.py."""
    labels = vad_real.load_labels()
    result: dict[str, vad_real.EdgeScores] = {}
    for name in vad_real.RECORDINGS:
        speech = vad_real.load_recording(name)
        spans = labels[name]
        utterances = merge(spans, seconds(MERGE_GAP_S))
        scored = vad_real.scored_utterances(spans, len(speech))
        for condition in conditions:
            signal = vad_real.mix_at_level(
                speech, vad_real.active_level_db(name), condition, seed=0
            )
            decisions, _ = classify_stream(make_classifier("energy", extend_max_s=0.0), signal)
            raw = octave_segments(decisions, frame_hop_levels(signal), len(signal), settings)
            scores = result.setdefault(condition.name, vad_real.EdgeScores())
            _score_segments(scores, name, raw, len(signal), utterances, scored)
    return result


def _score_segments(
    scores: vad_real.EdgeScores,
    recording: str,
    raw: list[Span],
    n_samples: int,
    utterances: Sequence[Span],
    scored: Sequence[Span],
) -> None:
    """vad_real.score_edges, and the utterance counts of vad_eval.score, for segments given
    directly (the same matching and counts; frame counts are not kept)."""
    detected = merge(raw, seconds(MERGE_GAP_S))
    used = [False] * len(detected)
    for utt_start, utt_end in utterances:
        scores.utterances.utterances += 1
        match_end = utt_end + seconds(MATCH_TAIL_S)
        matched = [i for i, (a, b) in enumerate(detected) if a < match_end and b > utt_start]
        scores.utterances.missed += not matched
        for i in matched:
            used[i] = True
    scores.utterances.false_onsets += used.count(False)
    vad_real.score_segments(scores, recording, raw, n_samples, utterances, scored)


def end_reach_db(tail_ms: float = vad_real.END_TOLERANCE_MS) -> list[tuple[str, float, float]]:
    """Per scored end: the highest SNR, over the hops whose windows end in the last tail_ms
    before the labelled end and over the bands the label rule calls speech in them, of the clean
    band power over the 20 dB white noise's power in the same band and hop. Under 0 dB the whole
    final tail_ms of the utterance lies under the noise in every band that carries it."""
    labels = vad_real.load_labels()
    condition = vad_real.CONDITIONS[1]
    rows: list[tuple[str, float, float]] = []
    for name in vad_real.RECORDINGS:
        clean = vad_real.load_recording(name)
        noisy = vad_real.mix_at_level(clean, vad_real.active_level_db(name), condition, seed=0)
        noise = (noisy.astype(np.float64) - clean).astype(np.float32)
        starts, speech_power = vad_real.hop_band_powers(clean)
        _, noise_power = vad_real.hop_band_powers(noise)
        _, speech_hops = vad_real.label_hops(clean)
        for _, end in vad_real.scored_utterances(labels[name], len(clean)):
            ends = starts + WINDOW_SAMPLES
            tail = (ends > end - seconds(tail_ms / 1e3)) & (ends <= end)
            snr_db = 10.0 * np.log10(
                np.maximum(speech_power[tail], 1e-30) / np.maximum(noise_power[tail], 1e-30)
            )
            best = float(np.where(speech_hops[tail], snr_db, -math.inf).max())
            rows.append((name, end / ENGINE_RATE_HZ, best))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--tau", type=float, default=None, help="level time constant in s (default: no forgetting)"
    )
    parser.add_argument("--reach", action="store_true", help="also print end_reach_db")
    args = parser.parse_args(argv)
    settings = OctaveEnd(level_tau_s=args.tau)
    result = evaluate(settings)
    name = "energy + octave end (prototype)"
    print(vad_real.markdown({(name, condition): s for condition, s in result.items()}))
    for condition, scores in result.items():
        for recording, end_ms, error in scores.ends:
            if error is None or abs(error) > vad_real.END_TOLERANCE_MS:
                shown = "missed" if error is None else f"{error:+.0f} ms"
                print(f"{condition}: {recording} end at {end_ms / 1e3:.2f} s: {shown}")
    if args.reach:
        for recording, end_s, best_db in end_reach_db():
            print(f"{recording} {end_s:7.2f} s: best band SNR in the last 60 ms {best_db:+.1f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
