"""Bounded polling for tests that cross threads (no fixed sleeps: wait for a condition)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

POLL_S = 0.005


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0, what: str = "") -> None:
    """Return as soon as ``predicate()`` is true; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what or predicate}")
        pause.wait(POLL_S)
