"""Device status without PortAudio, the file-backed fake devices, the mixer, TOML strings."""

from __future__ import annotations

import tomllib
from types import ModuleType

import numpy as np
import pytest

from app.audio.devices import NO_DEVICE_FIX, PORTAUDIO_FIX, load_sounddevice, probe_audio
from app.audio.fake import FakeOutputDevice, FileInputDevice
from app.audio.mixer import Mixer
from app.session.export import toml_string
from app.session.live import quantize_pcm16


def _no_portaudio() -> ModuleType:
    # What `import sounddevice` raises on Linux without libportaudio2.
    raise OSError("PortAudio library not found")


class _NoDevices:
    """A sounddevice stand-in for a machine with PortAudio but no sound card or server."""

    @staticmethod
    def query_devices() -> list[dict]:
        return []

    @staticmethod
    def query_hostapis() -> list[dict]:
        return [{"name": "ALSA"}]

    @staticmethod
    def get_portaudio_version() -> tuple[int, str]:
        return (1246720, "PortAudio V19.6.0-devel")


def test_missing_portaudio_is_a_status_with_the_fix() -> None:
    status = probe_audio(importer=_no_portaudio)
    assert not status.available
    assert status.problem == "PortAudio library not found"
    assert status.fix == PORTAUDIO_FIX and "libportaudio2" in status.fix
    assert status.banner.startswith("No live audio: PortAudio library not found. Fix: install")
    assert "WAV file as the microphone" in status.banner
    with pytest.raises(Exception, match="libportaudio2"):
        load_sounddevice(_no_portaudio)


def test_no_devices_is_a_status_with_the_fix() -> None:
    status = probe_audio(importer=lambda: _NoDevices)  # type: ignore[arg-type,return-value]
    assert not status.available
    assert status.problem == "no audio devices found" and status.fix == NO_DEVICE_FIX
    assert status.portaudio_version == "PortAudio V19.6.0-devel"


def test_file_input_pumps_blocks_then_silence() -> None:
    track = np.arange(1, 1001, dtype=np.float32) / 1000
    mic = FileInputDevice(track, rate_hz=8000, block_frames=300, realtime=False)
    assert mic.pump(1200) == 1200
    blocks = [mic.read(0.0) for _ in range(4)]
    assert [len(b) for b in blocks] == [300, 300, 300, 300]
    assert mic.read(0.0) is None
    got = np.concatenate(blocks)[:, 0]
    assert np.array_equal(got[:1000], track) and not got[1000:].any()
    assert mic.finished and mic.overflows == 0


def test_file_input_loops_and_silence_device() -> None:
    mic = FileInputDevice(np.array([1, 2, 3], dtype=np.float32), block_frames=4, realtime=False)
    mic.loop = True
    mic.pump(8)
    got = np.concatenate([mic.read(0.0), mic.read(0.0)])[:, 0]
    assert got.tolist() == [1, 2, 3, 1, 2, 3, 1, 2]
    silence = FileInputDevice(None, realtime=False)
    silence.pump(320)
    assert silence.name == "Silence" and not silence.read(0.0).any()


def test_file_input_realtime_paces_blocks() -> None:
    mic = FileInputDevice(np.ones(16000, dtype=np.float32), block_frames=160, realtime=True)
    mic.start()
    first = mic.read(2.0)
    mic.stop()
    assert first is not None and len(first) == 160


def test_file_input_held_delivers_nothing_then_resumes_where_it_stopped() -> None:
    track = np.arange(16000, dtype=np.float32) / 16000
    mic = FileInputDevice(track, block_frames=160, realtime=True)
    mic.start()
    try:
        assert mic.read(2.0) is not None
        mic.hold()
        while mic.read(0.05) is not None:  # what was queued before the hold
            pass
        held_at = mic.position
        assert mic.read(0.3) is None and mic.position == held_at
        mic.release()
        block = mic.read(2.0)
        assert block is not None and block[0, 0] == track[held_at]
    finally:
        mic.stop()


def test_mixer_sums_replaces_stops_and_reports_progress() -> None:
    mixer = Mixer(16000)
    mixer.play(np.full(100, 0.25, np.float32), 16000, "a")
    mixer.play(np.full(50, 0.5, np.float32), 16000, "b")
    out = mixer.render(80)
    assert np.allclose(out[:50], 0.75) and np.allclose(out[50:], 0.25)
    assert mixer.progress("a") == (80, 100) and not mixer.playing("b")
    mixer.play(np.full(10, 0.1, np.float32), 16000, "a")  # same tag: replaced
    assert np.allclose(mixer.render(20)[:10], 0.1)
    mixer.play(np.ones(100, np.float32), 8000, "c")  # resampled to the mixer's rate
    assert mixer.progress("c") == (0, 200)
    mixer.stop("c")
    assert not mixer.render(10).any()


def test_fake_output_keeps_what_it_played() -> None:
    speaker = FakeOutputDevice(16000, realtime=False, block_frames=64)
    speaker.mixer.play(np.full(100, 0.5, np.float32), 16000, "x")
    speaker.pump(160)
    played = speaker.played()
    assert len(played) == 160 and np.allclose(played[:100], 0.5) and not played[100:].any()


def test_quantize_pcm16_is_the_wav_grid() -> None:
    x = np.array([0.0, 1e-6, 0.5, -1.0, 1.0, 0.123456], dtype=np.float32)
    q = quantize_pcm16(x)
    assert np.array_equal(q * 32768, np.round(q * 32768))
    assert q[4] == 32767 / 32768 and q[3] == -1.0
    assert np.array_equal(quantize_pcm16(q), q)


@pytest.mark.parametrize(
    "text",
    ["plain", 'quote " and \\ backslash', "new\nline\ttab", "del\x7fchar", "é 日本 😀", "\x00"],
)
def test_toml_string_round_trips(text: str) -> None:
    assert tomllib.loads(f"v = {toml_string(text)}")["v"] == text
