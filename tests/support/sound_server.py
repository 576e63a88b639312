"""The project's virtual sound server for live-audio tests (see virtual_audio.sh).

PulseAudio must be running before the test process imports sounddevice: ALSA decides what
"default" means when PortAudio initialises. ``ensure_virtual_audio`` therefore starts it at
collection time, and only if sounddevice is not imported yet.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("virtual_audio.sh")
SOCKET = os.environ.get("CALLSIM_VA_SOCKET", "/run/pulse/native")
START_TIMEOUT_S = 30

_state: dict[str, str | None] = {}


def _pactl(*args: str) -> str | None:
    if shutil.which("pactl") is None:
        return None
    env = {**os.environ, "PULSE_SERVER": f"unix:{SOCKET}"}
    try:
        done = subprocess.run(
            ["pactl", *args], capture_output=True, text=True, timeout=10, env=env, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def virtual_devices_ready() -> bool:
    """True when the vmic source and the vmic_feed / vspeaker sinks exist."""
    sinks = _pactl("list", "short", "sinks")
    sources = _pactl("list", "short", "sources")
    if sinks is None or sources is None:
        return False
    sink_names = {line.split("\t")[1] for line in sinks.splitlines() if "\t" in line}
    source_names = {line.split("\t")[1] for line in sources.splitlines() if "\t" in line}
    return {"vmic_feed", "vspeaker"} <= sink_names and "vmic" in source_names


def ensure_virtual_audio() -> str | None:
    """Start the virtual devices if needed; return None when ready, else why they are not."""
    if "reason" in _state:
        return _state["reason"]
    reason: str | None = None
    if not virtual_devices_ready():
        if "sounddevice" in sys.modules:
            reason = (
                "the virtual sound server is not running and sounddevice is already imported "
                f"(run `bash {SCRIPT.relative_to(SCRIPT.parents[2])} start` before pytest)"
            )
        elif shutil.which("pulseaudio") is None:
            reason = (
                "no sound server can start: pulseaudio is not installed "
                "(apt-get install pulseaudio pulseaudio-utils libasound2-plugins libportaudio2)"
            )
        else:
            try:
                done = subprocess.run(
                    ["bash", str(SCRIPT), "start"],
                    capture_output=True,
                    text=True,
                    timeout=START_TIMEOUT_S,
                    check=False,
                )
                if done.returncode != 0 or not virtual_devices_ready():
                    reason = f"the virtual sound server did not start: {done.stderr.strip()}"
            except (OSError, subprocess.TimeoutExpired) as exc:
                reason = f"the virtual sound server did not start: {exc}"
    if reason is None:
        # Make libpulse (and so ALSA's pulse plugin) use it even where a desktop server runs.
        os.environ["PULSE_SERVER"] = f"unix:{SOCKET}"
    _state["reason"] = reason
    return reason


def feed_microphone(path: Path) -> subprocess.Popen[bytes]:
    """Play ``path`` into the virtual microphone (returns the running paplay)."""
    env = {**os.environ, "PULSE_SERVER": f"unix:{SOCKET}"}
    return subprocess.Popen(
        ["paplay", "--latency-msec=20", "--device=vmic_feed", str(path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def capture_speaker(path: Path) -> subprocess.Popen[bytes]:
    """Record the virtual speaker into ``path`` until terminated (SIGINT finalises the WAV)."""
    env = {**os.environ, "PULSE_SERVER": f"unix:{SOCKET}"}
    return subprocess.Popen(
        [
            "parecord",
            "--latency-msec=20",
            "--device=vspeaker.monitor",
            "--rate=48000",
            "--channels=1",
            "--format=s16le",
            "--file-format=wav",
            str(path),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_sound_server() -> None:
    """Stop the shared virtual sound server (a test of device loss; ALWAYS start it again)."""
    subprocess.run(["bash", str(SCRIPT), "stop"], capture_output=True, timeout=30, check=True)


def start_sound_server() -> None:
    """Start the shared virtual sound server; raises if it does not come up."""
    done = subprocess.run(
        ["bash", str(SCRIPT), "start"], capture_output=True, text=True, timeout=30, check=False
    )
    if done.returncode != 0 or not virtual_devices_ready():
        raise RuntimeError(f"the virtual sound server did not start again: {done.stderr}")
