"""Level conversions: dBm0 (G.711 convention) and dBFS of float audio."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.core.dsp.levels import (
    FULL_SCALE_SINE_DBM0,
    SILENCE_FLOOR_DBFS,
    dbm0_to_peak,
    peak_dbfs,
    peak_to_dbm0,
    rms_dbfs,
)


def test_full_scale_sine_is_plus_3_14_dbm0() -> None:
    assert FULL_SCALE_SINE_DBM0 == 3.14
    assert dbm0_to_peak(3.14) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("level_dbm0", "peak"),
    # docs/dsp.md §2.1: −9 dBm0 → 0.247, −7 dBm0 → 0.311 of full scale.
    [(-9.0, 0.247), (-7.0, 0.311), (0.0, 0.697), (-55.0, 0.00124)],
)
def test_dbm0_to_peak_matches_anchor_values(level_dbm0: float, peak: float) -> None:
    assert dbm0_to_peak(level_dbm0) == pytest.approx(peak, rel=3e-3)


def test_peak_to_dbm0_inverts_and_floors() -> None:
    for level in (-60.0, -25.0, -9.0, 0.0, 3.14):
        assert peak_to_dbm0(dbm0_to_peak(level)) == pytest.approx(level)
    assert peak_to_dbm0(0.0) == SILENCE_FLOOR_DBFS


def test_rms_dbfs_of_reference_signals() -> None:
    t = np.arange(16_000) / 16_000
    sine = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    assert rms_dbfs(sine) == pytest.approx(-3.0103, abs=1e-3)
    assert rms_dbfs(0.1 * sine) == pytest.approx(-23.0103, abs=1e-3)
    square = np.where(sine >= 0, 1.0, -1.0)
    assert rms_dbfs(square) == pytest.approx(0.0)


def test_peak_dbfs() -> None:
    assert peak_dbfs([0.0, -0.5, 0.25]) == pytest.approx(20 * math.log10(0.5))
    assert peak_dbfs(np.ones(3)) == 0.0


@pytest.mark.parametrize("func", [rms_dbfs, peak_dbfs])
def test_silence_and_empty_are_floored_not_minus_inf(func: object) -> None:
    assert callable(func)
    assert func(np.zeros(100, dtype=np.float32)) == SILENCE_FLOOR_DBFS
    assert func(np.zeros(0, dtype=np.float32)) == SILENCE_FLOOR_DBFS
    assert func(np.full(10, 1e-9)) == SILENCE_FLOOR_DBFS  # −180 dBFS, clamped
