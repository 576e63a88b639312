"""``callsim run`` as a user runs it: start-up, speed on real speech, and memory against length.

Run: ``uv run python -m tests.bench.bench_run`` (a markdown report for the README), or
``--json startup|speed|memory`` for one measurement (what tests/bench/test_bench_run.py checks).

Every figure comes from whole ``callsim run`` processes (``python -m app run ... --quiet``),
their CPU time (user + system, from ``wait4``) and peak RSS; wall times are reported too, but a
shared 2-core machine makes them noisy, so the ratios use CPU time:
- start-up: ``callsim run`` of a short example scenario against
  ``python -c "import numpy, soundfile"``, best of 5 each, taking turns;
- speed: 120 s of continuous real human speech at 48 kHz (tests/data/speech/real, MIT) through
  ``callsim run`` with recordResponse operations back to back (VAD, DTMF, WAV written), minus
  the same scenario cut to 0.5 s (start-up, imports, file opening), median of 3; against a
  plain soundfile read + PCM16 write of the same audio, best of 5 in this process;
- memory: scenarios of 1 to 60 minutes of caller audio (the same 120 s clip again and again, a
  recordResponse every 2 minutes): peak RSS and time of each run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

ROOT = Path(__file__).resolve().parents[2]
REAL_SPEECH_DIR = ROOT / "tests" / "data" / "speech" / "real"
SHORT_SCENARIO = ROOT / "resources" / "scenarios" / "8514-stop-tone.toml"
SPEECH_RATE_HZ = 48_000
SPEECH_S = 120.0
MEMORY_MINUTES = (1, 10, 30, 60)


def continuous_speech(seconds: float = SPEECH_S, rate_hz: int = SPEECH_RATE_HZ) -> np.ndarray:
    """Real speech at ``rate_hz``: the 16 kHz and the 8 kHz recordings one after the other."""
    parts = []
    for name in ("silero-test-16k.wav", "silero-aepyx-8k.wav"):
        x, r = sf.read(str(REAL_SPEECH_DIR / name), dtype="float32")
        parts.append(soxr.resample(x, r, rate_hz).astype(np.float32))
    audio = np.concatenate(parts)
    need = int(seconds * rate_hz)
    return np.tile(audio, need // len(audio) + 1)[:need]


def write_speech_wav(folder: Path) -> Path:
    path = folder / "speech-48k.wav"
    if not path.exists():
        sf.write(str(path), continuous_speech(), SPEECH_RATE_HZ, subtype="PCM_16")
    return path


RECORD_BODY = (
    "{ playBeep = true, maxRecordDurationInSeconds = 60, maxSilenceTimeoutInSeconds = 2, "
    'initialSilenceTimeoutInSeconds = 5, stopTones = ["#"] }'
)


def speed_scenario(folder: Path, end_s: float) -> Path:
    """recordResponse operations queued back to back over the 120 s clip; ends at ``end_s``."""
    wav = write_speech_wav(folder)
    lines = [f'name = "speech {end_s}"', "[call]", "seed = 7", f"end = {end_s}"]
    for _ in range(40):
        lines += ["[[bot]]", "at = 0.0", 'action = "recordResponse"', f"body = {RECORD_BODY}"]
    lines += ["[[caller]]", "at = 0.5", f'audio = "{wav.name}"']
    path = folder / f"speech-{end_s:g}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def memory_scenario(folder: Path, minutes: int) -> Path:
    """``minutes`` of caller audio (the 120 s clip end to end), a recordResponse every 2 min."""
    wav = write_speech_wav(folder)
    lines = [f'name = "{minutes} min"', "[call]", "seed = 7", f"end = {minutes * 60.0}"]
    body = (
        "{ playBeep = true, maxRecordDurationInSeconds = 110, maxSilenceTimeoutInSeconds = 10, "
        "initialSilenceTimeoutInSeconds = 10 }"
    )
    for start_s in range(0, minutes * 60, int(SPEECH_S)):
        lines += ["[[bot]]", f"at = {start_s + 0.5}", 'action = "recordResponse"', f"body = {body}"]
        lines += ["[[caller]]", f"at = {float(start_s)}", f'audio = "{wav.name}"']
    path = folder / f"memory-{minutes}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# Runs the command given as JSON in argv[1], then prints its rusage. The measured process is
# started from this small interpreter, not from the benchmark's: on Linux a child's peak RSS
# includes what the process that started it held when it did (the memory is inherited until
# exec), and the benchmark holds tens of MB of audio.
_LAUNCHER = """
import json, os, subprocess, sys
proc = subprocess.Popen(json.loads(sys.argv[1]), stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
print(json.dumps([os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime,
                  usage.ru_maxrss]))
"""


def run_process(command: list[str]) -> dict[str, float]:
    """Run ``command``; its wall time, CPU time (user + system) and peak RSS in MB."""
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-S", "-c", _LAUNCHER, json.dumps(command)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    wall_s = time.perf_counter() - t0
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"launcher failed: {done.stderr}")
    code, cpu_s, rss_kb = json.loads(done.stdout.splitlines()[-1])
    if code != 0:
        raise RuntimeError(f"{command} exited {code}: {done.stderr}")
    return {"wall_s": wall_s, "cpu_s": cpu_s, "rss_mb": rss_kb / 1024}  # ru_maxrss: KB on Linux


def callsim_run(scenario: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "app", "run", str(scenario), "--out", str(out), "--quiet"]


def medians(
    commands: list[list[str]], repeat: int, pick: Callable[..., float] = statistics.median
) -> list[dict[str, float]]:
    """Median (or ``pick``) wall and CPU time of each command, taking turns in every round.

    Taking turns means a spell of load from elsewhere hits both sides of a ratio.
    """
    runs: list[list[dict[str, float]]] = [[] for _ in commands]
    for _ in range(repeat):
        for i, command in enumerate(commands):
            runs[i].append(run_process(command))
    return [{k: pick([r[k] for r in rs]) for k in rs[0]} for rs in runs]


def measure_startup(repeat: int = 5) -> dict[str, float]:
    """Best of ``repeat`` (load from elsewhere only ever adds time)."""
    with tempfile.TemporaryDirectory() as tmp:
        imports = [sys.executable, "-c", "import numpy, soundfile"]
        commands = [imports, callsim_run(SHORT_SCENARIO, Path(tmp) / "o")]
        base, run = medians(commands, repeat, pick=min)
    return {
        "imports_cpu_s": base["cpu_s"],
        "imports_wall_s": base["wall_s"],
        "run_cpu_s": run["cpu_s"],
        "run_wall_s": run["wall_s"],
        "run_over_imports_cpu": run["cpu_s"] / base["cpu_s"],
        "run_over_imports_wall": run["wall_s"] / base["wall_s"],
    }


def best_cpu_s(fn: Callable[[], None], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def measure_speed(repeat: int = 3) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        full = speed_scenario(folder, SPEECH_S + 0.5)
        cut = speed_scenario(folder, 0.5)
        wav = write_speech_wav(folder)
        full_m, cut_m = medians(
            [callsim_run(full, folder / "full"), callsim_run(cut, folder / "cut")], repeat
        )

        def read_write() -> None:
            x, r = sf.read(str(wav), dtype="float32")
            sf.write(str(folder / "copy.wav"), x, r, subtype="PCM_16")

        baseline_s = best_cpu_s(read_write, 5)
    beyond_s = max(full_m["cpu_s"] - cut_m["cpu_s"], 1e-6)
    return {
        "run_cpu_s": full_m["cpu_s"],
        "startup_cpu_s": cut_m["cpu_s"],
        "run_x_realtime": SPEECH_S / beyond_s,
        "soundfile_x_realtime": SPEECH_S / baseline_s,
        "run_over_soundfile": baseline_s / beyond_s,
    }


def measure_memory(minutes: tuple[int, ...] = MEMORY_MINUTES) -> dict[str, dict[str, float]]:
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for m in minutes:
            result[str(m)] = run_process(callsim_run(memory_scenario(folder, m), folder / str(m)))
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", choices=("startup", "speed", "memory"))
    parser.add_argument("--minutes", type=int, nargs="*", default=list(MEMORY_MINUTES))
    args = parser.parse_args()
    if args.json == "startup":
        print(json.dumps(measure_startup()))
        return
    if args.json == "speed":
        print(json.dumps(measure_speed()))
        return
    if args.json == "memory":
        print(json.dumps(measure_memory(tuple(args.minutes))))
        return
    s = measure_startup()
    print("| start-up | CPU | wall |\n|---|---|---|")
    print(
        f'| `python -c "import numpy, soundfile"` | {s["imports_cpu_s"]:.2f} s '
        f"| {s['imports_wall_s']:.2f} s |"
    )
    print(f"| `callsim run` (8514 example) | {s['run_cpu_s']:.2f} s | {s['run_wall_s']:.2f} s |")
    print(f"| ratio | {s['run_over_imports_cpu']:.2f} | {s['run_over_imports_wall']:.2f} |\n")
    v = measure_speed()
    print("| 120 s of real speech at 48 kHz | × real time beyond start-up |\n|---|---|")
    print(f"| `callsim run` | {v['run_x_realtime']:.0f}× |")
    print(f"| soundfile read + write | {v['soundfile_x_realtime']:.0f}× |")
    print(f"| ratio | {v['run_over_soundfile']:.3f} |\n")
    mem = measure_memory(tuple(args.minutes))
    print("| caller audio | peak RSS | wall | CPU |\n|---|---|---|---|")
    for m, r in mem.items():
        print(f"| {m} min | {r['rss_mb']:.0f} MB | {r['wall_s']:.1f} s | {r['cpu_s']:.1f} s |")


if __name__ == "__main__":
    main()
