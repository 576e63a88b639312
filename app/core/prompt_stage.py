"""The prompt stage of a media operation: its prompts loaded, checked, scheduled, then the beep.

Prompts are loaded inline (headless runs stay deterministic) or, once ``requester`` is set, off
the engine's thread: the operation then waits on the sample clock (phase "loading") until every
result is back. A prompt with a resourceId is cached under it ("the service caches the
downloaded prompt under that key", docs/graph-contract.md §1.2 [V S7]). A prompt that cannot be
played turns into the Ending Graph reports (docs/architecture.md §3 "app/core").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from app.core.dsp.resample import resample_all, to_mono_float32
from app.core.media import (
    LoadedPrompt,
    PromptLoader,
    PromptLoadError,
    PromptRequester,
    prompt_format_problem,
)
from app.core.operations import Operation, PlayPromptOperation, RecordOperation
from app.graph.requests import MediaPrompt
from app.graph.results import Ending

FloatArray = npt.NDArray[np.float32]
# One slot per prompt of an operation: its result, or None while it is not loaded yet.
Slot = LoadedPrompt | PromptLoadError | None
Playback = tuple[Literal["prompt", "beep"], int, int, FloatArray]

_LOAD_ENDINGS = {
    "download": Ending.PROMPT_DOWNLOAD_FAILED,
    "format": Ending.PROMPT_FORMAT_INVALID,
    "play": Ending.PROMPT_FAILED,
}


def prompts_of(op: Operation) -> Sequence[MediaPrompt]:
    """The prompts an operation plays before anything else."""
    if isinstance(op, RecordOperation | PlayPromptOperation) and op.request:
        return op.request.prompts
    return ()


class PromptStage:
    """Loads, caches and schedules the prompts (and the beep) of the operations of one call."""

    def __init__(self, *, load_prompt: PromptLoader, beep: FloatArray, lenient: bool) -> None:
        self._load_prompt = load_prompt
        self._beep = beep
        self._lenient = lenient
        self._cache: dict[str, LoadedPrompt | PromptLoadError] = {}
        # Off-thread loading: None = the loader runs inline, when the operation starts.
        self.requester: PromptRequester | None = None
        # Operations waiting for their prompts: op id -> (op, one slot per prompt).
        self._loading: dict[str, tuple[Operation, list[Slot]]] = {}

    def begin(self, op: Operation) -> list[Slot] | None:
        """``op`` starts: its slots to schedule now, or None while it waits for loads."""
        prompts = prompts_of(op)
        if self.requester is None:
            return [None] * len(prompts)
        slots: list[Slot] = [
            self._cache.get(p.resource_id) if p.resource_id else None for p in prompts
        ]
        if any(slot is None for slot in slots):
            # Wait on the sample clock while an adapter loads them off this thread.
            op.phase = "loading"
            self._loading[op.operation_id] = (op, slots)
            for index, slot in enumerate(slots):
                if slot is None:
                    self.requester(f"{op.operation_id}/{index}", prompts[index].uri)
            return None
        return slots

    def loaded(
        self, key: str, result: LoadedPrompt | PromptLoadError
    ) -> tuple[Operation, list[Slot]] | None:
        """A requested prompt is back: the operation and its slots once all are, else None.

        None too when the operation ended meanwhile (cancelled, media timeout, hang-up).
        """
        op_id, _, index_text = key.rpartition("/")
        waiting = self._loading.get(op_id)
        if waiting is None:
            return None
        op, slots = waiting
        index = int(index_text)
        slots[index] = result
        resource_id = prompts_of(op)[index].resource_id
        if resource_id and isinstance(result, LoadedPrompt):
            self._cache[resource_id] = result
        if all(slot is not None for slot in slots):
            return op, slots
        return None

    def forget(self, operation_id: str) -> None:
        """The operation no longer waits (it plays, or it ended)."""
        self._loading.pop(operation_id, None)

    def forget_all(self) -> None:
        self._loading.clear()

    def schedule(self, op: Operation, at: int, loaded: list[Slot]) -> list[Playback] | Ending:
        """The playback of the prompts (``None`` slots: load inline now) and the beep from
        ``at``, or the Ending of the first prompt that cannot be played."""
        schedule: list[Playback] = []
        cursor = at
        for prompt, result in zip(prompts_of(op), loaded, strict=True):
            samples = self._samples(prompt.uri, prompt.resource_id, result)
            if isinstance(samples, Ending):
                return samples
            schedule.append(("prompt", cursor, cursor + len(samples), samples))
            cursor += len(samples)
        if isinstance(op, RecordOperation) and op.request is not None and op.request.play_beep:
            schedule.append(("beep", cursor, cursor + len(self._beep), self._beep))
        return schedule

    def _samples(self, uri: str, resource_id: str | None, loaded: Slot) -> FloatArray | Ending:
        """Load (unless given), check and convert one prompt; an Ending says why it cannot be
        played."""
        cache_key = resource_id or uri
        if loaded is None:
            loaded = self._cache.get(cache_key)
        if loaded is None:
            loaded = self._load_prompt(uri)
            if resource_id and isinstance(loaded, LoadedPrompt):
                self._cache[cache_key] = loaded
        if isinstance(loaded, PromptLoadError):
            return _LOAD_ENDINGS[loaded.kind]
        problem = prompt_format_problem(loaded)
        if problem and not self._lenient:
            return Ending.PROMPT_FORMAT_INVALID
        samples = resample_all(to_mono_float32(loaded.samples), loaded.rate_hz)
        if len(samples) == 0:
            return Ending.PROMPT_FAILED
        return samples
