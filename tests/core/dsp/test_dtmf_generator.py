"""The Q.23 frequency table and the DTMF generator (levels, offsets, ramps, phase, sequences)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from app.core.dsp.dtmf import (
    COL_FREQS_HZ,
    DTMF_KEYS,
    ROW_FREQS_HZ,
    dtmf_sequence,
    dtmf_tone,
    key_frequencies,
)
from app.core.dsp.levels import dbm0_to_peak

RATE_HZ = 16_000

# ITU-T Q.23, written out key by key so a typo in the detector's tables cannot hide here.
Q23_TABLE = {
    "1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "A": (697, 1633),
    "4": (770, 1209), "5": (770, 1336), "6": (770, 1477), "B": (770, 1633),
    "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "C": (852, 1633),
    "*": (941, 1209), "0": (941, 1336), "#": (941, 1477), "D": (941, 1633),
}  # fmt: skip


def test_group_frequencies_are_q23() -> None:
    assert ROW_FREQS_HZ == (697.0, 770.0, 852.0, 941.0)
    assert COL_FREQS_HZ == (1209.0, 1336.0, 1477.0, 1633.0)
    assert DTMF_KEYS == "123A456B789C*0#D"


@pytest.mark.parametrize("key", list(Q23_TABLE))
def test_key_frequencies_match_q23(key: str) -> None:
    assert key_frequencies(key) == Q23_TABLE[key]


@pytest.mark.parametrize("key", ["3", "6", "9", "#"])
def test_third_column_is_1477_not_pjprojects_1447(key: str) -> None:
    # pjproject shipped 1447 Hz here; remote ends failed to detect these keys (#855/#902).
    assert key_frequencies(key)[1] == 1477.0


def test_key_frequencies_accepts_lowercase_letters_and_rejects_junk() -> None:
    assert key_frequencies("d") == (941.0, 1633.0)
    for bad in ["", "E", "12", " ", "p"]:
        with pytest.raises(ValueError, match="DTMF key"):
            key_frequencies(bad)


def _fit_tones(
    x: npt.NDArray[np.floating], *freqs_hz: float
) -> tuple[list[tuple[float, float]], float]:
    """Joint least-squares fit of sines at ``freqs_hz``: [(amplitude, phase)], max residual."""
    t = np.arange(x.size) / RATE_HZ
    columns = []
    for f in freqs_hz:
        columns += [np.sin(2 * np.pi * f * t), np.cos(2 * np.pi * f * t)]
    basis = np.stack(columns, axis=1)
    coef, *_ = np.linalg.lstsq(basis, x.astype(np.float64), rcond=None)
    fits = [
        (float(np.hypot(s, c)), float(np.arctan2(c, s)))
        for s, c in zip(coef[0::2], coef[1::2], strict=True)
    ]
    return fits, float(np.max(np.abs(x - basis @ coef)))


def _peak_frequency(x: npt.NDArray[np.floating], lo_hz: float, hi_hz: float) -> float:
    """Frequency of the strongest component between lo and hi (zero-padded FFT + parabola)."""
    n_fft = 1 << 18  # 0.06 Hz bins at 16 kHz
    spectrum = np.abs(np.fft.rfft(np.hanning(x.size) * x, n_fft))
    bin_hz = RATE_HZ / n_fft
    lo, hi = int(lo_hz / bin_hz), int(hi_hz / bin_hz)
    k = lo + int(np.argmax(spectrum[lo:hi]))
    a, b, c = np.log(spectrum[k - 1 : k + 2])
    return float((k + 0.5 * (a - c) / (a - 2 * b + c)) * bin_hz)


@pytest.mark.parametrize("key", list(DTMF_KEYS))
def test_default_tone_has_q23_frequencies_at_minus_9_and_minus_7_dbm0(key: str) -> None:
    x = dtmf_tone(key)
    assert x.dtype == np.float32
    assert x.size == 1600  # 100 ms at 16 kHz
    low_hz, high_hz = Q23_TABLE[key]
    steady = x[100:-100]  # past the 3 ms ramps
    ((low_amp, _), (high_amp, _)), residual = _fit_tones(steady, low_hz, high_hz)
    assert 20 * np.log10(low_amp / dbm0_to_peak(-9.0)) == pytest.approx(0.0, abs=0.01)
    assert 20 * np.log10(high_amp / dbm0_to_peak(-7.0)) == pytest.approx(0.0, abs=0.01)
    # Nothing else: what the two tones leave unexplained is float32 rounding.
    assert residual < 1e-6


@pytest.mark.parametrize(("low_pct", "high_pct"), [(1.5, -1.5), (-3.5, 3.5), (0.0, 2.0)])
def test_offsets_move_each_tone_by_the_given_percentage(low_pct: float, high_pct: float) -> None:
    x = dtmf_tone("5", 0.5, low_offset_pct=low_pct, high_offset_pct=high_pct)
    low_hz = _peak_frequency(x, 700.0, 840.0)
    high_hz = _peak_frequency(x, 1250.0, 1420.0)
    # Generator accuracy < 0.1 % (docs/dsp.md §2.1); measured to the search resolution.
    assert low_hz == pytest.approx(770.0 * (1 + low_pct / 100), rel=1e-4)
    assert high_hz == pytest.approx(1336.0 * (1 + high_pct / 100), rel=1e-4)


def test_levels_are_per_tone_and_independent() -> None:
    x = dtmf_tone("9", 0.2, low_dbm0=-25.0, high_dbm0=-3.0, ramp_s=0.0)
    ((low_amp, _), (high_amp, _)), _ = _fit_tones(x, 852.0, 1477.0)
    assert low_amp == pytest.approx(dbm0_to_peak(-25.0), rel=1e-4)
    assert high_amp == pytest.approx(dbm0_to_peak(-3.0), rel=1e-4)


def test_two_zero_dbm0_tones_are_not_clipped() -> None:
    x = dtmf_tone("1", 0.2, low_dbm0=0.0, high_dbm0=0.0)
    assert np.max(np.abs(x)) > 1.0  # documented: the sum may exceed full scale


def test_phase_sets_the_starting_phase_of_each_tone() -> None:
    x = dtmf_tone("1", 0.1, ramp_s=0.0, phase_rad=(0.5, 2.0))
    ((_, low_phase), (_, high_phase)), _ = _fit_tones(x, 697.0, 1209.0)
    assert low_phase == pytest.approx(0.5, abs=1e-3)
    assert high_phase == pytest.approx(2.0, abs=1e-3)
    expected = dbm0_to_peak(-9.0) * np.sin(0.5) + dbm0_to_peak(-7.0) * np.sin(2.0)
    assert x[0] == pytest.approx(expected, abs=1e-6)


def test_raised_cosine_ramps_sit_inside_the_duration() -> None:
    ramp_samples = 48  # 3 ms at 16 kHz
    x = dtmf_tone("0", 0.05, ramp_s=0.003, phase_rad=(1.0, 1.0)).astype(np.float64)
    flat = dtmf_tone("0", 0.05, ramp_s=0.0, phase_rad=(1.0, 1.0)).astype(np.float64)
    assert x.size == flat.size == 800
    gain = x[:ramp_samples] / flat[:ramp_samples]
    n = np.arange(ramp_samples) + 0.5
    np.testing.assert_allclose(gain, 0.5 - 0.5 * np.cos(np.pi * n / ramp_samples), atol=1e-4)
    np.testing.assert_allclose(x[-ramp_samples:] / flat[-ramp_samples:], gain[::-1], atol=1e-4)
    np.testing.assert_array_equal(x[ramp_samples:-ramp_samples], flat[ramp_samples:-ramp_samples])
    assert abs(x[0]) < 0.01 and abs(x[-1]) < 0.01  # no click at either end


def test_ramp_longer_than_half_the_tone_is_shortened() -> None:
    x = dtmf_tone("1", 0.004, ramp_s=0.01)
    assert x.size == 64
    assert abs(x[0]) < 0.01 and abs(x[-1]) < 0.01


@pytest.mark.parametrize("rate_hz", [8_000, 48_000])
def test_other_rates_sample_the_same_waveform(rate_hz: int) -> None:
    x = dtmf_tone("A", 0.1, rate_hz=rate_hz)
    base = dtmf_tone("A", 0.1, rate_hz=RATE_HZ)
    assert x.size == rate_hz // 10
    # Compare at instants both rates share (every 2 ms), away from the ramps.
    shared_hz = 500
    here = x[:: rate_hz // shared_hz][2:-2]
    there = base[:: RATE_HZ // shared_hz][2:-2]
    np.testing.assert_allclose(here, there, atol=1e-6)


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        dtmf_tone("1", -0.1)
    with pytest.raises(ValueError):
        dtmf_tone("1", 0.1, ramp_s=-0.001)
    with pytest.raises(ValueError):
        dtmf_tone("1", 0.1, rate_hz=0)
    with pytest.raises(ValueError):
        dtmf_tone("X")
    with pytest.raises(ValueError):
        dtmf_sequence("12", off_s=-1.0)


def test_sequence_is_tone_gap_tone_without_trailing_gap() -> None:
    x = dtmf_sequence("1#", on_s=0.05, off_s=0.02, low_dbm0=-12.0)
    assert x.dtype == np.float32
    assert x.size == 800 + 320 + 800
    np.testing.assert_array_equal(x[:800], dtmf_tone("1", 0.05, low_dbm0=-12.0))
    np.testing.assert_array_equal(x[800:1120], np.zeros(320, dtype=np.float32))
    np.testing.assert_array_equal(x[1120:], dtmf_tone("#", 0.05, low_dbm0=-12.0))


def test_sequence_defaults_and_rate() -> None:
    assert dtmf_sequence("123").size == 3 * 1600 + 2 * 1600  # 100 ms on / 100 ms off
    assert dtmf_sequence("12", rate_hz=8_000).size == 800 + 800 + 800
    assert dtmf_sequence("").size == 0
