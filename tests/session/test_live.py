"""A live session on file-backed fake devices, and its save/replay round trip."""

from __future__ import annotations

import json
import time
import tomllib
import urllib.parse
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.audio.fake import FakeOutputDevice, FileInputDevice
from app.audio.wav import read_audio, read_engine_audio, write_wav
from app.core import events as ev
from app.core.clock import ENGINE_RATE_HZ
from app.core.dsp.resample import resample_all
from app.core.media import BEEP_FREQ_HZ, default_beep
from app.scenario.model import CallOptions, load_scenario
from app.scenario.runner import run_scenario
from app.session.export import save_session
from app.session.live import LIVE_BATCH_MS, LiveSession, drain_queue, quantize_pcm16
from tests.support.waiting import wait_until

SPEECH = Path(__file__).parents[1] / "data" / "speech" / "us_female_callback.wav"
MIC_RATE_HZ = 48_000  # a typical sound card rate, so the session really resamples
STEP_S = 0.05


def _tone(freq_hz: float, seconds: float, rate_hz: int = ENGINE_RATE_HZ) -> np.ndarray:
    t = np.arange(round(seconds * rate_hz)) / rate_hz
    return (0.3 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def _mic_track(lead_s: float, tail_s: float) -> np.ndarray:
    speech = read_engine_audio(SPEECH)
    track16 = np.concatenate(
        [
            np.zeros(round(lead_s * ENGINE_RATE_HZ), np.float32),
            speech,
            np.zeros(round(tail_s * ENGINE_RATE_HZ), np.float32),
        ]
    )
    return resample_all(track16, ENGINE_RATE_HZ, MIC_RATE_HZ)


def _run_session(tmp_path: Path, body: dict, *, keys: tuple[tuple[float, str], ...] = ()):
    """Drive a session deterministically: action at 0, then audio (and keys) in steps."""
    track = _mic_track(1.0, 4.0)
    mic = FileInputDevice(track, rate_hz=MIC_RATE_HZ, realtime=False, block_frames=960)
    speaker = FakeOutputDevice(ENGINE_RATE_HZ, realtime=False)
    session = LiveSession(mic, speaker, tmp_path / "session", CallOptions(seed=1234)).start()
    events = session.subscribe()
    response = session.action("recordResponse", body).result(timeout=5)
    assert response.status == 200, response.body
    # Step through time like a sound card would, the speaker in step with the microphone.
    pending = sorted(keys)
    for step in range(round(len(track) / MIC_RATE_HZ / STEP_S)):
        pumped = mic.pump(round(STEP_S * MIC_RATE_HZ))
        wait_until(lambda n=pumped: session.settled(n), 10, "the drain to take the audio")
        session.wait_engine()
        speaker.pump(round(STEP_S * ENGINE_RATE_HZ))
        while pending and pending[0][0] <= (step + 1) * STEP_S + 1e-9:
            session.press_key(pending.pop(0)[1], "both")
    session.stop()
    got = []
    while not events.empty():
        got.append(events.get())
    return session, speaker, got


def test_live_session_ends_with_max_silence_after_speech(tmp_path: Path) -> None:
    prompt = tmp_path / "prompt.wav"
    write_wav(prompt, _tone(440.0, 0.5))
    body = {
        "prompts": [
            {"@odata.type": "#microsoft.graph.mediaPrompt", "mediaInfo": {"uri": str(prompt)}}
        ],
        "playBeep": True,
        "maxSilenceTimeoutInSeconds": 2,
        "initialSilenceTimeoutInSeconds": 5,
        "maxRecordDurationInSeconds": 30,
    }
    session, speaker, got = _run_session(tmp_path, body)
    ended = [e for e in got if isinstance(e, ev.OperationEnded)]
    assert [(e.status, e.code, e.subcode) for e in ended] == [("completed", 200, 8509)]
    speech_end = [e for e in got if isinstance(e, ev.SpeechEnded)][-1]
    assert ended[0].sample_index == speech_end.sample_index + 2 * ENGINE_RATE_HZ
    # The speech clip starts 1.0 s into the track and its last word ends at sample 54720.
    assert abs(speech_end.sample_index - (16000 + 54720)) <= 2 * 320

    # The speaker got the prompt, then the beep; it lags the engine by its look-ahead and
    # the resampler's delay (about 0.15 s), never by more than a few steps.
    played = speaker.played()
    prompt_start = int(np.flatnonzero(played)[0]) - 1  # both clips open on sin(0) = 0
    assert 0 < prompt_start < 0.3 * ENGINE_RATE_HZ
    expected = read_engine_audio(prompt)
    assert np.allclose(played[prompt_start : prompt_start + 8000], expected, atol=1e-6)
    after = played[prompt_start + 8000 :]
    beep_start = int(np.flatnonzero(after)[0]) - 1
    assert beep_start < 3 * STEP_S * ENGINE_RATE_HZ
    beep = default_beep()
    assert np.allclose(after[beep_start : beep_start + len(beep)], beep, atol=1e-6)
    spectrum = np.abs(np.fft.rfft(after[beep_start : beep_start + len(beep)]))
    assert np.argmax(spectrum) * ENGINE_RATE_HZ / len(beep) == pytest.approx(BEEP_FREQ_HZ, abs=5)

    # The recording was written live and holds the capture (from the end of the beep).
    finished = next(e for e in got if isinstance(e, ev.RecordingFinished))
    data, rate = read_audio(session.writer.path_for(finished.operation_id))
    assert rate == ENGINE_RATE_HZ and len(data) == finished.total_samples > 0


def test_saved_session_replays_to_the_same_endings(tmp_path: Path) -> None:
    body = {
        "playBeep": True,
        "maxSilenceTimeoutInSeconds": 3,
        "initialSilenceTimeoutInSeconds": 5,
        "maxRecordDurationInSeconds": 30,
        "stopTones": ["#"],
        "clientContext": "round-trip",
    }
    session, _, got = _run_session(tmp_path, body, keys=((2.5, "5"), (4.1, "#")))
    snapshot = session.snapshot()
    saved = save_session(snapshot, tmp_path / "saved")

    # caller.wav is what the engine heard, bit for bit.
    heard = read_engine_audio(saved.caller_wav)
    assert len(heard) == snapshot.fed_samples
    assert np.array_equal(heard, quantize_pcm16(heard))
    doc = tomllib.loads(saved.scenario.read_text("utf-8"))
    # A live key's out-of-band event is placed at the analysis position, its tone at the
    # feed's end (docs/architecture.md §3 "Live keys"): one entry each, the event first.
    keys = [(c["dtmf"], c["mode"], c["at"]) for c in doc["caller"] if "dtmf" in c]
    assert [k[:2] for k in keys] == [
        ("5", "out-of-band"),
        ("5", "in-band"),
        ("#", "out-of-band"),
        ("#", "in-band"),
    ]
    assert 0 < keys[1][2] - keys[0][2] <= 0.15 and 0 < keys[3][2] - keys[2][2] <= 0.15

    replay = run_scenario(load_scenario(saved.scenario), tmp_path / "replay")
    live_end = [e for e in got if isinstance(e, ev.OperationEnded)]
    replay_end = replay.endings
    assert [e.subcode for e in live_end] == [8514]
    assert live_end == replay_end  # same sample, ids, codes, recording length
    live_keys = [(e.sample_index, e.key) for e in got if isinstance(e, ev.KeyPressed)]
    assert live_keys == [
        (e.sample_index, e.key) for e in replay.events if isinstance(e, ev.KeyPressed)
    ]

    # The exported JSON is the runner's serialisation of the engine's own events, with one
    # documented change (app/session/export.py): each recordingLocation points at the saved
    # folder's copy of the WAV, not into the live session's folder.
    lines = (saved.folder / "events.jsonl").read_text("utf-8").splitlines()
    exported = [json.loads(line) for line in lines]
    moved = {
        path.resolve().as_uri(): (saved.folder / "recordings" / f"{op}.wav").resolve().as_uri()
        for op, path in snapshot.recordings.items()
    }
    assert len(moved) == 1
    engine_text = json.dumps(snapshot.records())
    for live_uri, saved_uri in moved.items():
        assert live_uri in engine_text
        engine_text = engine_text.replace(live_uri, saved_uri)
    assert exported == json.loads(engine_text)
    locations = [
        item["resourceData"]["recordingLocation"]
        for r in exported
        if r["kind"] == "notification"
        for item in r["payload"]["value"]
        if item.get("resourceData", {}).get("recordingLocation")
    ]
    assert locations and set(locations) <= set(moved.values())
    assert all(Path(urllib.parse.urlparse(uri).path).is_file() for uri in locations)
    notes = json.loads((saved.folder / "notifications.json").read_text("utf-8"))
    assert notes == [r for r in exported if r["kind"] == "notification"]
    live_notes = [e.payload for e in got if isinstance(e, ev.Notification)]
    replay_notes = [e.payload for e in replay.events if isinstance(e, ev.Notification)]
    strip = _without_recording_location
    assert [strip(n) for n in live_notes] == [strip(n) for n in replay_notes]
    requests = json.loads((saved.folder / "requests.json").read_text())
    assert requests[0]["body"] == body and requests[0]["url"].endswith("/recordResponse")


def _without_recording_location(envelope: dict) -> dict:
    # The replay writes its recordings into its own folder, so only the location differs.
    text = json.dumps(envelope)
    for item in envelope["value"]:
        data = item.get("resourceData", {})
        if data.get("recordingLocation"):
            text = text.replace(data["recordingLocation"], "<location>")
    return json.loads(text)


def test_session_attached_late_to_a_served_call_still_plays_its_prompt(tmp_path: Path) -> None:
    """A served call's engine may start a prompt before the window attaches as its caller."""
    from app.core.call import Call
    from app.core.media import LoadedPrompt
    from app.engine.host import EngineHost

    prompt = _tone(440.0, 1.0)
    call = Call(prompt_loader=lambda uri: LoadedPrompt(prompt, ENGINE_RATE_HZ, 1, "PCM_16", "WAV"))
    host = EngineHost(call).start()
    try:
        body = {
            "prompts": [
                {"@odata.type": "#microsoft.graph.mediaPrompt", "mediaInfo": {"uri": "p.wav"}}
            ],
        }
        assert host.action("recordResponse", body).result(timeout=5).status == 200
        # 0.3 s of the prompt go by before the window attaches (the server fed silence).
        host.feed(np.zeros(round(0.3 * ENGINE_RATE_HZ), np.float32))
        host.flush().result(timeout=5)
        mic = FileInputDevice(np.zeros(0, np.float32), rate_hz=ENGINE_RATE_HZ, realtime=False)
        speaker = FakeOutputDevice(ENGINE_RATE_HZ, realtime=False)
        session = LiveSession(mic, speaker, tmp_path / "s", host=host).start()
        session.wait_engine()
        speaker.pump(ENGINE_RATE_HZ)
        played = speaker.played()
        session.stop()
    finally:
        host.stop()
    # The rest of the prompt (about 0.7 s of the 440 Hz tone) reached the speaker.
    loud = np.abs(played) > 0.05
    assert 0.5 * ENGINE_RATE_HZ < loud.sum() < 0.8 * ENGINE_RATE_HZ


def test_dropped_media_fails_the_recording_with_8513_and_the_session_replays(
    tmp_path: Path,
) -> None:
    """The caller's network drops for 2.5 s: 8513 two seconds into the gap; the saved session
    holds silence there and one no_media entry, and replays to the same ending."""
    track = _mic_track(0.5, 4.0)
    mic = FileInputDevice(track, rate_hz=MIC_RATE_HZ, realtime=False, block_frames=960)
    session = LiveSession(mic, None, tmp_path / "session", CallOptions(seed=99)).start()
    events = session.subscribe()
    body = {"initialSilenceTimeoutInSeconds": 10, "maxRecordDurationInSeconds": 30}
    assert session.action("recordResponse", body).result(timeout=5).status == 200

    def advance(seconds: float) -> None:
        for _ in range(round(seconds / STEP_S)):
            pumped = mic.pump(round(STEP_S * MIC_RATE_HZ))
            wait_until(lambda n=pumped: session.settled(n), 10, "the drain to take the audio")
            session.wait_engine()

    advance(1.0)
    gap_start = session.wait_engine()
    session.set_media_dropped(True)
    assert session.media_dropped
    advance(2.5)
    session.set_media_dropped(False)
    advance(0.5)
    session.stop()
    got = drain_queue(events)
    [ended] = [e for e in got if isinstance(e, ev.OperationEnded)]
    assert (ended.status, ended.code, ended.subcode) == ("failed", 500, 8513)
    # The gap starts where the engine stood when the media was dropped (its ~50 ms gathering
    # of small blocks aside), and the timeout is 2 s of it.
    assert 0 <= ended.sample_index - (gap_start + 2 * ENGINE_RATE_HZ) <= 0.06 * ENGINE_RATE_HZ

    snapshot = session.snapshot()
    [gap] = [entry for entry in snapshot.input_log if entry[1] == "no_media"]
    # 2.5 s of microphone audio, give or take what the resampler held back at the edges.
    assert abs(gap[2]["samples"] - 2.5 * ENGINE_RATE_HZ) <= 0.01 * ENGINE_RATE_HZ
    heard = snapshot.caller_audio
    assert not heard[gap[0] : gap[0] + gap[2]["samples"]].any()
    assert heard[: gap[0]].any() and len(heard) == snapshot.fed_samples

    saved = save_session(snapshot, tmp_path / "saved")
    doc = tomllib.loads(saved.scenario.read_text("utf-8"))
    no_media_s = gap[2]["samples"] / ENGINE_RATE_HZ
    assert [c["no_media"] for c in doc["caller"] if "no_media" in c] == [no_media_s]
    replay = run_scenario(load_scenario(saved.scenario), tmp_path / "replay")
    assert replay.endings == [ended]


def test_a_stalled_microphone_gives_the_call_no_media_until_it_delivers_again(
    tmp_path: Path,
) -> None:
    """A real-time microphone that stops delivering (unplugged): the engine's clock goes on as
    no media, the operation fails with 8513, and the call carries on when blocks come back."""
    mic = FileInputDevice(None, rate_hz=MIC_RATE_HZ, realtime=True)
    session = LiveSession(mic, None, tmp_path / "session", stall_after_s=0.3)
    assert session.stall_after_s == 0.3
    session.start()
    try:
        events = session.subscribe()
        body = {"initialSilenceTimeoutInSeconds": 30, "maxRecordDurationInSeconds": 60}
        assert session.action("recordResponse", body).result(timeout=5).status == 200
        wait_until(lambda: session.fed_samples > 0.3 * ENGINE_RATE_HZ, 10, "audio to flow")
        mic.hold()
        held_at = session.heard_samples
        wait_until(lambda: session.stalled_s > 0, 10, "the stall to be noticed")
        got: list[ev.Event] = []

        def ended_yet() -> bool:
            got.extend(drain_queue(events))
            return any(isinstance(e, ev.OperationEnded) for e in got)

        wait_until(ended_yet, 10, "the media timeout")
        [ended] = [e for e in got if isinstance(e, ev.OperationEnded)]
        assert ended.subcode == 8513
        # 2 s of engine time after the last block came in (one 20 ms block of slack each way,
        # plus the drain's 50 ms polling).
        assert abs(ended.sample_index - (held_at + 2 * ENGINE_RATE_HZ)) <= 0.1 * ENGINE_RATE_HZ
        stalled_fed = session.fed_samples
        mic.release()
        wait_until(lambda: session.stalled_s == 0.0, 10, "blocks to come back")
        wait_until(lambda: session.fed_samples > stalled_fed + 0.2 * ENGINE_RATE_HZ, 10, "audio")
        assert session.call_id and not session.call.ended
    finally:
        session.stop()


def test_a_pumped_microphone_is_never_stalled(tmp_path: Path) -> None:
    mic = FileInputDevice(None, rate_hz=MIC_RATE_HZ, realtime=False)
    session = LiveSession(mic, None, tmp_path / "session", stall_after_s=0.1).start()
    try:
        assert session.stall_after_s is None
        # A first block arms a real-time device's watchdog; a pumped one stays quiet after it.
        pumped = mic.pump(round(0.1 * MIC_RATE_HZ))
        wait_until(lambda: session.settled(pumped), 10, "the drain to take the audio")
        time.sleep(0.4)
        assert session.stalled_s == 0.0
        session.wait_engine()
        assert not [e for e in session.snapshot().input_log if e[1] == "no_media"]
    finally:
        session.stop()


def test_heard_audio_is_kept_on_disk_as_a_valid_wav_while_the_call_runs(tmp_path: Path) -> None:
    """A long call's audio stays out of memory: the heard audio grows in ``heard.wav``.

    The file opens with every WAV reader at any moment (a crash leaves it readable), holds
    exactly what the drain gave the engine, and the snapshot saved with the session is read
    back from it.
    """
    track = _mic_track(0.5, 0.5)
    mic = FileInputDevice(track, rate_hz=MIC_RATE_HZ, realtime=False, block_frames=960)
    session = LiveSession(mic, None, tmp_path / "session", CallOptions(seed=7)).start()
    heard_path = tmp_path / "session" / "heard.wav"
    seen_frames = []
    for _ in range(10):
        pumped = mic.pump(round(STEP_S * MIC_RATE_HZ))
        wait_until(lambda n=pumped: session.settled(n), 10, "the drain to take the audio")
        with wave.open(str(heard_path), "rb") as w:  # a complete WAV while still growing
            seen_frames.append(w.getnframes())
        assert sf.info(str(heard_path)).frames == seen_frames[-1]
        assert seen_frames[-1] == session.heard_samples
    assert seen_frames == sorted(seen_frames) and seen_frames[-1] > 0
    fed = session.wait_engine()
    snapshot = session.snapshot()
    session.stop()
    on_disk, rate_hz = sf.read(str(heard_path), dtype="int16")
    assert rate_hz == ENGINE_RATE_HZ
    expected = on_disk[:fed].astype(np.float32) / np.float32(32768.0)
    np.testing.assert_array_equal(snapshot.caller_audio, expected)


def test_a_real_time_microphone_s_blocks_reach_the_engine_in_batches(tmp_path: Path) -> None:
    # 20 ms device blocks are handed on in batches of at least LIVE_BATCH_MS (one engine
    # wake-up per batch, app/session/live.py); the level blocks the UI gets show each batch.
    # At the engine's rate the resampler passes each 20 ms block through as it comes.
    mic = FileInputDevice(None, rate_hz=ENGINE_RATE_HZ, realtime=True, block_frames=320)
    session = LiveSession(mic, None, tmp_path / "session", CallOptions(seed=1)).start()
    try:
        wait_until(lambda: session.heard_samples >= ENGINE_RATE_HZ // 2, timeout_s=10)
    finally:
        session.stop()
    ends = [b.end_sample for b in drain_queue(session.levels)]
    sizes = np.diff([0, *ends])[:-1]  # the last batch is what was left at stop
    assert len(sizes) >= 5, sizes
    assert sizes.min() * 1000 >= LIVE_BATCH_MS * ENGINE_RATE_HZ, sizes
    assert session.device_frames == session.heard_samples
