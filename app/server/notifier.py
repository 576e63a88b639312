"""Delivers commsNotifications to a bot's callbackUri: in order per call, retried, logged.

Runs on the server's event loop (aiohttp client). Each call has its own ordered channel, drained
by one task at a time, so a slow or dead callback delays only that call's later notifications
and never the engine (which only enqueues) nor any other call. Every attempt yields one
``DeliveryRecord`` for the GUI's notification log and the headless output.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import aiohttp

from app.server.faults import REORDER_WAIT_S, NotificationFault

DeliveryOutcome = Literal["delivered", "retrying", "failed"]

# The Graph Communications SDK answers notifications with 202 at once (docs/graph-contract.md §5.1,
# [V S25]); a bot that needs longer than this is treated as not answering.
DEFAULT_TIMEOUT_S = 5.0
# Bounded retries: 5 attempts with 0.5, 1, 2, 4 s between them give a bot that restarts
# about 8 s (plus timeouts) to come back before a notification is given up [I].
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_BACKOFF_INITIAL_S = 0.5
DEFAULT_BACKOFF_MAX_S = 8.0
# Statuses worth retrying: the bot is down/overloaded rather than refusing this payload.
# Other 4xx answers are final (retrying the same body cannot change them) [I].
RETRY_STATUSES = frozenset({408, 425, 429})
# Real notifications come from "Microsoft-Skype/3.0,(Calling/1.0)" (docs/graph-contract.md §5.1);
# ours say who they are so nobody mistakes a local test for the cloud.
USER_AGENT = "CallSim/0.1 (local Graph endpoint; Calling/1.0)"


@dataclass(frozen=True, slots=True)
class NotifyOptions:
    """How notifications are delivered (all times in seconds)."""

    timeout_s: float = DEFAULT_TIMEOUT_S
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff_initial_s: float = DEFAULT_BACKOFF_INITIAL_S
    backoff_max_s: float = DEFAULT_BACKOFF_MAX_S
    # Sent as "Authorization: Bearer <token>" when set (real traffic carries a JWT, §5.1).
    bearer_token: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One delivery attempt of one notification (immutable; crosses threads freely)."""

    call_id: str
    sequence: int  # the n-th notification of this call, from 1
    attempt: int  # from 1
    url: str
    status: int | None  # HTTP status, None when no answer came (refused, timeout)
    latency_ms: float
    outcome: DeliveryOutcome  # "retrying": another attempt follows; "failed": given up
    error: str = ""
    retry_in_s: float | None = None
    summary: str = ""
    sample_index: int | None = None  # engine sample the notification was made at, if any
    payload_json: str = ""
    wall_time_s: float = 0.0  # time.time() when the attempt ended

    def to_json(self) -> dict[str, object]:
        """The record as a JSON object for the headless log (payload as text)."""
        return {
            "kind": "delivery",
            "callId": self.call_id,
            "sequence": self.sequence,
            "attempt": self.attempt,
            "url": self.url,
            "status": self.status,
            "latencyMs": round(self.latency_ms, 1),
            "outcome": self.outcome,
            "error": self.error,
            "retryInS": self.retry_in_s,
            "summary": self.summary,
            "wallTime": round(self.wall_time_s, 3),
        }


@dataclass(slots=True)
class _Pending:
    sequence: int
    url: str
    payload_json: str
    summary: str
    sample_index: int | None


class _Channel:
    def __init__(self) -> None:
        self.pending: collections.deque[_Pending] = collections.deque()
        self.task: asyncio.Task[None] | None = None
        self.sequence = 0
        # Set when the call is forgotten while a delivery is still running: the channel is
        # dropped once it drains, so the call's last notifications still go out.
        self.forgotten = False
        # Set by enqueue: a held (reordered) notification waits for the next one.
        self.arrived = asyncio.Event()


class Notifier:
    """Per-call ordered, retried notification delivery (use on the event loop thread only)."""

    def __init__(
        self,
        options: NotifyOptions | None = None,
        *,
        on_record: Callable[[DeliveryRecord], None] | None = None,
        faults: Sequence[NotificationFault] = (),
    ) -> None:
        self.options = options or NotifyOptions()
        # Faults on demand (app/server/faults.py): each applies to its first matching ones.
        self.faults = list(faults)
        self._on_record = on_record
        self._session: aiohttp.ClientSession | None = None
        self._channels: dict[str, _Channel] = {}

    async def open(self) -> None:
        """Create the HTTP client (call on the event loop)."""
        # No connection limit per host: 50 calls to one local bot must not queue on each other.
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
        self._session = aiohttp.ClientSession(connector=connector)

    async def close(self, grace_s: float = 1.0) -> None:
        """Give pending deliveries ``grace_s`` to finish, then cancel them and close."""
        tasks = [c.task for c in self._channels.values() if c.task is not None]
        if tasks:
            _, still = await asyncio.wait(tasks, timeout=grace_s)
            for task in still:
                task.cancel()
            if still:
                await asyncio.wait(still)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def pending_count(self, call_id: str | None = None) -> int:
        """Notifications not yet delivered or given up (for one call, or for all calls)."""
        if call_id is not None:
            channel = self._channels.get(call_id)
            return len(channel.pending) if channel is not None else 0
        return sum(len(c.pending) for c in self._channels.values())

    def channel_count(self) -> int:
        """Calls whose channel is still held (live calls and calls not yet forgotten)."""
        return len(self._channels)

    def forget(self, call_id: str) -> None:
        """Drop the call's channel (at once if idle, else once its queue drains)."""
        channel = self._channels.get(call_id)
        if channel is None:
            return
        if channel.task is None:
            del self._channels[call_id]
        else:
            channel.forgotten = True

    def enqueue(
        self,
        call_id: str,
        url: str,
        payload_json: str,
        *,
        summary: str = "",
        sample_index: int | None = None,
    ) -> int:
        """Queue one envelope for ``url``; returns its sequence number within the call."""
        channel = self._channels.setdefault(call_id, _Channel())
        channel.sequence += 1
        channel.pending.append(_Pending(channel.sequence, url, payload_json, summary, sample_index))
        channel.arrived.set()
        if channel.task is None:
            channel.task = asyncio.get_running_loop().create_task(
                self._drain(call_id, channel), name=f"notify-{call_id}"
            )
        return channel.sequence

    async def _drain(self, call_id: str, channel: _Channel) -> None:
        try:
            while channel.pending:
                item = channel.pending[0]
                fault = self._take_fault(item.summary)
                if fault is None:
                    await self._deliver(call_id, item)
                elif fault.kind == "drop":
                    self._record(call_id, item, 1, None, 0.0, "failed", "dropped (fault)", None)
                elif fault.kind == "delay":
                    await asyncio.sleep(fault.delay_s)
                    await self._deliver(call_id, item)
                elif fault.kind == "reorder":
                    # Held until the call's next notification is queued (at most
                    # REORDER_WAIT_S), which then goes first.
                    channel.arrived.clear()
                    if len(channel.pending) < 2:
                        with contextlib.suppress(TimeoutError):
                            async with asyncio.timeout(REORDER_WAIT_S):
                                await channel.arrived.wait()
                    if len(channel.pending) >= 2:
                        await self._deliver(call_id, channel.pending[1])
                        del channel.pending[1]
                    await self._deliver(call_id, item)
                elif fault.kind == "duplicate":
                    await self._deliver(call_id, item)
                    await self._deliver(call_id, item)
                else:
                    await self._deliver(call_id, item, fail_first=fault)
                channel.pending.popleft()
        finally:
            channel.task = None
            if channel.forgotten and self._channels.get(call_id) is channel:
                del self._channels[call_id]

    def _take_fault(self, summary: str) -> NotificationFault | None:
        for fault in self.faults:
            if fault.applies(summary):
                fault.times -= 1
                return fault
        return None

    async def _deliver(
        self, call_id: str, item: _Pending, *, fail_first: NotificationFault | None = None
    ) -> None:
        opts = self.options
        assert self._session is not None, "Notifier.open() was not awaited"
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            # Real traffic carries a message id per POST (docs/graph-contract.md §5.1).
            "X-Microsoft-Skype-Message-ID": _message_id(),
            "X-Microsoft-Skype-Chain-ID": call_id,
        }
        if opts.bearer_token:
            headers["Authorization"] = f"Bearer {opts.bearer_token}"
        for attempt in range(1, opts.max_attempts + 1):
            start = time.perf_counter()
            status: int | None = None
            error = ""
            retry_after_s: float | None = None
            if fail_first is not None and attempt <= fail_first.failed_attempts:
                # The fault answers for the bot: recorded and retried like a real failure.
                status, error = fail_first.status, f"HTTP {fail_first.status} (fault)"
                if attempt == opts.max_attempts:
                    self._record(call_id, item, attempt, status, 0.0, "failed", error, None)
                    return
                delay_s = min(opts.backoff_max_s, opts.backoff_initial_s * 2 ** (attempt - 1))
                self._record(call_id, item, attempt, status, 0.0, "retrying", error, delay_s)
                await asyncio.sleep(delay_s)
                continue
            try:
                # asyncio.timeout, not aiohttp's ClientTimeout: aiohttp rounds a timeout of 5 s
                # or more up to the next whole second of the loop clock (its
                # timeout_ceil_threshold), so a documented 5 s became 5-6 s. The attempt is
                # abandoned at exactly timeout_s (docs/graph-contract.md §5.1).
                async with asyncio.timeout(opts.timeout_s):
                    async with self._session.post(
                        item.url,
                        data=item.payload_json.encode("utf-8"),
                        headers=headers,
                        allow_redirects=False,
                    ) as response:
                        status = response.status
                        await response.read()
                        retry_after_s = _retry_after_s(response.headers.get("Retry-After"))
            except TimeoutError:
                error = f"no answer within {opts.timeout_s:g} s"
            except aiohttp.ClientError as exc:
                error = f"{type(exc).__name__}: {exc}"
            except OSError as exc:
                error = f"{type(exc).__name__}: {exc}"
            latency_ms = (time.perf_counter() - start) * 1000.0
            if status is not None and 200 <= status < 300:
                self._record(call_id, item, attempt, status, latency_ms, "delivered", "", None)
                return
            if status is not None and not error:
                error = f"HTTP {status}"
            retryable = status is None or status >= 500 or status in RETRY_STATUSES
            if not retryable or attempt == opts.max_attempts:
                why = error if retryable else f"{error} (not retried: the bot refused it)"
                self._record(call_id, item, attempt, status, latency_ms, "failed", why, None)
                return
            delay_s = min(opts.backoff_max_s, opts.backoff_initial_s * 2 ** (attempt - 1))
            if retry_after_s is not None:
                delay_s = min(opts.backoff_max_s, max(delay_s, retry_after_s))
            self._record(call_id, item, attempt, status, latency_ms, "retrying", error, delay_s)
            await asyncio.sleep(delay_s)

    def _record(
        self,
        call_id: str,
        item: _Pending,
        attempt: int,
        status: int | None,
        latency_ms: float,
        outcome: DeliveryOutcome,
        error: str,
        retry_in_s: float | None,
    ) -> None:
        if self._on_record is None:
            return
        self._on_record(
            DeliveryRecord(
                call_id=call_id,
                sequence=item.sequence,
                attempt=attempt,
                url=item.url,
                status=status,
                latency_ms=latency_ms,
                outcome=outcome,
                error=error,
                retry_in_s=retry_in_s,
                summary=item.summary,
                sample_index=item.sample_index,
                payload_json=item.payload_json,
                wall_time_s=time.time(),
            )
        )


# Message ids need to be unique, not secret: drawn from the random module, not from uuid4's
# os.urandom, a system call that gives up the interpreter lock on every POST and, with 100 calls'
# engines running (app/engine/pool.py), waits up to a switch interval to take it back.
_MESSAGE_IDS = random.Random()


def _message_id() -> str:
    """A random (version 4) UUID for one POST's X-Microsoft-Skype-Message-ID."""
    return str(uuid.UUID(int=_MESSAGE_IDS.getrandbits(128), version=4))


def _retry_after_s(value: str | None) -> float | None:
    """A Retry-After header given in seconds (the HTTP-date form is ignored)."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
