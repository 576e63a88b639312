"""Every entry point runs its engines with one BLAS thread (app/engine/blas.py says why).

Each case runs in a fresh interpreter (a real subprocess), so the limit set by one case cannot
leak into another, and reports threadpoolctl's view of the loaded BLAS libraries as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "resources" / "scenarios" / "8514-stop-tone.toml"
# Environment variables that would pin BLAS by themselves and hide a missing limit.
_BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")

REPORT = textwrap.dedent(
    """
    import json
    from app.engine.blas import blas_info
    def report():
        print("BLAS " + json.dumps([lib["num_threads"] for lib in blas_info()]), flush=True)
    """
)


def blas_threads(code: str, tmp_path: Path) -> list[int]:
    """Run ``code`` (after REPORT's helpers) in a fresh interpreter; the thread counts reported."""
    env = {k: v for k, v in os.environ.items() if k not in _BLAS_ENV}
    env["QT_QPA_PLATFORM"] = "offscreen"
    proc = subprocess.run(
        [sys.executable, "-c", REPORT + textwrap.dedent(code)],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("BLAS ")]
    assert proc.returncode == 0 and lines, proc.stdout + proc.stderr
    counts: list[int] = json.loads(lines[-1][5:])
    assert counts, "numpy's BLAS is not loaded"
    return counts


@pytest.fixture(scope="module")
def default_threads(tmp_path_factory: pytest.TempPathFactory) -> int:
    """What OpenBLAS uses without the limit here: the tests below can only fail if it is > 1."""
    counts = blas_threads("import numpy\nreport()", tmp_path_factory.mktemp("plain"))
    if max(counts) <= 1:
        pytest.skip("this machine's BLAS uses one thread anyway: the limit cannot be observed")
    return max(counts)


def test_callsim_run_limits_blas(default_threads: int, tmp_path: Path) -> None:
    code = f"""
        from app.cli import main
        assert main(["run", {str(SCENARIO)!r}, "--out", "out", "--quiet"]) == 0
        report()
    """
    assert blas_threads(code, tmp_path) == [1]


def test_callsim_serve_limits_blas(default_threads: int, tmp_path: Path) -> None:
    # serve runs until SIGINT: report from a thread once it listens, then stop it.
    code = """
        import os, signal, threading, time
        from app.cli import main
        def stop_when_listening():
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                # serve installs its own SIGINT handler once it listens.
                if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
                    break
                time.sleep(0.01)
            report()
            os.kill(os.getpid(), signal.SIGINT)
        threading.Thread(target=stop_when_listening, daemon=True).start()
        assert main(["serve", "--quiet"]) == 0
    """
    assert blas_threads(code, tmp_path) == [1]


def test_callsim_gui_limits_blas(default_threads: int, tmp_path: Path) -> None:
    code = """
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication
        from app.cli import main
        app = QApplication([])
        def done():
            report()
            app.quit()
        QTimer.singleShot(0, done)
        assert main(["gui", "--settings", "settings.ini"]) == 0
    """
    assert blas_threads(code, tmp_path) == [1]


def test_engine_host_used_as_a_library_limits_blas(default_threads: int, tmp_path: Path) -> None:
    # A bot's test suite starting a GraphServer gets the limit from the first EngineHost.
    code = """
        from app.core.call import Call
        from app.engine.host import EngineHost
        host = EngineHost(Call()).start()
        report()
        host.stop()
    """
    assert blas_threads(code, tmp_path) == [1]
