"""``callsim doctor``: what CallSim depends on, and whether each part works on this machine.

One line per check: ``ok``, ``warn`` (the app runs, degraded: no microphone, no display) or
``FAIL`` (the app cannot run; the line names the fix). The exit status is 0 unless a check
failed. The GUI shows the same report in Help → Diagnostics (``app/ui/diagnostics.py``).

Probes that can crash or hang the process run in a child process with a timeout: loading Qt's
platform plugin (Qt aborts the process when no plugin loads) and initialising PortAudio (a
wedged sound server can block it). The child is this same program (``callsim doctor --probe
NAME``, or ``python -m app doctor --probe NAME`` from a source install), so a PyInstaller
bundle probes its own bundled Qt and PortAudio. It prints one JSON object per line.

This module imports only the standard library at import time: ``app.cli`` builds its parser
from it without loading Qt, numpy or PortAudio.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OK = "ok"
WARN = "warn"
FAIL = "FAIL"

EXIT_OK = 0
EXIT_CANNOT_RUN = 1

# A probe that has not answered in this long is hung. Importing PySide6 and loading the xcb
# plugin takes about 1 s here; 20 s leaves room for a cold disk cache on a busy CI machine.
PROBE_TIMEOUT_S = 20.0
SOCKET_TIMEOUT_S = 2.0  # a local sound server answers a connect at once when it is alive

PROBES = ("qt", "audio")

ORGANIZATION = "CallSim"  # app/ui/app.py's names: the XDG fallback paths when Qt cannot say
APPLICATION = "callsim"
ENDPOINT_HOST = "127.0.0.1"  # the endpoint's default bind address (app/server/cli.py)

PORTAUDIO_FIX = "install PortAudio: sudo apt install libportaudio2 (Fedora: portaudio)"
SOUND_SERVER_FIX = (
    "start PulseAudio or PipeWire (pipewire-pulse) in your session, or set PULSE_SERVER; "
    "with only ALSA also install libasound2-plugins"
)
NO_DISPLAY_HINT = (
    "the GUI needs X11 or Wayland (set DISPLAY or WAYLAND_DISPLAY, or run it under xvfb-run); "
    "`callsim run` and `callsim serve` work without one"
)


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the report."""

    name: str
    status: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        """``ok    name         detail`` (+ ``— fix: ...``)."""
        text = f"{self.status:<5} {self.name:<15} {self.detail}"
        return f"{text} — fix: {self.fix}" if self.fix else text


# ------------------------------------------------------------------------------ the report


def collect(timeout_s: float = PROBE_TIMEOUT_S) -> list[Check]:
    """Run every check (the risky ones in child processes); never raises."""
    checks = [
        Check("python", OK, f"{platform.python_version()} ({sys.executable})"),
        Check("callsim", OK, _callsim_version()),
    ]
    qt = _run_probe("qt", timeout_s)
    checks += qt_checks(qt)
    checks += audio_checks(_run_probe("audio", timeout_s))
    checks.append(sound_server_check())
    checks += folder_checks(qt)
    checks.append(endpoint_check())
    checks.append(blas_check())
    return checks


def report_text(checks: Sequence[Check]) -> str:
    """The report as printed: one line per check, then the verdict."""
    lines = [check.line() for check in checks]
    failed = [c for c in checks if c.status == FAIL]
    warned = [c for c in checks if c.status == WARN]
    if failed:
        lines.append(f"CallSim cannot run here: {len(failed)} problem(s) above, each with its fix.")
    elif warned:
        lines.append(f"CallSim can run here, degraded: {len(warned)} warning(s) above.")
    else:
        lines.append("CallSim can run here.")
    return "\n".join(lines)


def exit_status(checks: Sequence[Check]) -> int:
    """0 when the app can run (warnings allowed), 1 when a check failed."""
    return EXIT_CANNOT_RUN if any(c.status == FAIL for c in checks) else EXIT_OK


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """The ``doctor`` options (standard library only: parser building stays cheap)."""
    parser.description = (
        "Check what CallSim needs (Qt, PortAudio, the sound server, devices, folders, the "
        "endpoint port, BLAS) and print one line each, with the fix for what is missing."
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=PROBE_TIMEOUT_S,
        help=f"seconds before a hung probe is reported (default {PROBE_TIMEOUT_S:g})",
    )
    parser.add_argument("--probe", choices=PROBES, help=argparse.SUPPRESS)


def doctor_command(args: argparse.Namespace) -> int:
    """``callsim doctor``: print the report; or, as a child, run one probe."""
    if args.probe:  # "qt" is dispatched by app.cli, which may import the UI
        return run_probe(args.probe)
    checks = collect(args.timeout)
    print(report_text(checks))
    return exit_status(checks)


# ------------------------------------------------------------------------------ versions


def _callsim_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        text = version("callsim")
    except PackageNotFoundError:
        text = "unknown (no package metadata)"
    if getattr(sys, "frozen", False):
        text += f" (bundle {Path(sys.executable).parent})"
    return text


# ------------------------------------------------------------------------------ child probes


def probe_command(name: str) -> list[str]:
    """The command line that runs probe ``name`` in a child process."""
    if getattr(sys, "frozen", False):  # PyInstaller: the executable is callsim itself
        return [sys.executable, "doctor", "--probe", name]
    return [sys.executable, "-m", "app", "doctor", "--probe", name]


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What a child probe printed (its JSON lines merged), its stderr, and how it ended."""

    values: dict[str, Any]
    stderr: str
    returncode: int | None  # None: killed after the timeout


def _run_probe(name: str, timeout_s: float) -> ProbeResult:
    env = dict(os.environ)
    if name == "qt":
        # Qt then says which plugin it tried and why it failed ("cannot open shared object").
        env["QT_DEBUG_PLUGINS"] = "1"
    try:
        done = subprocess.run(
            probe_command(name),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        return ProbeResult(_parse_json_lines(out), err, None)
    except OSError as exc:
        return ProbeResult({}, str(exc), -1)
    return ProbeResult(_parse_json_lines(done.stdout), done.stderr, done.returncode)


def _parse_json_lines(text: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            item = json.loads(line)
            if isinstance(item, dict):
                values.update(item)
    return values


def _emit(**values: Any) -> None:
    print(json.dumps(values), flush=True)  # flushed: the next step may abort the process


def run_probe(name: str) -> int:
    """In the child: run the audio probe and print its findings as JSON lines.

    The Qt probe is run by ``app.cli`` (``app.ui.qt_probe``): this module sits below the UI and
    must not import it (docs/architecture.md §1).
    """
    if name != "audio":
        raise ValueError(f"run_probe runs the audio probe only, not {name!r}")
    _probe_audio()
    return 0


def emit(**values: Any) -> None:
    """Print one JSON line of probe findings for the parent (flushed at once)."""
    _emit(**values)


def _probe_audio() -> None:
    from app.audio.devices import probe_audio

    status = probe_audio()
    _emit(
        available=status.available,
        problem=status.problem,
        fix=status.fix,
        portaudio_version=status.portaudio_version,
        default_input=status.default_input,
        default_output=status.default_output,
        inputs=[[d.index, d.label, d.default_rate_hz] for d in status.inputs],
        outputs=[[d.index, d.label, d.default_rate_hz] for d in status.outputs],
    )


# ------------------------------------------------------------------------------ Qt


_MISSING_LIB = re.compile(r"(lib[\w.+-]+?\.so(?:\.[\w.]+)?): cannot open shared object file")
_NO_PLUGIN = re.compile(r'Could not find the Qt platform plugin "([^"]*)"')
_NOT_FOUND_LDD = re.compile(r"^\s*(\S+\.so\S*) => not found", re.MULTILINE)


def debian_package(soname: str) -> str:
    """The Debian/Ubuntu package that usually ships ``soname``, by Debian's naming policy.

    ``libxcb-cursor.so.0`` -> ``libxcb-cursor0``; a name ending in a digit takes a hyphen:
    ``libxkbcommon-x11.so.0`` -> ``libxkbcommon-x11-0``, ``libdbus-1.so.3`` -> ``libdbus-1-3``.
    """
    stem, _, version = soname.partition(".so")
    version = version.lstrip(".").split(".")[0]
    stem = stem.lower()
    if not version:
        return stem
    return f"{stem}-{version}" if stem[-1].isdigit() else f"{stem}{version}"


def missing_libraries(text: str) -> list[str]:
    """Shared libraries named as missing in Qt's plugin debug output or ldd's output."""
    found = _MISSING_LIB.findall(text) + _NOT_FOUND_LDD.findall(text)
    return list(dict.fromkeys(Path(name).name for name in found))


def _ldd_missing(plugins_dir: str, platform_name: str) -> list[str]:
    """Libraries the platform plugin needs and the loader cannot find (``ldd``), if any."""
    plugin = Path(plugins_dir) / "platforms" / f"libq{platform_name}.so"
    ldd = shutil.which("ldd")
    if not plugins_dir or not plugin.is_file() or ldd is None:
        return []
    try:
        done = subprocess.run(
            [ldd, str(plugin)], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return missing_libraries(done.stdout)


def _available_platforms(plugins_dir: str) -> list[str]:
    folder = Path(plugins_dir) / "platforms" if plugins_dir else None
    if folder is None or not folder.is_dir():
        return []
    return sorted(p.name[len("libq") : -len(".so")] for p in folder.glob("libq*.so"))


def _wanted_platform() -> str:
    wanted = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0].split(";")[0].strip()
    if wanted:
        return wanted
    return "wayland" if os.environ.get("WAYLAND_DISPLAY") else "xcb"


def qt_checks(probe: ProbeResult) -> list[Check]:
    """The Qt version line and the platform plugin line from the qt probe."""
    values = probe.values
    if "qt_version" not in values:
        last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        return [
            Check(
                "qt",
                FAIL,
                f"PySide6 does not import ({last})",
                "reinstall CallSim (uv sync, or the bundle/wheel again)",
            )
        ]
    checks = [Check("qt", OK, f"Qt {values['qt_version']}, PySide6 {values['pyside_version']}")]
    if "platform" in values:
        checks.append(Check("qt platform", OK, f"plugin '{values['platform']}' loads"))
        return checks
    return [*checks, _platform_failure(probe, values.get("plugins_dir", ""))]


def _platform_failure(probe: ProbeResult, plugins_dir: str) -> Check:
    wanted = _wanted_platform()
    if probe.returncode is None:
        return Check(
            "qt platform",
            FAIL,
            f"loading the '{wanted}' platform plugin hung for more than the timeout",
            "check the display server (DISPLAY / WAYLAND_DISPLAY) answers",
        )
    no_plugin = _NO_PLUGIN.search(probe.stderr)
    if no_plugin:
        choices = ", ".join(_available_platforms(plugins_dir)) or "xcb, wayland, offscreen"
        return Check(
            "qt platform",
            FAIL,
            f"Qt has no platform plugin '{no_plugin.group(1)}' (QT_QPA_PLATFORM)",
            f"unset QT_QPA_PLATFORM or set it to one of: {choices}",
        )
    missing = missing_libraries(probe.stderr) or _ldd_missing(plugins_dir, wanted)
    if missing:
        packages = " ".join(dict.fromkeys(debian_package(m) for m in missing))
        return Check(
            "qt platform",
            FAIL,
            f"the '{wanted}' plugin cannot load: missing {', '.join(missing)}",
            f"sudo apt install {packages} (Debian/Ubuntu package names)",
        )
    has_display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    if not has_display and wanted in ("xcb", "wayland"):
        return Check("qt platform", WARN, "no display: the GUI cannot open here", NO_DISPLAY_HINT)
    last = (probe.stderr.strip().splitlines() or [f"exit status {probe.returncode}"])[-1]
    return Check(
        "qt platform",
        FAIL,
        f"the '{wanted}' platform plugin does not start ({last})",
        "run with QT_DEBUG_PLUGINS=1 to see why; check DISPLAY / WAYLAND_DISPLAY",
    )


# ------------------------------------------------------------------------------ audio


def audio_checks(probe: ProbeResult) -> list[Check]:
    """PortAudio, then one line per input and output device with its default rate."""
    values = probe.values
    if probe.returncode is None:
        return [
            Check(
                "portaudio",
                WARN,
                "PortAudio's initialisation hung (the sound server may be wedged)",
                SOUND_SERVER_FIX,
            )
        ]
    if "available" not in values:
        last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        return [Check("portaudio", WARN, f"the audio probe crashed ({last})", PORTAUDIO_FIX)]
    problem = str(values.get("problem", ""))
    version = values.get("portaudio_version") or ""
    if not values["available"] and not version:
        # No PortAudio version: the library itself is missing (or sounddevice is).
        fix = PORTAUDIO_FIX if "PortAudio" in problem else str(values.get("fix", ""))
        detail = f"not found ({problem}); live audio is off, WAV files still work"
        return [Check("portaudio", WARN, detail, fix)]
    checks = [Check("portaudio", OK, version)]
    inputs, outputs = values.get("inputs", []), values.get("outputs", [])
    for kind, devices, default in (
        ("input", inputs, values.get("default_input")),
        ("output", outputs, values.get("default_output")),
    ):
        if not devices:
            checks.append(
                Check(f"{kind} devices", WARN, f"no {kind} device found", SOUND_SERVER_FIX)
            )
        for index, label, rate_hz in devices:
            mark = ", default" if index == default else ""
            checks.append(Check(f"{kind} device", OK, f"{label}: {rate_hz} Hz{mark}"))
    return checks


def _sound_server_sockets() -> list[Path]:
    """Where libpulse looks for a server, in its order, plus PipeWire's own socket."""
    candidates: list[Path] = []
    server = os.environ.get("PULSE_SERVER", "")
    for entry in server.split():
        if entry.startswith("unix:"):
            candidates.append(Path(entry[len("unix:") :]))
        elif entry.startswith("/"):
            candidates.append(Path(entry))
    if server:
        return candidates  # libpulse tries only PULSE_SERVER when it is set
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    candidates += [Path(runtime) / "pulse" / "native", Path("/run/pulse/native")]
    candidates.append(Path(runtime) / "pipewire-0")
    return candidates


def _connects(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(SOCKET_TIMEOUT_S)
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def sound_server_check() -> Check:
    """Is a PulseAudio or PipeWire server reachable on its socket?"""
    if sys.platform != "linux":
        return Check("sound server", OK, f"not checked on {sys.platform} (the OS mixes audio)")
    candidates = _sound_server_sockets()
    for path in candidates:
        if path.exists() and _connects(path):
            kind = "PipeWire" if path.name.startswith("pipewire") else "PulseAudio protocol"
            return Check("sound server", OK, f"{kind} at {path}")
    tried = ", ".join(str(p) for p in candidates) or "PULSE_SERVER (no unix: socket in it)"
    return Check("sound server", WARN, f"none reachable (tried {tried})", SOUND_SERVER_FIX)


# ------------------------------------------------------------------------------ the rest


def _default_folders() -> tuple[str, str]:
    """The XDG locations Qt uses on Linux, for when the Qt probe could not say."""
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return (
        str(Path(config) / ORGANIZATION / f"{APPLICATION}.ini"),
        str(Path(data) / APPLICATION),  # app/ui/app.py default_data_dir(): ~/.local/share/callsim
    )


def folder_checks(qt: ProbeResult) -> list[Check]:
    """The settings file and the data folder (sessions are recorded under it)."""
    fallback_settings, fallback_data = _default_folders()
    settings = str(qt.values.get("settings_file") or fallback_settings)
    data = str(qt.values.get("data_dir") or fallback_data)
    checks = [Check("settings", OK, settings)]
    nearest = Path(data)
    while not nearest.exists() and nearest != nearest.parent:
        nearest = nearest.parent
    if os.access(nearest, os.W_OK):
        checks.append(Check("data folder", OK, f"{data} (sessions/ under it)"))
    else:
        checks.append(
            Check(
                "data folder",
                WARN,
                f"{data} is not writable ({nearest}); live sessions cannot be recorded",
                f"make {nearest} writable or set XDG_DATA_HOME",
            )
        )
    return checks


def endpoint_check() -> Check:
    """The endpoint binds 127.0.0.1 on a free port by default (port 0); can it here?"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((ENDPOINT_HOST, 0))
        except OSError as exc:
            return Check(
                "endpoint port",
                FAIL,
                f"cannot bind {ENDPOINT_HOST} ({exc})",
                "enable the loopback interface (ip link set lo up)",
            )
        port = sock.getsockname()[1]
    return Check(
        "endpoint port",
        OK,
        f"{ENDPOINT_HOST}: the default (a free port) works, e.g. {port}; "
        "`callsim serve --port N` picks one",
    )


def blas_check() -> Check:
    """numpy's BLAS: library, version, threads (threadpoolctl's view, else numpy's config)."""
    try:
        import numpy
    except ImportError as exc:
        return Check("blas", FAIL, f"numpy does not import ({exc})", "reinstall CallSim")
    env = " ".join(
        f"{name}={os.environ[name]}"
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_CORETYPE")
        if name in os.environ
    )
    suffix = f"; {env}" if env else ""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        config = numpy.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
        name = f"{config.get('name', '?')} {config.get('version', '')}".strip()
        return Check("blas", OK, f"numpy {numpy.__version__}, {name}{suffix}")
    libs = [lib for lib in threadpool_info() if lib.get("user_api") == "blas"]
    described = "; ".join(
        f"{lib.get('internal_api')} {lib.get('version')} {lib.get('num_threads')} thread(s)"
        f" ({lib.get('threading_layer')}, {lib.get('architecture')})"
        for lib in libs
    )
    return Check(
        "blas",
        OK,
        f"numpy {numpy.__version__}, {described or 'no BLAS loaded'}"
        f" (CallSim pins 1 thread when it runs){suffix}",
    )
