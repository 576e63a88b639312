"""Typed inputs (app/core/inputs.py): how accepted actions wait and in which order they apply."""

from __future__ import annotations

from app.core import events as ev
from app.core.inputs import AcceptedAction, HangUp, PendingInputs
from app.graph.requests import SubscribeToToneRequest
from app.graph.results import CallEnd
from tests.core.helpers import feed_all, new_call, record_body, track


def test_a_qualified_action_name_given_to_the_call_runs_like_the_plain_one() -> None:
    # The old (at, seq, kind, payload) tuples keyed the input by the raw name, so
    # "microsoft.graph.recordResponse" was answered 200 and then never applied.
    runs = []
    for name in ("recordResponse", "microsoft.graph.recordResponse"):
        call = new_call()
        response = call.action(name, record_body(initialSilenceTimeoutInSeconds=1))
        assert response.status == 200
        events = feed_all(call, track(("s", 3.0))).events
        ended = [e for e in events if isinstance(e, ev.OperationEnded)]
        runs.append([(e.sample_index, e.status, e.subcode) for e in ended])
    assert runs[0] == runs[1] and len(runs[0]) == 1


def test_pending_inputs_apply_by_sample_then_in_arrival_order() -> None:
    pending = PendingInputs()
    subscribe = AcceptedAction("subscribeToTone", "op-1", SubscribeToToneRequest(None))
    hang_up = HangUp("caller", CallEnd.CALLER_HUNG_UP)
    pending.add(800, hang_up)
    pending.add(320, subscribe)
    pending.add(320, hang_up)
    order = []
    while pending:
        first = pending.first()
        pending.remove(first)
        order.append((first.at, first.input))
    assert order == [(320, subscribe), (320, hang_up), (800, hang_up)]
