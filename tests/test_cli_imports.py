"""Each subcommand imports only what it uses: `run` and `--help` load no Qt, aiohttp, PortAudio.

Each case runs ``app.cli.main`` in a fresh interpreter (a real subprocess), then prints which of
the heavy packages ended up in ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("PySide6", "aiohttp", "sounddevice", "app.server", "app.ui")

PROBE = """
import contextlib, io, json, sys
from app.cli import main
argv = json.loads(sys.argv[1])
with contextlib.redirect_stdout(io.StringIO()):
    try:
        code = main(argv)
    except SystemExit as exc:  # --help exits 0
        code = exc.code
heavy = json.loads(sys.argv[2])
print(json.dumps({"code": code, "loaded": sorted(
    h for h in heavy if h in sys.modules or any(m.startswith(h + ".") for m in sys.modules)
)}))
"""


def loaded_by(argv: list[str]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv), json.dumps(HEAVY)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["doctor", "--help"]])
def test_help_imports_no_qt_no_aiohttp(argv: list[str]) -> None:
    assert loaded_by(argv) == {"code": 0, "loaded": []}


def test_run_imports_no_qt_no_aiohttp_no_portaudio(tmp_path: Path) -> None:
    scenario = ROOT / "resources/scenarios/8514-stop-tone.toml"
    result = loaded_by(["run", str(scenario), "--out", str(tmp_path / "out")])
    assert result == {"code": 0, "loaded": []}
    assert (tmp_path / "out" / "events.jsonl").is_file()


def test_serve_help_still_lists_its_options() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app", "serve", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "--caller-start" in done.stdout
