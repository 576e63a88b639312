"""The wheel carries resources/ as package data: installed into a fresh venv, away from the
checkout, it runs a bundled example scenario and finds a bundled prompt through app.resources."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STEP_TIMEOUT_S = 600  # a cold uv cache downloads PySide6 (the venv's own is reused when warm)

pytestmark = pytest.mark.slow


def run(cmd: list[str], cwd: Path) -> str:
    done = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=STEP_TIMEOUT_S, check=False
    )
    assert done.returncode == 0, f"{cmd} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with only the wheel built from this checkout (and its dependencies)."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    root = tmp_path_factory.mktemp("wheel")
    run([uv, "build", "--wheel", "--out-dir", str(root / "dist"), str(REPO)], cwd=root)
    wheels = list((root / "dist").glob("callsim-*.whl"))
    assert len(wheels) == 1, wheels
    run([uv, "venv", "--python", sys.executable, str(root / "venv")], cwd=root)
    python = root / "venv" / "bin" / "python"
    run([uv, "pip", "install", "--python", str(python), str(wheels[0])], cwd=root)
    return root


def test_installed_wheel_finds_its_bundled_prompt(installed: Path) -> None:
    python = installed / "venv" / "bin" / "python"
    code = (
        "from app.resources import resource_path, resource_root\n"
        "p = resource_path('prompts/welcome.wav')\n"
        "print(resource_root()); print(p); print(p.stat().st_size)\n"
    )
    root, prompt, size = run([str(python), "-c", code], cwd=installed).split()
    # The venv's copy (app/_resources in site-packages), not the checkout's resources/.
    assert Path(root).parts[-2:] == ("app", "_resources")
    assert Path(root).is_relative_to(installed / "venv"), root
    assert Path(prompt).name == "welcome.wav" and int(size) > 0


def test_installed_wheel_runs_a_bundled_example_scenario(installed: Path) -> None:
    python = installed / "venv" / "bin" / "python"
    scenario = run(
        [
            str(python),
            "-c",
            "from app.resources import resource_path as r;"
            "print(r('scenarios/8514-stop-tone.toml'))",
        ],
        cwd=installed,
    ).strip()
    callsim = installed / "venv" / "bin" / "callsim"
    out = run([str(callsim), "run", scenario, "--out", str(installed / "out")], cwd=installed)
    assert "200/8514 stopToneDetected" in out
    assert (installed / "out" / "events.jsonl").stat().st_size > 0
