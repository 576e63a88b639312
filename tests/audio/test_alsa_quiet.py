"""libasound's error printer: silenced and counted (a real libasound in a child process)."""

from __future__ import annotations

import ctypes.util
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    ctypes.util.find_library("asound") is None, reason="no libasound on this machine"
)

# Opens a PCM that does not exist (libasound reports it through its error handler), then
# calls the handler libasound holds as an underrun recovery does.
CHILD = """
import ctypes, ctypes.util, sys
quiet = sys.argv[1] == "quiet"
if quiet:
    from app.audio import alsa_quiet
    counter = alsa_quiet.install()
lib = ctypes.CDLL(ctypes.util.find_library("asound"))
pcm = ctypes.c_void_p()
rc = lib.snd_pcm_open(ctypes.byref(pcm), b"callsim_no_such_pcm", 0, 0)
assert rc < 0, rc
handler = ctypes.CFUNCTYPE(
    None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p
)
current = handler.in_dll(lib, "snd_lib_error")
for _ in range(3):
    current(b"pcm.c", 1, b"snd_pcm_recover", -32, b"underrun occurred")
if quiet:
    print(counter.underruns, counter.other)
"""


def _run(mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CHILD, mode],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_libasound_errors_are_counted_not_printed() -> None:
    loud = _run("loud")
    assert "ALSA lib" in loud.stderr and "callsim_no_such_pcm" in loud.stderr
    quiet = _run("quiet")
    assert "ALSA lib" not in quiet.stderr
    underruns, other = map(int, quiet.stdout.split())
    assert underruns == 3 and other >= 1
