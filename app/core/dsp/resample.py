"""Streaming conversion of any caller audio (rate, channels, dtype) to 16 kHz mono float32."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import soxr

from app.core.clock import ENGINE_RATE_HZ

FloatArray = npt.NDArray[np.float32]

# int16 full scale; soundfile and sounddevice use the same convention (x / 32768).
_INT16_SCALE = 32768.0


def to_mono_float32(samples: npt.ArrayLike) -> FloatArray:
    """Return ``samples`` as 1-D float32 in [-1, 1], averaging channels if there are several."""
    x = np.asarray(samples)
    if x.dtype == np.int16:
        x = x.astype(np.float32) / _INT16_SCALE
    elif x.dtype == np.int32:
        x = (x.astype(np.float64) / 2147483648.0).astype(np.float32)
    else:
        x = x.astype(np.float32, copy=False)
    if x.ndim == 2:
        x = x.mean(axis=1, dtype=np.float32) if x.shape[1] > 1 else x[:, 0]
    elif x.ndim != 1:
        raise ValueError(f"audio must be 1-D or 2-D (frames, channels), got shape {x.shape}")
    return np.ascontiguousarray(x, dtype=np.float32)


def to_pcm16(samples: FloatArray) -> bytes:
    """Float [-1, 1] samples to little-endian PCM16 bytes, clipped (recording format, §7)."""
    # In place on one float32 copy, with float32 bounds: np.clip with Python ints costs more
    # than the conversion itself on the 100 ms chunks the engine commits.
    scaled = np.asarray(samples, dtype=np.float32) * np.float32(_INT16_SCALE)
    np.rint(scaled, out=scaled)
    np.minimum(scaled, np.float32(32767.0), out=scaled)
    np.maximum(scaled, np.float32(-32768.0), out=scaled)
    return scaled.astype("<i2").tobytes()


class StreamResampler:
    """Resamples a stream fed in blocks of any size to ENGINE_RATE_HZ (exact in total length)."""

    def __init__(self, in_rate_hz: int, out_rate_hz: int = ENGINE_RATE_HZ) -> None:
        if in_rate_hz <= 0:
            raise ValueError(f"sample rate must be positive, got {in_rate_hz}")
        self.in_rate_hz = in_rate_hz
        self.out_rate_hz = out_rate_hz
        # soxr "HQ" is transparent for speech and still > 1000x real time on one core; it
        # compensates its own filter delay, so output sample k is input time k / out_rate.
        self._stream = (
            None
            if in_rate_hz == out_rate_hz
            else soxr.ResampleStream(in_rate_hz, out_rate_hz, 1, dtype="float32", quality="HQ")
        )

    def process(self, samples: npt.ArrayLike) -> FloatArray:
        """Feed the next block (any dtype/channels); return what is ready at the output rate."""
        x = to_mono_float32(samples)
        if self._stream is None:
            return x
        out: FloatArray = self._stream.resample_chunk(x)
        return out

    def flush(self) -> FloatArray:
        """Return the samples still held in the filter at end of stream."""
        if self._stream is None:
            return np.zeros(0, dtype=np.float32)
        out: FloatArray = self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        return out


def resample_all(
    samples: npt.ArrayLike, in_rate_hz: int, out_rate_hz: int = ENGINE_RATE_HZ
) -> FloatArray:
    """Resample a whole clip at once (used for prompts in lenient mode and for scenario clips)."""
    x = to_mono_float32(samples)
    if in_rate_hz == out_rate_hz:
        return x
    out: FloatArray = soxr.resample(x, in_rate_hz, out_rate_hz, quality="HQ").astype(
        np.float32, copy=False
    )
    return out
