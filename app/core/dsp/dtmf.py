"""DTMF (ITU-T Q.23) tone generator and a streaming in-band detector held to Q.24 (AT&T) limits.

The detector follows spandsp's ``dtmf.c`` (the lineage of Asterisk and most VoIP stacks, see
docs/dsp.md §1.2): the input is decimated to 8 kHz, cut into 102-sample (12.75 ms) blocks,
and each block's eight single-bin DFTs (what a Goertzel filter computes) go through spandsp's
tests: strongest row and column, both above a level floor, twist, relative peak within each
group, and tone-to-total energy. Where we differ, a Q.24 test forced it:

* Blocks overlap by half (a new block every 51 samples, 6.375 ms). With spandsp's back-to-back
  blocks and a "two agreeing blocks" rule, a 23 ms burst that straddles two blocks often scores
  two hits: we measured 38 % of hard-edged 23 ms bursts accepted at the −1.5 dB tone-to-total
  threshold the frequency tests need (17 % even at spandsp's −0.85 dB), while Q.24 says they
  must be rejected. Requiring four agreeing half-hop blocks asks for the same 25.5 ms of
  evidence at twice the time resolution: bursts up to 23 ms never collect four hits, 40 ms
  tones always do.
* A frequency check. A DFT bin measures distance in hertz, but Q.24 specifies it in percent:
  ±3.5 % of 697 Hz (24 Hz, must reject) is the same distance from the bin centre as ±1.5 % of
  1633 Hz (24 Hz, must accept), so no energy threshold can do both. We therefore measure each
  winning tone's frequency from the phase advance of a Hann-windowed DFT between consecutive
  (overlapping) blocks and accept only tones within ``max_freq_error_pct`` of nominal.
* The column group's relative-peak test uses those Hann bins, and the twist limits carry 2 dB
  of margin over Q.24's 8/4 dB (see the constants), so tones at the twist limits are detected.

Start and end times are refined inside the first and last blocks from the energy of the
partly filled blocks around the run (typically within 3 ms of the truth; see ``_edge``).

Sample rates: the detector runs at 8 kHz internally and accepts any ``rate_hz`` that is an
integer multiple of 8 kHz (8, 16, 24, 32, 48 kHz, ...), decimating with a linear-phase FIR.
Other rates (44.1 kHz, 22.05 kHz) must be resampled to 16 kHz by the caller (the engine runs at
16 kHz anyway). All sample indices in the API count samples at ``rate_hz`` from stream start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from app.core.dsp.levels import dbm0_to_peak
from app.core.dsp.portable import bessel_i0, cos_turns, quantize, sin_turns

# Key layout, rows × columns, as in spandsp's dtmf_positions and Asterisk's dtmf_positions.
DTMF_KEYS = "123A456B789C*0#D"
# ITU-T Q.23 low (row) and high (column) groups. Unit-tested against the standard: pjproject
# once shipped 1447 Hz for 1477 Hz and remote ends failed to detect 3/6/9/# (docs/dsp.md §1.1).
ROW_FREQS_HZ = (697.0, 770.0, 852.0, 941.0)
COL_FREQS_HZ = (1209.0, 1336.0, 1477.0, 1633.0)

# --- generator defaults (docs/dsp.md §2.1, "our choice") ---------------------------------
# Low group −9 dBm0, high group −7 dBm0: the usual +2 dB pre-emphasis toward the high group,
# well inside the 4 dB reverse-twist limit.
DEFAULT_LOW_DBM0 = -9.0
DEFAULT_HIGH_DBM0 = -7.0
DEFAULT_ON_S = 0.1  # 100 ms on / 100 ms off (docs/dsp.md §2.1)
DEFAULT_OFF_S = 0.1
# 3 ms raised-cosine ramps: inside the 2-5 ms range of docs/dsp.md §2.1 (PJSIP also fades) so
# a tone starts without a click, yet a 40 ms minimum-length tone keeps ~37 ms at full level.
DEFAULT_RAMP_S = 0.003

# --- detector constants ------------------------------------------------------------------------
DETECTOR_RATE_HZ = 8_000  # spandsp and Asterisk run DTMF at 8 kHz; their constants assume it
BLOCK_SAMPLES = 102  # spandsp DTMF_SAMPLES_PER_BLOCK, Asterisk DTMF_GSIZE: 12.75 ms at 8 kHz
HOP_SAMPLES = BLOCK_SAMPLES // 2  # half-block overlap (module docstring): 6.375 ms at 8 kHz

MIN_LEVEL_DBM0 = -42.0  # spandsp dtmf.c dtmf_threshold "-42dBm0" (per tone)
# Twist limits, spandsp's sense: "normal" = high group weaker, "reverse" = high group stronger.
# Q.24 AT&T asks for operation up to 8 dB normal / 4 dB reverse, and spandsp tests at exactly
# 8/4 dB. The measured twist of a tone pair wanders ±0.5 dB with the other tone's leakage and by
# up to 1.5 dB more with ±1.5 % offsets (scalloping of the 102-point bins), so with 8/4 dB limits
# we detected only 15/48 and 18/48 tones sitting at the limits. 2 dB of margin detects them all,
# with or without ±1.5 % offsets; Asterisk's "relax" mode likewise widens reverse twist to 6 dB.
NORMAL_TWIST_DB = 10.0
REVERSE_TWIST_DB = 6.0
RELATIVE_PEAK_DB = 8.0  # other tones of a group 8 dB down: spandsp dtmf_relative_peak_row/col
# Row + column energy vs. total block energy. spandsp uses −0.85 dB, but with both tones 1.5 %
# off and +2 dB twist the 102-point bins lose ~1 dB to scalloping and only 26-28 of 40 such
# digits pass; −1.5 dB passes 40/40 and still rejects ±3.5 % (docs/dsp.md §1.4).
TONE_TO_TOTAL_DB = -1.5
# Q.24 AT&T: operate within ±1.5 %, non-operate beyond ±3.5 %; accept up to the midpoint so
# measurement noise (about ±1 Hz at 15 dB SNR) has equal room on both sides.
MAX_FREQ_ERROR_PCT = 2.5
# Four agreeing half-hop blocks = spandsp's two agreeing 12.75 ms blocks (25.5 ms of evidence):
# a burst must last more than 23 ms to collect them (Q.24 AT&T: reject ≤ 23 ms), and the
# decision comes 30-38 ms after onset (measured), inside the 40 ms minimum tone.
HITS_TO_BEGIN = 4
# Five misses (32 ms) end a digit: a ≤ 10 ms interruption costs at most three blocks plus one
# for the phase check (Q.24: must be bridged), a 40 ms pause seven or more (must separate).
# Measured: gaps up to 15 ms always bridged, 30 ms and longer always split.
MISSES_TO_END = 5

# Start/end refinement (DtmfDetector._edge): look up to three blocks (19 ms) beyond a run for
# partly filled blocks that still carry the key at ≥ 10 % (−10 dB) of the run's energy, i.e. a
# third of a block or more of tone. History must reach back over the search, the run that gives
# the reference energy and the misses that end a digit: 3 + 4 + 5 blocks with the defaults.
_EDGE_SEARCH_BLOCKS = 3
_EDGE_MIN_ENERGY_RATIO = 0.1
_HISTORY_BLOCKS = 12

# Rows per matrix product: OpenBLAS runs a dgemm multi-threaded once M·N·K exceeds 4·65536
# (its default GEMM_MULTITHREAD_THRESHOLD), and its threads then spin-wait, costing far more CPU
# than the tiny product saves (measured: 78 rows × 51 × 132 took 11 µs of CPU per row in two
# threads, 32 rows, 215 424 < 262 144, 0.8 µs in one). The products are exact, so the row count
# changes the cost only.
_MATMUL_ROWS = 32

# Machine-independent arithmetic (docs/dsp.md §6, app/core/dsp/portable.py). The FIR is a
# fixed-order sum of elementwise float32 products (IEEE operations, the same everywhere). The
# block DFTs, a BLAS product, work on integer-valued float64, so no kernel, thread count, FMA or
# order of summation can change a bit: decimated samples are clipped to ±8 (18 dB over full
# scale) and counted in units of 2**-20 (rounding noise near −130 dBFS, 88 dB under the −42 dBm0
# tone floor), basis columns (|value| ≤ 2) in units of 2**-21. Bounds: a block half sums 51
# products of at most 2**23·2**22, a block two halves: 2**51.7 < 2**53; Σx² of a half block:
# 51·2**46 < 2**53.
_SAMPLE_LIMIT = 8.0
_SAMPLE_BITS = 20
_TAP_BITS = 20
_BASIS_BITS = 21

# Decimation FIR: Kaiser-windowed sinc (β = 6) with its cut-off at the 4 kHz output Nyquist, a
# half-band filter when decimating by 2; 10 taps per decimation step (21 at 16 kHz, 10 non-zero
# in the odd branch: numpy's correlate has a fast path for kernels of up to 10 taps). Measured
# response at 16 kHz: passband ripple 0.005 dB up to 1.7 kHz (DTMF tops out at 1.69 kHz), 68 dB
# rejection from 6.3 kHz up (what would alias onto the tone bins), 20 dB at 4.8-6.3 kHz (which
# only aliases to 1.7-3.2 kHz, between and above the tones, and slightly raises total energy).
_FIR_TAPS_PER_STEP = 10
_FIR_KAISER_BETA = 6.0


def key_frequencies(key: str) -> tuple[float, float]:
    """Return the (row, column) frequencies in Hz of a DTMF key ("0"-"9", "*", "#", "A"-"D")."""
    index = DTMF_KEYS.find(key.upper()) if len(key) == 1 else -1
    if index < 0:
        raise ValueError(f"not a DTMF key: {key!r} (expected one of {DTMF_KEYS})")
    return ROW_FREQS_HZ[index // 4], COL_FREQS_HZ[index % 4]


def _raised_cosine_ramp(ramp_samples: int) -> npt.NDArray[np.float64]:
    """Rising half-cosine of ``ramp_samples`` samples from just above 0 to just below 1."""
    n = np.arange(ramp_samples, dtype=np.float64) + 0.5
    # cos_turns, not np.cos: the same samples on every CPU (docs/dsp.md §6).
    ramp: npt.NDArray[np.float64] = 0.5 - 0.5 * cos_turns(n / (2 * ramp_samples))
    return ramp


def dtmf_tone(
    key: str,
    duration_s: float = DEFAULT_ON_S,
    *,
    rate_hz: int = 16_000,
    low_dbm0: float = DEFAULT_LOW_DBM0,
    high_dbm0: float = DEFAULT_HIGH_DBM0,
    ramp_s: float = DEFAULT_RAMP_S,
    low_offset_pct: float = 0.0,
    high_offset_pct: float = 0.0,
    phase_rad: tuple[float, float] = (0.0, 0.0),
) -> npt.NDArray[np.float32]:
    """Synthesise one DTMF key press as float32 samples (full scale 1.0), ramps included.

    Each tone is a phase-continuous sine at its Q.23 frequency times ``1 + offset_pct/100``;
    the levels are per tone in dBm0 (full-scale sine = +3.14 dBm0). Two tones at 0 dBm0 peak
    at 1.39 and are *not* clipped here. Raised-cosine ramps of ``ramp_s`` (shortened to half
    the tone if needed) sit inside ``duration_s``.
    """
    if duration_s < 0.0 or ramp_s < 0.0:
        raise ValueError("duration_s and ramp_s must be non-negative")
    if rate_hz <= 0:
        raise ValueError("rate_hz must be positive")
    low_hz, high_hz = key_frequencies(key)
    low_hz *= 1.0 + low_offset_pct / 100.0
    high_hz *= 1.0 + high_offset_pct / 100.0
    n_samples = round(duration_s * rate_hz)
    # Phases in turns and sin_turns instead of np.sin: these samples end up in recordings, and
    # numpy's SIMD sines differ by an ULP between CPUs (docs/dsp.md §6).
    n = np.arange(n_samples, dtype=np.float64)
    low_turns = n * (low_hz / rate_hz) + phase_rad[0] / (2.0 * math.pi)
    high_turns = n * (high_hz / rate_hz) + phase_rad[1] / (2.0 * math.pi)
    tone = dbm0_to_peak(low_dbm0) * sin_turns(low_turns)
    tone += dbm0_to_peak(high_dbm0) * sin_turns(high_turns)
    ramp_samples = min(round(ramp_s * rate_hz), n_samples // 2)
    if ramp_samples > 0:
        ramp = _raised_cosine_ramp(ramp_samples)
        tone[:ramp_samples] *= ramp
        tone[n_samples - ramp_samples :] *= ramp[::-1]
    return tone.astype(np.float32)


def dtmf_sequence(
    keys: str, on_s: float = DEFAULT_ON_S, off_s: float = DEFAULT_OFF_S, **kw: Any
) -> npt.NDArray[np.float32]:
    """Synthesise ``keys`` as tone, pause, tone, ...: ``on_s`` each, ``off_s`` between (not after).

    Extra keyword arguments go to :func:`dtmf_tone` (``rate_hz``, levels, ramp, offsets, phase).
    """
    rate_hz = int(kw.get("rate_hz", 16_000))
    if off_s < 0.0:
        raise ValueError("off_s must be non-negative")
    gap = np.zeros(round(off_s * rate_hz), dtype=np.float32)
    parts: list[npt.NDArray[np.float32]] = []
    for i, key in enumerate(keys):
        if i:
            parts.append(gap)
        parts.append(dtmf_tone(key, on_s, **kw))
    if not parts:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(parts)


@dataclass(frozen=True, slots=True)
class DtmfTone:
    """A detected key: a start (``end_sample`` None) or an end; sample indices at ``rate_hz``.

    ``start_sample`` is the first sample of the first block of the confirming run (back-dated
    onset, within one block of the truth); ``end_sample`` is the first sample after the tone;
    ``decided_at`` is the stream position at which the detector had the input to decide.
    """

    key: str
    start_sample: int
    end_sample: int | None
    decided_at: int


def _decimation_fir(factor: int) -> npt.NDArray[np.float64]:
    """Linear-phase low-pass for decimation by ``factor`` to 8 kHz (odd length, unity DC gain).

    Integer-valued taps in units of 2**-_TAP_BITS summing to exactly 2**_TAP_BITS, computed
    with IEEE basic operations only (no libm): the same integers on every machine.
    """
    n_taps = _FIR_TAPS_PER_STEP * factor + 1
    centre = (n_taps - 1) // 2
    n = np.arange(n_taps, dtype=np.float64) - centre
    # sinc(n/factor) = sin(π·n/factor) / (π·n/factor); sin_turns gives exact zeros at n = k·factor.
    with np.errstate(invalid="ignore", divide="ignore"):
        sinc = np.where(n == 0, 1.0, sin_turns(n / (2 * factor)) / (math.pi * n / factor))
    # np.kaiser's formula, with the I0 series instead of np.i0 (which calls np.exp).
    alpha = (n_taps - 1) / 2.0
    ratio = (n + centre - alpha) / alpha
    kaiser = bessel_i0(_FIR_KAISER_BETA * np.sqrt(1.0 - ratio * ratio))
    kaiser = kaiser / bessel_i0(np.array([_FIR_KAISER_BETA]))[0]
    taps = sinc * kaiser
    # Exact zeros stay exact (a half-band filter has every other tap at zero): skip them later.
    taps[np.abs(taps) < 1e-12] = 0.0
    taps_q = quantize(taps / math.fsum(taps.tolist()), _TAP_BITS, 1.0)
    # Unity DC gain exactly: the centre tap takes the rounding of the others.
    taps_q[centre] += 2.0**_TAP_BITS - math.fsum(taps_q.tolist())
    return taps_q


class _Decimator:
    """Streaming FIR decimator to 8 kHz; output j is centred on input sample j·factor.

    Polyphase, in float32 (the engine's sample type): each output is a fixed-order sum of
    shifted, scaled slices (symmetric taps share a product), elementwise IEEE operations that
    round the same on every machine. No BLAS dot is involved
    (np.correlate would call cblas sdot, whose kernel depends on the CPU), every output is
    computed by the same operations whatever the split of the input into calls, and the result
    is the same on every machine (docs/dsp.md §6).
    """

    def __init__(self, factor: int) -> None:
        self.factor = factor
        taps = _decimation_fir(factor) * 2.0**-_TAP_BITS if factor > 1 else np.ones(1)
        self.lookahead_samples = (len(taps) - 1) // 2
        # The taps are symmetric (linear phase): (offset, mirrored offset, tap) of each non-zero
        # pair, so a pair costs one product; the centre tap alone.
        centre = self.lookahead_samples
        self._pairs = [(t, 2 * centre - t, np.float32(taps[t])) for t in range(centre) if taps[t]]
        self._centre_tap = np.float32(taps[centre])
        # Input not yet consumed, starting at stream index self._buf_start; the stream is padded
        # with zeros before sample 0 so the first output is centred on sample 0.
        self._buf = np.zeros(self.lookahead_samples, dtype=np.float32)
        self._buf_start = -self.lookahead_samples
        self._next_out = 0

    def process(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Feed input samples; return every output sample whose input window is now complete."""
        if self.factor == 1:
            return x
        buf = np.concatenate((self._buf, x))
        stream_end = self._buf_start + buf.size
        n_out = (stream_end - 1 - self.lookahead_samples) // self.factor - self._next_out + 1
        if n_out <= 0:
            self._buf = buf
            return buf[:0]
        # buf starts at the first input of output self._next_out (see keep_from below), so
        # output i of this call reads buf[i·factor + t] for tap t.
        step = self.factor
        span = step * n_out
        centre = self.lookahead_samples
        out = np.multiply(buf[centre : centre + span : step], self._centre_tap)
        pair = np.empty(n_out, dtype=np.float32)
        for offset, mirrored, tap in self._pairs:
            np.add(buf[offset : offset + span : step], buf[mirrored : mirrored + span : step], pair)
            np.multiply(pair, tap, out=pair)
            np.add(out, pair, out=out)
        self._next_out += n_out
        keep_from = self._next_out * step - self.lookahead_samples
        self._buf = buf[keep_from - self._buf_start :].copy()
        self._buf_start = keep_from
        return out


class DtmfDetector:
    """Streaming in-band DTMF detector; feed any block sizes, get starts and ends in order.

    Thresholds are keyword parameters with the defaults cited at the module constants. Hits and
    misses count half-overlapping 102-sample blocks at 8 kHz (one every 6.375 ms). Deterministic:
    the result depends on the samples only, not on how they are split into ``process`` calls.
    """

    def __init__(
        self,
        rate_hz: int = 16_000,
        *,
        min_level_dbm0: float = MIN_LEVEL_DBM0,
        normal_twist_db: float = NORMAL_TWIST_DB,
        reverse_twist_db: float = REVERSE_TWIST_DB,
        relative_peak_db: float = RELATIVE_PEAK_DB,
        tone_to_total_db: float = TONE_TO_TOTAL_DB,
        max_freq_error_pct: float = MAX_FREQ_ERROR_PCT,
        hits_to_begin: int = HITS_TO_BEGIN,
        misses_to_end: int = MISSES_TO_END,
    ) -> None:
        if rate_hz <= 0 or rate_hz % DETECTOR_RATE_HZ:
            raise ValueError(
                f"rate_hz must be a multiple of {DETECTOR_RATE_HZ} Hz (got {rate_hz}); "
                "resample other rates to 16 kHz first"
            )
        if hits_to_begin < 1 or misses_to_end < 1:
            raise ValueError("hits_to_begin and misses_to_end must be at least 1")
        self.rate_hz = rate_hz
        self._factor = rate_hz // DETECTOR_RATE_HZ
        self._decimator = _Decimator(self._factor)
        self._hits_to_begin = hits_to_begin
        self._misses_to_end = misses_to_end

        # Tone energies are expressed as the energy the tone puts into one block (Parseval):
        # a sine of amplitude a over N samples carries a²·N/2 and its DFT bin is |X| = a·N/2,
        # so its block energy is 2|X|²/N, directly comparable with Σx². The rectangular basis
        # below is pre-scaled by sqrt(2/N) so that re² + im² is that energy.
        min_peak = dbm0_to_peak(min_level_dbm0)
        self._min_tone_energy = min_peak * min_peak * BLOCK_SAMPLES / 2.0
        self._normal_twist = 10.0 ** (normal_twist_db / 10.0)
        self._reverse_twist = 10.0 ** (reverse_twist_db / 10.0)
        self._relative_peak = 10.0 ** (relative_peak_db / 10.0)
        self._tone_to_total = 10.0 ** (tone_to_total_db / 10.0)

        freqs_hz = np.array(ROW_FREQS_HZ + COL_FREQS_HZ, dtype=np.float64)
        n = np.arange(BLOCK_SAMPLES, dtype=np.float64)[:, None]
        # Angles in turns, exactly reduced ((f·n mod fs) / fs), and sines without libm: the
        # same basis on every CPU (docs/dsp.md §6).
        turns = (freqs_hz * n % DETECTOR_RATE_HZ) / DETECTOR_RATE_HZ
        cos_n, sin_n = cos_turns(turns), sin_turns(turns)
        # Periodic Hann: sidelobes 268 Hz away (941 vs 1209 Hz, the closest row/column pair)
        # are ~42 dB down, so the other tone barely disturbs the phase-based frequency estimate.
        hann = 0.5 - 0.5 * cos_turns((n + 0.5) / BLOCK_SAMPLES)
        scale = np.sqrt(2.0 / BLOCK_SAMPLES)
        basis = np.hstack((scale * cos_n, scale * sin_n, hann * cos_n, hann * sin_n))
        # Removing each block's DC (spandsp assumes there is none) is folded into the basis:
        # Σ(x - mean(x))·b = Σx·(b - mean(b)), so zero-mean columns give the DFT of the
        # mean-removed block, an exact and chunk-independent DC blocker for a 12.75 ms window.
        basis -= basis.mean(axis=0)
        # The last column sums the samples, for the DC correction of the block energy.
        basis = np.hstack((basis, np.ones((BLOCK_SAMPLES, 1))))
        # One product per 51-sample sub-block: block k = sub-block k times the first half of
        # the basis + sub-block k+1 times the second half (columns 0-32 | 33-65).
        # Integer-valued (units of 2**-_BASIS_BITS) for exact products (_SAMPLE_BITS).
        self._n_cols = basis.shape[1]
        self._basis = np.ascontiguousarray(
            quantize(np.hstack((basis[:HOP_SAMPLES], basis[HOP_SAMPLES:])), _BASIS_BITS, 2.0)
        )
        # Expected phase advance over one hop at each nominal frequency (as cos, sin of the
        # rotation by −ω·hop), and the cosine of the largest tolerated deviation (a tone Δf off
        # advances by an extra 2π·Δf·hop/fs).
        hop_turns = (freqs_hz * HOP_SAMPLES % DETECTOR_RATE_HZ) / DETECTOR_RATE_HZ
        self._hop_cos = cos_turns(hop_turns)
        self._hop_sin = -sin_turns(hop_turns)
        max_phase_turns = freqs_hz * (max_freq_error_pct / 100.0) * HOP_SAMPLES / DETECTOR_RATE_HZ
        self._min_phase_cos = cos_turns(np.minimum(max_phase_turns, 0.5))

        # Streaming state.
        self._position = 0
        # Decimated samples from the start of the last complete sub-block on (its block is not
        # complete until the next sub-block arrives), and that sub-block's index.
        self._dec = np.zeros(0, dtype=np.float32)
        self._next_block = 0
        # The previous block's Hann-windowed bins (re | im), for the phase advance.
        self._prev_hann = np.zeros(16, dtype=np.float64)
        # Tone energies of the last _HISTORY_BLOCKS blocks (for start/end refinement).
        # Stored as the per-call arrays themselves (no copying on the hot path); joined only
        # when a start or an end is being decided.
        self._history: list[npt.NDArray[np.float64]] = []
        self._history_blocks = 0
        # Debounce state: current run of identical per-block results and the active digit.
        self._run_key = -1
        self._run_len = 0
        self._run_first_block = 0
        self._active = -1
        self._active_start = 0
        self._last_hit_block = 0
        self._misses = 0

    @property
    def position_samples(self) -> int:
        """Samples fed so far (at ``rate_hz``): the stream index of the next sample."""
        return self._position

    def active(self) -> str | None:
        """Key currently on, if any."""
        return DTMF_KEYS[self._active] if self._active >= 0 else None

    def process(self, samples: npt.NDArray[np.float32]) -> list[DtmfTone]:
        """Feed the next samples (any length); return the tone starts and ends decided by them."""
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim != 1:
            x = x.reshape(-1)
        if x.size == 0:
            return []
        self._position += x.size
        # Integer-valued (units of 2**-_SAMPLE_BITS, at most 2**23: exact in float32) for the
        # exact products below.
        dec = np.multiply(self._decimator.process(x), np.float32(2.0**_SAMPLE_BITS))
        limit = np.float32(_SAMPLE_LIMIT * 2.0**_SAMPLE_BITS)
        np.minimum(dec, limit, out=dec)
        np.maximum(dec, -limit, out=dec)
        np.rint(dec, out=dec)
        buf = np.concatenate((self._dec, dec)) if self._dec.size else dec
        n_sub = buf.size // HOP_SAMPLES
        if n_sub < 2:
            self._dec = buf.copy()
            return []
        subs = buf[: n_sub * HOP_SAMPLES].reshape(n_sub, HOP_SAMPLES)
        self._dec = buf[(n_sub - 1) * HOP_SAMPLES :].copy()
        first_block = self._next_block
        self._next_block += n_sub - 1

        # Integer-valued products and sums, exact on any BLAS (see _SAMPLE_BITS), then scaled
        # to sample units by a power of two (exact).
        half = self._n_cols
        subs64 = subs.astype(np.float64)
        if n_sub <= _MATMUL_ROWS:
            prod = subs64 @ self._basis
        else:
            prod = np.empty((n_sub, 2 * half), dtype=np.float64)
            for lo in range(0, n_sub, _MATMUL_ROWS):
                np.matmul(
                    subs64[lo : lo + _MATMUL_ROWS], self._basis, out=prod[lo : lo + _MATMUL_ROWS]
                )
        bins = prod[:-1, :half] + prod[1:, half:]
        bins *= 2.0 ** -(_SAMPLE_BITS + _BASIS_BITS)
        # Σx² of each sub-block: integer squares and sums below 2**53, exact in any order.
        sub_energy = np.add.reduce(np.square(subs64), axis=1)
        # Block energy with the block's DC removed: Σx² - (Σx)²/N.
        block_sum = bins[:, -1]
        energy = (sub_energy[:-1] + sub_energy[1:]) * 2.0 ** (-2 * _SAMPLE_BITS)
        energy -= block_sum * block_sum * (1.0 / BLOCK_SAMPLES)

        squares = bins[:, :16] * bins[:, :16]
        tone_energy = squares[:, :8] + squares[:, 8:]
        # Recent blocks' tone energies, kept across calls for refining start and end times.
        self._history.append(tone_energy)
        self._history_blocks += tone_energy.shape[0]
        while self._history_blocks - self._history[0].shape[0] >= _HISTORY_BLOCKS:
            self._history_blocks -= self._history.pop(0).shape[0]
        history_first = self._next_block - self._history_blocks

        hits = self._classify(bins, tone_energy, energy)
        if hits is None:
            if self._active < 0 and self._run_key < 0:
                return []
            hits = np.full(bins.shape[0], -1, dtype=np.int64)
        return self._debounce(hits, first_block, history_first)

    def _classify(
        self,
        bins: npt.NDArray[np.float64],
        tone_energy: npt.NDArray[np.float64],
        energy: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.int64] | None:
        """Per block: index of the DTMF key it holds, or -1; None if no block holds one."""
        prev_hann = self._prev_hann
        self._prev_hann = bins[-1, 16:32]
        rows, cols = tone_energy[:, :4], tone_energy[:, 4:]
        row_e = rows.max(axis=1)
        col_e = cols.max(axis=1)
        # Cheap screen first (level floor and tone-to-total): speech and noise stop here.
        ok = np.minimum(row_e, col_e) >= self._min_tone_energy
        ok &= (row_e + col_e) >= self._tone_to_total * energy
        if not ok.any():
            return None
        # Twist: the column tone at most reverse_twist above, at most normal_twist below.
        ok &= col_e < row_e * self._reverse_twist
        ok &= col_e * self._normal_twist > row_e
        best_row = np.argmax(rows, axis=1)
        best_col = np.argmax(cols, axis=1) + 4
        idx = np.arange(bins.shape[0])
        # Relative peak: the group's runner-up at least RELATIVE_PEAK_DB below its winner.
        # Rows use the rectangular bins (their neighbours are only 73-89 Hz away, inside a
        # Hann main lobe). Columns use the Hann bins: their neighbours are 127-156 Hz away
        # (≥ 12 dB down even with ±1.5 % offsets), and the rectangular window's sidelobes let
        # a row tone 268 Hz away (941 vs 1209 Hz) leak into a neighbouring column bin, which
        # with 8 dB of normal twist failed the test in every other block (measured).
        rows_sorted = np.sort(rows, axis=1)
        ok &= rows_sorted[:, 2] * self._relative_peak <= row_e
        cols_hann = bins[:, 20:24] * bins[:, 20:24] + bins[:, 28:32] * bins[:, 28:32]
        col_hann_e = cols_hann[idx, best_col - 4]
        cols_hann[idx, best_col - 4] = 0.0
        ok &= cols_hann.max(axis=1) * self._relative_peak <= col_hann_e
        # Frequency check: the winners' Hann bins must advance by the nominal phase per hop,
        # within the tolerance (block 0 of this call compares with the previous call's last).
        # Hann bin = re - j·im with re = bins[:, 16:24], im = bins[:, 24:32]. Real arithmetic on
        # purpose: numpy's complex multiply and abs use FMA on some CPUs and not on others
        # (docs/dsp.md §6), separate real multiplies and adds round the same everywhere.
        re, im = bins[:, 16:24], bins[:, 24:32]
        prev_re = np.vstack((prev_hann[None, :8], re[:-1]))
        prev_im = np.vstack((prev_hann[None, 8:], im[:-1]))
        for tone in (best_row, best_col):
            a_re, a_im = re[idx, tone], im[idx, tone]
            p_re, p_im = prev_re[idx, tone], prev_im[idx, tone]
            # (a_re - j·a_im)·conj(p_re - j·p_im) = x_re + j·x_im, then times the rotation.
            x_re = a_re * p_re + a_im * p_im
            x_im = a_re * p_im - a_im * p_re
            r_cos, r_sin = self._hop_cos[tone], self._hop_sin[tone]
            adv_re = x_re * r_cos - x_im * r_sin
            adv_im = x_re * r_sin + x_im * r_cos
            # |angle(advance)| <= max  <=>  Re(advance) >= |advance|·cos(max); an all-zero
            # previous block (digital silence) gives no evidence either way and passes.
            magnitude = np.sqrt(adv_re * adv_re + adv_im * adv_im)
            ok &= adv_re >= magnitude * self._min_phase_cos[tone]
        hits: npt.NDArray[np.int64] = np.where(ok, best_row * 4 + best_col - 4, -1)
        return hits

    def _block_start(self, block: int) -> int:
        """Stream index (at rate_hz) of the first sample of a block."""
        return block * HOP_SAMPLES * self._factor

    def _block_end(self, block: int) -> int:
        """Stream index (at rate_hz) just after the last sample of a block."""
        return (block * HOP_SAMPLES + BLOCK_SAMPLES) * self._factor

    def _decided_at(self, block: int) -> int:
        """Stream position at which a block's input was complete (FIR look-ahead included)."""
        last = (block * HOP_SAMPLES + BLOCK_SAMPLES - 1) * self._factor
        return last + self._decimator.lookahead_samples + 1

    def _winners(self) -> tuple[list[int], list[float]]:
        """Per recent block: the key winning both groups above the floor (or -1), its energy."""
        history = np.concatenate(self._history) if len(self._history) > 1 else self._history[0]
        rows, cols = history[:, :4], history[:, 4:]
        row_e, col_e = rows.max(axis=1), cols.max(axis=1)
        key = np.argmax(rows, axis=1) * 4 + np.argmax(cols, axis=1)
        key[np.minimum(row_e, col_e) < self._min_tone_energy] = -1
        keys: list[int] = key.tolist()
        energies: list[float] = (row_e + col_e).tolist()
        return keys, energies

    def _edge(
        self,
        key: int,
        first_hit: int,
        last_hit: int,
        step: int,
        winners: tuple[list[int], list[float]],
        history_first: int,
    ) -> int:
        """Refined onset (step -1) or end (step +1) of ``key``'s run of hits, at rate_hz.

        A run starts (ends) at the first block that passes every test, but partly filled blocks
        next to it often fail only the stricter ones (twist, relative peak, frequency). Walk over
        neighbours in which the key still wins both groups with at least a tenth of the run's
        energy, then place the edge inside the outermost one: a tone covering a fraction f of a
        block gives a bin energy f² times that of a full block (coherent sum).
        """
        keys, energies = winners
        history_end = history_first + len(keys)

        def energy(block: int) -> float:
            i = block - history_first
            return energies[i] if history_first <= block < history_end and keys[i] == key else 0.0

        ref = max((energy(b) for b in range(first_hit, last_hit + 1)), default=0.0)
        edge_block = first_hit if step < 0 else last_hit
        for _ in range(_EDGE_SEARCH_BLOCKS):
            if energy(edge_block + step) < _EDGE_MIN_ENERGY_RATIO * ref or ref <= 0.0:
                break
            edge_block += step
        covered = math.sqrt(min(1.0, energy(edge_block) / ref)) if ref > 0.0 else 1.0
        empty_samples = round(BLOCK_SAMPLES * (1.0 - covered)) * self._factor
        if step < 0:
            return self._block_start(edge_block) + empty_samples
        return self._block_end(edge_block) - empty_samples

    def _debounce(
        self,
        hits: npt.NDArray[np.int64],
        first_block: int,
        history_first: int,
    ) -> list[DtmfTone]:
        """Run the begin/end state machine over per-block hits; return the tones it decides."""
        out: list[DtmfTone] = []
        computed: list[tuple[list[int], list[float]]] = []

        def winners() -> tuple[list[int], list[float]]:
            # Only calls that decide a start or an end pay for this (once per call).
            if not computed:
                computed.append(self._winners())
            return computed[0]

        run_key, run_len, run_first = self._run_key, self._run_len, self._run_first_block
        active, misses = self._active, self._misses
        for offset, hit in enumerate(hits.tolist()):
            if hit < 0 and active < 0 and run_key < 0:
                continue  # idle and nothing heard: nothing to update
            block = first_block + offset
            if hit == run_key:
                run_len += 1
            else:
                run_key, run_len, run_first = hit, 1, block
            if active >= 0:
                if hit == active:
                    misses = 0
                    self._last_hit_block = block
                else:
                    misses += 1
                    other_confirmed = hit >= 0 and run_len >= self._hits_to_begin
                    if other_confirmed or misses >= self._misses_to_end:
                        # A different key confirmed (rolled keypad, no gap) also ends this one.
                        last_hit = self._last_hit_block
                        end = self._edge(
                            active,
                            last_hit - self._hits_to_begin + 1,
                            last_hit,
                            1,
                            winners(),
                            history_first,
                        )
                        end = min(end, self._decided_at(block) - 1)
                        if other_confirmed:
                            next_start = self._edge(
                                hit, run_first, block, -1, winners(), history_first
                            )
                            end = min(end, next_start)
                        end = max(end, self._active_start + 1)
                        out.append(
                            DtmfTone(
                                DTMF_KEYS[active], self._active_start, end, self._decided_at(block)
                            )
                        )
                        active = -1
            if active < 0 and hit >= 0 and run_len == self._hits_to_begin:
                active, misses = hit, 0
                self._active_start = self._edge(hit, run_first, block, -1, winners(), history_first)
                self._last_hit_block = block
                out.append(
                    DtmfTone(DTMF_KEYS[hit], self._active_start, None, self._decided_at(block))
                )
        self._run_key, self._run_len, self._run_first_block = run_key, run_len, run_first
        self._active, self._misses = active, misses
        return out


__all__ = [
    "COL_FREQS_HZ",
    "DTMF_KEYS",
    "ROW_FREQS_HZ",
    "DtmfDetector",
    "DtmfTone",
    "dtmf_sequence",
    "dtmf_tone",
    "key_frequencies",
]
