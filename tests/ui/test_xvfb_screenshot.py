"""Launch the real app (``run_gui``) on an X server (Xvfb) and screenshot its main window.

Set CALLSIM_UPDATE_SCREENSHOT=1 to copy the picture to resources/screenshot.png (the README's).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage

from app.ui.timeline_view import LANE_COLOURS

REPO = Path(__file__).parents[2]
SCREEN = "1600x1000x24"

pytestmark = pytest.mark.xvfb


def test_real_app_under_xvfb_saves_a_screenshot(qapp, tmp_path: Path) -> None:
    if shutil.which("xvfb-run") is None or shutil.which("Xvfb") is None:
        pytest.skip("no X server to start: install xvfb and xauth (apt-get install xvfb xauth)")
    out = tmp_path / "screenshot.png"
    # A short neutral folder: its paths show in the picture (prompt URI, session folder).
    demo = Path(tempfile.mkdtemp(prefix="callsim-demo-"))
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb"}
    done = subprocess.run(
        [
            "xvfb-run",
            "-a",
            "-s",
            f"-screen 0 {SCREEN}",
            sys.executable,
            "-m",
            "tests.support.screenshot_app",
            str(out),
            "--settings",
            str(tmp_path / "settings.ini"),
            "--sessions",
            str(demo),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    shutil.rmtree(demo, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-3000:]
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1280, 720)
    # Real pixels: the timer lanes' colours are on screen (the 256-colour palette moves them a
    # little, so look for a near match), and the picture is not a blank frame.
    colours = {
        image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)
    }
    assert len(colours) > 20

    def near(target: str) -> bool:
        t = QColor(target)
        return any(
            abs(QColor(c).red() - t.red())
            + abs(QColor(c).green() - t.green())
            + abs(QColor(c).blue() - t.blue())
            < 60
            for c in colours
        )

    assert near(LANE_COLOURS["timer:maxSilence"]) and near(LANE_COLOURS["capture"])
    assert out.stat().st_size < 200_000
    if os.environ.get("CALLSIM_UPDATE_SCREENSHOT"):
        shutil.copyfile(out, REPO / "resources" / "screenshot.png")
