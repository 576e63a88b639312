"""The engine's sample clock: every decision in app/core is a sample index at ENGINE_RATE_HZ."""

from __future__ import annotations

# Graph prompts must be WAV mono 16-bit 16 kHz (docs/graph-contract.md §1.2, mediaInfo [V S7]); the
# recording is assumed to be the same format (§7 [I]), so the engine runs at 16 kHz mono.
ENGINE_RATE_HZ = 16_000

# 20 ms analysis frames: WebRTC VAD accepts 10/20/30 ms, and 20 ms gives 1/50 s resolution,
# at most 2 % of the smallest Graph timeout of 1 s (docs/dsp.md §5).
FRAME_SAMPLES = 320


def seconds_to_samples(seconds: float, rate_hz: int = ENGINE_RATE_HZ) -> int:
    """Convert seconds to a whole number of samples (rounded to nearest)."""
    return round(seconds * rate_hz)


def samples_to_seconds(samples: int, rate_hz: int = ENGINE_RATE_HZ) -> float:
    """Convert a sample count to seconds."""
    return samples / rate_hz
