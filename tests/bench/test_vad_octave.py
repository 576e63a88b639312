"""The per-octave end prototype (tests/bench/vad_octave.py) and the 20 dB reach of the labels.

docs/dsp.md §3.3 ("Per-octave end", "What 20 dB white noise leaves") quotes these figures: the
prototype puts 23 of 26 labelled ends within ±60 ms clean and 18 at 20 dB SNR, short of issue
12's 95 %; at 20 dB two ends lie under the noise in every band over their last 60 ms.
"""

from __future__ import annotations

from tests.bench import vad_octave, vad_real


def test_octave_end_prototype_reports_its_figures() -> None:
    result = vad_octave.evaluate(vad_octave.OctaveEnd())
    rows = {("energy + octave end (prototype)", name): s for name, s in result.items()}
    print("\n" + vad_real.markdown(rows))
    for condition, at_least in zip(vad_real.CONDITIONS, (23 / 26, 18 / 26), strict=True):
        figures = vad_real.summary(result[condition.name])
        assert figures["ends_within_tolerance"] >= at_least - 1e-9, (condition, figures)
        assert figures["missed"] <= 1, (condition, figures)
        assert figures["false_onsets"] == 0, (condition, figures)


def test_two_ends_lie_under_the_noise_at_20_db() -> None:
    # In every band the label rule calls speech, over every hop of the last 60 ms, the clean
    # speech is weaker than the white noise: no energy rule finds where these two ends are, so
    # at most 24 of 26 ends can be within ±60 ms at 20 dB (and 23 with aepyx's 133.50 s hiss,
    # which the onset rule refuses: docs/dsp.md §3.3).
    reach = vad_octave.end_reach_db()
    assert len(reach) == 26
    buried = {(name, round(end_s, 2)) for name, end_s, best_db in reach if best_db < 0.0}
    assert buried == {("silero-test-16k.wav", 47.81), ("silero-aepyx-8k.wav", 104.97)}, reach
