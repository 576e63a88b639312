"""The Python API (app/testing.py) and the pytest plugin (app/pytest_plugin.py), for real.

The example bot (resources/example_bot/bot.py, plain aiohttp) runs against the fixture's
endpoint exactly as a bot's own integration test would; a fresh pytest session in a folder
without any conftest gets the fixtures from the installed ``pytest11`` entry point.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import soundfile as sf

from app.testing import LocalGraph
from tests.server.test_example_bot import load

ROOT = Path(__file__).resolve().parents[2]
SPEECH = ROOT / "tests" / "data" / "speech" / "us_female_short.wav"  # speech 0.30-1.72 s

# The caller speaks at 0.5 s after the call is established and presses # at 2.6 s.
SCENARIO = f"""
name = "caller answers, then #"
[[caller]]
at = 0.5
audio = "{SPEECH}"
[[caller]]
at = 2.6
dtmf = "#"
"""


def test_example_bot_records_an_answer_through_the_fixture(
    callsim_graph_factory: Callable[..., LocalGraph], tmp_path: Path
) -> None:
    scenario = tmp_path / "caller.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    graph = callsim_graph_factory(scenario=scenario, recordings_dir=tmp_path / "rec")
    bot_module = load("bot")
    out = tmp_path / "answer.wav"

    async def flow() -> dict[str, object]:
        async with bot_module.ExampleBot(graph.graph_url, log=lambda line: None) as bot:
            result: dict[str, object] = await bot_module.record_one_answer(
                bot, answer=False, out=out
            )
            return result

    operation = asyncio.run(asyncio.wait_for(flow(), 30))
    ended = graph.wait_for_operation_end(timeout_s=5)
    assert (ended.event.kind, ended.result) == ("recordResponse", "200/8514")
    info = operation["resultInfo"]
    assert isinstance(info, dict) and (info["code"], info["subcode"]) == (200, 8514)
    delivered = graph.wait_for_delivery(ended.call_id, summary_contains="8514", timeout_s=5)
    assert delivered.status is not None and 200 <= delivered.status < 300
    graph.wait_for_call_state("terminated", ended.call_id, timeout_s=10)
    # The WAV the bot downloaded is the one the endpoint wrote into the recordings folder
    # (one folder per call).
    served = sorted(graph.recordings_dir.glob(f"{ended.call_id}/*.wav"))
    assert graph.recordings_dir == tmp_path / "rec" and len(served) == 1
    assert sf.read(str(out))[0].tolist() == sf.read(str(served[0]))[0].tolist()
    assert 1.2 < sf.info(str(out)).duration < 2.6


def test_wait_gives_up_with_what_it_waited_for(callsim_graph: LocalGraph) -> None:
    with pytest.raises(TimeoutError, match=r"no operation ending within 0\.2 s"):
        callsim_graph.wait_for_operation_end(timeout_s=0.2)


PLUGIN_TEST = """
import json, urllib.request

def test_bot_places_a_call(callsim_graph):
    body = {
        "@odata.type": "#microsoft.graph.call",
        "callbackUri": "http://127.0.0.1:9/callback",
        "targets": [{"@odata.type": "#microsoft.graph.invitationParticipantInfo",
                     "identity": {"user": {"id": "u1"}}}],
        "requestedModalities": ["audio"],
        "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"},
    }
    request = urllib.request.Request(
        callsim_graph.graph_url + "/communications/calls",
        data=json.dumps(body).encode(), headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        call_id = json.load(response)["id"]
    callsim_graph.wait_for_call_state("established", call_id, timeout_s=10)
    print("URL", callsim_graph.base_url)
"""


def test_the_plugin_is_found_without_a_conftest(tmp_path: Path) -> None:
    (tmp_path / "test_bot.py").write_text(PLUGIN_TEST, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "test_bot.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    assert "URL http://127.0.0.1:" in done.stdout
