"""One BLAS thread for the whole process, set once before any engine runs.

Why: the engine's matrix products are small (at most 32 frames of 20 ms, see
``app/core/vad/energy.py``)
and come every few milliseconds. With OpenBLAS's default of one thread per core, its worker
threads busy-wait between those products: one idle served call burnt 93-100 % of a core, and 100
concurrent calls on 2 cores fell tens of seconds behind real time. With one thread the same idle
call costs about 2 %, and the results are the same (every engine product is computed the same
way whatever the thread count). Concurrency comes from one engine thread per call instead.

``limit_blas_threads()`` is called by every entry point (``app.cli.main``) and by
``EngineHost.start`` (the server and the GUI used as a library, e.g. from a bot's test suite), so
no engine runs with more. Before numpy is loaded it only sets ``OPENBLAS_NUM_THREADS`` (and
MKL's), which the library reads when it loads: importing threadpoolctl costs ~16 ms of every
start-up. Once numpy is loaded, threadpoolctl applies the limit at run time; it also reports
the configuration (``blas_info()``).
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

BLAS_THREADS = 1

_lock = threading.Lock()
_limiter: Any = None  # kept so that the limit is never restored by garbage collection


def limit_blas_threads() -> None:
    """Pin every loaded BLAS library to ``BLAS_THREADS`` threads (idempotent, thread-safe).

    The first call does the work (threadpoolctl scans the loaded libraries); later calls only
    take a lock, so hot paths may call it. numpy is imported first: the limit applies to the
    libraries loaded at the time of the call, and numpy's OpenBLAS is the one the engine uses.
    """
    global _limiter
    with _lock:
        if _limiter is not None:
            return
        if "numpy" not in sys.modules:
            # Read by OpenBLAS (and MKL) when numpy loads them; child processes inherit it.
            os.environ["OPENBLAS_NUM_THREADS"] = str(BLAS_THREADS)
            os.environ["MKL_NUM_THREADS"] = str(BLAS_THREADS)
            _limiter = "environment"
            return
        import numpy  # noqa: F401  (loads OpenBLAS so that the limit reaches it)
        from threadpoolctl import threadpool_limits

        _limiter = threadpool_limits(limits=BLAS_THREADS, user_api="blas")


def blas_info() -> list[dict[str, Any]]:
    """threadpoolctl's description of each loaded BLAS library (``num_threads`` among others)."""
    from threadpoolctl import threadpool_info

    return [lib for lib in threadpool_info() if lib.get("user_api") == "blas"]
