"""Signal level conversions shared by the engine: dBm0 for telephony tones, dBFS for float audio.

Full scale is 1.0 for float samples. dBFS here is relative to a full-scale *square* wave (RMS
1.0), so a full-scale sine reads −3.01 dBFS RMS and 0 dBFS peak.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

# A full-scale digital sine is +3.14 dBm0 under G.711 A-law (+3.17 dBm0 µ-law); spandsp's
# DBM0_MAX_SINE_POWER uses the A-law figure (docs/dsp.md §2.1), and so do we.
FULL_SCALE_SINE_DBM0 = 3.14

# Level reported for digital silence instead of −inf: far below anything 16-bit audio can carry
# (PCM16 quantisation noise is about −101 dBFS), so comparisons and min/max stay finite.
SILENCE_FLOOR_DBFS = -120.0


def dbm0_to_peak(level_dbm0: float) -> float:
    """Peak amplitude (full scale 1.0) of a sine at ``level_dbm0``."""
    return float(10.0 ** ((level_dbm0 - FULL_SCALE_SINE_DBM0) / 20.0))


def peak_to_dbm0(peak: float) -> float:
    """Level in dBm0 of a sine with peak amplitude ``peak`` (floored like dBFS levels)."""
    if peak <= 0.0:
        return SILENCE_FLOOR_DBFS
    return max(SILENCE_FLOOR_DBFS, 20.0 * math.log10(peak) + FULL_SCALE_SINE_DBM0)


def rms_dbfs(x: npt.ArrayLike) -> float:
    """RMS level of ``x`` in dBFS (full-scale square = 0 dBFS), floored at SILENCE_FLOOR_DBFS."""
    a = np.asarray(x, dtype=np.float64)
    if a.size == 0:
        return SILENCE_FLOOR_DBFS
    # Not np.dot: BLAS sums in a kernel- and thread-dependent order (docs/dsp.md §6). Squares
    # and numpy's pairwise sum along one contiguous row round the same on every machine.
    mean_square = float(np.add.reduce(np.square(a.ravel()))) / a.size
    if mean_square <= 0.0:
        return SILENCE_FLOOR_DBFS
    return max(SILENCE_FLOOR_DBFS, 10.0 * math.log10(mean_square))


def peak_dbfs(x: npt.ArrayLike) -> float:
    """Peak level of ``x`` in dBFS (|sample| = 1.0 is 0 dBFS), floored at SILENCE_FLOOR_DBFS."""
    a = np.asarray(x, dtype=np.float64)
    if a.size == 0:
        return SILENCE_FLOOR_DBFS
    peak = float(np.max(np.abs(a)))
    if peak <= 0.0:
        return SILENCE_FLOOR_DBFS
    return max(SILENCE_FLOOR_DBFS, 20.0 * math.log10(peak))
