"""``callsim doctor`` run for real, here and in environments broken on purpose."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.doctor import debian_package, missing_libraries

DOCTOR_TIMEOUT_S = 120
DOCTOR = [sys.executable, "-m", "app", "doctor"]


def run_doctor(**env: str | None) -> subprocess.CompletedProcess[str]:
    """``python -m app doctor`` in a child with ``env`` applied (None removes a variable)."""
    merged = dict(os.environ)
    for name, value in env.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return subprocess.run(
        DOCTOR,
        capture_output=True,
        text=True,
        env=merged,
        timeout=DOCTOR_TIMEOUT_S,
        check=False,
    )


def line(output: str, name: str) -> str:
    """The report line of check ``name`` (the first one)."""
    for text in output.splitlines():
        if text[6:].startswith(f"{name} "):
            return text
    raise AssertionError(f"no '{name}' line in:\n{output}")


@pytest.mark.slow
def test_doctor_here_can_run_and_reports_every_part() -> None:
    done = run_doctor(QT_QPA_PLATFORM="offscreen")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert line(out, "python").startswith("ok") and sys.version.split()[0] in out
    assert line(out, "callsim").startswith("ok    callsim         0.")
    assert line(out, "qt").startswith("ok") and "Qt 6." in line(out, "qt")
    assert line(out, "qt platform") == "ok    qt platform     plugin 'offscreen' loads"
    for name in ("portaudio", "sound server", "settings", "data folder", "endpoint port", "blas"):
        line(out, name)  # present, whatever the audio situation of the machine
    assert "callsim.ini" in line(out, "settings")
    assert "thread(s)" in line(out, "blas") or "numpy" in line(out, "blas")
    assert out.splitlines()[-1].startswith("CallSim can run here")


@pytest.mark.slow
def test_unknown_qt_platform_fails_with_the_fix() -> None:
    done = run_doctor(QT_QPA_PLATFORM="nonexistent")
    assert done.returncode == 1, done.stdout + done.stderr
    failed = line(done.stdout, "qt platform")
    assert failed.startswith("FAIL") and "'nonexistent'" in failed
    # The fix names the variable and the plugins that do exist in this Qt.
    assert "fix: unset QT_QPA_PLATFORM or set it to one of:" in failed
    assert "offscreen" in failed.split("fix:")[1] and "xcb" in failed.split("fix:")[1]
    assert done.stdout.splitlines()[-1].startswith("CallSim cannot run here")


@pytest.mark.slow
def test_no_display_is_a_warning_not_a_failure() -> None:
    done = run_doctor(QT_QPA_PLATFORM=None, DISPLAY=None, WAYLAND_DISPLAY=None)
    assert done.returncode == 0, done.stdout + done.stderr
    warned = line(done.stdout, "qt platform")
    assert warned.startswith("warn") and "no display" in warned and "xvfb-run" in warned


@pytest.mark.slow
def test_unreachable_sound_server_is_named_with_the_fix(tmp_path) -> None:
    socket_path = tmp_path / "no-server"
    done = run_doctor(QT_QPA_PLATFORM="offscreen", PULSE_SERVER=f"unix:{socket_path}")
    assert done.returncode == 0, done.stdout + done.stderr
    warned = line(done.stdout, "sound server")
    assert warned.startswith("warn") and str(socket_path) in warned
    assert "fix: start PulseAudio or PipeWire" in warned


# A private mount namespace hides the system's PortAudio and empties the library cache, as on a
# machine without libportaudio2 (sounddevice looks it up through that cache).
HIDE = 'mount --bind /dev/null "$1" && mount --bind "$2" /etc/ld.so.cache && shift 2 && exec "$@"'


def system_portaudio() -> Path | None:
    try:
        listing = subprocess.run(
            ["ldconfig", "-p"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except OSError:
        return None
    found = re.search(r"libportaudio\.so\.2 .*=> (\S+)", listing)
    return Path(found.group(1)).resolve() if found else None


@pytest.mark.slow
def test_missing_portaudio_is_a_warning_that_names_the_package(tmp_path: Path) -> None:
    library = system_portaudio()
    if library is None:
        pytest.skip("no system PortAudio to hide")
    if subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False).returncode:
        pytest.skip("unshare -m needs root")
    empty = tmp_path / "ld.so.cache"
    empty.write_bytes(b"")
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", HIDE, "sh", str(library), str(empty), *DOCTOR],
        capture_output=True,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        timeout=DOCTOR_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr  # the app runs, with file input
    warned = line(done.stdout, "portaudio")
    assert warned.startswith("warn") and "not found" in warned
    assert "fix: install PortAudio: sudo apt install libportaudio2" in warned


def test_doctor_module_imports_nothing_heavy() -> None:
    """``app.cli`` builds the doctor parser from it: no Qt, numpy or PortAudio may load."""
    code = (
        "import sys, json, app.doctor;"
        "print(json.dumps([m for m in ('PySide6', 'numpy', 'sounddevice') if m in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(done.stdout) == []


# Qt 6's own words when the xcb plugin's dependencies are missing (QT_DEBUG_PLUGINS=1), and ldd's.
QT_MISSING_XCB_CURSOR = (
    'qt.core.library: "/opt/PySide6/Qt/plugins/platforms/libqxcb.so" cannot load: Cannot load '
    "library /opt/PySide6/Qt/plugins/platforms/libqxcb.so: (libxcb-cursor.so.0: cannot open "
    "shared object file: No such file or directory)\n"
    "qt.qpa.plugin: From 6.5.0, xcb-cursor0 or libxcb-cursor0 is needed to load the Qt xcb "
    "platform plugin.\n"
)
LDD_OUTPUT = (
    "\tlinux-vdso.so.1 (0x00007ffd)\n"
    "\tlibxkbcommon-x11.so.0 => not found\n"
    "\tlibxcb-icccm.so.4 => not found\n"
    "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n"
)


def test_missing_libraries_are_read_from_qt_and_ldd_output() -> None:
    assert missing_libraries(QT_MISSING_XCB_CURSOR) == ["libxcb-cursor.so.0"]
    assert missing_libraries(LDD_OUTPUT) == ["libxkbcommon-x11.so.0", "libxcb-icccm.so.4"]


@pytest.mark.parametrize(
    ("soname", "package"),
    [
        ("libxcb-cursor.so.0", "libxcb-cursor0"),
        ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
        ("libxcb-icccm.so.4", "libxcb-icccm4"),
        ("libEGL.so.1", "libegl1"),
        ("libdbus-1.so.3", "libdbus-1-3"),
        ("libportaudio.so.2", "libportaudio2"),
    ],
)
def test_debian_package_names(soname: str, package: str) -> None:
    assert debian_package(soname) == package
