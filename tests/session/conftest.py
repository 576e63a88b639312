"""Fixtures: Qt off screen, and the virtual sound server for tests marked ``audio``."""

from __future__ import annotations

import pytest

from tests.support.pytest_hooks import prepare_environment, sound_server, start_audio_if_needed

__all__ = ["sound_server"]

prepare_environment()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Start the sound server before any test imports sounddevice."""
    start_audio_if_needed(items)
