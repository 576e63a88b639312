"""The VAD on real human speech (tests/bench/vad_real.py): labels reproducible, figures reported.

The issue's target (speech ends within 60 ms of the label for ≥ 95 % of utterances, at clean
and 20 dB SNR) is not met yet; this prints the figures and guards what holds today: labels are
exactly what the documented procedure makes of the clean recordings, and the default VAD finds
all but at most one utterance with no false onset.
"""

from __future__ import annotations

from app.core.vad.base import DEFAULT_CLASSIFIER, make_classifier
from tests.bench import vad_real


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
