"""A call served by the local Graph endpoint: its Graph state, callback, media mode and engine.

The Graph-level state (incoming → establishing → established → terminated) lives here; what
happens *inside* the call (operations, timers, recordings) is the engine's, reached through
``host`` (an ``EngineHost`` run by the endpoint's engine pool). Mutated only on the server's
event-loop thread; other threads may read the attributes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from app.engine.host import EngineHost
from app.graph import payloads
from app.graph.calls import MediaConfig
from app.server.events import CallState, Direction


class Caller(Protocol):
    """The caller's side of one served call."""

    def start(self) -> None:
        """The call is established: begin feeding ``call.host`` (must not block)."""
        ...

    def stop(self) -> None:
        """The call ended or the server stops: stop feeding (may block briefly)."""
        ...


CallerFactory = Callable[["ServerCall"], Caller]


class ServerCall:
    """One served call (read-only outside the server's event loop)."""

    def __init__(
        self,
        *,
        call_id: str,
        direction: Direction,
        state: CallState,
        callback_uri: str,
        media_config: MediaConfig | None,
        modalities: tuple[str, ...],
        echoed: dict[str, Any],
        host: EngineHost,
        recordings_dir: Path,
    ) -> None:
        self.call_id = call_id
        self.direction: Direction = direction
        self.state: CallState = state
        self.callback_uri = callback_uri
        self.media_config = media_config
        self.modalities = modalities
        self.echoed = echoed
        self.host = host
        self.recordings_dir = recordings_dir
        self.caller: Caller | None = None
        self.call_chain_id = payloads.new_id()
        self.my_participant_id = payloads.new_id()
        self.created_wall_s = time.time()
        self.established_wall_s: float | None = None
        self.ended_wall_s: float | None = None
        # Set the moment the bot sends DELETE or reject: from then on the call is gone for HTTP,
        # even before the engine has reported the end.
        self.released = False
        self.timers: dict[str, asyncio.TimerHandle] = {}

    @property
    def gone(self) -> bool:
        """True once the call has ended or the bot released it (HTTP answers 404)."""
        return self.released or self.state == "terminated"

    @property
    def service_hosted(self) -> bool:
        """True for a serviceHostedMediaConfig call (the only kind that may use media actions)."""
        return self.media_config is not None and self.media_config.mode == "serviceHosted"

    def cancel_timer(self, name: str) -> None:
        """Cancel the named timer if it is set."""
        handle = self.timers.pop(name, None)
        if handle is not None:
            handle.cancel()

    def resource(self) -> dict[str, Any]:
        """The ``call`` resource as GET and the create response show it."""
        extra: dict[str, Any] = {
            "direction": self.direction,
            "callChainId": self.call_chain_id,
            "requestedModalities": list(self.modalities),
            "myParticipantId": self.my_participant_id,
        }
        if self.media_config is not None:
            extra["mediaConfig"] = self.media_config.json
        extra.update(self.echoed)
        return payloads.call_resource(
            call_id=self.call_id, state=self.state, callback_uri=self.callback_uri, **extra
        )
