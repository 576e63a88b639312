"""What a served call tells its bot: engine notifications and call states, handed to delivery.

The engine builds its own notifications (operation results, ``deleted``, the call's end); the
server adds the call-state ones it decides itself (created, establishing, established). Both go
to the ``Notifier`` (``app/server/notifier.py``), which owns ordering, retries and the delivery
log. On the way, every recording a notification announces is registered for download with its
bearer token (``app/server/recordings.py``). Runs on the server's event-loop thread.
"""

from __future__ import annotations

import json
from typing import Any

from app.core import events as ev
from app.graph import payloads
from app.server.calls import ServerCall
from app.server.notifier import Notifier
from app.server.recordings import RecordingStore


class Announcer:
    """Turns a served call's notifications into deliveries to its callbackUri."""

    def __init__(
        self, notifier: Notifier, recordings: RecordingStore, *, legacy_resource: bool
    ) -> None:
        self._notifier = notifier
        self._recordings = recordings
        self._legacy_resource = legacy_resource

    def engine_notification(self, call: ServerCall, event: ev.Notification) -> None:
        """Queue a notification the call's engine made (its recordings become downloadable)."""
        self._register_recordings(call, event)
        self._notifier.enqueue(
            call.call_id,
            call.callback_uri,
            event.payload_json,
            summary=event.summary,
            sample_index=event.sample_index,
        )

    def call_state(self, call: ServerCall, change_type: str, resource: dict[str, Any]) -> None:
        """Queue a call-state notification made by the server (not by the engine)."""
        envelope = payloads.call_state_changed(
            call.call_id,
            "created" if change_type == "created" else "updated",
            resource,
            legacy_resource=self._legacy_resource,
        )
        self._notifier.enqueue(
            call.call_id,
            call.callback_uri,
            json.dumps(envelope),
            summary=f"call {resource.get('state', '')}",
        )

    def forget(self, call_id: str) -> None:
        """Drop what is kept for an ended call: its recordings and its delivery channel."""
        self._recordings.expire_call(call_id)
        self._notifier.forget(call_id)

    def _register_recordings(self, call: ServerCall, event: ev.Notification) -> None:
        """Remember the download token of every recording a notification delivers."""
        if '"recordingAccessToken"' not in event.payload_json:
            return  # most notifications carry none: not worth parsing on the loop
        for item in event.payload.get("value", []):
            data = item.get("resourceData") if isinstance(item, dict) else None
            if not isinstance(data, dict):
                continue
            if data.get("@odata.type") != payloads.RECORD_OPERATION_TYPE:
                continue
            op_id, token = data.get("id"), data.get("recordingAccessToken")
            if isinstance(op_id, str) and isinstance(token, str) and token:
                path = call.recordings_dir / f"{op_id}.wav"
                self._recordings.add(payloads.canonical_id(op_id), call.call_id, path, token)
