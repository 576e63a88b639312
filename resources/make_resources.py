"""Regenerates the audio in resources/ (beep, sample prompts, caller clips for the scenarios).

Run from the repository root: ``uv run python resources/make_resources.py``. Needs espeak-ng
(Debian package ``espeak-ng``) for the spoken clips; output is deterministic for a given
espeak-ng version. Prompts are WAV mono PCM16 16 kHz as Graph requires
(docs/graph-contract.md §1.2); caller clips are deliberately at other rates (48 kHz, 22.05 kHz)
because callers may be.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from app.core.media import default_beep  # noqa: E402

PROMPTS = {
    "welcome.wav": (
        "en-us+f3",
        "Thanks for calling. After the beep, please say your name, then press pound.",
    ),
    "leave-message.wav": ("en-gb", "Please leave a short message after the tone."),
}
CALLER = {
    # name: (voice, text, output rate)
    "answer-48k.wav": ("en-us", "My name is Alex Morgan, calling about my account.", 48_000),
    "answer-22k.wav": ("en-gb+f2", "Yes, please call me back tomorrow.", 22_050),
}


def speak(voice: str, text: str) -> tuple[np.ndarray, int]:
    """Render text with espeak-ng; returns float32 samples and their rate (22050 Hz)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "s.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "160", "-w", str(out), text], check=True)
        data, rate = sf.read(str(out), dtype="float32")
    # Normalise to -3 dBFS peak so every clip sits at a realistic level.
    data = data / max(float(np.abs(data).max()), 1e-9) * 10 ** (-3 / 20)
    return data.astype(np.float32), int(rate)


def main() -> None:
    """Write every resource file."""
    sf.write(str(ROOT / "beep.wav"), default_beep(), 16_000, subtype="PCM_16")
    for name, (voice, text) in PROMPTS.items():
        data, rate = speak(voice, text)
        sf.write(
            str(ROOT / "prompts" / name),
            soxr.resample(data, rate, 16_000),
            16_000,
            subtype="PCM_16",
        )
    audio = ROOT / "scenarios" / "audio"
    for name, (voice, text, out_rate) in CALLER.items():
        data, rate = speak(voice, text)
        sf.write(str(audio / name), soxr.resample(data, rate, out_rate), out_rate, subtype="PCM_16")
    # Broken prompts for the failure scenarios: wrong format (8 kHz stereo) and not audio.
    data, rate = speak("en-us", "This prompt has the wrong format.")
    stereo = np.stack([soxr.resample(data, rate, 8_000)] * 2, axis=1)
    sf.write(str(audio / "prompt-8k-stereo.wav"), stereo, 8_000, subtype="PCM_16")
    (audio / "not-audio.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEthis is not audio data\n")


if __name__ == "__main__":
    main()
