"""``callsim serve``: the local Graph endpoint, headless, until Ctrl-C.

The caller of every call comes from a scenario's ``[[caller]]`` entries, a WAV, or silence.
The first line printed is ``CallSim local Graph endpoint listening on http://HOST:PORT`` so a
script can read the port; then one line per HTTP request, call state change, notification
delivery attempt and operation ending (or JSON lines with ``--jsonl``).
"""

from __future__ import annotations

import argparse
import gc
import json
import queue
import signal
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import IO, Any

from app.audio.prompts import DEFAULT_PROMPT_MAX_BYTES
from app.core import events as ev
from app.core.call import CallConfig
from app.core.clock import ENGINE_RATE_HZ
from app.core.media import DEFAULT_PROMPT_TIMEOUT_S
from app.server.caller import START_ON, CallerPacer, CallerScript, scripted_caller_factory
from app.server.events import (
    CallAdded,
    CallStateChanged,
    EngineEvent,
    RequestLogged,
    ServerEvent,
)
from app.server.http_guard import check_origin_value
from app.server.notifier import (
    DEFAULT_BACKOFF_INITIAL_S,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_TIMEOUT_S,
    DeliveryRecord,
    NotifyOptions,
)
from app.server.recordings import DEFAULT_RECORDING_TTL_S
from app.server.server import (
    DEFAULT_ANSWER_DELAY_S,
    DEFAULT_RING_TIMEOUT_S,
    GraphServer,
)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2  # bad arguments or a broken scenario (docs/design.md §5)
# Allocations between young-generation collections in the serve process (``_tune_gc``).
GC_GEN0_THRESHOLD = 20_000


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the serve options."""
    parser.description = (
        "Serve a local Microsoft Graph calls endpoint. Point the bot's Graph base URL at the "
        "printed address (+ /v1.0 or /beta); CallSim plays the caller and the cloud."
    )
    net = parser.add_argument_group("network")
    net.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    net.add_argument("--port", type=int, default=0, help="port to bind (default: a free one)")
    net.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="let web pages from this origin (http://host:port) call the endpoint; repeatable "
        "(default: none, a request carrying an Origin header gets 403)",
    )
    net.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a test CA made now (trustme); prints the CA file to trust",
    )
    net.add_argument(
        "--tls-dir",
        type=Path,
        help="with --tls: write the CA certificate here (default: a temporary folder)",
    )
    net.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="a notification fault: delay:SECONDS[:MATCH], duplicate|drop|reorder[:MATCH], "
        "fail:N:STATUS[:MATCH] (MATCH: text of the summary, e.g. 8509), download:401|404|500"
        "[:TIMES], cut:BYTES[:TIMES] (the recording download); repeatable",
    )
    caller = parser.add_argument_group("the caller (one of)")
    source = caller.add_mutually_exclusive_group()
    source.add_argument(
        "--scenario", type=Path, help="scenario TOML: its [[caller]] entries play in every call"
    )
    source.add_argument("--wav", type=Path, help="audio file the caller says when the call starts")
    caller.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="caller pace relative to real time (default 1; >1 runs calls faster, for tests)",
    )
    caller.add_argument(
        "--caller-start",
        choices=START_ON,
        default="established",
        help="script time 0: when the call is established (default), or when the first "
        "recordResponse starts capturing (the caller stays silent until then)",
    )
    calls = parser.add_argument_group("calls")
    calls.add_argument(
        "--answer-delay",
        type=float,
        default=DEFAULT_ANSWER_DELAY_S,
        help=f"seconds from establishing to established (default {DEFAULT_ANSWER_DELAY_S:g})",
    )
    calls.add_argument(
        "--ring-timeout",
        type=float,
        default=DEFAULT_RING_TIMEOUT_S,
        help=f"an incoming call not answered within this ends (default {DEFAULT_RING_TIMEOUT_S:g})",
    )
    calls.add_argument(
        "--incoming",
        metavar="CALLBACK_URL",
        help="offer an incoming call to the bot at this callback URL after start",
    )
    calls.add_argument(
        "--incoming-delay", type=float, default=0.0, help="seconds to wait before --incoming"
    )
    calls.add_argument("--vad", help="speech detector (energy, webrtc, ...; default: scenario's)")
    calls.add_argument(
        "--lenient-prompts", action="store_true", help="convert prompts that break the WAV rule"
    )
    calls.add_argument(
        "--prompt-timeout",
        type=float,
        default=DEFAULT_PROMPT_TIMEOUT_S,
        help=f"seconds to load a prompt (file or URL) before it fails 400/8536 "
        f"(default {DEFAULT_PROMPT_TIMEOUT_S:g})",
    )
    calls.add_argument(
        "--prompt-max-bytes",
        type=int,
        default=DEFAULT_PROMPT_MAX_BYTES,
        help=f"a larger prompt fails 400/8536 unread (default {DEFAULT_PROMPT_MAX_BYTES})",
    )
    calls.add_argument(
        "--hangup-delivers-recording",
        action="store_true",
        help="a caller hang-up mid-recording delivers it (the field sends nothing)",
    )
    rec = parser.add_argument_group("recordings")
    rec.add_argument(
        "--recordings",
        type=Path,
        help="folder for recordings (kept); default: a temporary folder removed at exit",
    )
    rec.add_argument(
        "--recording-ttl",
        type=float,
        default=DEFAULT_RECORDING_TTL_S,
        help=f"seconds a recording stays downloadable after its call ends "
        f"(default {DEFAULT_RECORDING_TTL_S:g})",
    )
    note = parser.add_argument_group("notifications")
    note.add_argument(
        "--notify-timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help=f"seconds to wait for the bot's answer to a notification "
        f"(default {DEFAULT_TIMEOUT_S:g})",
    )
    note.add_argument(
        "--notify-attempts",
        type=int,
        default=DEFAULT_MAX_ATTEMPTS,
        help=f"attempts per notification before giving up (default {DEFAULT_MAX_ATTEMPTS})",
    )
    note.add_argument(
        "--notify-backoff",
        type=float,
        default=DEFAULT_BACKOFF_INITIAL_S,
        help=f"first retry delay in seconds, doubling each time "
        f"(default {DEFAULT_BACKOFF_INITIAL_S:g})",
    )
    note.add_argument(
        "--notify-token", help="send 'Authorization: Bearer TOKEN' with every notification"
    )
    out = parser.add_argument_group("output")
    out.add_argument("--jsonl", help="write every event as a JSON line to this file ('-': stdout)")
    out.add_argument("--verbose", action="store_true", help="also print every engine event")
    out.add_argument("--quiet", action="store_true", help="print only the start-up lines")


def _call_config(args: argparse.Namespace, scenario: Any) -> CallConfig:
    """Engine options: the scenario's [call] table, overridden by the command line."""
    config = CallConfig()
    if scenario is not None:
        options = scenario.call
        config = replace(
            config,
            lenient_prompts=options.lenient_prompts,
            hangup_delivers_recording=options.hangup_delivers_recording,
            media_timeout_s=options.media_timeout_s,
            in_band_detection=options.in_band_detection,
            **({"vad": options.vad} if options.vad else {}),
        )
    if args.vad:
        config = replace(config, vad=args.vad)
    if args.lenient_prompts:
        config = replace(config, lenient_prompts=True)
    if args.hangup_delivers_recording:
        config = replace(config, hangup_delivers_recording=True)
    return config


def _check_args(args: argparse.Namespace) -> str | None:
    if args.speed <= 0:
        return "--speed must be positive"
    for name in ("answer_delay", "ring_timeout", "recording_ttl", "incoming_delay"):
        if getattr(args, name) < 0:
            return f"--{name.replace('_', '-')} must not be negative"
    if args.prompt_timeout <= 0 or args.prompt_max_bytes < 1:
        return "--prompt-timeout must be > 0 and --prompt-max-bytes >= 1"
    if args.notify_timeout <= 0 or args.notify_attempts < 1 or args.notify_backoff < 0:
        return "--notify-timeout must be > 0, --notify-attempts >= 1, --notify-backoff >= 0"
    for origin in args.allow_origin:
        problem = check_origin_value(origin)
        if problem:
            return problem
    if args.vad:
        from app.core.vad.base import CLASSIFIER_NAMES

        if args.vad not in CLASSIFIER_NAMES or args.vad == "scripted":
            names = ", ".join(n for n in CLASSIFIER_NAMES if n != "scripted")
            return f"--vad must be one of {names}"
    return None


def serve_command(args: argparse.Namespace) -> int:
    """Run the endpoint until Ctrl-C (SIGINT) or SIGTERM; 0 on a clean stop."""
    problem = _check_args(args)
    if problem:
        print(f"callsim: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    scenario = None
    try:
        if args.scenario is not None:
            from app.scenario.model import ScenarioError, load_scenario

            try:
                scenario = load_scenario(args.scenario)
                script = CallerScript.from_scenario(scenario)
            except ScenarioError as exc:
                print(f"callsim: error: {exc}", file=sys.stderr)
                return EXIT_USAGE
        elif args.wav is not None:
            script = CallerScript.from_wav(args.wav)
        else:
            script = CallerScript.silence()
    except Exception as exc:  # AudioFileError and friends: one line, like `callsim run`
        print(f"callsim: error: {exc}", file=sys.stderr)
        return EXIT_USAGE

    from app.server.faults import parse_fault

    try:
        faults = [parse_fault(spec) for spec in args.fault]
    except ValueError as exc:
        print(f"callsim: error: --fault: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        # The scenario's [endpoint] faults, then the command line's.
        faults[:0] = [parse_fault(s) for s in (scenario.endpoint_faults if scenario else ())]
    except ValueError as exc:
        print(f"callsim: error: {args.scenario}: [endpoint]: {exc}", file=sys.stderr)
        return EXIT_USAGE
    tls_context = None
    ca_hints: list[str] = []
    if args.tls:
        import tempfile

        from app.server.tls import make_test_certificates, trust_hints

        tls_dir = args.tls_dir or Path(tempfile.mkdtemp(prefix="callsim-tls-"))
        try:
            certs = make_test_certificates(tls_dir, args.host)
        except OSError as exc:
            print(f"callsim: error: --tls-dir {tls_dir}: {exc}", file=sys.stderr)
            return EXIT_ERROR
        tls_context, ca_hints = certs.server_context, trust_hints(certs.ca_file)
    events: queue.SimpleQueue[ServerEvent] = queue.SimpleQueue()
    pacer = CallerPacer()
    server = GraphServer(
        args.host,
        args.port,
        caller_factory=scripted_caller_factory(
            script, pacer, speed=args.speed, start_on=args.caller_start
        ),
        recordings_dir=args.recordings,
        recording_ttl_s=args.recording_ttl,
        on_event=events.put,
        call_config=_call_config(args, scenario),
        prompt_base_dir=scenario.base_dir if scenario is not None else Path.cwd(),
        answer_delay_s=args.answer_delay,
        ring_timeout_s=args.ring_timeout,
        prompt_timeout_s=args.prompt_timeout,
        prompt_max_bytes=args.prompt_max_bytes,
        notify=NotifyOptions(
            timeout_s=args.notify_timeout,
            max_attempts=args.notify_attempts,
            backoff_initial_s=args.notify_backoff,
            bearer_token=args.notify_token,
        ),
        allowed_origins=args.allow_origin,
        ssl_context=tls_context,
        faults=faults,
    )
    try:
        server.start()
    except OSError as exc:
        print(f"callsim: error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        pacer.stop()
        return EXIT_ERROR

    _tune_gc()
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    jsonl = _open_jsonl(args.jsonl)
    try:
        _banner(server, script, args)
        for hint in ca_hints:
            print(hint, flush=True)
        incoming_at = time.monotonic() + args.incoming_delay if args.incoming else None
        while not stop.is_set():
            if incoming_at is not None and time.monotonic() >= incoming_at:
                incoming_at = None
                try:
                    call = server.incoming_call(args.incoming)
                    _line(f"call   {call.call_id[:8]} offered to {args.incoming}", args)
                except (ValueError, TimeoutError) as exc:
                    print(f"callsim: error: --incoming: {exc}", file=sys.stderr)
            _drain(events, args, jsonl, timeout_s=0.1)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.stop()
        pacer.stop()
        _drain(events, args, jsonl, timeout_s=0.0)
        if jsonl is not None and jsonl is not sys.stdout:
            jsonl.close()
    if not args.quiet:
        print("stopped", flush=True)
    return EXIT_OK


def _tune_gc() -> None:
    """Shorter, rarer garbage-collector pauses for the served calls (this process only).

    Every thread waits while the collector runs. A full collection walks every tracked object,
    the ~46,000 of the modules loaded at start (numpy, aiohttp, the engine) included; with 100
    calls such pauses held the engine worker up to 30 ms at a time. Frozen after start, those
    are never walked again; the young generation's threshold (CPython's default: 700
    allocations) is raised so that the calls' short-lived blocks and dicts are collected less
    often (a cycle among them waits a little longer to be freed). In paired rounds of 100
    calls (tests/bench/bench_concurrency.py), the worst ending was within 0.2 s in 5 of 6 quiet
    and 5 of 6 busy rounds with this, 2 and 4 of 6 without (README "Local Graph endpoint").
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, *gc.get_threshold()[1:])


def _open_jsonl(target: str | None) -> IO[str] | None:
    if target is None:
        return None
    if target == "-":
        return sys.stdout
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("w", encoding="utf-8")


def _banner(server: GraphServer, script: CallerScript, args: argparse.Namespace) -> None:
    print(f"CallSim local Graph endpoint listening on {server.base_url}", flush=True)
    print(
        f"Graph base URL: {server.graph_base_url('v1.0')}  (beta: {server.graph_base_url('beta')})"
    )
    seconds = len(script.track) / ENGINE_RATE_HZ
    print(
        f"Caller: {script.name} ({seconds:.1f} s of audio, {len(script.actions)} actions), "
        f"speed {args.speed:g}, starting when the call is {args.caller_start}"
    )
    print(
        f"Recordings: {server.recordings_dir} (downloadable for {args.recording_ttl:g} s "
        "after each call ends)"
    )
    print("Press Ctrl-C to stop.", flush=True)


def _stamp() -> str:
    now = time.time()
    return time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now * 1000) % 1000:03d}"


def _line(text: str, args: argparse.Namespace) -> None:
    if not args.quiet and args.jsonl != "-":
        print(f"{_stamp()}  {text}", flush=True)


def _drain(
    events: queue.SimpleQueue[ServerEvent],
    args: argparse.Namespace,
    jsonl: IO[str] | None,
    *,
    timeout_s: float,
) -> None:
    """Print (and log) every queued server event; wait up to ``timeout_s`` for the first.

    The log file is flushed once per batch, not per line: with 100 calls a flush per event
    was hundreds of system calls a second on a thread that competes with the engines.
    """
    try:
        event = events.get(timeout=timeout_s) if timeout_s > 0 else events.get_nowait()
    except queue.Empty:
        return
    while True:
        _show(event, args, jsonl)
        try:
            event = events.get_nowait()
        except queue.Empty:
            break
    if jsonl is not None:
        jsonl.flush()


def _show(event: ServerEvent, args: argparse.Namespace, jsonl: IO[str] | None) -> None:
    record = event.to_json()
    if jsonl is not None and record is not None:
        jsonl.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
    text = describe(event, verbose=args.verbose)
    if text:
        _line(text, args)


def describe(event: ServerEvent, *, verbose: bool = False) -> str | None:
    """One human line for a server event (None: not worth a line)."""
    if isinstance(event, RequestLogged):
        return f"http   {event.method} {event.path} -> {event.status} ({event.latency_ms:.1f} ms)"
    if isinstance(event, CallAdded):
        return (
            f"call   {event.call_id[:8]} added ({event.direction}, callback {event.callback_uri})"
        )
    if isinstance(event, CallStateChanged):
        return f"call   {event.call_id[:8]} {event.state} ({event.reason})"
    if isinstance(event, DeliveryRecord):
        head = f"notify {event.call_id[:8]} #{event.sequence} {event.summary}"
        answer = f"HTTP {event.status}" if event.status is not None else "no answer"
        timing = f"{event.latency_ms:.1f} ms, attempt {event.attempt}"
        if event.outcome == "delivered":
            return f"{head} -> {answer} ({timing})"
        if event.outcome == "retrying":
            return f"{head} -> {event.error} ({timing}); retry in {event.retry_in_s:g} s"
        return f"{head} -> GAVE UP: {event.error} ({timing})"
    if isinstance(event, EngineEvent):
        inner = event.event
        if isinstance(inner, ev.OperationEnded):
            return (
                f"op     {event.call_id[:8]} {inner.kind} {inner.status} "
                f"{inner.code}/{inner.subcode} {inner.reason} "
                f"({inner.recording_samples / ENGINE_RATE_HZ:.2f} s recorded)"
            )
        if verbose:
            record = event.to_json()
            if record is not None:
                record.pop("callId", None)
                record.pop("payload", None)
                return f"engine {event.call_id[:8]} {json.dumps(record, ensure_ascii=False)}"
    return None
