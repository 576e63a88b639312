"""The VAD evaluation as a test: one seed, the numbers that justify DEFAULT_CLASSIFIER.

The full run (3 seeds, every installed classifier) is `uv run python -m tests.bench.vad_eval`;
this one takes 5-12 s on two cores (hence `slow`). Per-frame costs run under pytest-benchmark
(`uv run pytest tests/bench --benchmark-enable`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.core.clock import FRAME_SAMPLES
from app.core.vad.base import CLASSIFIER_NAMES, DEFAULT_CLASSIFIER, FrameClassifier, make_classifier
from app.core.vad.endpointer import Endpointer, SpeechEdge
from tests.bench import vad_eval

SPEECH_DIR = Path(__file__).resolve().parents[1] / "data" / "speech"


@pytest.fixture(scope="module")
def report() -> vad_eval.Report:
    factories: dict[str, Callable[[], FrameClassifier]] = {
        "energy": lambda: make_classifier("energy"),
        "webrtc": lambda: make_classifier("webrtc"),
    }
    return vad_eval.evaluate(seeds=1, classifiers=factories)


@pytest.mark.slow
def test_reference_labels_score_perfectly(report: vad_eval.Report) -> None:
    # The labels through the endpointer: the scoring itself adds no error beyond a frame.
    ref = report.scores[("labels (scripted)", "any")]
    assert ref.missed == 0 and ref.false_onsets == 0
    assert max(abs(e) for e in ref.onset_errors_ms + ref.offset_errors_ms) <= 20.0


@pytest.mark.slow
def test_energy_finds_every_utterance_without_phantoms(report: vad_eval.Report) -> None:
    for condition in vad_eval.CONDITIONS:
        scores = report.scores[("energy", condition.name)]
        assert scores.missed == 0, condition.name
        assert scores.false_onsets == 0, condition.name
    clean = report.scores[("energy", "clean")]
    assert abs(float(np.median(clean.onset_errors_ms))) <= 20.0
    assert max(abs(e) for e in clean.onset_errors_ms) <= 40.0
    white20 = report.scores[("energy", "white 20 dB")]
    assert float(np.percentile(np.abs(white20.onset_errors_ms), 95)) <= 100.0


@pytest.mark.slow
def test_default_is_the_measured_choice(report: vad_eval.Report) -> None:
    assert DEFAULT_CLASSIFIER == "energy"

    def false_total(name: str) -> int:
        speech = sum(s.false_onsets for (n, _), s in report.scores.items() if n == name)
        noise = sum(c for (n, case), c in report.false_triggers.items() if n == name)
        return speech + noise

    # WebRTC takes modulated noise for speech; energy much less so (vad_eval summary).
    assert (
        report.false_triggers[("energy", "pink-mod −30 dBFS")]
        < report.false_triggers[("webrtc", "pink-mod −30 dBFS")]
    )
    assert false_total("energy") < false_total("webrtc")


@pytest.mark.slow
def test_no_classifier_triggers_on_stationary_white_noise(report: vad_eval.Report) -> None:
    for name in ("energy", "webrtc"):
        assert report.false_triggers[(name, "white −30 dBFS")] == 0


@pytest.mark.slow
def test_markdown_has_every_row(report: vad_eval.Report) -> None:
    text = vad_eval.markdown(report)
    for condition in vad_eval.CONDITIONS:
        assert f"| energy | {condition.name} |" in text
        assert f"| webrtc | {condition.name} |" in text
    assert "µs/frame" in text


@pytest.mark.parametrize("name", [n for n in CLASSIFIER_NAMES if n != "scripted"])
def test_classify_cost(benchmark: Callable[..., object], name: str) -> None:
    """Per-frame cost of each classifier over 1 s of quiet noise then a spoken utterance. The
    benchmarked call returns its decisions, so with benchmarks disabled (the default) this
    still checks them: nothing in the quiet second, speech in the utterance."""
    rng = np.random.default_rng(0)
    speech = sf.read(str(sorted(SPEECH_DIR.glob("*.wav"))[0]), dtype="float32")[0]
    quiet = (1e-3 * rng.standard_normal(16_000)).astype(np.float32)
    signal = np.concatenate((quiet, speech + (1e-3 * rng.standard_normal(speech.size))))
    frames = signal[: signal.size // FRAME_SAMPLES * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)

    def classify_all() -> list[bool]:
        classifier = make_classifier(name)
        return [classifier.classify(f, i * FRAME_SAMPLES) for i, f in enumerate(frames)]

    decisions = benchmark(classify_all)
    assert isinstance(decisions, list)
    quiet_frames = quiet.size // FRAME_SAMPLES
    assert not any(decisions[:quiet_frames])
    assert sum(decisions[quiet_frames:]) >= 0.3 * (len(decisions) - quiet_frames)


def test_endpointer_cost(benchmark: Callable[..., object]) -> None:
    """The endpointer over 1000 random frame decisions; the benchmarked call returns its
    edges, checked also when benchmarks are disabled (the default)."""
    endpointer = Endpointer()
    flags = [bool(v) for v in np.random.default_rng(1).random(1000) < 0.5]

    def push_all() -> list[SpeechEdge]:
        endpointer.reset()
        edges: list[SpeechEdge] = []
        for index, flag in enumerate(flags):
            edges += endpointer.push(index * FRAME_SAMPLES, flag)
        return edges

    edges = benchmark(push_all)
    assert isinstance(edges, list) and edges
    # Starts and ends alternate from a start, each on a frame boundary, decided no earlier.
    assert [e.kind for e in edges] == ["start", "end"] * (len(edges) // 2) + ["start"] * (
        len(edges) % 2
    )
    assert all(e.sample_index % FRAME_SAMPLES == 0 for e in edges)
    assert all(e.decided_at >= e.sample_index for e in edges)
    assert edges == push_all()  # the same decisions on a second pass after reset()
