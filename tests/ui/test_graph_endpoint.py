"""The "Graph endpoint" toggle: a bot talks HTTP to the window, the window is the caller."""

from __future__ import annotations

import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.core import events as ev
from tests.server.support import create_body
from tests.ui.test_main_window import SPEECH, WAIT_MS, Rig

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


class _Callback:
    """The bot's callbackUri: a real HTTP server that keeps every notification."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                envelope = json.loads(self.rfile.read(length))
                outer.items.extend(envelope.get("value", []))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/callback"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read() or b"{}")


def test_served_call_uses_the_window_as_caller(qtbot, tmp_path: Path) -> None:
    rig = Rig(qtbot, tmp_path)
    window = rig.window
    window.input_combo.setCurrentIndex(window.input_combo.findText("WAV file as microphone"))
    window.input_file.setText(str(SPEECH))
    qtbot.mouseClick(window.endpoint_toggle, Qt.MouseButton.LeftButton)
    graph = window.endpoint_url.text()
    assert graph.startswith("http://127.0.0.1:") and graph.endswith("/v1.0")
    qtbot.mouseClick(window.endpoint_copy, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text() == graph

    callback = _Callback()
    try:
        status, call = _post(f"{graph}/communications/calls", create_body(callback.url))
        assert status == 201
        qtbot.waitUntil(lambda: window._served_call_id == call["id"], timeout=WAIT_MS)
        body = {"playBeep": True, "maxSilenceTimeoutInSeconds": 5, "stopTones": ["#"]}
        status, operation = _post(f"{graph}/communications/calls/{call['id']}/recordResponse", body)
        assert status == 200 and operation["status"] == "running"
        rig.advance(2.0)
        qtbot.mouseClick(window.keypad.buttons["#"], Qt.MouseButton.LeftButton)
        rig.advance(0.5)

        def delivered() -> list[dict[str, Any]]:
            return [
                i for i in callback.items if i.get("resourceData", {}).get("id") == operation["id"]
            ]

        qtbot.waitUntil(lambda: len(delivered()) == 1, timeout=WAIT_MS)
        info = delivered()[0]["resourceData"]["resultInfo"]
        assert info["subcode"] == 8514
        qtbot.waitUntil(
            lambda: any(isinstance(e, ev.OperationEnded) for e in window.events), timeout=WAIT_MS
        )
        assert "stop tone" in window.countdowns.ending.text()
    finally:
        callback.close()
        window.endpoint_toggle.setChecked(False)
    assert window.server is None and window.endpoint_url.text() == ""
