"""GraphError and the OData error body (docs/graph-contract.md §1.3)."""

from __future__ import annotations

import copy
import pickle
import re
import uuid

from app.graph.errors import GraphError, bad_request, error_body, graph_date, new_request_id

# docs/graph-contract.md §1.3, the error body sample, copied verbatim.
SAMPLE_ERROR_BODY = {
    "error": {
        "code": "BadRequest",
        "message": "maxRecordDurationInSeconds must be between 1 and 120.",
        "innerError": {
            "date": "2024-05-01T10:00:00",
            "request-id": "5b1c2d3e-0000-4000-8000-0123456789ab",
            "client-request-id": "5b1c2d3e-0000-4000-8000-0123456789ab",
        },
    }
}

# 2024-05-01T10:00:00Z as seconds since the epoch.
SAMPLE_EPOCH_S = 1714557600


def test_error_body_reproduces_the_doc_sample_including_key_order() -> None:
    err = GraphError(400, "BadRequest", "maxRecordDurationInSeconds must be between 1 and 120.")
    body = error_body(
        err,
        request_id="5b1c2d3e-0000-4000-8000-0123456789ab",
        client_request_id="5b1c2d3e-0000-4000-8000-0123456789ab",
        date=graph_date(SAMPLE_EPOCH_S),
    )
    assert body == SAMPLE_ERROR_BODY
    assert list(body["error"]) == ["code", "message", "innerError"]
    assert list(body["error"]["innerError"]) == ["date", "request-id", "client-request-id"]


def test_graph_date_is_utc_whole_seconds_without_zone() -> None:
    assert graph_date(SAMPLE_EPOCH_S) == "2024-05-01T10:00:00"
    assert graph_date(SAMPLE_EPOCH_S + 0.999) == "2024-05-01T10:00:00"
    assert graph_date(0) == "1970-01-01T00:00:00"


def test_new_request_id_is_lower_case_dashed_uuid4_and_fresh() -> None:
    first, second = new_request_id(), new_request_id()
    pattern = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
    assert pattern.fullmatch(first)
    assert uuid.UUID(first).version == 4
    assert first != second


def test_graph_error_keeps_its_fields_and_survives_pickle_and_copy() -> None:
    err = GraphError(404, "itemNotFound", "The call does not exist.")
    assert (err.status, err.code, err.message) == (404, "itemNotFound", "The call does not exist.")
    assert str(err) == "404 itemNotFound: The call does not exist."
    for clone in (pickle.loads(pickle.dumps(err)), copy.copy(err)):
        assert isinstance(clone, GraphError)
        assert (clone.status, clone.code, clone.message) == (err.status, err.code, err.message)


def test_bad_request_is_a_400_bad_request() -> None:
    err = bad_request("playBeep must be a boolean (true or false).")
    assert (err.status, err.code) == (400, "BadRequest")
    assert err.message == "playBeep must be a boolean (true or false)."
