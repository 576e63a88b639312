"""A live call: microphone → queue → drain thread → engine thread → events; engine → speaker.

Threads and what crosses between them (docs/design.md rules 1-3):

- the device's audio callback copies each block into the device's queue and returns;
- the drain thread (here) resamples to 16 kHz with ``StreamResampler``, rounds to 16-bit (so
  the audio saved with the session is bit-for-bit what the engine heard), keeps it, sends
  level blocks to the UI and feeds the engine host;
- the engine thread runs the ``Call``; its listener queues prompt/beep audio on the speaker's
  mixer and writes recordings live (``attach_recording_writer``);
- the UI thread sends actions and keys and drains immutable events from its subscription;
- the audio supervisor (app.audio.supervisor) reopens a real device's stream when its device or
  sound server comes back, so blocks flow again and the stall watchdog below clears itself.
"""

from __future__ import annotations

import queue
import secrets
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from app.audio.devices import InputDevice, OutputDevice
from app.audio.prompts import make_prompt_loader
from app.audio.wav import GrowingWav, RecordingWriter, attach_recording_writer
from app.core import events as ev
from app.core.call import Call
from app.core.clock import ENGINE_RATE_HZ
from app.core.dsp.dtmf import dtmf_tone
from app.core.dsp.levels import rms_dbfs
from app.core.dsp.resample import StreamResampler
from app.engine.host import EngineHost
from app.scenario.model import CallOptions, Scenario
from app.scenario.runner import make_call
from app.session.export import SessionSnapshot

FloatArray = npt.NDArray[np.float32]
DtmfMode = Literal["both", "in-band", "out-of-band"]

# Level blocks carry one peak per 10 ms: fine enough for a waveform at 100 px per second.
ENVELOPE_SAMPLES = ENGINE_RATE_HZ // 100
# int16 full scale, the same convention as the engine's to_pcm16 and soundfile (x / 32768).
PCM16_SCALE = 32768.0
# Keypad tones the caller hears locally: the generator's default level and a 100 ms press
# (docs/dsp.md §2.1: 100 ms on / 100 ms off).
KEY_TONE_S = 0.1
# How long the drain thread blocks on the device queue before checking for stop.
DRAIN_POLL_S = 0.05
# The drain hands the engine the microphone's audio in batches of at least this much, and the
# engine analyses each batch at once (Call.feed_gather_ms). A device delivering 30 ms or more
# per block (PulseAudio at "high" latency: 34 ms and up, tests/ui/test_live_latency.py) is
# analysed block by block, so an in-band stop tone is decided with the block that completes it;
# 20 ms blocks go in pairs, one engine wake-up per 40 ms (README "Live latency and idle CPU").
LIVE_BATCH_MS = 30
# A real-time microphone that has delivered nothing for this long has stalled (unplugged, or its
# sound server died): no device delivers blocks this far apart, and a loaded machine's hiccups
# stay well below it. From then on the call gets "no media" for the time that passes, so the
# engine's clock keeps running and Graph's media timeout (8513, docs/graph-contract.md §4) can fire.
STALL_AFTER_S = 1.0


@dataclass(frozen=True, slots=True)
class LevelBlock:
    """Microphone level for the UI: peaks per 10 ms up to engine sample ``end_sample``."""

    end_sample: int
    peaks: FloatArray
    rms_dbfs: float


def quantize_pcm16(x: FloatArray) -> FloatArray:
    """Round float samples to the 16-bit grid, as the saved caller.wav will hold them."""
    q = np.clip(np.round(x * PCM16_SCALE), -32768, 32767)
    return (q / PCM16_SCALE).astype(np.float32)


class LiveSession:
    """One live call on a microphone and a speaker, with its own engine thread."""

    def __init__(
        self,
        microphone: InputDevice,
        speaker: OutputDevice | None,
        session_dir: Path,
        options: CallOptions | None = None,
        *,
        manage_speaker: bool = True,
        host: EngineHost | None = None,
        stall_after_s: float | None = STALL_AFTER_S,
    ) -> None:
        self.microphone = microphone
        self.speaker = speaker
        # The GUI keeps one speaker open across calls (to replay takes); then it starts it.
        self.manage_speaker = manage_speaker
        self.session_dir = session_dir
        # A seed makes ids and tokens reproducible, so a replay of the saved session has the
        # same call and operation ids (not for a served call: the server made its ids).
        self.options = options or CallOptions(
            seed=secrets.randbelow(2**31) if host is None else None
        )
        self.recordings_dir = session_dir / "recordings"
        if host is None:
            # The same construction as ``callsim run`` (make_call), so that a saved session
            # replays with the same configuration, ids and recording URIs pattern.
            scenario = Scenario(session_dir / "scenario.toml", "live session", "", self.options)
            # A live call's error dates are today's (a seeded replay's are fixed).
            self.call: Call = make_call(scenario, self.recordings_dir, wall_clock_s=time.time)
            # Prompts load on a worker thread, so a slow URL never stalls the live call.
            loader = make_prompt_loader(scenario.base_dir)
            self.host = EngineHost(self.call, name="engine", prompt_loader=loader)
            self._own_host = True
        else:
            # A call served by the Graph endpoint: the server owns (starts, stops) its engine.
            self.host = host
            self.call = host.call
            self._own_host = False
        self.writer: RecordingWriter = attach_recording_writer(self.host, self.recordings_dir)
        self.levels: queue.SimpleQueue[LevelBlock] = queue.SimpleQueue()
        self._events: list[ev.Event] = []  # engine thread only
        self._engine_tags: set[str] = set()  # engine thread only: prompt/beep clips queued
        self.host.add_listener(self._on_engine_event)
        if not self._own_host:
            # A served call may already be playing a prompt: catch up on the engine thread,
            # after the listener is in place, so no playback is missed or played twice.
            self.host.submit(self._catch_up_playback)
        # What the engine heard, on disk as it comes (a long call's audio stays out of memory,
        # and a crash leaves a WAV that opens); the lock serialises the drain and snapshots.
        self._heard = GrowingWav(session_dir / "heard.wav")
        self._heard_samples = 0
        self._heard_lock = threading.Lock()
        self._resampler = StreamResampler(microphone.rate_hz)
        self._carry = np.zeros(0, dtype=np.float32)
        self._batch: list[FloatArray] = []  # drain thread: resampled audio not yet handed on
        self._batch_samples = 0
        self._batch_frames = 0  # microphone frames in the batch
        realtime = getattr(microphone, "realtime", True)
        self._batch_ms = LIVE_BATCH_MS if realtime else 0
        self.host.submit(_set_feed_gather)
        self._stop = threading.Event()
        self._drain = threading.Thread(target=self._drain_loop, name="mic-drain", daemon=True)
        self._started = False
        self._stopped = False
        self.device_frames = 0  # microphone frames taken by the drain thread
        self.error: BaseException | None = None
        # Stall watchdog, only for devices that deliver in real time (a test's pumped fake
        # microphone delivers when the test says so; silence between pumps is not a stall).
        self.stall_after_s = stall_after_s if getattr(microphone, "realtime", True) else None
        self._stalled_since: float | None = None  # drain thread writes, UI reads
        # While set, what the microphone delivers is not sent: the call gets no media instead
        # (the caller's network drops), and the saved session holds silence for that time.
        self._drop_media = threading.Event()

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> LiveSession:
        """Start the engine, the speaker, the microphone and the drain thread."""
        self.session_dir.mkdir(parents=True, exist_ok=True)
        if self._own_host:
            self.host.start()
        if self.speaker is not None and self.manage_speaker:
            self.speaker.start()
        self.microphone.start()
        self._drain.start()
        self._started = True
        return self

    def stop(self) -> None:
        """Stop the devices, analyse what was heard (flush), close recordings, stop the engine."""
        if self._stopped:
            return
        self._stopped = True
        self.microphone.stop()
        self._stop.set()
        if self._drain.is_alive():
            self._drain.join(5.0)
        if self._started and self._own_host and self.host.running:
            try:
                self.host.flush().result(timeout=10.0)
            except Exception as exc:  # the engine thread died: keep what was written
                self.error = self.error or exc
            self.host.stop()
        if self.speaker is not None and self.manage_speaker:
            self.speaker.stop()
        self.writer.close()
        with self._heard_lock:
            self._heard.close()

    @property
    def running(self) -> bool:
        """True between start() and stop()."""
        return self._started and not self._stopped

    # -- inputs (any thread) ----------------------------------------------------------------

    def subscribe(self) -> queue.SimpleQueue[ev.Event]:
        """A queue of every engine event from now on."""
        return self.host.subscribe()

    def action(self, action: str, body: object) -> Future[ev.ActionResponse]:
        """The bot sends ``action`` with ``body`` now."""
        return self.host.action(action, body)

    def press_key(self, key: str, mode: DtmfMode = "both", *, local_tone: bool = True) -> None:
        """The caller presses ``key``: sent in band, out of band or both; heard locally.

        The out-of-band event is placed at the engine's analysis position, so a stop tone ends
        the recording as soon as the engine takes the key, not after its 100 ms look-ahead
        (docs/architecture.md §3 "Live keys"); the saved session records that sample.
        """
        out_of_band = mode in ("both", "out-of-band")
        in_band = mode in ("both", "in-band")
        self.host.submit(
            lambda call: call.press_key(
                key,
                out_of_band=out_of_band,
                in_band=in_band,
                duration_s=KEY_TONE_S,
                out_of_band_at="analysis",
            )
        )
        if local_tone and self.speaker is not None:
            self.speaker.mixer.play(dtmf_tone(key, KEY_TONE_S), ENGINE_RATE_HZ, f"key:{key}")

    def hang_up(self) -> None:
        """The caller hangs up."""
        self.host.hang_up("caller")

    def set_media_dropped(self, dropped: bool) -> None:
        """Drop the caller's media from now on (True) or send it again (False)."""
        if dropped:
            self._drop_media.set()
        else:
            self._drop_media.clear()

    @property
    def media_dropped(self) -> bool:
        """True while the caller's media is being dropped (``set_media_dropped``)."""
        return self._drop_media.is_set()

    @property
    def stalled_s(self) -> float:
        """How long the microphone has delivered nothing, once that counts as a stall; else 0."""
        since = self._stalled_since
        return 0.0 if since is None else time.monotonic() - since

    def play_local(self, samples: npt.ArrayLike, rate_hz: int, tag: str) -> None:
        """Play audio to the caller's speaker only (replaying a take); not sent to the call."""
        if self.speaker is not None:
            self.speaker.mixer.play(samples, rate_hz, tag)

    # -- state for the UI (plain reads of ints) ----------------------------------------------

    @property
    def call_id(self) -> str:
        """The call's id."""
        return self.call.call_id

    @property
    def fed_samples(self) -> int:
        """Engine samples consumed so far (the engine's "now")."""
        return self.host.fed_samples

    @property
    def heard_samples(self) -> int:
        """Engine-rate samples taken from the microphone so far."""
        return self._heard_samples

    @property
    def overflows(self) -> int:
        """Input overflows reported by the microphone."""
        return self.microphone.overflows

    def settled(self, device_frames: int) -> bool:
        """True once ``device_frames`` microphone frames are resampled and queued to the engine."""
        return self.device_frames >= device_frames

    def wait_engine(self, timeout_s: float = 10.0) -> int:
        """Block until the engine has taken every command queued so far; its fed samples.

        The engine gathers small blocks before analysing them (fed_samples may lag by ~50 ms);
        any stamped input (key, action) takes them first, so stamps are exact regardless.
        """
        return self.host.submit(lambda call: call.fed_samples).result(timeout_s)

    # -- saving -------------------------------------------------------------------------------

    def snapshot(self, timeout_s: float = 10.0) -> SessionSnapshot:
        """Everything needed to save the session, consistent at one engine instant."""

        def take(call: Call) -> tuple[list[Any], int, list[ev.Event]]:
            return list(call.input_log), call.fed_samples, list(self._events)

        if self.host.running:
            input_log, fed, events = self.host.submit(take).result(timeout=timeout_s)
        else:
            input_log, fed, events = take(self.call)
        with self._heard_lock:
            heard = self._heard.read(0, fed)
        audio = heard.astype(np.float32) / np.float32(PCM16_SCALE)
        if len(audio) < fed:  # cannot happen: the drain keeps audio before feeding it
            audio = np.concatenate([audio, np.zeros(fed - len(audio), dtype=np.float32)])
        recordings = {
            e.operation_id: self.writer.path_for(e.operation_id)
            for e in events
            if isinstance(e, ev.RecordingFinished)
        }
        return SessionSnapshot(
            call_id=self.call.call_id,
            options=self.options,
            caller_audio=audio,
            fed_samples=fed,
            input_log=tuple((int(at), str(kind), dict(p)) for at, kind, p in input_log),
            events=tuple(events),
            recordings=recordings,
        )

    # -- threads --------------------------------------------------------------------------------

    def _catch_up_playback(self, call: Call) -> None:
        # Engine thread.
        now = call.current_playback()
        if now is not None and self.speaker is not None:
            operation_id, what, rest = now
            tag = f"{operation_id}:{what}"
            self._engine_tags.add(tag)
            self.speaker.mixer.play(rest, ENGINE_RATE_HZ, tag)

    def _on_engine_event(self, event: ev.Event) -> None:
        # Engine thread: keep the log (not the audio chunks) and drive the speaker.
        if isinstance(event, ev.RecordingChunk):
            return
        self._events.append(event)
        if self.speaker is None:
            return
        if isinstance(event, ev.PlaybackStarted):
            tag = f"{event.operation_id}:{event.what}"
            self._engine_tags.add(tag)
            self.speaker.mixer.play(event.samples, ENGINE_RATE_HZ, tag)
        elif isinstance(event, ev.PlaybackEnded) and event.interrupted:
            self.speaker.mixer.stop(f"{event.operation_id}:{event.what}")
        elif isinstance(event, ev.CallEnded):
            for tag in self._engine_tags:
                self.speaker.mixer.stop(tag)

    def _drain_loop(self) -> None:
        """Drain thread: device blocks → 16 kHz → 16-bit → kept, levels, engine."""
        try:
            # The watchdog starts with the first block: a sound server may take a moment to
            # start a stream, and the call's clock starts with the first audio anyway.
            last_block_at: float | None = None
            no_media_until = 0.0  # wall time up to which a stall has been sent
            while not self._stop.is_set():
                block = self.microphone.read(DRAIN_POLL_S)
                now = time.monotonic()
                if block is None:
                    if (
                        self.stall_after_s is not None
                        and last_block_at is not None
                        and now - last_block_at >= self.stall_after_s
                    ):
                        if self._stalled_since is None:
                            self._stalled_since = last_block_at
                        # The gap began when the last block came in; send it as it grows.
                        gap = round((now - no_media_until) * ENGINE_RATE_HZ)
                        self._consume_no_media(gap)
                        no_media_until += gap / ENGINE_RATE_HZ
                    continue
                last_block_at = no_media_until = now
                self._stalled_since = None
                self._batch_up(self._resampler.process(block), len(block))
            # Whatever is still queued was heard before stop: take it too.
            while (block := self.microphone.read(0.0)) is not None:
                self._batch_up(self._resampler.process(block), 0)
            self._batch_up(self._resampler.flush(), 0)
            self._flush_batch()
        except BaseException as exc:  # shown by the UI; the engine keeps what it has
            self.error = exc
            raise

    def _batch_up(self, x: FloatArray, device_frames: int) -> None:
        """Keep ``x`` (``device_frames`` of the microphone); hand the batch on once it holds
        ``batch_ms`` (a pumped test microphone: at once)."""
        if len(x):
            self._batch.append(x)
            self._batch_samples += len(x)
        self._batch_frames += device_frames
        if self._batch_samples * 1000 >= self._batch_ms * ENGINE_RATE_HZ:
            self._flush_batch()

    def _flush_batch(self) -> None:
        if self._batch:
            batch = self._batch[0] if len(self._batch) == 1 else np.concatenate(self._batch)
            self._batch = []
            self._batch_samples = 0
            self._consume(batch)
        self.device_frames += self._batch_frames
        self._batch_frames = 0

    def _consume(self, x: FloatArray) -> None:
        if len(x) == 0:
            return
        if self._drop_media.is_set():
            # The meter still shows the microphone; the engine hears nothing.
            self.levels.put(LevelBlock(self._heard_samples + len(x), self._envelope(x), -120.0))
            self._consume_no_media(len(x), levels=False)
            return
        x = quantize_pcm16(x)
        pcm = np.round(x * PCM16_SCALE).astype(np.int16)
        with self._heard_lock:
            self._heard.append(pcm.tobytes())
            self._heard_samples += len(x)
            end = self._heard_samples
        self.levels.put(LevelBlock(end, self._envelope(x), rms_dbfs(x)))
        self.host.feed(x)

    def _consume_no_media(self, n_samples: int, *, levels: bool = True) -> None:
        """``n_samples`` of engine time with no media: silence kept, a gap for the engine."""
        if n_samples <= 0:
            return
        self._flush_batch()  # what was heard before the gap goes first
        # Kept as silence so the saved caller audio stays aligned with the engine's clock
        # (a replay skips the same span of the track: runner.py, "no_media").
        with self._heard_lock:
            self._heard.append(bytes(2 * n_samples))
            self._heard_samples += n_samples
            end = self._heard_samples
        if levels:
            silence = np.zeros(n_samples, dtype=np.float32)
            self.levels.put(LevelBlock(end, self._envelope(silence), -120.0))
        self.host.feed_no_media(n_samples)

    def _envelope(self, x: FloatArray) -> FloatArray:
        joined = np.concatenate([self._carry, x]) if len(self._carry) else x
        n = len(joined) // ENVELOPE_SAMPLES
        self._carry = joined[n * ENVELOPE_SAMPLES :].copy()
        frames = np.abs(joined[: n * ENVELOPE_SAMPLES]).reshape(n, ENVELOPE_SAMPLES)
        peaks: FloatArray = frames.max(axis=1).astype(np.float32)
        peaks.flags.writeable = False
        return peaks


def _set_feed_gather(call: Call) -> None:
    # Engine thread: the drain's batches are analysed as they come (LIVE_BATCH_MS).
    call.feed_gather_ms = LIVE_BATCH_MS


def drain_queue(q: queue.SimpleQueue[Any], limit: int = 10_000) -> list[Any]:
    """Everything currently in ``q`` (at most ``limit`` items), without blocking."""
    out: list[Any] = []
    while len(out) < limit:
        try:
            out.append(q.get_nowait())
        except queue.Empty:
            break
    return out
