"""Graph errors: the exception every parser raises and the OData error body it becomes.

The body shape ``{"error": {"code", "message", "innerError": {"date", "request-id",
"client-request-id"}}}`` is graph-spec.md §1.3 (Graph's errors page plus real calling errors).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

# graph-spec.md §1.3: "BadRequest" is the code real calling errors carry for a rejected body.
BAD_REQUEST_CODE = "BadRequest"


class GraphError(Exception):
    """A request Graph would refuse: HTTP ``status``, OData ``code`` and a human ``message``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        # All three go to Exception.args so the error pickles and copies like any exception.
        super().__init__(status, code, message)
        self.status = status
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


def bad_request(message: str) -> GraphError:
    """A 400 ``BadRequest`` GraphError carrying ``message``."""
    return GraphError(400, BAD_REQUEST_CODE, message)


def error_body(
    err: GraphError, *, request_id: str, client_request_id: str, date: str
) -> dict[str, Any]:
    """The OData error JSON for ``err`` (graph-spec.md §1.3 shape, keys in the doc's order)."""
    return {
        "error": {
            "code": err.code,
            "message": err.message,
            "innerError": {
                "date": date,
                "request-id": request_id,
                "client-request-id": client_request_id,
            },
        }
    }


def new_request_id() -> str:
    """A fresh request id: uuid4, lower-case with dashes (as real Graph responses carry)."""
    return str(uuid.uuid4())


def graph_date(epoch_s: float) -> str:
    """``epoch_s`` as the innerError date: UTC, whole seconds, no zone ("2024-05-01T10:00:00")."""
    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
