"""Synthetic caller audio and a small driver for engine tests (deterministic, seeded)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.core import events as ev
from app.core.call import Call, CallConfig
from app.core.clock import ENGINE_RATE_HZ, seconds_to_samples

RATE = ENGINE_RATE_HZ
FRAME_S = 0.02


def noise(seconds: float, level_dbfs: float = -70.0, seed: int = 1) -> np.ndarray:
    """Background noise at a given RMS level."""
    rng = np.random.default_rng(seed)
    n = seconds_to_samples(seconds)
    return (rng.standard_normal(n) * 10 ** (level_dbfs / 20)).astype(np.float32)


def voice(seconds: float, level_dbfs: float = -20.0, seed: int = 2) -> np.ndarray:
    """A speech-like signal: harmonics of a wandering pitch with a syllable-rate envelope."""
    rng = np.random.default_rng(seed)
    n = seconds_to_samples(seconds)
    t = np.arange(n) / RATE
    f0 = 140 + 20 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    x = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.75 + 0.25 * np.sin(2 * np.pi * 4 * t)
    x = x * envelope + rng.standard_normal(n) * 0.05
    x = x / np.sqrt(np.mean(x**2)) * 10 ** (level_dbfs / 20)
    return x.astype(np.float32)


def track(*parts: tuple[str, float]) -> np.ndarray:
    """Concatenate ("v", seconds) voice and ("s", seconds) silence parts over a noise floor."""
    pieces = []
    for i, (kind, seconds) in enumerate(parts):
        piece = (
            voice(seconds, seed=10 + i)
            if kind == "v"
            else np.zeros(seconds_to_samples(seconds), np.float32)
        )
        pieces.append(piece)
    x = np.concatenate(pieces)
    return x + noise(len(x) / RATE)


@dataclass
class Run:
    """Collected events of one call."""

    call: Call
    events: list[ev.Event] = field(default_factory=list)

    def pump(self) -> None:
        self.events.extend(self.call.drain())

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    @property
    def endings(self) -> list[ev.OperationEnded]:
        return self.of(ev.OperationEnded)

    def notifications(self) -> list[dict[str, Any]]:
        return [n.payload for n in self.of(ev.Notification)]

    def recording(self, operation_id: str) -> np.ndarray:
        chunks = [c.pcm16 for c in self.of(ev.RecordingChunk) if c.operation_id == operation_id]
        return np.frombuffer(b"".join(chunks), dtype="<i2")


def record_body(**overrides: Any) -> dict[str, Any]:
    """A recordResponse body with no prompt and no beep unless overridden."""
    body: dict[str, Any] = {
        "playBeep": False,
        "initialSilenceTimeoutInSeconds": 5,
        "maxSilenceTimeoutInSeconds": 5,
        "maxRecordDurationInSeconds": 30,
    }
    body.update(overrides)
    return body


def feed_all(
    call: Call,
    audio: np.ndarray,
    *,
    block: int = 1600,
    rate_hz: int = RATE,
    at: Iterable[tuple[float, Any]] = (),
) -> Run:
    """Feed ``audio`` in blocks, calling each ``(seconds, fn(call))`` at its exact sample."""
    run = Run(call)
    todo = sorted(((seconds_to_samples(s, rate_hz), i, fn) for i, (s, fn) in enumerate(at)))
    pos = 0
    while pos < len(audio) or todo:
        nxt = todo[0][0] if todo else len(audio)
        end = min(nxt, pos + block, len(audio)) if pos < len(audio) else nxt
        if end > pos:
            call.feed(audio[pos:end], rate_hz)
            pos = end
        while todo and todo[0][0] <= pos:
            todo.pop(0)[2](call)
        if pos >= len(audio) and todo and todo[0][0] > pos:
            # Past the audio: feed silence up to the next timed action.
            gap = todo[0][0] - pos
            call.feed(np.zeros(gap, np.float32), rate_hz)
            pos += gap
        run.pump()
    call.flush()
    run.pump()
    return run


def new_call(**config: Any) -> Call:
    """A Call with deterministic ids."""
    counter = iter(range(1, 1_000_000))
    return Call(
        CallConfig(**config),
        call_id="57dab8b1-894c-409a-b240-bd8beae78896",
        id_factory=lambda: f"00000000-0000-4000-8000-{next(counter):012d}",
        token_factory=lambda: "token",
    )
