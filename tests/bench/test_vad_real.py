"""The VAD on real human speech (tests/bench/vad_real.py): labels reproducible, figures reported.

The issue's target (speech ends within 60 ms of the label for ≥ 95 % of utterance ends, at clean
and 20 dB SNR) is not met by any classifier here (docs/dsp.md §3.3: the default 38/35 %, the
optional relative end 77/77 %, webrtc 31/35 %, silero 12/12 %); this prints the figures and
guards what holds today: the labels are exactly what the documented rule makes of the clean
recordings, the rule itself keeps a fricative and drops a reverberant tail, the default VAD
finds all but at most one utterance with no false onset, keeps the final unvoiced consonant
of the utterances that end in one and the end of 3 s of unbroken speech (the noise-floor hold),
and the relative end keeps its measured gain.
"""

from __future__ import annotations

import numpy as np
import pytest

from app.core.clock import ENGINE_RATE_HZ
from app.core.vad.base import DEFAULT_CLASSIFIER, make_classifier
from app.core.vad.energy import END_DROP_DB
from tests.bench import vad_real
from tests.bench.vad_eval import MERGE_GAP_S, merge, seconds

# The last FINAL_S of a labelled utterance "ends in an unvoiced consonant" when more than
# FRICATIVE_SHARE of its clean energy lies above 2 kHz, where the energy VAD's band stops
# (docs/dsp.md §3.3), and the consonant closes a labelled span that covers all of FINAL_S
# (it follows speech without a pause: what the end extension is for). Voiced endings measure
# 0.00-0.07 on these recordings, the fricative ones 0.86-0.94. aepyx's hiss at 133.38-133.50 s
# also ends mostly above 2 kHz but comes 390 ms after the voiced speech, alone: no extension
# reaches it and its 120 ms cannot confirm an onset (docs/dsp.md §3.4); it is not selected.
FINAL_S = 0.15
FRICATIVE_SHARE = 0.5


def test_labels_are_what_the_procedure_makes_of_the_clean_recordings() -> None:
    stored = vad_real.load_labels()
    assert sorted(stored) == sorted(vad_real.RECORDINGS)
    for name in vad_real.RECORDINGS:
        assert stored[name] == vad_real.label_spans(vad_real.load_recording(name)), name


def _tone(freq_hz: float, level_dbfs: float, duration_s: float) -> np.ndarray:
    t = np.arange(seconds(duration_s)) / ENGINE_RATE_HZ
    return np.sqrt(2.0) * 10.0 ** (level_dbfs / 20.0) * np.sin(2 * np.pi * freq_hz * t)


def test_label_rule_keeps_a_fricative_and_drops_a_reverberant_tail() -> None:
    # Four 0.5 s "vowels" (500 Hz) at −20 dBFS, the last followed by 0.2 s of a 4.5 kHz "s" 15 dB
    # down (far under the vowels broadband, but its own octave's speech), the first by a
    # reverberant decay: the vowel 20 dB down, falling 1 dB per 10 ms (docs/dsp.md §3.3).
    rng = np.random.default_rng(3)
    parts = []
    for index in range(4):
        parts.append(_tone(500.0, -20.0, 0.5))
        if index == 0:
            decay_db = -40.0 - 100.0 * np.arange(seconds(0.3)) / ENGINE_RATE_HZ
            parts.append(_tone(500.0, 0.0, 0.3) * 10.0 ** (decay_db / 20.0))
        if index == 3:
            parts.append(_tone(4500.0, -35.0, 0.2))
        parts.append(np.zeros(seconds(1.0)))
    clean = np.concatenate(parts) + 1e-5 * rng.standard_normal(sum(len(p) for p in parts))
    spans = vad_real.label_spans(clean.astype(np.float32))
    ends_s = [end / ENGINE_RATE_HZ for _, end in spans]
    assert len(spans) == 4, spans
    # The first vowel ends at 0.5 s: its decay (20 dB under it and lower) is not speech.
    assert ends_s[0] == pytest.approx(0.5, abs=0.02)
    # The last vowel ends at 5.3 s, its "s" at 5.5 s: kept in full.
    assert ends_s[3] == pytest.approx(5.5, abs=0.02)


def test_default_vad_on_real_speech_reports_its_figures() -> None:
    result = vad_real.evaluate({DEFAULT_CLASSIFIER: lambda: make_classifier(DEFAULT_CLASSIFIER)})
    print("\n" + vad_real.markdown(result))
    for condition in vad_real.CONDITIONS:
        figures = vad_real.summary(result[(DEFAULT_CLASSIFIER, condition.name)])
        assert figures["utterances"] == 28
        assert figures["missed"] <= 1, (condition, figures)
        assert figures["false_onsets"] == 0, (condition, figures)


def test_relative_end_keeps_its_gain_on_real_speech() -> None:
    # docs/dsp.md §3.3 and the README: ends within ±60 ms, default 38/35 %, relative end 77/77 %
    # (clean / 20 dB), with no more missed utterances or false onsets than the default.
    factories = {
        "default": lambda: make_classifier(DEFAULT_CLASSIFIER),
        "relative": lambda: make_classifier("energy", end_drop_db=END_DROP_DB),
    }
    result = vad_real.evaluate(factories)
    # 20 of the 26 labelled ends in both conditions.
    for condition, at_least in zip(vad_real.CONDITIONS, (20 / 26, 20 / 26), strict=True):
        default = vad_real.summary(result[("default", condition.name)])
        relative = vad_real.summary(result[("relative", condition.name)])
        assert relative["ends_within_tolerance"] >= at_least - 1e-9, (condition, relative)
        assert relative["ends_within_tolerance"] > default["ends_within_tolerance"] + 0.2
        assert relative["missed"] <= default["missed"], (condition, relative)
        assert relative["false_onsets"] == 0, (condition, relative)


def unvoiced_ends_ms() -> list[tuple[str, float]]:
    """(recording, labelled end in ms) of every utterance ending in a fricative (FINAL_S)."""
    labels = vad_real.load_labels()
    found = []
    for name in vad_real.RECORDINGS:
        clean = vad_real.load_recording(name)
        spans = labels[name]
        for _, end in merge(spans, seconds(MERGE_GAP_S)):
            last_start = next(start for start, stop in spans if stop == end)
            if end - last_start < seconds(FINAL_S):
                continue
            tail = clean[end - seconds(FINAL_S) : end].astype(np.float64)
            power = np.abs(np.fft.rfft(tail)) ** 2
            high = np.fft.rfftfreq(len(tail), 1.0 / ENGINE_RATE_HZ) > 2000.0
            if power[high].sum() > FRICATIVE_SHARE * power.sum():
                found.append((name, 1e3 * end / ENGINE_RATE_HZ))
    return found


@pytest.mark.parametrize(
    ("condition", "tolerance_ms"),
    # At 20 dB SNR the "s" at 47.81 s of silero-test-16k.wav ends 110 ms early (band only: 290).
    [(vad_real.CONDITIONS[0], vad_real.END_TOLERANCE_MS), (vad_real.CONDITIONS[1], 120.0)],
    ids=lambda value: getattr(value, "name", str(value)),
)
def test_default_vad_keeps_a_final_unvoiced_consonant(
    condition: vad_real.Condition, tolerance_ms: float
) -> None:
    targets = unvoiced_ends_ms()
    # The selection rule still picks the two fricative ends (silero-test 47.81 s, aepyx 158.08 s).
    assert len(targets) == 2, targets
    result = vad_real.evaluate(
        {DEFAULT_CLASSIFIER: lambda: make_classifier(DEFAULT_CLASSIFIER)}, [condition]
    )
    errors = {
        (name, end_ms): error_ms
        for name, end_ms, error_ms in result[(DEFAULT_CLASSIFIER, condition.name)].ends
    }
    for target in targets:
        error_ms = errors[target]
        assert error_ms is not None and abs(error_ms) <= tolerance_ms, (target, error_ms)


def test_default_vad_keeps_the_end_of_long_unbroken_speech() -> None:
    # aepyx 167.2-170.04 s is 3 s of speech with no dip to the noise: without the noise-floor
    # hold (docs/dsp.md §3.3) the 2 s minimum rose into it and its last 0.85 s was lost (a
    # missed end in both conditions); held, the end is found within ±60 ms.
    target = ("silero-aepyx-8k.wav", 170040.0)
    result = vad_real.evaluate({DEFAULT_CLASSIFIER: lambda: make_classifier(DEFAULT_CLASSIFIER)})
    for condition in vad_real.CONDITIONS:
        errors = {
            (name, round(end_ms, -1)): error_ms
            for name, end_ms, error_ms in result[(DEFAULT_CLASSIFIER, condition.name)].ends
        }
        error_ms = errors[target]
        assert error_ms is not None and abs(error_ms) <= vad_real.END_TOLERANCE_MS, (
            condition,
            error_ms,
        )
