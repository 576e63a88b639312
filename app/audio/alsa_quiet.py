"""Silence libasound's error printer and count what it would have printed.

PortAudio's ALSA host API recovers from every underrun of an idle output stream with
``snd_pcm_recover``, and libasound's default error handler prints each one on stderr
("ALSA lib pcm.c:...:(snd_pcm_recover) underrun occurred"): about 300 lines a minute while the
GUI's speaker idles, drowning anything useful in the terminal. ``snd_lib_error_set_handler``
replaces that printer process-wide; ours only counts, by kind, so the GUI can show the
underrun count in its status bar instead.

The handler is variadic in C (``const char *fmt, ...``); ctypes declares only the fixed
arguments, which the x86-64 and AArch64 calling conventions pass the same way either way, and
the varargs are never read.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

_HANDLER_TYPE = ctypes.CFUNCTYPE(
    None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p
)


class AlsaErrorCounter:
    """What libasound reported since ``install()``: underruns and everything else."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # PortAudio's threads call the handler
        self.underruns = 0
        self.other = 0
        self.last_message = ""

    def record(self, function: str, fmt: str) -> None:
        """Count one report (``fmt`` is the unformatted printf pattern)."""
        with self._lock:
            if "underrun" in fmt or "xrun" in fmt:
                self.underruns += 1
            else:
                self.other += 1
                self.last_message = f"{function}: {fmt}"


_installed: tuple[AlsaErrorCounter, object] | None = None
_install_lock = threading.Lock()


def install() -> AlsaErrorCounter | None:
    """Route libasound's errors to a counter (once per process); None without libasound."""
    global _installed
    with _install_lock:
        if _installed is not None:
            return _installed[0]
        name = ctypes.util.find_library("asound")
        if name is None:
            return None
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            return None
        counter = AlsaErrorCounter()

        def handler(
            file: bytes | None, line: int, function: bytes | None, err: int, fmt: bytes | None
        ) -> None:
            counter.record(
                (function or b"").decode("utf-8", "replace"),
                (fmt or b"").decode("utf-8", "replace"),
            )

        callback = _HANDLER_TYPE(handler)
        lib.snd_lib_error_set_handler(callback)
        # The callback object must outlive every call libasound makes to it: keep it forever.
        _installed = (counter, callback)
        return counter


def counter() -> AlsaErrorCounter | None:
    """The installed counter, if any."""
    return _installed[0] if _installed is not None else None
