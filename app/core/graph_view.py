"""What the bot sees of a call's operations and of its end, built with app/graph/payloads.py.

The synchronous answer to an action (200 with the operation's resource, or a Graph error), the
final resource of an ended operation (its operation-deleted notification), and the call-state
notifications when the call ends. The call decides when; this module only says what Graph shows
then (docs/architecture.md §3 "app/core").
"""

from __future__ import annotations

import json
from typing import Any, Literal

from app.core import events as ev
from app.core.operations import Operation, RecordOperation
from app.graph import payloads
from app.graph.errors import GraphError, error_body
from app.graph.requests import (
    CancelMediaProcessingRequest,
    PlayPromptRequest,
    RecordResponseRequest,
    SubscribeToToneRequest,
)
from app.graph.results import CALL_END_RESULTS, CallEnd, ResultSpec

Envelope = dict[str, Any]


def accepted_resource(request: object, op_id: str, *, busy: bool) -> dict[str, Any]:
    """The synchronous response resource of an accepted action (``busy``: an operation runs or
    waits, so a new one is "notStarted" unless it barges in)."""
    if isinstance(request, RecordResponseRequest):
        status: Literal["running", "notStarted"] = (
            "running" if (request.barge_in_allowed or not busy) else "notStarted"
        )
        return payloads.record_operation(
            operation_id=op_id,
            status=status,
            client_context=request.client_context,
            result=None,
            recording_location=None,
            recording_access_token=None,
        )
    if isinstance(request, PlayPromptRequest):
        return payloads.play_prompt_operation(
            operation_id=op_id,
            status="notStarted" if busy else "running",
            client_context=request.client_context,
            result=None,
        )
    if isinstance(request, CancelMediaProcessingRequest):
        return payloads.cancel_media_processing_operation(
            operation_id=op_id, client_context=request.client_context
        )
    assert isinstance(request, SubscribeToToneRequest), request
    return payloads.subscribe_to_tone_operation(
        operation_id=op_id, client_context=request.client_context
    )


def ended_resource(
    op: Operation,
    result: ResultSpec,
    *,
    location: str,
    token: str,
    call_id: str,
    etag: str,
) -> dict[str, Any]:
    """The operation's final resource, as its operation-deleted notification carries it."""
    if isinstance(op, RecordOperation):
        return payloads.record_operation(
            operation_id=op.operation_id,
            status=result.status,
            client_context=op.client_context,
            result=result,
            recording_location=location,
            recording_access_token=token,
            for_notification=True,
            call_id=call_id,
            etag=etag,
        )
    return payloads.play_prompt_operation(
        operation_id=op.operation_id,
        status=result.status,
        client_context=op.client_context,
        result=result,
        for_notification=True,
        call_id=call_id,
        etag=etag,
    )


def call_end_notifications(call_id: str, reason: CallEnd) -> list[tuple[Envelope, str]]:
    """The call-state notifications (envelope, summary) of the call ending for ``reason``."""
    out: list[tuple[Envelope, str]] = []
    if reason is CallEnd.BOT_HUNG_UP:
        # The bot's DELETE: "terminating", then "terminated" (the call-delete page's
        # notification samples [V]).
        call = payloads.call_resource(call_id=call_id, state="terminating")
        envelope = payloads.call_state_changed(call_id, "updated", call)
        out.append((envelope, "call terminating (the bot hung up)"))
    result = CALL_END_RESULTS[reason]
    call = payloads.call_resource(call_id=call_id, state="terminated", result=result)
    envelope = payloads.call_state_changed(call_id, "deleted", call)
    why = f"{reason.value}, {result.code}/{result.subcode}" if result else reason.value
    out.append((envelope, f"call terminated ({why})"))
    return out


def error_response(
    at: int, action: str, err: GraphError, *, request_id: str, client_request_id: str, date: str
) -> ev.ActionResponse:
    """The synchronous Graph error answer to an action."""
    body = error_body(err, request_id=request_id, client_request_id=client_request_id, date=date)
    return ev.ActionResponse(
        at,
        action=action,
        status=err.status,
        headers=(
            ("Content-Type", "application/json"),
            ("request-id", request_id),
            ("client-request-id", client_request_id),
        ),
        body_json=json.dumps(body),
    )


def accepted_response(
    at: int,
    action: str,
    resource: dict[str, Any],
    *,
    location: str,
    operation_id: str,
    request_id: str,
    client_request_id: str,
) -> ev.ActionResponse:
    """The synchronous 200 answer to an accepted action, with the operation's Location."""
    return ev.ActionResponse(
        at,
        action=action,
        status=200,
        headers=(
            ("Content-Type", "application/json"),
            ("Location", location),
            ("request-id", request_id),
            ("client-request-id", client_request_id),
        ),
        body_json=json.dumps(resource),
        operation_id=operation_id,
    )
