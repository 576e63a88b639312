"""Machine-independent numerics: sines without libm, and exact integer-valued products.

Why (docs/dsp.md §6): the engine's decisions and recordings must be the same bytes on every
machine. Two things in numpy are not:

* BLAS reductions (``@``/``np.matmul``, ``np.dot``, ``np.correlate``, which calls the dtype's
  dot, i.e. cblas ``sdot``): the kernel OpenBLAS picks for the CPU, the thread count and even a
  row's position in the matrix change the order of summation and the use of FMA, so float
  results differ in the last bits. We keep BLAS for speed but give it operands whose products
  are EXACT: integer-valued float64 with every product and every partial sum an integer below
  2**53. Such a sum has one correct value, whatever the order, kernel, FMA or thread count.
* Transcendental ufuncs (``np.sin``, ``np.cos``, ``np.exp``): numpy dispatches them to
  CPU-specific SIMD code (AVX-512 versus AVX2 versus libm), which may differ by an ULP. The
  sines here use IEEE basic operations only (+, -, ×, rint, each correctly rounded everywhere,
  and no fused multiply-add across separate ufunc calls), so they are bit-identical everywhere.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# Every integer of magnitude up to 2**53 is a float64: the bound for exact sums.
EXACT_LIMIT = 2.0**53

# Taylor coefficients of sin and cos; on |x| ≤ π/4 the first omitted terms are below 1e-19,
# far under float64's 1.1e-16. Python's int/int division is correctly rounded: the same floats
# on every machine.
_SIN_COEFFS = tuple((-1) ** k / math.factorial(2 * k + 1) for k in range(9))
_COS_COEFFS = tuple((-1) ** k / math.factorial(2 * k) for k in range(10))


def _poly(x2: FloatArray, coeffs: tuple[float, ...]) -> FloatArray:
    """Σ coeffs[k]·x2**k by Horner's rule (one rounding per operation, fixed order)."""
    acc = np.full_like(x2, coeffs[-1])
    for c in reversed(coeffs[:-1]):
        acc = acc * x2 + c
    return acc


def _octants(turns: npt.ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(quadrant q in -2..2, sin x, cos x) with 2π·turns = q·π/2 + x (mod 2π), |x| ≤ π/4."""
    t = np.asarray(turns, dtype=np.float64)
    # Both subtractions are exact (Sterbenz): the reduction loses nothing, however large turns.
    t = t - np.rint(t)
    q = np.rint(t * 4.0)
    x = (t - q * 0.25) * (2.0 * math.pi)
    x2 = x * x
    return q, x * _poly(x2, _SIN_COEFFS), _poly(x2, _COS_COEFFS)


def sin_turns(turns: npt.ArrayLike) -> FloatArray:
    """sin(2π·turns), elementwise, bit-identical on every machine (error ≤ 2 ULP)."""
    q, s, c = _octants(turns)
    out: FloatArray = np.select([q == 0, q == 1, q == -1], [s, c, -c], -s)
    return out


def cos_turns(turns: npt.ArrayLike) -> FloatArray:
    """cos(2π·turns), elementwise, bit-identical on every machine (error ≤ 2 ULP)."""
    q, s, c = _octants(turns)
    out: FloatArray = np.select([q == 0, q == 1, q == -1], [c, -s, s], -c)
    return out


def bessel_i0(x: npt.ArrayLike) -> FloatArray:
    """Modified Bessel function I0 by its power series (for Kaiser windows; |x| ≤ 20)."""
    half2 = np.asarray(x, dtype=np.float64) * 0.5
    half2 = half2 * half2
    term = np.ones_like(half2)
    total = np.ones_like(half2)
    # (x/2)^(2k)/(k!)^2; at x = 20 the terms fall below 1e-17 of the sum by k = 60.
    for k in range(1, 60):
        term = term * half2 / float(k * k)
        total = total + term
    return total


def quantize(values: npt.ArrayLike, fraction_bits: int, limit: float) -> FloatArray:
    """rint(clip(values, ±limit)·2**fraction_bits) as float64: integer-valued operands.

    Clipping keeps every product of a sum under EXACT_LIMIT (the callers state their bounds).
    Scaling by a power of two is exact; rint rounds half to even, the same everywhere.
    """
    x = np.asarray(values, dtype=np.float64)
    scaled = np.clip(x, -limit, limit) * float(2**fraction_bits)
    out: FloatArray = np.rint(scaled)
    return out


__all__ = ["EXACT_LIMIT", "bessel_i0", "cos_turns", "quantize", "sin_turns"]
