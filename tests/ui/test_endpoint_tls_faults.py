"""The endpoint panel's HTTPS box and faults line (issue 13): the same as serve --tls/--fault."""

from __future__ import annotations

import re
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from tests.ui.test_main_window import Rig

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


def test_https_endpoint_names_its_ca(qtbot, tmp_path: Path) -> None:
    window = Rig(qtbot, tmp_path).window
    window.endpoint_panel.tls.setChecked(True)
    window.endpoint_panel.faults.setText("delay:1:8509 download:404")
    qtbot.mouseClick(window.endpoint_toggle, Qt.MouseButton.LeftButton)
    graph = window.endpoint_url.text()
    assert graph.startswith("https://127.0.0.1:")
    found = re.search(r"Trust the CA (\S+\.pem)", window.endpoint_status.text())
    assert found, window.endpoint_status.text()
    context = ssl.create_default_context(cafile=found.group(1))
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{graph}/communications/calls/x", timeout=10, context=context)
    assert caught.value.code == 404
    caught.value.close()
    qtbot.mouseClick(window.endpoint_toggle, Qt.MouseButton.LeftButton)  # off


def test_a_bad_fault_keeps_the_endpoint_off_and_says_why(qtbot, tmp_path: Path) -> None:
    window = Rig(qtbot, tmp_path).window
    window.endpoint_panel.faults.setText("slow:3")
    qtbot.mouseClick(window.endpoint_toggle, Qt.MouseButton.LeftButton)
    assert not window.endpoint_toggle.isChecked()
    assert "Cannot start the endpoint: fault 'slow:3'" in window.endpoint_status.text()
