"""Microsoft's JavaScript Graph client (@microsoft/microsoft-graph-client) against the endpoint.

``js_client/bot.mjs`` is a bot written the way that client is used: ``Client.init`` with an
authProvider, CallSim as ``baseUrl`` and in ``customHosts``; it places a call, POSTs
recordResponse, follows the operation's absolute Location with the same client, takes the final
notification on its own listener, downloads recordingLocation with the notification's token and
hangs up. It prints what each step got; the server's ``RequestLogged`` events say what arrived.

Over ``tls=True`` (``callsim serve --tls``, trusted with NODE_EXTRA_CA_CERTS) every request
carries ``Authorization: Bearer`` and the https Location is followed as is. Over plain http the
client sends no Authorization header at all (its AuthenticationHandler adds the token only to
https URLs) and reads an absolute ``http://`` URL as a path under its base URL, so the Location
GET and the recording download both reach ``/v1.0/http://...`` and get 404: the README's
"HTTPS" paragraph. Node and ``npm ci`` in ``js_client/`` come from ``.ci/run``
(docs/testing.md §1); without them the tests skip, except under CI where they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import soundfile as sf

from app.server.events import RequestLogged
from app.testing import LocalGraph
from tests.testing.test_pytest_plugin import SCENARIO

JS_DIR = Path(__file__).resolve().parent / "js_client"
GRAPH_CLIENT = JS_DIR / "node_modules" / "@microsoft" / "microsoft-graph-client"
NODE_MIN_MAJOR = 18  # bot.mjs uses Node's global fetch (the client's transport) and parseArgs
BOT_TOKEN = "token-for-callsim"
pytestmark = pytest.mark.slow  # two calls of a few seconds each


def node_or_skip() -> str:
    """The ``node`` executable, once the client is installed; skip (fail under CI) if not."""
    node = shutil.which("node")
    problem = None
    if node is None:
        problem = "node is not installed (apt-get install nodejs npm)"
    elif not GRAPH_CLIENT.is_dir():
        problem = f"the JavaScript Graph client is not installed: run `npm ci` in {JS_DIR}"
    else:
        version = subprocess.run(
            [node, "--version"], capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()
        if int(version.lstrip("v").split(".")[0]) < NODE_MIN_MAJOR:
            problem = f"node {version} is too old: bot.mjs needs Node {NODE_MIN_MAJOR} or later"
    if problem is not None:
        # CI installs both (.ci/run); a toolchain missing there is a broken job, not a skip.
        if os.environ.get("CI"):
            pytest.fail(
                f"{problem} (CI is set, so this fails rather than skips: .ci/run installs "
                "Node and runs npm ci)",
                pytrace=False,
            )
        pytest.skip(problem)
    assert node is not None
    return node


def run_bot(node: str, graph: LocalGraph, out: Path) -> dict[str, Any]:
    """Run bot.mjs against ``graph`` (trusting its CA if it has one); its JSON result."""
    env = {k: v for k, v in os.environ.items() if k != "NODE_EXTRA_CA_CERTS"}
    if graph.ca_file is not None:
        env["NODE_EXTRA_CA_CERTS"] = str(graph.ca_file)
    proc = subprocess.run(
        [node, "bot.mjs", "--base", graph.base_url, "--token", BOT_TOKEN, "--out", str(out)],
        cwd=JS_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def requests_of(graph: LocalGraph) -> list[RequestLogged]:
    """Every request the endpoint logged once the bot's hang-up is in (in arrival order)."""
    graph.wait_for(RequestLogged, lambda e: e.method == "DELETE", timeout_s=10)
    return [e for e in list(graph.events) if isinstance(e, RequestLogged)]


def start(factory: Callable[..., LocalGraph], tmp_path: Path, *, tls: bool) -> LocalGraph:
    scenario = tmp_path / "caller.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    # The caller speaks once capture starts: node's start-up time does not cut the answer.
    return factory(scenario=scenario, tls=tls, caller_start="capture")


def test_js_graph_client_over_https_sends_auth_and_follows_location(
    callsim_graph_factory: Callable[..., LocalGraph], tmp_path: Path
) -> None:
    node = node_or_skip()
    graph = start(callsim_graph_factory, tmp_path, tls=True)
    out = tmp_path / "js.wav"
    result = run_bot(node, graph, out)

    steps = ("create", "recordResponse", "locationGet", "finalNotification", "download", "hangUp")
    assert [s for s in steps if not result.get(s, {}).get("ok")] == [], result
    started = result["recordResponse"]
    location = str(started["location"])
    op_id = started["operation"]["id"]
    assert started["status"] == 200
    assert location == (
        f"{graph.graph_url}/communications/calls/{result['create']['callId']}/operations/{op_id}"
    )
    # The Location GET answered the operation's JSON.
    polled = result["locationGet"]["operation"]
    assert polled["@odata.type"] == "#microsoft.graph.recordOperation" and polled["id"] == op_id
    final = result["finalNotification"]["operation"]
    assert (final["status"], final["resultInfo"]["subcode"]) == ("completed", 8514)
    assert str(final["recordingLocation"]).startswith(graph.base_url + "/recordings/")

    # What reached the server: every request, the Location GET and the download included,
    # with a bearer token (the download's is checked against the recording's by the endpoint).
    seen = requests_of(graph)
    assert [(r.method, r.status) for r in seen] == [
        ("POST", 201),
        ("POST", 200),
        ("GET", 200),
        ("GET", 200),
        ("DELETE", 204),
    ], seen
    assert seen[2].path == urlsplit(location).path
    assert seen[3].path == urlsplit(final["recordingLocation"]).path
    assert [r.auth_scheme for r in seen] == ["Bearer"] * len(seen)

    info = sf.info(str(out))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert result["download"]["bytes"] == out.stat().st_size
    assert 1.0 < info.duration < 3.0  # speech from 0.5 s, # at 2.6 s after capture starts


def test_js_graph_client_over_plain_http_drops_auth_and_misreads_location(
    callsim_graph_factory: Callable[..., LocalGraph], tmp_path: Path
) -> None:
    """Why ``--tls`` exists: the same bot against the http endpoint (documents the client)."""
    node = node_or_skip()
    graph = start(callsim_graph_factory, tmp_path, tls=False)
    out = tmp_path / "js.wav"
    result = run_bot(node, graph, out)

    # CallSim does not demand a token on Graph requests, so the call itself still works...
    assert all(result[s]["ok"] for s in ("create", "recordResponse", "finalNotification"))
    location = str(result["recordResponse"]["location"])
    assert location.startswith(graph.graph_url + "/communications/calls/")
    # ...but the absolute http Location and recordingLocation are read as relative paths.
    assert result["locationGet"]["ok"] is False
    assert result["locationGet"]["error"]["statusCode"] == 404
    assert result["download"]["ok"] is False and not out.exists()
    seen = requests_of(graph)
    gets = [(r.path, r.status) for r in seen if r.method == "GET"]
    recording = result["finalNotification"]["operation"]["recordingLocation"]
    assert gets == [(f"/v1.0/{location}", 404), (f"/v1.0/{recording}", 404)], gets
    # And not one request carried the Authorization header, though 127.0.0.1 is a custom host.
    assert [r.auth_scheme for r in seen] == [None] * len(seen)
    assert len(seen) == 5
