"""The endpoint in the GUI's log: deliveries, the bot's requests, call states; incoming calls.

Real sockets on 127.0.0.1: the window's GraphServer, a real notification receiver (the bot's
callback, ``tests.server.support.Receiver`` on a loop of its own thread) and the bot's HTTP
requests from the test thread.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from app.core import events as ev
from app.ui.log_view import AMBER, GREEN
from tests.server.support import SERVICE_HOSTED, Plan, Receiver, always, create_body
from tests.ui.test_main_window import SPEECH, WAIT_MS, Rig

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")

LEFT = Qt.MouseButton.LeftButton


class ReceiverThread:
    """A ``Receiver`` serving on its own thread's event loop (the GUI owns the main thread)."""

    def __init__(self, plan: Plan | None = None) -> None:
        self.receiver = Receiver(plan or always(202))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ReceiverThread:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.receiver.__aenter__(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.receiver.__aexit__(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()  # the receiver's lists are this thread's to read from now on

    def url(self, path: str = "/callback") -> str:
        """The callback URL for ``path``."""
        return self.receiver.url(path)

    def items(self) -> list[dict[str, Any]]:
        """Every notification item delivered so far (read on the receiver's loop while it runs)."""
        if self.loop.is_closed():
            return self.receiver.items()

        async def read() -> list[dict[str, Any]]:
            return self.receiver.items()

        return asyncio.run_coroutine_threadsafe(read(), self.loop).result(10)

    def wait_item(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """Block (no Qt events) until an item matching ``predicate`` arrived (bounded)."""
        waiting = self.receiver.wait_item(predicate, timeout_s=WAIT_MS / 1000)
        return asyncio.run_coroutine_threadsafe(waiting, self.loop).result(WAIT_MS / 1000 + 1)


def _post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read() or b"{}")


def _start(qtbot, tmp_path: Path) -> tuple[Rig, str]:
    """The window with a WAV as its microphone and the endpoint on; returns its Graph URL."""
    rig = Rig(qtbot, tmp_path)
    window = rig.window
    window.input_combo.setCurrentIndex(window.input_combo.findText("WAV file as microphone"))
    window.input_file.setText(str(SPEECH))
    qtbot.mouseClick(window.endpoint_toggle, LEFT)
    assert window.server is not None and window.incoming_button.isEnabled()
    return rig, window.endpoint_url.text()


def _row_texts(rig: Rig, kind: str) -> list[tuple[str, str]]:
    """(summary, kind-column colour) of every row of ``kind``, in order."""
    tree = rig.window.log.tree
    items = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    return [(i.text(2), i.foreground(1).color().name()) for i in items if i.text(1) == kind]


def _op_done(op_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda item: (
        item.get("changeType") == "deleted"
        and str(item.get("resourceUrl", "")).endswith(f"/operations/{op_id}")
    )


def test_deliveries_requests_and_states_of_a_placed_call_are_logged(qtbot, tmp_path: Path):
    rig, graph = _start(qtbot, tmp_path)
    window, log = rig.window, rig.window.log
    with ReceiverThread() as bot:
        try:
            status, call = _post(f"{graph}/communications/calls", create_body(bot.url()))
            assert status == 201
            qtbot.waitUntil(lambda: window._served_call_id == call["id"], timeout=WAIT_MS)
            body = {"playBeep": True, "maxSilenceTimeoutInSeconds": 5, "stopTones": ["#"]}
            record_url = f"{graph}/communications/calls/{call['id']}/recordResponse"
            status, operation = _post(record_url, body)
            assert status == 200
            rig.advance(2.0)
            qtbot.mouseClick(window.keypad.buttons["#"], LEFT)
            rig.advance(0.5)
            qtbot.waitUntil(
                lambda: any(map(_op_done(operation["id"]), bot.items())), timeout=WAIT_MS
            )
            qtbot.waitUntil(lambda: len(rig.records("delivery")) == 3, timeout=WAIT_MS)
        finally:
            window.endpoint_toggle.setChecked(False)

    # One row per delivery attempt: establishing, established, the recording's ending; each
    # went through at once with the receiver's 202, and the log says how fast.
    deliveries = [d for d in rig.records("delivery") if d["sequence"] <= 3]  # not the stop's
    assert [(d["sequence"], d["attempt"], d["outcome"], d["status"]) for d in deliveries] == [
        (1, 1, "delivered", 202),
        (2, 1, "delivered", 202),
        (3, 1, "delivered", 202),
    ]
    assert [d["summary"] for d in deliveries][:2] == ["call establishing", "call established"]
    assert "recordResponse completed" in deliveries[2]["summary"]
    assert all(d["callId"] == call["id"] and d["url"] == bot.url() for d in deliveries)
    assert all(0 < d["latencyMs"] < 5000 for d in deliveries)
    # The establishing notification went out before the caller picked up: its row survived
    # the log's reset when the window attached, at a negative time.
    assert deliveries[0]["t"] < 0 <= deliveries[2]["t"]
    rows = _row_texts(rig, "delivery")
    assert rows[0][0].startswith("#1 call establishing → POST callback 202 in ")
    assert rows[0][0].endswith(" ms (attempt 1)")
    assert {colour for _, colour in rows} == {QColor(GREEN).name()}

    # The bot's HTTP requests and the call's states, once each.
    http = [(r["method"], r["path"], r["status"]) for r in rig.records("http")]
    assert http[:2] == [
        ("POST", "/v1.0/communications/calls", 201),
        ("POST", f"/v1.0/communications/calls/{call['id']}/recordResponse", 200),
    ]
    assert any(
        text == f"POST /v1.0/communications/calls/{call['id']}/recordResponse → 200 ({ms})"
        for text, _ in _row_texts(rig, "http")
        for ms in [text.rsplit("(", 1)[-1].rstrip(")")]
    )
    states = [r["state"] for r in rig.records("callState")]
    assert states[:2] == ["establishing", "established"]

    # Engine events come from the window's own session only: no double rows.
    notes = [e for e in window.events if isinstance(e, ev.Notification)]
    assert len(rig.records("notification")) == len(notes) == 1
    assert len(rig.records("response")) == 1

    # Filterable like the other kinds; the full record on selection.
    log.filter_kind.setCurrentIndex(log.filter_kind.findData("delivery"))
    assert log.visible_records() == rig.records("delivery")
    first = next(
        log.tree.topLevelItem(i)
        for i in range(log.tree.topLevelItemCount())
        if not log.tree.topLevelItem(i).isHidden()
    )
    log.tree.setCurrentItem(first)
    shown = json.loads(log.details.toPlainText())
    assert shown == deliveries[0]
    assert set(shown) >= {"kind", "status", "latencyMs", "attempt", "outcome", "url", "callId"}
    log.filter_kind.setCurrentIndex(log.filter_kind.findData("main"))
    log.filter_text.setText("retrying")
    assert log.visible_records() == []


def test_bot_acting_before_the_window_attaches_loses_nothing(qtbot, tmp_path: Path) -> None:
    """The bot answers "established" at once, before the window's next poll: still logged."""
    rig, graph = _start(qtbot, tmp_path)
    window = rig.window
    window.poll_timer.stop()  # the window cannot attach until the bot has acted
    with ReceiverThread() as bot:
        try:
            status, call = _post(f"{graph}/communications/calls", create_body(bot.url()))
            assert status == 201
            bot.wait_item(lambda item: item["resourceData"].get("state") == "established")
            body = {"playBeep": True, "maxSilenceTimeoutInSeconds": 5}
            status, operation = _post(
                f"{graph}/communications/calls/{call['id']}/recordResponse", body
            )
            assert status == 200
            assert window._served_call_id is None
            window.poll_timer.start()
            qtbot.waitUntil(lambda: len(rig.records("response")) == 1, timeout=WAIT_MS)
        finally:
            window.endpoint_toggle.setChecked(False)
    assert window._served_call_id == call["id"]
    response = rig.records("response")[0]
    assert (response["status"], response["body"]["id"]) == (200, operation["id"])
    assert [e.action for e in window.events if isinstance(e, ev.ActionResponse)] == [
        "recordResponse"
    ]


def test_failing_callback_shows_retrying_rows_then_delivered(qtbot, tmp_path: Path) -> None:
    rig, graph = _start(qtbot, tmp_path)
    window = rig.window

    def plan(path: str, n: int) -> int:
        return 500 if n <= 2 else 202  # the bot's first two answers are 500s

    with ReceiverThread(plan) as bot:
        try:
            status, call = _post(f"{graph}/communications/calls", create_body(bot.url()))
            assert status == 201
            qtbot.waitUntil(
                lambda: (
                    [d["sequence"] for d in rig.records("delivery") if d["status"] == 202] == [1, 2]
                ),
                timeout=WAIT_MS,
            )
        finally:
            window.endpoint_toggle.setChecked(False)
        states = [i["resourceData"]["state"] for i in bot.items()]
    # Each delivered once, in order (the endpoint's stop then ends the call).
    assert states[:2] == ["establishing", "established"]

    rows = [
        (d["sequence"], d["attempt"], d["outcome"], d["status"], d["retryInS"])
        for d in rig.records("delivery")
        if d["sequence"] <= 2
    ]
    # Notifier backoff 0.5 s then 1 s; the established notification waits its turn.
    assert rows == [
        (1, 1, "retrying", 500, 0.5),
        (1, 2, "retrying", 500, 1.0),
        (1, 3, "delivered", 202, None),
        (2, 1, "delivered", 202, None),
    ]
    texts = _row_texts(rig, "delivery")
    assert texts[0] == (
        "#1 call establishing → retrying in 0.5 s: HTTP 500 (attempt 1)",
        QColor(AMBER).name(),
    )
    assert texts[1][0] == "#1 call establishing → retrying in 1.0 s: HTTP 500 (attempt 2)"
    assert texts[2][0].startswith("#1 call establishing → POST callback 202 in ")
    assert texts[2][1] == QColor(GREEN).name()
    # The window picked up while the retries were pending: the earlier rows are kept, once.
    assert window._served_call_id == call["id"]
    window.log.filter_text.setText("retrying")
    assert [r["attempt"] for r in window.log.visible_records()] == [1, 2]


def test_incoming_call_button_answered_by_the_bot(qtbot, tmp_path: Path) -> None:
    rig, graph = _start(qtbot, tmp_path)
    window = rig.window
    with ReceiverThread() as bot:
        try:
            window.incoming_url.setText(bot.url("/incoming"))
            qtbot.mouseClick(window.incoming_button, LEFT)
            assert not window.incoming_button.isEnabled()  # until the offer is made
            qtbot.waitUntil(lambda: len(bot.items()) == 1, timeout=WAIT_MS)
            offered = bot.items()[0]
            assert offered["changeType"] == "created"
            assert offered["resourceData"]["state"] == "incoming"
            call_id = offered["resourceUrl"].rsplit("/", 1)[-1]
            qtbot.waitUntil(
                lambda: "waiting for it to answer" in window.endpoint_status.text(),
                timeout=WAIT_MS,
            )
            assert window.incoming_button.isEnabled()
            assert not window.endpoint_banner.isVisible()

            # The bot answers over HTTP; the window becomes the caller.
            answer = {
                "callbackUri": bot.url("/answered"),
                "acceptedModalities": ["audio"],
                "mediaConfig": SERVICE_HOSTED,
            }
            status, _ = _post(f"{graph}/communications/calls/{call_id}/answer", answer)
            assert status == 202
            qtbot.waitUntil(lambda: window._served_call_id == call_id, timeout=WAIT_MS)
            assert window.session is not None and window.session.running
            assert window.endpoint_status.text() == f"Served call {call_id} is live."
            body = {"playBeep": True, "maxSilenceTimeoutInSeconds": 5, "stopTones": ["#"]}
            status, operation = _post(
                f"{graph}/communications/calls/{call_id}/recordResponse", body
            )
            assert status == 200
            rig.advance(2.0)
            qtbot.mouseClick(window.keypad.buttons["#"], LEFT)
            rig.advance(0.5)
            qtbot.waitUntil(
                lambda: any(map(_op_done(operation["id"]), bot.items())), timeout=WAIT_MS
            )
            # The bot hangs up: the window's call ends, and the panel says so.
            hang_up = urllib.request.Request(
                f"{graph}/communications/calls/{call_id}", method="DELETE"
            )
            with urllib.request.urlopen(hang_up, timeout=10) as response:
                assert response.status == 204
            qtbot.waitUntil(lambda: not window.session.running, timeout=WAIT_MS)
            qtbot.waitUntil(
                lambda: (
                    window.endpoint_status.text()
                    == f"Served call {call_id} ended (bot hung up, resultInfo 200/5001)."
                ),
                timeout=WAIT_MS,
            )
        finally:
            window.endpoint_toggle.setChecked(False)
    done = next(filter(_op_done(operation["id"]), bot.items()))
    assert done["resourceData"]["resultInfo"]["subcode"] == 8514  # the window's # key
    assert [r["state"] for r in rig.records("callState")][:3] == [
        "incoming",
        "establishing",
        "established",
    ]
    offer_delivery = rig.records("delivery")[0]
    assert (offer_delivery["url"], offer_delivery["status"]) == (bot.url("/incoming"), 202)
    assert [r["action"] for r in rig.records("response")] == ["recordResponse"]

    # The callback URL is remembered.
    window.close()
    again = Rig(qtbot, tmp_path).window
    assert again.incoming_url.text() == bot.url("/incoming")


def _dead_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (a port just freed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/callback"


def test_incoming_call_to_a_dead_callback_shows_the_error(qtbot, tmp_path: Path) -> None:
    rig, _ = _start(qtbot, tmp_path)
    window = rig.window
    banner = window.endpoint_banner

    # Nothing typed: said at once, nothing offered.
    qtbot.mouseClick(window.incoming_button, LEFT)
    assert banner.isVisible() and "Enter the bot's callback URL" in banner.text()

    dead = _dead_url()
    window.incoming_url.setText(dead)
    qtbot.mouseClick(window.incoming_button, LEFT)
    # The first refusal is shown, though it may reach the window before the offer's reply.
    qtbot.waitUntil(lambda: "Retrying in 0.5 s (attempt 1)." in banner.text(), timeout=WAIT_MS)
    assert banner.isVisible()
    assert banner.text().startswith(f"The bot's callback {dead} did not take incoming call ")
    qtbot.waitUntil(window.incoming_button.isEnabled, timeout=WAIT_MS)
    first = rig.records("delivery")[0]
    assert (first["outcome"], first["status"], first["url"]) == ("retrying", None, dead)
    assert first["error"] and first["error"] in banner.text()
    assert rig.records("callState")[0]["state"] == "incoming"

    # A URL that is not one: the endpoint refuses it, the banner says why.
    window.incoming_url.setText("not a url")
    qtbot.mouseClick(window.incoming_button, LEFT)
    refused = (
        "Incoming call to not a url failed: callback_uri must be an absolute http or https URL."
    )
    qtbot.waitUntil(lambda: window.endpoint_status.text() == refused, timeout=WAIT_MS)
    # The banner says it too, unless the first call's next retry (its text also holds
    # "failed": "Connect call failed") came in the same poll: the newest news wins there.
    assert banner.text() == refused or banner.text().startswith(f"The bot's callback {dead} ")
    qtbot.waitUntil(window.incoming_button.isEnabled, timeout=WAIT_MS)

    # The GUI stays usable: the endpoint turns off, a local call runs.
    window.endpoint_toggle.setChecked(False)
    assert window.server is None and not window.incoming_button.isEnabled()
    assert not banner.isVisible()
    qtbot.mouseClick(window.send_record, LEFT)
    qtbot.waitUntil(lambda: len(rig.records("response")) == 1, timeout=WAIT_MS)
    assert rig.records("response")[0]["status"] == 200
    assert window.session is not None and window.session.running
