"""Talk-off: no false digits on speech, speech-like vowels, noise, beeps and chords.

The Mitel and Bellcore talk-off tapes cannot be shipped (docs/dsp.md §1.3), so this uses the
espeak-ng speech fixtures at several levels plus synthetic material chosen to be hard: vowels
whose formants sit on DTMF frequencies with a pitch that sweeps harmonics across every key,
steady sung vowels at every pitch from 80 to 400 Hz, and musical chords with harmonics. The gate
is zero false digits. Talk-down (digits over speech) checks the other side of the trade-off.
"""

from __future__ import annotations

import difflib

import numpy as np
import numpy.typing as npt
import pytest

from app.core.dsp.dtmf import COL_FREQS_HZ, ROW_FREQS_HZ, DtmfDetector, dtmf_sequence
from app.core.dsp.levels import rms_dbfs
from tests.core.dsp.dtmf_helpers import (
    RATE_HZ,
    Signal,
    detect,
    keys_of,
    load_speech_clips,
    random_keys,
    silence,
    white_noise,
)

ALL_TONES_HZ = np.array(ROW_FREQS_HZ + COL_FREQS_HZ)


def at_level(x: npt.NDArray[np.floating], level_dbfs: float) -> Signal:
    """``x`` scaled to an RMS level in dBFS."""
    return (x * 10 ** ((level_dbfs - rms_dbfs(x)) / 20)).astype(np.float32)


@pytest.fixture(scope="module")
def speech() -> Signal:
    clips = load_speech_clips()
    if not clips:
        pytest.skip("speech fixtures missing (tests/data/speech)")
    return np.concatenate(clips)


# --- speech ----------------------------------------------------------------------------------


@pytest.mark.parametrize("level_dbfs", [-35.0, -25.0, -15.0, -10.0, -5.0])
def test_no_false_digits_on_speech(speech: Signal, level_dbfs: float) -> None:
    assert speech.size > 20 * RATE_HZ  # the fixtures hold ~30 s of speech from 8 voices
    assert detect(at_level(speech, level_dbfs)) == []


def test_no_false_digits_on_each_clip_alone_at_its_fixture_level() -> None:
    clips = load_speech_clips()
    if not clips:
        pytest.skip("speech fixtures missing (tests/data/speech)")
    for clip in clips:
        assert detect(clip) == []


def test_digits_are_still_found_over_speech_17_db_down(speech: Signal) -> None:
    # Talk-down: default tones (−9/−7 dBm0, about −8 dBFS RMS) over speech at −25 dBFS.
    rng = np.random.default_rng(25)
    keys = random_keys(rng, 100)
    digits = dtmf_sequence(keys, on_s=0.1, off_s=0.2)
    x = at_level(speech, -25.0)[: digits.size + 2000].copy()
    x[1000 : 1000 + digits.size] += digits
    got = keys_of(detect(x))
    matcher = difflib.SequenceMatcher(None, keys, got, autojunk=False)
    matched = sum(block.size for block in matcher.get_matching_blocks())
    assert matched >= 95
    assert len(got) == matched


# --- synthetic speech-like material ----------------------------------------------------------

# Formant frequencies and bandwidths (Hz) of English vowels (Peterson & Barney averages), plus
# an /a/ tuned so F1 and F2 sit on 697 and 1209 Hz, i.e. on the "1" key.
VOWELS = {
    "a": ((730, 1090, 2440), (90, 110, 170)),
    "i": ((270, 2290, 3010), (60, 100, 120)),
    "u": ((300, 870, 2240), (60, 100, 140)),
    "e": ((530, 1840, 2480), (60, 100, 140)),
    "o": ((570, 840, 2410), (70, 100, 160)),
    "ae": ((660, 1720, 2410), (80, 100, 150)),
    "a-on-key-1": ((697, 1209, 2440), (80, 90, 170)),
}


def vowel(
    f0_hz: npt.NDArray[np.float64], formants: tuple[tuple[int, ...], tuple[int, ...]]
) -> Signal:
    """Additive voiced sound: harmonics of f0 (−6 dB/octave source) shaped by formant peaks.

    Harmonics stop at 2.5 kHz: higher ones would only add energy outside the DTMF band, which
    makes the tone-to-total test easier to pass, not harder.
    """
    freqs, bandwidths = formants
    phase = 2 * np.pi * np.cumsum(f0_hz) / RATE_HZ
    y = np.zeros(f0_hz.size)
    for harmonic in range(1, int(2500.0 // float(np.min(f0_hz))) + 1):
        f = harmonic * f0_hz
        envelope = sum(
            1.0 / np.sqrt(1.0 + ((f - fc) / (bw / 2.0)) ** 2)
            for fc, bw in zip(freqs, bandwidths, strict=True)
        )
        y += envelope / harmonic * np.sin(harmonic * phase)
    return at_level(y, -20.0)


@pytest.mark.parametrize("name", list(VOWELS))
def test_no_false_digits_on_vowels_with_gliding_pitch(name: str) -> None:
    rng = np.random.default_rng(len(name))
    t = np.arange(4 * RATE_HZ) / RATE_HZ
    false = []
    for _ in range(3):  # 12 s per vowel
        base_hz = rng.uniform(90.0, 260.0)
        glide = 1 + 0.25 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * t + rng.uniform(0, 6))
        vibrato = 1 + 0.01 * np.sin(2 * np.pi * 5.5 * t)
        false += detect(vowel(base_hz * glide * vibrato, VOWELS[name]))
    assert false == []


@pytest.mark.parametrize("name", list(VOWELS))
def test_no_false_digits_on_steady_sung_vowels_at_every_pitch(name: str) -> None:
    # Harmonics of a steady f0 hit DTMF pairs within tolerance at some pitches (e.g. 4 x 174 Hz
    # = 697 Hz and 7 x 174 Hz = 1220 Hz, key "1"); the other harmonics must keep them off.
    false = []
    for f0_hz in np.arange(80.0, 400.0, 2.5):
        false += detect(vowel(np.full(RATE_HZ // 4, f0_hz), VOWELS[name]))
    assert false == []


# --- noise, beeps, chords --------------------------------------------------------------------


@pytest.mark.parametrize("level_dbfs", [-60.0, -30.0, -10.0, -3.0])
def test_no_false_digits_on_white_noise(level_dbfs: float) -> None:
    rng = np.random.default_rng(int(-level_dbfs))
    x = white_noise(rng, 30 * RATE_HZ, 1.0)
    assert detect(at_level(x, level_dbfs)) == []


def test_no_false_digits_on_clipped_loud_noise() -> None:
    rng = np.random.default_rng(2)
    x = np.clip(white_noise(rng, 10 * RATE_HZ, 1.0), -1.0, 1.0)
    assert detect(x) == []


@pytest.mark.parametrize(
    "freqs_hz",
    [(1000.0,), (400.0,), (350.0, 440.0), (480.0, 620.0), (941.0,), (1209.0,), (440.0, 1209.0)],
    ids=["beep-1k", "beep-400", "dial-tone", "busy-tone", "row-only", "column-only", "half-key"],
)
@pytest.mark.parametrize("level_dbfs", [-40.0, -20.0, -6.0])
def test_no_false_digits_on_beeps_and_call_progress_tones(
    freqs_hz: tuple[float, ...], level_dbfs: float
) -> None:
    t = np.arange(2 * RATE_HZ) / RATE_HZ
    x = np.sum([np.sin(2 * np.pi * f * t) for f in freqs_hz], axis=0)
    assert detect(np.concatenate([at_level(x, level_dbfs), silence(2000)])) == []


def note_hz(midi: int) -> float:
    """Equal-tempered pitch of a MIDI note number."""
    return float(440.0 * 2 ** ((midi - 69) / 12))


CHORDS = {
    "major": (0, 4, 7),
    "minor": (0, 3, 7),
    "dominant-7th": (0, 4, 7, 10),
    "fifth": (0, 7),
    "fourth": (0, 5),
    "major-third": (0, 4),
    "octave": (0, 12),
}


@pytest.mark.parametrize("name", list(CHORDS))
def test_no_false_digits_on_chords_with_harmonics(name: str) -> None:
    rng = np.random.default_rng(len(name))
    t = np.arange(int(0.3 * RATE_HZ)) / RATE_HZ
    parts = []
    for root in range(48, 90):  # C3 to F6: every chord position across the DTMF band
        y = np.zeros(t.size)
        for interval in CHORDS[name]:
            f = note_hz(root + interval)
            for harmonic, amplitude in ((1, 1.0), (2, 0.5), (3, 0.3), (4, 0.2)):
                y += amplitude * np.sin(2 * np.pi * harmonic * f * t + rng.uniform(0, 2 * np.pi))
        parts += [at_level(y, -20.0), silence(1000)]
    assert detect(np.concatenate(parts)) == []


def test_no_false_digits_on_pure_tone_pairs_away_from_dtmf_frequencies() -> None:
    # Random pairs in the DTMF band, each tone ≥ 4 % from every DTMF frequency (beyond the
    # ±3.5 % that must be rejected). Pairs inside the tolerance *are* DTMF and are detected.
    rng = np.random.default_rng(4)
    t = np.arange(int(0.2 * RATE_HZ)) / RATE_HZ
    parts: list[Signal] = []
    while len(parts) < 2 * 300:
        f1, f2 = rng.uniform(600.0, 1750.0, 2)
        if min(np.min(np.abs(f / ALL_TONES_HZ - 1)) for f in (f1, f2)) < 0.04:
            continue
        y = 0.2 * np.sin(2 * np.pi * f1 * t) + 0.2 * np.sin(2 * np.pi * f2 * t)
        parts += [y.astype(np.float32), silence(1600)]
    assert detect(np.concatenate(parts)) == []


def test_the_talk_off_material_is_not_trivially_far_from_dtmf() -> None:
    # Sanity check on the gates above: loosen the detector (wider frequency tolerance, weaker
    # tone-to-total test, two hits) and the same material produces digits, so a zero count
    # means the default thresholds did the rejecting, not a signal that never looks like DTMF.
    def loose() -> DtmfDetector:
        return DtmfDetector(tone_to_total_db=-4.0, max_freq_error_pct=4.0, hits_to_begin=2)

    clips = load_speech_clips()
    if clips:
        assert len(detect(np.concatenate(clips), loose())) > 0
    sung = [vowel(np.full(RATE_HZ // 4, f0), VOWELS["a-on-key-1"]) for f0 in (172.5, 175.0)]
    sung_x = np.concatenate(sung)
    assert detect(sung_x) == []
    assert len(detect(sung_x, loose())) > 0
