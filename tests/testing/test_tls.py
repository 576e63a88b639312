"""HTTPS like the real service: ``LocalGraph(tls=True)`` / ``callsim serve --tls`` (trustme CA).

Microsoft's msgraph-sdk (Kiota, httpx) with its Azure Identity bearer-token provider places a
call, records an answer and hangs up over https, trusting only the CA file CallSim wrote: the
Authorization header goes on every Graph request and the https Location is followed as is.
The example bot downloads the recording from the https recordingLocation with the same CA.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import soundfile as sf

from app.testing import LocalGraph
from tests.server.test_example_bot import load
from tests.testing.test_pytest_plugin import SCENARIO

ROOT = Path(__file__).resolve().parents[2]


def trusting(ca_file: Path | None) -> ssl.SSLContext:
    """A client TLS context trusting only CallSim's test CA."""
    assert ca_file is not None
    return ssl.create_default_context(cafile=str(ca_file))


class FakeCredential:
    """An azure-identity AsyncTokenCredential handing out a fixed token (no tenant here)."""

    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken("token-for-callsim", 4_102_444_800)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> FakeCredential:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


@pytest.mark.filterwarnings("ignore::DeprecationWarning:msgraph")
@pytest.mark.filterwarnings("ignore::DeprecationWarning:kiota_abstractions")
def test_msgraph_sdk_with_bearer_auth_over_https(
    callsim_graph_factory: Callable[..., LocalGraph], tmp_path: Path
) -> None:
    pytest.importorskip("msgraph", reason="msgraph-sdk (dev dependency) is not installed")
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )
    from msgraph import GraphRequestAdapter, GraphServiceClient

    scenario = tmp_path / "caller.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    graph = callsim_graph_factory(scenario=scenario, tls=True, caller_start="capture")
    assert graph.graph_url.startswith("https://127.0.0.1:") and graph.ca_file is not None
    sdk_bot = load("sdk_bot")
    bot_module = sys.modules["bot"]
    sent: list[httpx.Request] = []

    async def remember(request: httpx.Request) -> None:
        sent.append(request)

    async def flow() -> dict[str, object]:
        http = httpx.AsyncClient(
            verify=trusting(graph.ca_file), timeout=30.0, event_hooks={"request": [remember]}
        )
        auth = AzureIdentityAuthenticationProvider(
            FakeCredential(), scopes=["https://graph.microsoft.com/.default"]
        )  # type: ignore[arg-type]
        adapter = GraphRequestAdapter(auth, client=http)
        adapter.base_url = graph.graph_url
        try:
            async with bot_module.ExampleBot(
                graph.graph_url, log=lambda line: None, ca_file=graph.ca_file
            ) as bot:
                result: dict[str, object] = await sdk_bot.record_one_answer_with_sdk(
                    GraphServiceClient(request_adapter=adapter), bot, out=tmp_path / "sdk.wav"
                )
                return result
        finally:
            await http.aclose()

    operation = asyncio.run(asyncio.wait_for(flow(), 30))
    assert operation["status"] == "completed"
    assert str(operation["recordingLocation"]).startswith(graph.base_url + "/")
    assert sf.info(str(tmp_path / "sdk.wav")).duration > 1.0
    graph_requests = [r for r in sent if str(r.url).startswith(graph.graph_url)]
    assert len(graph_requests) >= 3  # create, recordResponse, delete
    assert all(r.headers.get("Authorization") == "Bearer token-for-callsim" for r in graph_requests)


def test_a_client_without_the_ca_is_refused(
    callsim_graph_factory: Callable[..., LocalGraph],
) -> None:
    graph = callsim_graph_factory(tls=True)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(graph.graph_url + "/communications/calls/x", timeout=10)
    answer = httpx.get(
        graph.graph_url + "/communications/calls/x", verify=trusting(graph.ca_file), timeout=10
    )
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "NotFound"


def test_serve_tls_prints_the_ca_and_how_to_trust_it(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--tls", "--tls-dir", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ca = tmp_path / "callsim-test-ca.pem"
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not any(line.startswith("  .NET:") for line in lines):
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else ""
            lines.append(line)
        text = "".join(lines)
        url = text.split("listening on ")[1].split()[0]
        answer = httpx.get(url + "/v1.0/communications/calls/x", verify=trusting(ca), timeout=10)
    finally:
        proc.terminate()
        proc.communicate(timeout=10)  # reads and closes both pipes
    assert url.startswith("https://127.0.0.1:")
    assert answer.status_code == 404
    assert f"CA certificate: {ca}" in text
    for hint in ("NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", ".NET"):
        assert hint in text
