"""Prompt audio handed to the engine by an adapter, and the service's own beep.

The engine does no I/O: an adapter (files, HTTP) implements ``PromptLoader`` and returns either
decoded audio with its format or a load error; the engine decides what Graph would answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from app.core.clock import ENGINE_RATE_HZ, seconds_to_samples
from app.core.dsp.portable import cos_turns, sin_turns

FloatArray = npt.NDArray[np.float32]

# mediaInfo.uri "must point to a WAV file, single channel, 16-bit samples, 16 kHz"
# (docs/graph-contract.md §1.2 [V S7]).
PROMPT_RATE_HZ = 16_000
PROMPT_CHANNELS = 1
PROMPT_SUBTYPE = "PCM_16"
PROMPT_CONTAINER = "WAV"


@dataclass(frozen=True, slots=True)
class LoadedPrompt:
    """Decoded prompt audio exactly as found, with its format, so the engine can judge it."""

    samples: FloatArray  # 1-D mono or 2-D (frames, channels), float in [-1, 1]
    rate_hz: int
    channels: int
    subtype: str  # soundfile subtype name, e.g. "PCM_16"
    container: str  # soundfile format name, e.g. "WAV"


@dataclass(frozen=True, slots=True)
class PromptLoadError:
    """Why a prompt could not be had: not downloadable, not decodable, or not playable at all."""

    kind: Literal["download", "format", "play"]
    detail: str


# A prompt that takes longer than this to load fails the operation with 8536 rather than
# stalling the call; the service's own limit is undocumented (docs/graph-contract.md §4 [I]).
DEFAULT_PROMPT_TIMEOUT_S = 5.0
PromptLoader = Callable[[str], "LoadedPrompt | PromptLoadError"]
# Asks an adapter to load a prompt off the engine's thread: ``(request key, uri)``. The adapter
# hands the result back with ``Call.prompt_loaded(key, result)`` (app/engine/host.py does both).
PromptRequester = Callable[[str, str], None]


def prompt_format_problem(prompt: LoadedPrompt) -> str | None:
    """Return why ``prompt`` breaks the WAV mono 16-bit 16 kHz rule, or None if it is fine."""
    problems = []
    if prompt.container != PROMPT_CONTAINER:
        problems.append(f"container {prompt.container} (expected WAV)")
    if prompt.subtype != PROMPT_SUBTYPE:
        problems.append(f"sample format {prompt.subtype} (expected PCM_16)")
    if prompt.channels != PROMPT_CHANNELS:
        problems.append(f"{prompt.channels} channels (expected 1)")
    if prompt.rate_hz != PROMPT_RATE_HZ:
        problems.append(f"{prompt.rate_hz} Hz (expected 16000)")
    return ", ".join(problems) if problems else None


# The Teams beep is not documented; a short 1 kHz tone with 5 ms ramps is what IVR users expect
# and is far from every DTMF frequency pair, so it can never be taken for a key. [I]
BEEP_FREQ_HZ = 1000.0
BEEP_DURATION_S = 0.3
BEEP_LEVEL_DBFS = -12.0
BEEP_RAMP_S = 0.005


def default_beep(rate_hz: int = ENGINE_RATE_HZ) -> FloatArray:
    """Synthesise the service beep played before recording (resources/beep.wav is made from it)."""
    n = seconds_to_samples(BEEP_DURATION_S, rate_hz)
    # sin_turns/cos_turns, not np.sin/np.cos: the same samples on every CPU (docs/dsp.md §6).
    turns = np.arange(n, dtype=np.float64) * (BEEP_FREQ_HZ / rate_hz)
    tone = sin_turns(turns) * 10 ** (BEEP_LEVEL_DBFS / 20)
    ramp = seconds_to_samples(BEEP_RAMP_S, rate_hz)
    window = np.ones(n)
    half = 0.5 - 0.5 * cos_turns(np.arange(ramp) / (2 * ramp))
    window[:ramp] = half
    window[n - ramp :] = half[::-1]
    return (tone * window).astype(np.float32)
