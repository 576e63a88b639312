"""The example bot's flow written with Microsoft's official Graph SDK for Python (msgraph-sdk).

Only the Graph requests change: the SDK's ``GraphServiceClient`` places the call, runs
recordResponse and hangs up; notifications and the download are the same as in ``bot.py``.
Point the SDK at CallSim by giving its request adapter CallSim's base URL (any token works
there, so an anonymous authentication provider is enough):

    adapter = GraphRequestAdapter(AnonymousAuthenticationProvider(), client=http_client)
    adapter.base_url = "http://127.0.0.1:PORT/v1.0"
    client = GraphServiceClient(request_adapter=adapter)

Against the real cloud you would build the client from a credential instead, e.g.
``GraphServiceClient(ClientSecretCredential(tenant, app_id, secret),
["https://graph.microsoft.com/.default"])``, and nothing else changes.

The SDK's first request imports its models, which blocks the bot for a second or more; with
``--caller-start capture`` CallSim's caller waits for the recording to start before speaking.

    pip install msgraph-sdk
    callsim serve --wav my_answer.wav --caller-start capture
    python resources/example_bot/sdk_bot.py --graph http://127.0.0.1:PORT/v1.0 --out answer.wav
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from kiota_abstractions.authentication import AnonymousAuthenticationProvider
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.communications.calls.item.record_response.record_response_post_request_body import (  # noqa: E501
    RecordResponsePostRequestBody,
)
from msgraph.generated.models.call import Call
from msgraph.generated.models.identity import Identity
from msgraph.generated.models.identity_set import IdentitySet
from msgraph.generated.models.invitation_participant_info import InvitationParticipantInfo
from msgraph.generated.models.modality import Modality
from msgraph.generated.models.service_hosted_media_config import ServiceHostedMediaConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bot import ExampleBot


@contextlib.asynccontextmanager
async def local_client(graph_base_url: str) -> AsyncIterator[GraphServiceClient]:
    """A GraphServiceClient whose requests go to ``graph_base_url`` (e.g. CallSim's)."""
    # A plain httpx client that we close ourselves: the SDK's default client wraps its
    # transport in a class that does not close it (sockets leak at exit, msgraph-core 1.5).
    http = httpx.AsyncClient(timeout=30.0)
    adapter = GraphRequestAdapter(AnonymousAuthenticationProvider(), client=http)
    adapter.base_url = graph_base_url.rstrip("/")
    try:
        yield GraphServiceClient(request_adapter=adapter)
    finally:
        await http.aclose()


async def record_one_answer_with_sdk(
    client: GraphServiceClient, bot: ExampleBot, *, out: Path, qualified_path: bool = False
) -> dict[str, Any]:
    """Place a call, record one answer, save it, hang up -- Graph requests via the SDK.

    ``qualified_path`` sends recordResponse to ``.../microsoft.graph.recordResponse``, the form
    older generated SDKs used (docs/graph-contract.md §1.1).
    """
    call = await client.communications.calls.post(
        Call(
            callback_uri=bot.callback_url,
            requested_modalities=[Modality.Audio],
            media_config=ServiceHostedMediaConfig(),
            targets=[
                InvitationParticipantInfo(
                    identity=IdentitySet(user=Identity(id="00000000-0000-0000-0000-000000000001"))
                )
            ],
        )
    )
    assert call is not None and call.id is not None
    await bot.wait_for_call_state(call.id, "established")

    builder = client.communications.calls.by_call_id(call.id).record_response
    if qualified_path:
        builder = builder.with_url(
            f"{bot.graph}/communications/calls/{call.id}/microsoft.graph.recordResponse"
        )
    started = await builder.post(
        RecordResponsePostRequestBody(
            client_context="sdk-bot",
            play_beep=True,
            stop_tones=["#"],
            initial_silence_timeout_in_seconds=5,
            max_silence_timeout_in_seconds=3,
            max_record_duration_in_seconds=10,
        )
    )
    assert started is not None and started.id is not None
    bot.log(f"recordResponse accepted: operation {started.id} {started.status}")
    done = await bot.wait_for(
        lambda n: (
            n.get("changeType") == "deleted"
            and str(n.get("resourceUrl", "")).endswith(f"/operations/{started.id}")
        )
    )
    operation: dict[str, Any] = done["resourceData"]
    if operation["status"] == "completed" and operation.get("recordingLocation"):
        await bot.download_recording(operation, out)
    await client.communications.calls.by_call_id(call.id).delete()
    await bot.wait_for_call_state(call.id, "terminated")
    return operation


async def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--graph", required=True, help="Graph base URL, e.g. .../v1.0")
    parser.add_argument("--out", type=Path, default=Path("answer.wav"), help="WAV to save")
    args = parser.parse_args(argv)
    async with ExampleBot(args.graph) as bot, local_client(args.graph) as client:
        operation = await record_one_answer_with_sdk(client, bot, out=args.out)
    return 0 if operation["status"] == "completed" else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
