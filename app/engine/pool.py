"""A few engine threads that run many calls: the local Graph endpoint's engines.

Why: with one thread per call (``EngineHost`` on its own), 100 served calls are 100 threads that
each wake 20 times a second for about 0.1 ms of DSP, and each wake-up costs more than the DSP
(the queue hand-off, the thread switch, the interpreter lock passed between 100 threads). On a
2-core machine that overhead, not the DSP, made the calls fall behind their sample clock
(README "Local Graph endpoint"). A pool of ``workers`` threads takes the calls that have commands
waiting, one after another, and runs each one's queued commands in a batch.

What one thread per call guaranteed still holds, per call: its commands run in order, one at
a time, never on two threads at once (a host is in the ready queue or on one worker, never
both), and a command that raises fails only that command and that call (``EngineHost``). A
command that never returns holds its worker: when no worker has been free for ``stall_s``, the
pool starts a spare one (up to ``max_workers``), so the other calls go on and only the stuck
call waits, as it did on its own thread. A watch thread looks every ``stall_s / 2`` (a wake-up
costing microseconds). The stuck action itself fails at the endpoint's
answer deadline (``ENGINE_ANSWER_TIMEOUT_S``, app/server/lifecycle.py).
"""

from __future__ import annotations

import collections
import logging
import queue
import sys
import threading
import time
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

# One worker by default: the engine's work is Python, which runs on one core at a time (the
# interpreter lock) whatever the thread count, so a second worker only adds switches between
# them. The second core serves the event loop's HTTP and the pacer meanwhile.
DEFAULT_WORKERS = 1
# A worker runs at most this many commands of one call before the next call's turn: one call
# catching up a backlog (a late feed is whole ticks, app/server/caller.py) cannot hold the
# others back by more than a few milliseconds of DSP.
BATCH_COMMANDS = 16
# An engine command takes microseconds to milliseconds; a worker busy this long on one call is
# stuck in it (a blocking function given to ``submit``, a bug), and the others need a spare.
DEFAULT_STALL_S = 1.0
# Spares are bounded: each stuck command holds one thread until it returns.
DEFAULT_MAX_WORKERS = 32
# How long a thread holding the interpreter lock keeps it while another waits (CPython's
# default is 5 ms). A worker that wakes for a call's tick waits that long behind the event
# loop's HTTP work or the pacer, hundreds of times a second with 100 calls. In paired rounds of
# tests/bench/bench_concurrency.py at 100 calls on a loaded machine, the worst ending was
# 0.30-0.34 s late at 1 ms against 0.47-1.7 s at 5 ms. Process-wide, like the BLAS limit
# (app/engine/blas.py): set when a pool starts, never raised.
SWITCH_INTERVAL_S = 0.001


class PooledHost(Protocol):
    """What the pool needs of a host (``EngineHost``)."""

    name: str

    @property
    def has_urgent(self) -> bool:
        """Whether a command that decides something due now is waiting."""

    def run_queued(self, max_commands: int) -> bool:
        """Run up to ``max_commands`` queued commands; True if more are waiting."""


@dataclass
class _Worker:
    thread: threading.Thread | None = None
    busy_since: float | None = None  # time.monotonic() when it took its current host


class EnginePool:
    """``workers`` threads running the queued commands of many ``EngineHost``s (thread-safe)."""

    def __init__(
        self,
        workers: int = DEFAULT_WORKERS,
        *,
        name: str = "engine-pool",
        stall_s: float = DEFAULT_STALL_S,
        max_workers: int = DEFAULT_MAX_WORKERS,
    ) -> None:
        if workers < 1:
            raise ValueError(f"an engine pool needs at least one worker, got {workers}")
        self.name = name
        self.workers = workers
        self.stall_s = stall_s
        self.max_workers = max(workers, max_workers)
        # Hosts with commands waiting, each at most once (the host's own flag says so), in the
        # order they run; None tells one worker to exit. A host with an urgent command (a
        # scripted caller's feed that decides a timer due now, app/server/caller.py) waits in
        # ``_urgent``, which runs first: when 100 calls' routine feeds back up behind a busy
        # moment, the endings due now still come out at once, and the routine feeds, whose
        # audio decides nothing due yet, catch up after them. Each entry has one token in
        # ``_tokens``, which workers block on (a C queue: cheaper than a Condition at thousands
        # of feeds a second).
        self._ready: collections.deque[PooledHost | None] = collections.deque()
        self._urgent: collections.deque[PooledHost] = collections.deque()
        self._ready_lock = threading.Lock()
        self._tokens: queue.SimpleQueue[bool] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []
        self._spawned = 0
        self._stopped = threading.Event()
        self._watch: threading.Thread | None = None
        self.spares_started = 0  # how many times a stuck worker needed a spare

    def schedule(self, host: PooledHost, *, urgent: bool = False) -> None:
        """Queue ``host`` for a worker (the host calls this when it gets its first command),
        before the routine ones if ``urgent``."""
        if self._watch is None:
            self._start()
        self._enqueue(host, urgent=urgent)

    def expedite(self, host: PooledHost) -> None:
        """Run ``host`` before the routine ones if it waits in the queue (it got an urgent
        command). A host on a worker now is queued as urgent afterwards if one still waits."""
        with self._ready_lock:
            try:
                self._ready.remove(host)  # at most ~the number of calls long
            except ValueError:
                return
            self._urgent.append(host)

    def _enqueue(self, host: PooledHost | None, *, urgent: bool = False) -> None:
        with self._ready_lock:
            if urgent and host is not None:
                self._urgent.append(host)
            else:
                self._ready.append(host)
        self._tokens.put(True)

    def _start(self) -> None:
        with self._lock:
            if self._watch is not None or self._stopped.is_set():
                return
            if sys.getswitchinterval() > SWITCH_INTERVAL_S:
                sys.setswitchinterval(SWITCH_INTERVAL_S)
            for _ in range(self.workers):
                self._start_worker()
            self._watch = threading.Thread(
                target=self._watch_workers, name=f"{self.name}-watch", daemon=True
            )
            self._watch.start()

    def _watch_workers(self) -> None:
        while not self._stopped.wait(self.stall_s / 2):
            self._check_stalls()

    def _check_stalls(self) -> None:
        """Start a spare worker while fewer than ``workers`` have been free for ``stall_s``."""
        now = time.monotonic()
        with self._lock:
            if self._stopped.is_set():
                return
            free = sum(
                1
                for w in self._workers
                if w.busy_since is None or now - w.busy_since < self.stall_s
            )
            if free >= self.workers:
                return
            if len(self._workers) >= self.max_workers:
                log.error("%s: all %d workers are stuck; calls wait", self.name, len(self._workers))
                return
            self.spares_started += 1
            log.warning(
                "%s: a call's engine is stuck for over %g s; starting a spare worker",
                self.name,
                self.stall_s,
            )
            self._start_worker()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Let the workers finish the queued hosts, then stop them."""
        with self._lock:
            self._stopped.set()
            workers = list(self._workers)
        for _ in workers:
            self._enqueue(None)
        deadline = time.monotonic() + timeout_s
        for w in workers:
            if w.thread is not None:
                w.thread.join(max(0.0, deadline - time.monotonic()))

    @property
    def thread_count(self) -> int:
        """Worker threads alive now (spares included)."""
        with self._lock:
            return len(self._workers)

    def _start_worker(self) -> None:
        # Under self._lock.
        self._spawned += 1
        worker = _Worker()
        worker.thread = threading.Thread(
            target=self._run, args=(worker,), name=f"{self.name}-{self._spawned}", daemon=True
        )
        self._workers.append(worker)
        worker.thread.start()

    def _retire(self, worker: _Worker) -> bool:
        """Leave the pool if enough others are free: the stuck worker came back (or a spare)."""
        now = time.monotonic()
        with self._lock:
            if self._stopped.is_set() or len(self._workers) <= self.workers:
                return False
            free = sum(
                1
                for w in self._workers
                if w is not worker and (w.busy_since is None or now - w.busy_since < self.stall_s)
            )
            if free < self.workers:
                return False
            self._workers.remove(worker)
            return True

    def _run(self, worker: _Worker) -> None:
        ready, urgent, tokens = self._ready, self._urgent, self._tokens
        ready_lock = self._ready_lock
        while True:
            tokens.get()
            with ready_lock:
                host = urgent.popleft() if urgent else ready.popleft()
            if host is None:
                break
            worker.busy_since = time.monotonic()
            try:
                more = host.run_queued(BATCH_COMMANDS)
            except Exception:  # run_queued catches each command's; this is a host bug
                log.exception("%s: host %s failed", self.name, host.name)
                more = False
            worker.busy_since = None
            if more:
                # To the back, the other calls' turn first, unless a due decision waits.
                self._enqueue(host, urgent=host.has_urgent)
            # Not kept while waiting for the next: an ended call must be freeable.
            host = None
            if len(self._workers) > self.workers and self._retire(worker):
                return
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)
