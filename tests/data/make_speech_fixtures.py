"""Regenerate the speech fixtures in tests/data/speech/ from espeak-ng renders.

Run from the repository root: `uv run python -m tests.data.make_speech_fixtures`.
Needs the `espeak-ng` program on PATH (the committed WAVs do not). Each clip is rendered at
espeak-ng's native 22 050 Hz, resampled to the engine's 16 kHz with soxr, padded with digital
silence, normalised to a fixed active speech level and written as 16 kHz mono PCM16. The speech
spans in labels.json are computed from that clean signal by frame energy with a generous
threshold, so they include faint onsets and tails.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soxr

from app.core.clock import ENGINE_RATE_HZ

SPEECH_DIR = Path(__file__).resolve().parent / "speech"
LABELS_PATH = SPEECH_DIR / "labels.json"

# espeak-ng's voices render at 22 050 Hz (its fixed output rate).
ESPEAK_RATE_HZ = 22_050

# Digital silence around each utterance so a clip is a complete "caller answers" event on its own.
LEAD_SILENCE_S = 0.30
TAIL_SILENCE_S = 0.30

# Active speech level of each clip: −20 dBFS RMS over labelled speech frames, a typical telephony
# level (ITU-T P.56 speech at about −26 dBov plus headroom); peaks stay below PEAK_LIMIT_DBFS.
ACTIVE_LEVEL_DBFS = -20.0
PEAK_LIMIT_DBFS = -1.0

# Labelling: 10 ms frames; "speech" if the frame RMS exceeds −60 dBFS, i.e. 40 dB under the active
# level. The clean render is digitally silent between words, so a low (generous) threshold only
# adds faint fricatives and decays to the spans, never noise.
LABEL_FRAME_SAMPLES = 160
LABEL_THRESHOLD_DBFS = -60.0
# Gaps shorter than 100 ms are merged: the endpointer ignores non-speech dips shorter than that
# (docs/dsp.md §3.4), so a shorter gap is not a pause anybody could observe.
LABEL_MERGE_GAP_SAMPLES = 1_600


@dataclass(frozen=True, slots=True)
class ClipSpec:
    """One fixture: file name, espeak-ng voice, speed (words/min), pitch (0-99) and text."""

    name: str
    voice: str
    speed_wpm: int
    pitch: int
    text: str


CLIPS: tuple[ClipSpec, ...] = (
    ClipSpec("us_male_order.wav", "en-us", 165, 45, "Hi, this is Jordan calling about my order."),
    ClipSpec(
        "us_female_callback.wav",
        "en-us+f3",
        160,
        55,
        "Please call me back tomorrow morning. Thank you.",
    ),
    ClipSpec(
        "gb_male_account.wav",
        "en-gb+m3",
        150,
        40,
        "My account number is four seven one two, nine nine.",
    ),
    ClipSpec(
        "gb_female_address.wav",
        "en-gb-x-rp+f2",
        170,
        60,
        "I moved house last month, so the address has changed.",
    ),
    ClipSpec(
        "scot_male_yes.wav",
        "en-gb-scotland+m5",
        140,
        35,
        "Yes. That is right. I would like to cancel the appointment.",
    ),
    ClipSpec(
        "car_female_slow.wav",
        "en-029+f4",
        125,
        65,
        "Hello? Can you hear me? I am calling from the office.",
    ),
    ClipSpec(
        "us_male_fast.wav",
        "en-us+m7",
        200,
        30,
        "Sorry, I missed your call, the best time to reach me is after five.",
    ),
    ClipSpec(
        "us_female_short.wav",
        "en-us+f5",
        155,
        70,
        "No, thanks.",
    ),
)


def render(spec: ClipSpec, workdir: Path) -> npt.NDArray[np.float32]:
    """Render one clip with espeak-ng and return it at ESPEAK_RATE_HZ as float32 in [-1, 1)."""
    out = workdir / spec.name
    cmd = ["espeak-ng", "-v", spec.voice, "-s", str(spec.speed_wpm), "-p", str(spec.pitch)]
    subprocess.run([*cmd, "-w", str(out), spec.text], check=True)
    with wave.open(str(out), "rb") as wav:
        assert wav.getframerate() == ESPEAK_RATE_HZ, wav.getframerate()
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
        raw = wav.readframes(wav.getnframes())
    return (np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0).astype(np.float32)


def frame_levels_dbfs(
    signal: npt.NDArray[np.float32], frame_samples: int
) -> npt.NDArray[np.float64]:
    """RMS level in dBFS of each whole frame (trailing partial frame dropped)."""
    n_frames = len(signal) // frame_samples
    frames = signal[: n_frames * frame_samples].astype(np.float64).reshape(n_frames, frame_samples)
    power = np.mean(frames * frames, axis=1)
    return 10.0 * np.log10(np.maximum(power, 1e-20))


def speech_spans(signal: npt.NDArray[np.float32]) -> list[tuple[int, int]]:
    """Speech spans [start, end) in samples: frames above the threshold, short gaps merged."""
    active = frame_levels_dbfs(signal, LABEL_FRAME_SAMPLES) > LABEL_THRESHOLD_DBFS
    spans: list[tuple[int, int]] = []
    for index in np.flatnonzero(active):
        start = int(index) * LABEL_FRAME_SAMPLES
        end = start + LABEL_FRAME_SAMPLES
        if spans and start - spans[-1][1] < LABEL_MERGE_GAP_SAMPLES:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def make_clip(spec: ClipSpec, workdir: Path) -> tuple[npt.NDArray[np.int16], list[tuple[int, int]]]:
    """Render, resample, pad and normalise one clip; return PCM16 samples and speech spans."""
    native = render(spec, workdir)
    resampled = soxr.resample(native, ESPEAK_RATE_HZ, ENGINE_RATE_HZ, quality="HQ")
    # Trim espeak's own leading/trailing silence so every clip gets the same padding.
    nonzero = np.flatnonzero(np.abs(resampled) > 1e-4)
    trimmed = resampled[nonzero[0] : nonzero[-1] + 1]
    lead = np.zeros(round(LEAD_SILENCE_S * ENGINE_RATE_HZ), dtype=np.float32)
    tail = np.zeros(round(TAIL_SILENCE_S * ENGINE_RATE_HZ), dtype=np.float32)
    signal = np.concatenate([lead, trimmed.astype(np.float32), tail])

    # Normalise the active level (frames within 40 dB of the loudest frame) to ACTIVE_LEVEL_DBFS.
    levels = frame_levels_dbfs(signal, LABEL_FRAME_SAMPLES)
    active = levels > levels.max() - 40.0
    active_power = np.mean(10.0 ** (levels[active] / 10.0))
    gain = 10.0 ** ((ACTIVE_LEVEL_DBFS - 10.0 * np.log10(active_power)) / 20.0)
    peak_limit = 10.0 ** (PEAK_LIMIT_DBFS / 20.0)
    gain = min(gain, peak_limit / float(np.max(np.abs(signal))))
    pcm = np.round(signal * gain * 32767.0).astype(np.int16)
    clean = (pcm.astype(np.float32) / 32768.0).astype(np.float32)
    return pcm, speech_spans(clean)


def write_wav(path: Path, pcm: npt.NDArray[np.int16]) -> None:
    """Write 16 kHz mono PCM16."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(ENGINE_RATE_HZ)
        wav.writeframes(pcm.astype("<i2").tobytes())


def main() -> int:
    """Regenerate every clip and labels.json."""
    SPEECH_DIR.mkdir(parents=True, exist_ok=True)
    labels: dict[str, object] = {
        "rate_hz": ENGINE_RATE_HZ,
        "format": "WAV PCM16 mono",
        "span_units": "samples, [start, end)",
        "label_frame_samples": LABEL_FRAME_SAMPLES,
        "label_threshold_dbfs": LABEL_THRESHOLD_DBFS,
        "label_merge_gap_samples": LABEL_MERGE_GAP_SAMPLES,
        "active_level_dbfs": ACTIVE_LEVEL_DBFS,
        "source": "espeak-ng renders, see tests/data/make_speech_fixtures.py",
    }
    clips: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for spec in CLIPS:
            pcm, spans = make_clip(spec, Path(tmp))
            write_wav(SPEECH_DIR / spec.name, pcm)
            clips[spec.name] = {
                "voice": spec.voice,
                "speed_wpm": spec.speed_wpm,
                "pitch": spec.pitch,
                "text": spec.text,
                "num_samples": len(pcm),
                "spans": [list(span) for span in spans],
            }
            print(f"{spec.name}: {len(pcm) / ENGINE_RATE_HZ:.2f} s, {len(spans)} spans")
    labels["clips"] = clips
    text = json.dumps(labels, indent=1)
    # One [start, end] pair per line keeps the file short and its diffs readable.
    text = re.sub(r"\[\s+(\d+),\s+(\d+)\s+\]", r"[\1, \2]", text)
    LABELS_PATH.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
