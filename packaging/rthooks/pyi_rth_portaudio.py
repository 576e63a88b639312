"""Runtime hook: the bundle's own PortAudio when the system has none.

sounddevice looks PortAudio up with ``ctypes.util.find_library("portaudio")``, which on Linux
reads the system's library cache and so never sees the copy pyinstaller-hooks-contrib's
sounddevice hook put in the bundle. The system's copy stays first (it matches the machine's
ALSA and sound server set-up); only when there is none is the bundled one named, so a desktop
without libportaudio2 still has live audio.
"""

import ctypes.util
import os
import sys

_system_find_library = ctypes.util.find_library
_BUNDLED = os.path.join(getattr(sys, "_MEIPASS", ""), "libportaudio.so.2")


def _find_library(name):
    found = _system_find_library(name)
    if found is None and name == "portaudio" and os.path.isfile(_BUNDLED):
        return _BUNDLED
    return found


ctypes.util.find_library = _find_library
