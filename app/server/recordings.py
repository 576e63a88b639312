"""Recordings served at ``recordingLocation``: one bearer token each, expiring after the call.

docs/graph-contract.md §7: ``GET {recordingLocation}`` with ``Authorization: Bearer
{recordingAccessToken}``; a missing or wrong token gives 401 [I]. §6.7: the file is discarded
shortly after the call ends, 404 afterwards [I]. Used on the server's event-loop thread only.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path

# docs/graph-contract.md §6.7: "discarded shortly after the call ends" — how shortly is not
# documented; five minutes leaves a bot time to download after its last notification.
DEFAULT_RECORDING_TTL_S = 300.0


@dataclass(slots=True)
class RecordingEntry:
    """A delivered recording: where the WAV is and the token that unlocks it."""

    operation_id: str
    call_id: str
    path: Path
    token: str


class RecordingStore:
    """Delivered recordings by operation id (canonical, lower-case dashed)."""

    def __init__(self, *, delete_expired_files: bool = False) -> None:
        self.delete_expired_files = delete_expired_files
        self._entries: dict[str, RecordingEntry] = {}

    def add(self, operation_id: str, call_id: str, path: Path, token: str) -> None:
        """Serve ``path`` for ``operation_id`` to holders of ``token``."""
        self._entries[operation_id] = RecordingEntry(operation_id, call_id, path, token)

    def get(self, operation_id: str) -> RecordingEntry | None:
        """The live recording of ``operation_id``, or None (unknown or expired)."""
        return self._entries.get(operation_id)

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def authorized(entry: RecordingEntry, authorization: str | None) -> bool:
        """True when the Authorization header is ``Bearer <the recording's token>``."""
        if authorization is None:
            return False
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        # Constant-time comparison: the token is a secret, even on a local endpoint.
        return hmac.compare_digest(token.strip().encode(), entry.token.encode())

    def expire_call(self, call_id: str) -> list[str]:
        """Stop serving every recording of ``call_id``; returns the operation ids expired."""
        gone = [op for op, e in self._entries.items() if e.call_id == call_id]
        for op in gone:
            entry = self._entries.pop(op)
            if self.delete_expired_files:
                entry.path.unlink(missing_ok=True)
        return gone
