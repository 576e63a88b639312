"""The VAD on real human speech (tests/bench/vad_real.py): labels reproducible, figures reported.

The issue's target (speech ends within 60 ms of the label for ≥ 95 % of utterances, at clean
and 20 dB SNR) is not met yet (47 % / 53 %, docs/dsp.md §3.3); this prints the figures and guards
what holds today: labels are exactly what the documented procedure makes of the clean
recordings, the default VAD finds all but at most one utterance with no false onset, and it keeps
the final unvoiced consonant of the utterances that end in one.
"""

from __future__ import annotations

import numpy as np
import pytest

from app.core.clock import ENGINE_RATE_HZ
from app.core.vad.base import DEFAULT_CLASSIFIER, make_classifier
from tests.bench import vad_real
from tests.bench.vad_eval import MERGE_GAP_S, merge, seconds

# The last FINAL_S of a labelled utterance "ends in an unvoiced consonant" when more than
# FRICATIVE_SHARE of its clean energy lies above 2 kHz, where the energy VAD's band stops
# (docs/dsp.md §3.3). Voiced endings measure 0.00-0.07 on these recordings, the two fricative
# ones 0.86 and 0.94.
FINAL_S = 0.15
FRICATIVE_SHARE = 0.5


def test_labels_are_what_the_procedure_makes_of_the_clean_recordings() -> None:
    stored = vad_real.load_labels()
    assert sorted(stored) == sorted(vad_real.RECORDINGS)
    for name in vad_real.RECORDINGS:
        assert stored[name] == vad_real.label_spans(vad_real.load_recording(name)), name


def test_default_vad_on_real_speech_reports_its_figures() -> None:
    result = vad_real.evaluate({DEFAULT_CLASSIFIER: lambda: make_classifier(DEFAULT_CLASSIFIER)})
    print("\n" + vad_real.markdown(result))
    for condition in vad_real.CONDITIONS:
        figures = vad_real.summary(result[(DEFAULT_CLASSIFIER, condition.name)])
        assert figures["utterances"] == 17
        assert figures["missed"] <= 1, (condition, figures)
        assert figures["false_onsets"] == 0, (condition, figures)


def unvoiced_ends_ms() -> list[tuple[str, float]]:
    """(recording, labelled end in ms) of every utterance whose clean end is mostly > 2 kHz."""
    labels = vad_real.load_labels()
    found = []
    for name in vad_real.RECORDINGS:
        clean = vad_real.load_recording(name)
        for _, end in merge(labels[name], seconds(MERGE_GAP_S)):
            tail = clean[end - seconds(FINAL_S) : end].astype(np.float64)
            power = np.abs(np.fft.rfft(tail)) ** 2
            high = np.fft.rfftfreq(len(tail), 1.0 / ENGINE_RATE_HZ) > 2000.0
            if power[high].sum() > FRICATIVE_SHARE * power.sum():
                found.append((name, 1e3 * end / ENGINE_RATE_HZ))
    return found


@pytest.mark.parametrize(
    ("condition", "tolerance_ms"),
    # At 20 dB SNR the "s" at 47.77 s of silero-test-16k.wav ends 70 ms early (band only: 250).
    [(vad_real.CONDITIONS[0], vad_real.END_TOLERANCE_MS), (vad_real.CONDITIONS[1], 80.0)],
    ids=lambda value: getattr(value, "name", str(value)),
)
def test_default_vad_keeps_a_final_unvoiced_consonant(
    condition: vad_real.Condition, tolerance_ms: float
) -> None:
    targets = unvoiced_ends_ms()
    assert len(targets) == 2, targets  # the selection rule still picks the two fricative ends
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
