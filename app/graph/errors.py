"""Graph errors: the exception every parser raises and the OData error body it becomes.

The body shape ``{"error": {"code", "message", "innerError": {"date", "request-id",
"client-request-id"}}}`` is docs/graph-contract.md §1.3 (Graph's errors page plus real
calling errors).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

# "BadRequest" is the code real calling errors carry for a rejected body
# (docs/graph-contract.md §1.3).
BAD_REQUEST_CODE = "BadRequest"


# The OData code of an HTTP-level refusal, made before any Graph body is parsed (unknown path,
# wrong method, a malformed HTTP message, a browser page's request). Graph's own codes where it
# has one (docs/graph-contract.md §1.3); the HTTP reason phrase in Graph's casing otherwise.
HTTP_ERROR_CODES = {
    400: BAD_REQUEST_CODE,
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    421: "MisdirectedRequest",
    500: "UnknownError",
    504: "GatewayTimeout",
}


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


def http_error(status: int, message: str) -> GraphError:
    """A GraphError for an HTTP-level refusal with ``status`` (its code from HTTP_ERROR_CODES)."""
    fallback = "UnknownError" if status >= 500 else BAD_REQUEST_CODE
    return GraphError(status, HTTP_ERROR_CODES.get(status, fallback), message)


def error_body(
    err: GraphError, *, request_id: str, client_request_id: str, date: str
) -> dict[str, Any]:
    """The OData error JSON for ``err`` (docs/graph-contract.md §1.3 shape, keys in the doc's
    order)."""
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
