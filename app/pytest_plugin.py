"""The CallSim pytest plugin (entry point ``pytest11``: installed with the package, no conftest).

Fixtures:
- ``callsim_graph``: a started ``LocalGraph`` (``app/testing.py``) with a silent caller, stopped
  after the test;
- ``callsim_graph_factory``: ``factory(scenario=..., wav=..., **options)`` starts one with a
  given caller; every one started is stopped after the test.

Example (README, "QA"): the bot's Graph base URL is ``graph.graph_url``; the test waits for
the ending with ``graph.wait_for_operation_end()`` and finds the WAV the bot downloaded.
Nothing is imported until a fixture is used: the plugin loads in every pytest session of an
environment where CallSim is installed, and must cost those sessions nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from app.testing import LocalGraph


@pytest.fixture
def callsim_graph_factory() -> Iterator[Callable[..., LocalGraph]]:
    """Start local Graph endpoints (``factory(scenario=..., wav=..., ...)``); stopped after."""
    from app.testing import LocalGraph

    started: list[LocalGraph] = []

    def start(**options: Any) -> LocalGraph:
        graph = LocalGraph(**options).start()
        started.append(graph)
        return graph

    yield start
    for graph in reversed(started):
        graph.stop()


@pytest.fixture
def callsim_graph(callsim_graph_factory: Callable[..., LocalGraph]) -> LocalGraph:
    """A local Graph endpoint with a silent caller: ``.graph_url``, ``.recordings_dir``."""
    return callsim_graph_factory()
