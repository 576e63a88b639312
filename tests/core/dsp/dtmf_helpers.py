"""Signal builders and drivers shared by the DTMF tests (deterministic: every caller seeds)."""

from __future__ import annotations

import wave
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from app.core.dsp.dtmf import DTMF_KEYS, DtmfDetector, DtmfTone, dtmf_tone

Signal = npt.NDArray[np.float32]

RATE_HZ = 16_000  # the engine rate; the detector's default
# One 102-sample block at 8 kHz (12.75 ms) counted at 16 kHz: the back-dating tolerance.
BLOCK_16K_SAMPLES = 204
SPEECH_DIR = Path(__file__).resolve().parents[2] / "data" / "speech"


def silence(n_samples: int) -> Signal:
    """Digital silence."""
    return np.zeros(n_samples, dtype=np.float32)


def random_phases(rng: np.random.Generator) -> tuple[float, float]:
    """Independent uniform start phases for the two tones."""
    low, high = rng.uniform(0.0, 2.0 * np.pi, 2)
    return float(low), float(high)


def random_keys(rng: np.random.Generator, n_keys: int) -> str:
    """A random key string over all sixteen keys."""
    return "".join(rng.choice(list(DTMF_KEYS), n_keys))


@dataclass(frozen=True)
class Burst:
    """A synthesised key press inside a test stream: key and true [start, end) in samples."""

    key: str
    start: int
    end: int


def tone_train(
    keys: str,
    duration_s: float,
    rng: np.random.Generator,
    *,
    min_gap_s: float = 0.1,
    max_gap_s: float = 0.15,
    rate_hz: int = RATE_HZ,
    **tone_kw: Any,
) -> tuple[Signal, list[Burst]]:
    """Keys as tones with random phases, separated by random gaps (random onset vs. blocks)."""
    parts: list[Signal] = []
    bursts: list[Burst] = []
    pos = 0
    for key in keys:
        gap = silence(int(rng.integers(round(min_gap_s * rate_hz), round(max_gap_s * rate_hz))))
        tone = dtmf_tone(
            key,
            duration_s,
            rate_hz=rate_hz,
            phase_rad=random_phases(rng),
            **tone_kw,
        )
        parts += [gap, tone]
        pos += gap.size
        bursts.append(Burst(key, pos, pos + tone.size))
        pos += tone.size
    parts.append(silence(round(max_gap_s * rate_hz)))
    return np.concatenate(parts), bursts


def detect(
    x: npt.NDArray[np.floating], detector: DtmfDetector | None = None, block_samples: int = 0
) -> list[DtmfTone]:
    """Run a fresh (or given) detector over ``x``, whole or in blocks; return every event."""
    det = detector if detector is not None else DtmfDetector()
    signal = np.asarray(x, dtype=np.float32)
    if block_samples <= 0:
        return det.process(signal)
    out: list[DtmfTone] = []
    for lo in range(0, signal.size, block_samples):
        out += det.process(signal[lo : lo + block_samples])
    return out


def starts(tones: Iterable[DtmfTone]) -> list[DtmfTone]:
    """Only the start events."""
    return [t for t in tones if t.end_sample is None]


def keys_of(tones: Iterable[DtmfTone]) -> str:
    """The keys of the start events, in order."""
    return "".join(t.key for t in starts(tones))


def white_noise(rng: np.random.Generator, n_samples: int, in_band_power: float) -> Signal:
    """White noise at 16 kHz whose power *within 0-4 kHz* (the detector's band) is given.

    Half of white noise's power lies above 4 kHz, where the detector's decimation removes it;
    doubling keeps the specified SNR honest in the telephone band the Q.24 figures assume.
    """
    noise: Signal = (rng.standard_normal(n_samples) * np.sqrt(2.0 * in_band_power)).astype(
        np.float32
    )
    return noise


def load_speech_clips() -> list[Signal]:
    """The espeak-ng speech fixtures (16 kHz mono PCM16) as float32, sorted by name."""
    clips: list[Signal] = []
    for path in sorted(SPEECH_DIR.glob("*.wav")):
        with wave.open(str(path), "rb") as wav:
            assert wav.getframerate() == RATE_HZ and wav.getnchannels() == 1
            assert wav.getsampwidth() == 2
            pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        clips.append((pcm.astype(np.float32) / 32768.0).astype(np.float32))
    return clips
