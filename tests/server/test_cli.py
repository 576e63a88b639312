"""``callsim serve`` as a real process: base URL on the first line, a flow, Ctrl-C, exit codes."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from app.cli import main
from tests.server.support import SHORT_SPEECH, Receiver, operation_done, state_is

ROOT = Path(__file__).resolve().parents[2]


def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "caller.toml"
    path.write_text(
        f"""
name = "answers and presses #"
[call]
vad = "energy"
[[caller]]
at = 0.5
audio = "{SHORT_SPEECH.as_posix()}"
[[caller]]
at = 2.6
dtmf = "#"
""",
        encoding="utf-8",
    )
    return path


def test_serve_offers_an_incoming_call_logs_deliveries_and_stops_on_ctrl_c(
    tmp_path: Path,
) -> None:
    jsonl = tmp_path / "log.jsonl"

    async def flow() -> tuple[int, str]:
        async with Receiver() as receiver, aiohttp.ClientSession() as http:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "app",
                "serve",
                "--port",
                "0",
                "--scenario",
                str(scenario(tmp_path)),
                "--speed",
                "4",
                "--answer-delay",
                "0.02",
                "--incoming",
                receiver.url(),
                "--jsonl",
                str(jsonl),
                cwd=ROOT,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            assert proc.stdout is not None
            try:
                first = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
                assert first.startswith(
                    "CallSim local Graph endpoint listening on http://127.0.0.1:"
                )
                graph = first.rsplit(" ", 1)[1].strip() + "/v1.0"

                offer = await receiver.wait_item(
                    lambda i: (i.get("resourceData") or {}).get("state") == "incoming", 20
                )
                call_id = offer["resourceUrl"].rsplit("/", 1)[1]
                answer = {
                    "acceptedModalities": ["audio"],
                    "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"},
                }
                calls = f"{graph}/communications/calls/{call_id}"
                async with http.post(f"{calls}/answer", json=answer) as resp:
                    assert resp.status == 202
                await receiver.wait_item(state_is(call_id, "established"))
                async with http.post(
                    f"{calls}/recordResponse", json={"stopTones": ["#"], "playBeep": True}
                ) as resp:
                    op_id = (await resp.json())["id"]
                done = await receiver.wait_item(operation_done(op_id))
                assert done["resourceData"]["resultInfo"]["subcode"] == 8514
            finally:
                proc.send_signal(signal.SIGINT)
                out, _ = await asyncio.wait_for(proc.communicate(), 20)
            return proc.returncode if proc.returncode is not None else -1, out.decode()

    code, out = asyncio.run(asyncio.wait_for(flow(), 60))
    assert code == 0, out
    assert "Caller: scenario answers and presses #" in out
    assert "recordResponse completed 200/8514 stopToneDetected" in out
    assert "-> HTTP 202" in out  # delivery lines with status and latency
    assert out.rstrip().endswith("stopped")
    records = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    kinds = {r["kind"] for r in records}
    assert {"callAdded", "callState", "http", "delivery", "notification", "key"} <= kinds
    deliveries = [r for r in records if r["kind"] == "delivery"]
    assert all(r["outcome"] == "delivered" and r["status"] == 202 for r in deliveries)
    assert all("latencyMs" in r for r in deliveries)


def test_broken_scenario_and_bad_options_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[[caller]]\nat = 1\naudio = 'missing.wav'\n", encoding="utf-8")
    assert main(["serve", "--scenario", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "missing.wav" in err and "[[caller]] #1" in err
    assert main(["serve", "--speed", "0"]) == 2
    assert main(["serve", "--vad", "nonsense"]) == 2
    assert main(["serve", "--wav", str(tmp_path / "none.wav")]) == 2
    assert "--vad must be one of" in capsys.readouterr().err


def test_a_port_in_use_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert main(["serve", "--port", str(busy.getsockname()[1])]) == 1
    assert "cannot listen" in capsys.readouterr().err


def test_allow_origin_lets_that_page_in_and_no_other(capsys: pytest.CaptureFixture[str]) -> None:
    """``--allow-origin`` (repeatable) in a real process; a bad value exits 2."""
    assert main(["serve", "--allow-origin", "evil.example"]) == 2
    assert "--allow-origin must look like" in capsys.readouterr().err
    assert main(["serve", "--allow-origin", "http://a.example/path"]) == 2

    async def flow() -> dict[str, int]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "app",
            "serve",
            "--allow-origin",
            "http://a.example:8080",
            "--allow-origin",
            "https://b.example",
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert proc.stdout is not None
        try:
            first = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
            base = first.rsplit(" ", 1)[1].strip()
            statuses = {}
            async with aiohttp.ClientSession() as http:
                for origin in ("http://a.example:8080", "https://b.example", "http://c.example"):
                    async with http.get(base + "/", headers={"Origin": origin}) as resp:
                        statuses[origin] = resp.status
                        if resp.status == 200:
                            assert resp.headers["Access-Control-Allow-Origin"] == origin
            return statuses
        finally:
            proc.send_signal(signal.SIGINT)
            await asyncio.wait_for(proc.wait(), 30)

    statuses = asyncio.run(asyncio.wait_for(flow(), 60))
    assert statuses == {
        "http://a.example:8080": 200,
        "https://b.example": 200,
        "http://c.example": 403,
    }
