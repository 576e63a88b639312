"""Typed inputs of a call: the bot's actions and the stamped inputs waiting for the analysis.

A bot action, a loaded prompt or a hang-up is stamped with the sample it was given at and
applied when the analysis (which runs ``LOOKAHEAD_SAMPLES`` behind the feed) reaches that sample
(docs/architecture.md §3 "app/core"). Values are frozen: they cross threads (app/engine/host.py)
and wait in ``PendingInputs`` unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from app.core.media import LoadedPrompt, PromptLoadError
from app.graph.requests import (
    CancelMediaProcessingRequest,
    PlayPromptRequest,
    RecordResponseRequest,
    SubscribeToToneRequest,
)
from app.graph.results import CallEnd

ActionName = Literal["recordResponse", "playPrompt", "cancelMediaProcessing", "subscribeToTone"]
ACTIONS: tuple[ActionName, ...] = get_args(ActionName)
MediaActionName = Literal["recordResponse", "playPrompt"]
HangUpBy = Literal["caller", "bot"]
ActionRequest = (
    RecordResponseRequest
    | PlayPromptRequest
    | CancelMediaProcessingRequest
    | SubscribeToToneRequest
)


@dataclass(frozen=True, slots=True)
class BotAction:
    """A bot's POST to one of the call's actions, as it arrives (the body still unparsed).

    ``name`` is a str too: an unknown action is the call's to answer with a Graph error.
    """

    name: ActionName | str
    body: object
    request_id: str | None = None
    client_request_id: str | None = None
    date: str | None = None


@dataclass(frozen=True, slots=True)
class AcceptedAction:
    """An action answered 200, waiting for the analysis to reach its sample."""

    name: ActionName
    operation_id: str
    request: ActionRequest


@dataclass(frozen=True, slots=True)
class PromptLoaded:
    """A prompt loaded off the engine's thread (``key`` is "operation id/prompt index")."""

    key: str
    result: LoadedPrompt | PromptLoadError


@dataclass(frozen=True, slots=True)
class HangUp:
    """The call ends: by whom, and the resultInfo it ends with."""

    by: HangUpBy
    reason: CallEnd


Input = AcceptedAction | PromptLoaded | HangUp


@dataclass(frozen=True, slots=True, order=True)
class Pending:
    """An input stamped at sample ``at``; ``seq`` keeps inputs of one sample in arrival order."""

    at: int
    seq: int
    input: Input = field(compare=False)


class PendingInputs:
    """Inputs not yet applied, taken earliest first (then in arrival order)."""

    __slots__ = ("_items", "_seq")

    def __init__(self) -> None:
        self._items: list[Pending] = []
        self._seq = 0

    def __bool__(self) -> bool:
        return bool(self._items)

    def add(self, at: int, item: Input) -> None:
        self._seq += 1
        self._items.append(Pending(at, self._seq, item))

    def first(self) -> Pending:
        """The earliest pending input (there must be one)."""
        return min(self._items)

    def remove(self, pending: Pending) -> None:
        self._items.remove(pending)

    def media_waiting(self) -> bool:
        """Whether an accepted recordResponse or playPrompt waits to be queued."""
        return any(
            isinstance(p.input, AcceptedAction) and p.input.name in ("recordResponse", "playPrompt")
            for p in self._items
        )
