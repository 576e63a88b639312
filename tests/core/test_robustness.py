"""Held-out-style runs: recorded-like speech at 48 kHz in room-like noise, keys in band.

The fixtures are espeak-ng renders (tests/data/speech); they are resampled to 48 kHz, mixed with
pink noise at realistic SNRs and fed in 20 ms device blocks, so this exercises resampling, the
VAD, the endpointer and the DTMF detector together, not tuned to one clip.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from app.core.dsp.dtmf import dtmf_tone
from tests.core.helpers import feed_all, new_call, record_body

SPEECH = Path(__file__).resolve().parents[1] / "data" / "speech"
LABELS = json.loads((SPEECH / "labels.json").read_text())["clips"]


def pink(n: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spectrum), dtype=np.float64)
    f[0] = 1.0
    return np.fft.irfft(spectrum / np.sqrt(f), n)


def noisy_48k(name: str, snr_db: float, tail_s: float, seed: int) -> tuple[np.ndarray, float]:
    """The clip after 1 s of lead-in, in pink noise at snr_db; returns audio and speech end (s)."""
    rng = np.random.default_rng(seed)
    x, _ = sf.read(str(SPEECH / name), dtype="float32")
    sig = np.concatenate([np.zeros(16000), x, np.zeros(int(16000 * tail_s))])
    speech_rms = np.sqrt(np.mean(x[np.abs(x) > 1e-4] ** 2))
    n = pink(len(sig), rng)
    sig = sig + n / np.sqrt(np.mean(n**2)) * speech_rms * 10 ** (-snr_db / 20)
    speech_end_s = 1.0 + LABELS[name]["spans"][-1][1] / 16000
    return soxr.resample(sig.astype(np.float32), 16000, 48000).astype(np.float32), speech_end_s


@pytest.mark.parametrize("snr_db", [30, 15])
@pytest.mark.parametrize("name", sorted(LABELS))
def test_answer_then_silence_ends_with_max_silence(name: str, snr_db: float) -> None:
    audio, speech_end_s = noisy_48k(name, snr_db, tail_s=4.0, seed=len(name))
    call = new_call()
    call.action("recordResponse", record_body(maxSilenceTimeoutInSeconds=2))
    run = feed_all(call, audio, block=960, rate_hz=48000)
    [end] = run.endings
    assert end.subcode == 8509
    # Quiet word endings may drown in noise: the VAD may end speech a little early.
    assert end.sample_index / 16000 == pytest.approx(speech_end_s + 2.0, abs=0.4)


@pytest.mark.parametrize("level_dbm0", [-10.0, -20.0])
@pytest.mark.parametrize("name", sorted(LABELS)[:4])
def test_in_band_stop_tone_in_noise(name: str, level_dbm0: float) -> None:
    audio, speech_end_s = noisy_48k(name, 20, tail_s=3.0, seed=3)
    press_s = speech_end_s + 0.5
    tone = dtmf_tone("#", 0.08, low_dbm0=level_dbm0, high_dbm0=level_dbm0 + 2)
    tone48 = soxr.resample(tone, 16000, 48000).astype(np.float32)
    at = int(press_s * 48000)
    audio[at : at + len(tone48)] += tone48
    call = new_call()
    call.action("recordResponse", record_body(stopTones=["#"], maxSilenceTimeoutInSeconds=3))
    run = feed_all(call, audio, block=960, rate_hz=48000)
    [end] = run.endings
    assert end.subcode == 8514
    assert end.sample_index / 16000 == pytest.approx(press_s, abs=0.02)
