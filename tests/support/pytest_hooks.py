"""Shared conftest logic for tests/ui and tests/audio."""

from __future__ import annotations

import os

import pytest

from tests.support.sound_server import ensure_virtual_audio


def prepare_environment() -> None:
    """Qt off screen unless a test picks a platform itself."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def start_audio_if_needed(items: list[pytest.Item]) -> None:
    """Start the virtual sound server when audio-marked tests were collected."""
    if any(item.get_closest_marker("audio") for item in items):
        ensure_virtual_audio()


@pytest.fixture(scope="session")
def sound_server() -> None:
    """Skip (with the reason) when the virtual microphone and speaker are not available."""
    reason = ensure_virtual_audio()
    if reason is not None:
        pytest.skip(reason)
    from app.audio.devices import probe_audio

    status = probe_audio()
    if not status.available or not status.inputs or not status.outputs:
        pytest.skip(f"PortAudio sees no virtual devices: {status.banner or 'no input/output'}")
