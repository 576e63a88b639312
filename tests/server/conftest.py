"""Fixtures: real GraphServer instances on 127.0.0.1, stopped after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from app.server.caller import CallerScript
from app.server.server import GraphServer
from tests.server.support import make_server


@pytest.fixture
def serve() -> Iterator[Callable[..., GraphServer]]:
    """Start a GraphServer (``serve(script, speed=..., **GraphServer kwargs)``); stopped after."""
    started: list[Any] = []

    def start(script: CallerScript | None = None, **kwargs: Any) -> GraphServer:
        server, pacer = make_server(script, **kwargs)
        started.append((server, pacer))
        return server

    yield start
    for server, pacer in started:
        server.stop(grace_s=0.2)
        pacer.stop()
        assert not server.running
