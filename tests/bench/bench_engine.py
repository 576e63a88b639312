"""Engine speed: audio-seconds processed per CPU-second, next to a plain soundfile read+write.

Run: ``uv run python -m tests.bench.bench_engine``. The clip is 60 s of mixed caller audio
(the espeak-ng speech fixtures, pauses, in-band DTMF keys, background noise) fed through the
whole engine (DTMF, VAD, endpointer, timers, recording chunks) with recordResponse operations
back to back, so capture is always active. Two feeds are measured:
- headless: 16 kHz in 0.5 s blocks, exactly how ``callsim run`` feeds a scenario; the
  ≥ 500x real-time target applies here;
- live: 48 kHz in 20 ms blocks, like a sound card callback (adds resampling and per-block
  overhead; live only needs 1x).
The baseline is soundfile reading and writing the same 60 s as a WAV in the same run, so the
reported ratio does not depend on how fast this machine is.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from app.core.call import Call, CallConfig
from app.core.dsp.dtmf import dtmf_tone

SPEECH_DIR = Path(__file__).resolve().parents[1] / "data" / "speech"
CLIP_S = 60.0
MODES = {
    # mode: (input rate, block samples)
    "headless": (16_000, 8_000),  # app.scenario.runner.FEED_BLOCK_SAMPLES
    "live": (48_000, 960),  # 20 ms at 48 kHz, a typical device callback
}


def mixed_clip(seed: int = 7) -> np.ndarray:
    """60 s at 16 kHz: speech fixtures with pauses, a DTMF key now and then, noise."""
    rng = np.random.default_rng(seed)
    clips = [sf.read(str(p), dtype="float32")[0] for p in sorted(SPEECH_DIR.glob("*.wav"))]
    out = np.zeros(int(CLIP_S * 16000), dtype=np.float32)
    pos = 8000
    i = 0
    while pos < len(out) - 16000:
        clip = clips[i % len(clips)]
        end = min(len(out), pos + len(clip))
        out[pos:end] += clip[: end - pos]
        pos = end + int(rng.uniform(0.3, 2.5) * 16000)
        if i % 3 == 2 and pos < len(out) - 4000:
            tone = dtmf_tone("0123456789"[i % 10], 0.1)
            out[pos : pos + len(tone)] += tone
            pos += 3200
        i += 1
    out += (rng.standard_normal(len(out)) * 10 ** (-55 / 20)).astype(np.float32)
    return out


def cpu_seconds(fns: list[Callable[[], None]], repeat: int) -> list[float]:
    """Best-of-``repeat`` process CPU time of each fn, the fns taking turns in every round.

    Taking turns means a spell of machine noise (another process on the core, frequency
    scaling) hits both sides of a ratio rather than one of them.
    """
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t0 = time.process_time()
            fn()
            best[i] = min(best[i], time.process_time() - t0)
    return best


def run_engine(audio: np.ndarray, rate_hz: int, block: int, vad: str | None = None) -> None:
    """Feed the clip through one call with back-to-back recordResponse operations."""
    call = Call(CallConfig(**({"vad": vad} if vad else {})))
    body = {
        "playBeep": True,
        "maxRecordDurationInSeconds": 10,
        "maxSilenceTimeoutInSeconds": 2,
        "initialSilenceTimeoutInSeconds": 5,
        "stopTones": ["#"],
    }
    for _ in range(20):
        call.action("recordResponse", body)
    for i in range(0, len(audio), block):
        call.feed(audio[i : i + block], rate_hz)
        call.drain()
    call.flush()
    call.drain()


def run_soundfile(audio: np.ndarray, rate_hz: int) -> None:
    """The baseline: write the clip as a PCM16 WAV and read it back, in memory."""
    buf = io.BytesIO()
    sf.write(buf, audio, rate_hz, subtype="PCM_16", format="WAV")
    buf.seek(0)
    sf.read(buf, dtype="float32")


def measure(mode: str = "headless", vad: str | None = None, repeat: int = 3) -> dict[str, float]:
    """Speeds in audio-seconds per CPU-second and their ratio, for one feed mode."""
    rate_hz, block = MODES[mode]
    audio = mixed_clip()
    if rate_hz != 16_000:
        audio = soxr.resample(audio, 16_000, rate_hz).astype(np.float32)

    def baseline() -> None:
        # One run takes ~10 ms against ~60 ms for the engine: four runs per turn, so that the
        # best of them is not dominated by timer noise.
        for _ in range(4):
            run_soundfile(audio, rate_hz)

    engine_s, four_baselines_s = cpu_seconds(
        [lambda: run_engine(audio, rate_hz, block, vad), baseline], max(5, repeat)
    )
    baseline_s = four_baselines_s / 4
    return {
        "engine_x_realtime": CLIP_S / engine_s,
        "soundfile_x_realtime": CLIP_S / baseline_s,
        "engine_over_soundfile": baseline_s / engine_s,
    }


def main() -> None:
    """Print a markdown table for the README, or one measurement as JSON (``--json``)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="one measurement, as JSON")
    parser.add_argument("--mode", choices=sorted(MODES), default="headless")
    parser.add_argument("--vad", default=None, help="classifier (default: the engine's)")
    args = parser.parse_args()
    if args.json:
        print(json.dumps(measure(args.mode, args.vad, args.repeat)))
        return
    print(
        "| feed | VAD | engine (× real time) | soundfile read+write (× real time) "
        "| engine / soundfile |"
    )
    print("|---|---|---|---|---|")
    for mode in MODES:
        for vad in ("energy", "webrtc"):
            m = measure(mode, vad, args.repeat)
            print(
                f"| {mode} | {vad} | {m['engine_x_realtime']:.0f}× "
                f"| {m['soundfile_x_realtime']:.0f}× | {m['engine_over_soundfile']:.2f} |"
            )


if __name__ == "__main__":
    main()
