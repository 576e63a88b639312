"""How many concurrent served calls stay real time, and what an idle call costs.

``uv run python -m tests.bench.bench_concurrency`` (about 2-3 minutes, every part bounded):

1. Idle CPU of ``callsim serve`` with one established call whose caller is silent, from the
   server process's /proc/<pid>/stat CPU time over a fixed window.
2. Idle CPU of the desktop app (offscreen, ``QT_QPA_PLATFORM=offscreen``) with a call running
   on the Silence input, measured the same way in a child process.
3. A ramp of N concurrent served calls (a real ``callsim serve --caller-start capture`` process
   and N bots on 127.0.0.1 in this process). Every caller says the same answer (0.5 s of
   silence, then tests/data/speech/us_female_short.wav) once its recording starts; each bot sends
   recordResponse after a different delay (0-0.5 s), so the capture starts at different wall
   times. Per N it reports the lateness of each operation's ending notification against the
   ending's sample-clock time (established wall time + the ending's sample / 16 kHz), the spread
   of the WAV lengths, and the server's CPU. The lateness is reported twice: when the server
   started sending the notification (its delivery record in ``--jsonl``: end of the attempt
   minus its latency), which is the server alone, and when the bot's receiver got it, which
   adds the loopback delivery and this process's own event loop. With ``--busy`` (default on)
   the ramp is repeated while another process spins on one core, bounded in time; its CPU is
   reported (about 100 % of a core: the load is real). So is the CPU of everything else on the
   machine during the round (other users' processes, not the server, this bench or the
   spinner): the rounds are only comparable when that is near 0.

A call stays real time when its ending arrives within 0.2 s of its sample-clock time and every
WAV has the same length (sample-clock placement of the caller's answer). The floor is the
engine's 100 ms look-ahead: the callers' answers end on a max-silence timer, whose deciding
audio the caller feeds when it is due (app/server/caller.py); other endings can come up to one
50 ms pacer tick later.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import numpy as np
import soundfile as sf

from tests.server.support import (
    SHORT_SPEECH,
    Receiver,
    create_body,
    download_recording,
    operation_done,
    state_is,
)

REPO = Path(__file__).resolve().parents[2]
CLK_TCK = os.sysconf("SC_CLK_TCK")
RAMP = (1, 10, 25, 50, 100)
IDLE_WINDOW_S = 10.0
RECORD = {"playBeep": True, "maxSilenceTimeoutInSeconds": 1, "maxRecordDurationInSeconds": 20}
BOT_DELAY_MAX_S = 0.5  # each bot asks for the recording this long after established, at random
ROUND_TIMEOUT_S = 60.0
LEAD_S = 0.5  # silence before the answer: more than the capture headroom (caller.py)


def machine_busy_seconds() -> tuple[float, float]:
    """(CPU seconds busy, CPU seconds elapsed) summed over all cores, from /proc/stat."""
    ticks = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait (proc(5))
    total = sum(ticks[:8])  # user .. steal; guest time is already in user
    return (total - idle) / CLK_TCK, total / CLK_TCK


def self_cpu_seconds() -> float:
    """User + system CPU seconds of this process (the bots and their receiver)."""
    return cpu_seconds(os.getpid())


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (proc(5) fields 14-15)


def answer_wav(directory: Path) -> Path:
    """The caller's answer: LEAD_S of silence, then the short speech clip, at 16 kHz."""
    speech, rate_hz = sf.read(str(SHORT_SPEECH), dtype="float32")
    assert rate_hz == 16000
    path = directory / "answer.wav"
    sf.write(str(path), np.concatenate([np.zeros(int(LEAD_S * 16000), np.float32), speech]), 16000)
    return path


@contextlib.contextmanager
def serve(*args: str, jsonl: Path | None = None) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A real ``callsim serve`` child process; yields it and its Graph base URL."""
    cmd = [sys.executable, "-m", "app", "serve", "--quiet", *args]
    if jsonl is not None:
        cmd += ["--jsonl", str(jsonl)]
    # A session of its own, as a server started on its own would have: with the kernel's
    # autogroup scheduling (sched(7)), a session's threads share one group's CPU time, and the
    # server, the bots and the spinner are three programs, not one.
    proc = subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"callsim serve did not start: {line!r}")
        yield proc, line.rsplit(" ", 1)[1].strip() + "/v1.0"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def busy_core(seconds: float) -> Iterator[subprocess.Popen[bytes]]:
    """Another process keeps one core busy for at most ``seconds``."""
    code = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass"
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)  # see serve()
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------------------- idle costs


def idle_served_call_cpu(window_s: float = IDLE_WINDOW_S) -> float:
    """% of one core used by ``callsim serve`` while one established call is silent."""

    async def flow(graph: str, pid: int) -> float:
        async with Receiver() as receiver, aiohttp.ClientSession() as http:
            async with http.post(
                f"{graph}/communications/calls", json=create_body(receiver.url())
            ) as resp:
                call_id = (await resp.json())["id"]
            await receiver.wait_item(state_is(call_id, "established"), timeout_s=10)
            await asyncio.sleep(1.0)  # let start-up work settle
            cpu0, t0 = cpu_seconds(pid), time.monotonic()
            await asyncio.sleep(window_s)
            return 100 * (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)

    with serve() as (proc, graph):
        return asyncio.run(asyncio.wait_for(flow(graph, proc.pid), window_s + 30))


def gui_driver(window_s: float) -> None:
    """Child process: the main window offscreen, a call on the Silence input, for a while."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from app.ui.main_window import MainWindow

    app = QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings, sessions_root=Path(tmp) / "sessions")
        window.show()
        index = window.input_combo.findText("Silence")
        window.input_combo.setCurrentIndex(index)
        assert window.start_call(), "the call did not start"
        print("ready", flush=True)
        QTimer.singleShot(int(window_s * 1000), app.quit)
        app.exec()
        window.hang_up()
        if window.session is not None:
            window.session.stop()
        window.close()


def idle_gui_cpu(window_s: float = IDLE_WINDOW_S) -> float:
    """% of one core used by the offscreen desktop app with a call on silent input."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    cmd = [sys.executable, "-m", "tests.bench.bench_concurrency", "--gui-driver", str(window_s)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the GUI driver did not start a call")
        time.sleep(1.0)  # let start-up work settle
        cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(window_s - 2.0)
        return 100 * (cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - t0)
    finally:
        proc.wait(30)


# ---------------------------------------------------------------------------- the ramp


@dataclass
class Round:
    """One ramp step's measurements."""

    calls: int
    busy: bool
    lateness_s: list[float]
    sent_lateness_s: list[float]
    wav_s: list[float]
    subcodes: set[int]
    server_cpu_pct: float
    wall_s: float
    bench_cpu_pct: float = 0.0  # this process: the bots and their receiver
    spinner_cpu_pct: float = 0.0  # the process keeping a core busy (--busy rounds)
    others_cpu_pct: float = 0.0  # everything else on the machine (% of one core)

    def line(self) -> str:
        """One row of the report."""
        spread_ms = 1000 * (max(self.wav_s) - min(self.wav_s))
        spinner = f"yes ({self.spinner_cpu_pct:.0f} %)" if self.busy else "no"
        return (
            f"| {self.calls:3d} | {spinner} "
            f"| {min(self.sent_lateness_s):+.3f} .. {max(self.sent_lateness_s):+.3f} s "
            f"| {min(self.lateness_s):+.3f} .. {max(self.lateness_s):+.3f} s "
            f"| {min(self.wav_s):.3f} .. {max(self.wav_s):.3f} s ({spread_ms:.0f} ms) "
            f"| {self.server_cpu_pct:3.0f} % | {self.bench_cpu_pct:3.0f} % "
            f"| {self.others_cpu_pct:3.0f} % | {sorted(self.subcodes)} |"
        )


async def _one_bot(
    http: aiohttp.ClientSession, receiver: Receiver, graph: str, n: int, delay_s: float
) -> tuple[str, float, float]:
    """Place a call, record one answer; returns (call id, ending arrival wall, WAV seconds)."""
    async with http.post(
        f"{graph}/communications/calls", json=create_body(receiver.url(f"/bot/{n}"))
    ) as resp:
        call_id = (await resp.json())["id"]
    await receiver.wait_item(state_is(call_id, "established"), timeout_s=ROUND_TIMEOUT_S)
    await asyncio.sleep(delay_s)
    async with http.post(
        f"{graph}/communications/calls/{call_id}/recordResponse", json=RECORD
    ) as resp:
        op_id = (await resp.json())["id"]
    done = await receiver.wait_item(operation_done(op_id), timeout_s=ROUND_TIMEOUT_S)
    # When the receiver got the POST (not when this task woke up), as wall time.
    arrival = next(a for a in receiver.arrivals if any(i is done for i in a.items))
    arrived_wall_s = arrival.wall_s + (time.time() - time.monotonic())
    data = done["resourceData"]
    info = sf.info(io.BytesIO(await download_recording(http, data)))
    async with http.delete(f"{graph}/communications/calls/{call_id}") as resp:
        assert resp.status == 204
    return call_id, arrived_wall_s, info.frames / info.samplerate


def ramp_round(calls: int, answer: Path, *, busy: bool, seed: int = 1) -> Round:
    """N bots at once against a fresh server; lateness and WAV lengths per call."""
    rng = random.Random(seed)
    delays = [rng.uniform(0, BOT_DELAY_MAX_S) for _ in range(calls)]
    with tempfile.TemporaryDirectory() as tmp:
        jsonl = Path(tmp) / "events.jsonl"
        args = ("--caller-start", "capture", "--wav", str(answer))
        with serve(*args, jsonl=jsonl) as (proc, graph):

            async def flow() -> list[tuple[str, float, float]]:
                connector = aiohttp.TCPConnector(limit=0)
                async with (
                    Receiver() as receiver,
                    aiohttp.ClientSession(connector=connector) as http,
                ):
                    return await asyncio.gather(
                        *(_one_bot(http, receiver, graph, n, delays[n]) for n in range(calls))
                    )

            cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
            self0, (machine0, _) = self_cpu_seconds(), machine_busy_seconds()
            with busy_core(ROUND_TIMEOUT_S) if busy else contextlib.nullcontext() as spinner:
                spin0 = cpu_seconds(spinner.pid) if spinner is not None else 0.0
                results = asyncio.run(asyncio.wait_for(flow(), ROUND_TIMEOUT_S))
                spin_s = cpu_seconds(spinner.pid) - spin0 if spinner is not None else 0.0
            wall_s = time.monotonic() - t0
            server_s = cpu_seconds(proc.pid) - cpu0
            bench_s = self_cpu_seconds() - self0
            machine_s = machine_busy_seconds()[0] - machine0
        records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    established = {
        r["callId"]: r["wallTime"]
        for r in records
        if r.get("kind") == "callState" and r.get("state") == "established"
    }
    ended = {r["callId"]: r for r in records if r.get("kind") == "operationEnded"}
    # The server started POSTing the ending: its delivery attempt ended latencyMs after that.
    sent = {
        r["callId"]: r["wallTime"] - r["latencyMs"] / 1000
        for r in records
        if r.get("kind") == "delivery"
        and r.get("outcome") == "delivered"
        and str(r.get("summary", "")).startswith("recordResponse")
    }
    due = {call_id: established[call_id] + ended[call_id]["t"] for call_id, _, _ in results}
    lateness = [arrived - due[call_id] for call_id, arrived, _ in results]
    return Round(
        calls,
        busy,
        lateness,
        [sent[call_id] - due[call_id] for call_id, _, _ in results],
        [wav_s for _, _, wav_s in results],
        {ended[c]["subcode"] for c, _, _ in results},
        100 * server_s / wall_s,
        wall_s,
        bench_cpu_pct=100 * bench_s / wall_s,
        spinner_cpu_pct=100 * spin_s / wall_s,
        others_cpu_pct=100 * max(0.0, machine_s - server_s - bench_s - spin_s) / wall_s,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--ramp", type=int, nargs="*", default=list(RAMP))
    parser.add_argument("--no-busy", action="store_true", help="skip the busy-core ramp")
    parser.add_argument("--no-idle", action="store_true", help="skip the idle measurements")
    parser.add_argument("--gui-driver", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.gui_driver is not None:
        gui_driver(args.gui_driver)
        return 0
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}")
    if not args.no_idle:
        print(f"idle served call (silent caller): {idle_served_call_cpu():.1f} % of a core")
        print(f"desktop app, call on silent input: {idle_gui_cpu():.1f} % of a core")
    with tempfile.TemporaryDirectory() as tmp:
        answer = answer_wav(Path(tmp))
        print(
            "| calls | other core busy | ending sent late (server) | ending arrived late (bot) "
            "| WAV length (spread) | server CPU | bench CPU | other load | subcodes |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for busy in (False, True) if not args.no_busy else (False,):
            for n in args.ramp:
                print(ramp_round(n, answer, busy=busy).line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
