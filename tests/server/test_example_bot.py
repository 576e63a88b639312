"""The shipped example bots (plain aiohttp and Microsoft's msgraph-sdk) against a real server."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
import soundfile as sf

from app.server.events import RequestLogged, ServerEvent
from app.server.server import GraphServer
from tests.server.support import speaking_script

BOT_DIR = Path(__file__).resolve().parents[2] / "resources" / "example_bot"


def load(name: str) -> ModuleType:
    """Import resources/example_bot/<name>.py (it is a script folder, not a package)."""
    if str(BOT_DIR) not in sys.path:
        sys.path.insert(0, str(BOT_DIR))
    spec = importlib.util.spec_from_file_location(f"example_bot_{name}", BOT_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_wav(path: Path, *, late_start_s: float = 0.0) -> None:
    """A PCM16 mono 16 kHz WAV holding the caller's answer, up to the # key."""
    info = sf.info(str(path))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    # The caller speaks 0.8-2.22 s and presses # at 2.6 s; capture starts after the beep,
    # later on a slow machine (the caller does not wait for the bot).
    assert 1.2 < info.duration - late_start_s < 2.6


@pytest.mark.parametrize("answer", [False, True], ids=["places-call", "answers-call"])
def test_example_bot_records_an_answer(
    serve: Callable[..., GraphServer], tmp_path: Path, answer: bool
) -> None:
    bot_module = load("bot")
    server = serve(speaking_script())
    out = tmp_path / "answer.wav"
    lines: list[str] = []

    async def flow() -> dict[str, object]:
        async with bot_module.ExampleBot(server.graph_base_url(), log=lines.append) as bot:
            if answer:
                await asyncio.to_thread(server.incoming_call, bot.callback_url)
            result: dict[str, object] = await bot_module.record_one_answer(
                bot, answer=answer, out=out
            )
            return result

    operation = asyncio.run(asyncio.wait_for(flow(), 30))
    assert operation["status"] == "completed"
    assert operation["completionReason"] == "stopToneDetected"
    check_wav(out)
    assert any("DELETE call: 204" in line for line in lines)
    assert lines[-1].endswith("terminated")


# The SDK's generated code and its Kiota runtime warn about their own deprecated classes at
# import time; that is Microsoft's to fix, not ours.
@pytest.mark.filterwarnings("ignore::DeprecationWarning:msgraph")
@pytest.mark.filterwarnings("ignore::DeprecationWarning:kiota_abstractions")
@pytest.mark.parametrize("qualified", [False, True], ids=["plain-path", "qualified-path"])
def test_msgraph_sdk_bot_records_an_answer(
    serve: Callable[..., GraphServer], tmp_path: Path, qualified: bool
) -> None:
    pytest.importorskip("msgraph", reason="msgraph-sdk (dev dependency) is not installed")
    sdk_bot = load("sdk_bot")
    bot_module = sys.modules["bot"]
    requests: list[str] = []

    def log_request(event: ServerEvent) -> None:
        if isinstance(event, RequestLogged):
            requests.append(f"{event.method} {event.path}")

    # The SDK's first request imports its models (seconds, blocking the bot's loop): the
    # caller waits for the recording to start, as `callsim serve --caller-start capture` does.
    server = serve(speaking_script(), on_event=log_request, start_on="capture")
    out = tmp_path / "sdk.wav"

    async def flow() -> dict[str, object]:
        graph = server.graph_base_url()
        async with (
            bot_module.ExampleBot(graph, log=lambda line: None) as bot,
            sdk_bot.local_client(graph) as client,
        ):
            result: dict[str, object] = await sdk_bot.record_one_answer_with_sdk(
                client, bot, out=out, qualified_path=qualified
            )
            return result

    operation = asyncio.run(asyncio.wait_for(flow(), 30))
    assert operation["status"] == "completed"
    # With start_on="capture" the script starts up to one pacer tick plus the engine's
    # 100 ms look-ahead after capture, so the recording is that much longer.
    check_wav(out, late_start_s=0.3)
    seen = server.run_on_loop(lambda: list(requests))
    action = "microsoft.graph.recordResponse" if qualified else "recordResponse"
    assert any(r.startswith("POST ") and r.endswith(f"/{action}") for r in seen), seen
    assert any(r.startswith("DELETE /v1.0/communications/calls/") for r in seen)
