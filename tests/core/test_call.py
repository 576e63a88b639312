"""The recordResponse engine: timers, endings, queue, keys, hang-up, on the sample clock."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from app.core import events as ev
from app.core.call import Call
from app.core.dsp.dtmf import dtmf_tone
from app.core.media import LoadedPrompt, PromptLoadError
from app.graph.results import CallEnd
from tests.core.helpers import (
    FRAME_S,
    RATE,
    feed_all,
    new_call,
    noise,
    record_body,
    track,
    voice,
)


def seconds(event: ev.Event) -> float:
    return event.sample_index / RATE


# -------------------------------------------------------- max silence (docs/graph-contract.md §6.2)


@pytest.mark.parametrize(
    ("pause_s", "expected_end_s"),
    [
        (1.9, 4.4 + 2.0),  # pause shorter than the timeout: the answer goes on
        (2.0, 1.5 + 2.0),  # exactly the timeout: expires when the pause reaches 2 s
        (2.1, 1.5 + 2.0),
    ],
)
def test_max_silence_boundary(pause_s: float, expected_end_s: float) -> None:
    call = new_call()
    call.action("recordResponse", record_body(maxSilenceTimeoutInSeconds=2))
    audio = track(("s", 0.5), ("v", 1.0), ("s", pause_s), ("v", 1.0), ("s", 4.0))
    run = feed_all(call, audio)
    [end] = run.endings
    assert end.subcode == 8509 and end.reason == "maxSilenceTimeout"
    assert seconds(end) == pytest.approx(expected_end_s, abs=FRAME_S)


def test_max_silence_restarts_at_every_pause() -> None:
    call = new_call()
    call.action("recordResponse", record_body(maxSilenceTimeoutInSeconds=2))
    audio = track(("s", 0.4), ("v", 0.6), ("s", 1.0), ("v", 0.6), ("s", 1.5), ("v", 0.6), ("s", 3))
    run = feed_all(call, audio)
    starts = [e for e in run.of(ev.TimerStarted) if e.timer == "maxSilence"]
    assert len(starts) == 3  # one per pause, each restarting the countdown
    assert [e.deadline_sample - e.sample_index for e in starts] == [2 * RATE] * 3
    [end] = run.endings
    assert seconds(end) == pytest.approx(seconds(starts[-1]) + 2.0, abs=1e-9)


# ---------------------------------------------------- initial silence (docs/graph-contract.md §6.1)


@pytest.mark.parametrize(("speech_at_s", "fails"), [(2.9, False), (2.96, False), (3.1, True)])
def test_initial_silence_boundary(speech_at_s: float, fails: bool) -> None:
    call = new_call()
    call.action("recordResponse", record_body(initialSilenceTimeoutInSeconds=3))
    run = feed_all(call, track(("s", speech_at_s), ("v", 1.0), ("s", 6.0)))
    end = run.endings[0]
    if fails:
        assert (end.status, end.code, end.subcode) == ("failed", 400, 8510)
        assert seconds(end) == pytest.approx(3.0, abs=1e-9)
        # A failed record delivers nothing (docs/graph-contract.md §5.5).
        data = run.notifications()[-1]["value"][0]["resourceData"]
        assert data["recordingLocation"] == "" and data["recordingAccessToken"] == ""
    else:
        # Speech that starts before the deadline stops the timer even though the VAD only
        # confirms it ~200 ms later, after the deadline.
        assert end.subcode == 8509
        stopped = [e for e in run.of(ev.TimerStopped) if e.timer == "initialSilence"]
        assert seconds(stopped[0]) == pytest.approx(speech_at_s, abs=FRAME_S)


def test_initial_silence_counts_from_after_prompt_and_beep() -> None:
    prompt = np.zeros(RATE * 2, np.float32)

    def loader(uri: str) -> LoadedPrompt:
        return LoadedPrompt(prompt, 16000, 1, "PCM_16", "WAV")

    call = Call(prompt_loader=loader)
    body = record_body(
        playBeep=True,
        initialSilenceTimeoutInSeconds=1,
        prompts=[{"@odata.type": "#microsoft.graph.mediaPrompt", "mediaInfo": {"uri": "p.wav"}}],
    )
    call.action("recordResponse", body)
    run = feed_all(call, noise(5.0))
    beep = run.of(ev.PlaybackStarted)[1]
    assert beep.what == "beep" and seconds(beep) == 2.0
    capture = run.of(ev.CaptureStarted)[0]
    assert seconds(capture) == pytest.approx(2.0 + beep.duration_samples / RATE)
    assert seconds(run.endings[0]) == pytest.approx(seconds(capture) + 1.0)


# ------------------------------------------------------- max duration (docs/graph-contract.md §6.3)


def test_max_duration_with_speech_that_never_pauses() -> None:
    call = new_call()
    call.action("recordResponse", record_body(maxRecordDurationInSeconds=3))
    run = feed_all(call, track(("s", 0.3), ("v", 6.0)))
    [end] = run.endings
    assert (end.status, end.code, end.subcode) == ("completed", 200, 8515)
    assert seconds(end) == 3.0
    pcm = run.recording(end.operation_id)
    assert len(pcm) == 3 * RATE  # capture starts at 0 (no beep), exactly 3 s recorded
    data = run.notifications()[-1]["value"][0]["resourceData"]
    assert data["recordingLocation"].endswith(f"{end.operation_id}.wav")
    assert data["recordingAccessToken"] == "token"


# --------------------------------------------------------- stop tones (docs/graph-contract.md §6.4)


def test_out_of_band_stop_tone_ends_at_the_press_and_is_not_recorded() -> None:
    call = new_call()
    call.action("recordResponse", record_body(stopTones=["#"]))
    run = feed_all(
        call,
        track(("s", 0.5), ("v", 1.5), ("s", 3.0)),
        at=[(2.5, lambda c: c.press_key("#", out_of_band=True, in_band=False))],
    )
    [end] = run.endings
    assert end.subcode == 8514 and end.reason == "stopToneDetected"
    assert seconds(end) == 2.5
    assert len(run.recording(end.operation_id)) == int(2.5 * RATE)


def goertzel_power(x: np.ndarray, freq_hz: float) -> float:
    n = np.arange(len(x))
    return float(np.abs(np.sum(x * np.exp(-2j * np.pi * freq_hz * n / RATE))) ** 2 / len(x))


def test_in_band_stop_tone_is_detected_and_trimmed() -> None:
    call = new_call()
    call.action("recordResponse", record_body(stopTones=["#"]))
    audio = track(("s", 0.5), ("v", 1.5), ("s", 3.0))
    start = int(2.5 * RATE)
    tone = dtmf_tone("#", 0.12)
    audio[start : start + len(tone)] += tone
    run = feed_all(call, audio)
    [end] = run.endings
    assert end.subcode == 8514
    assert abs(seconds(end) - 2.5) <= 0.013  # one 12.75 ms detector block
    pcm = run.recording(end.operation_id).astype(np.float64) / 32768
    tail = pcm[-800:]
    # Nothing of the # tone (941 + 1477 Hz) is left in the last 50 ms of the recording.
    assert goertzel_power(tail, 1477.0) < 1e-6 and goertzel_power(tail, 941.0) < 1e-6
    [key] = run.of(ev.KeyPressed)
    assert key.sources == frozenset({"inBand"})


def test_stop_tone_during_the_beep_does_not_stop_the_recording() -> None:
    call = new_call()
    call.action(
        "recordResponse",
        record_body(playBeep=True, stopTones=["#"], maxRecordDurationInSeconds=2),
    )
    run = feed_all(call, noise(4.0), at=[(0.1, lambda c: c.press_key("#"))])
    assert run.endings[0].subcode == 8515


def test_key_heard_in_band_and_out_of_band_counts_once() -> None:
    call = new_call()
    call.action("subscribeToTone", {"clientContext": "t"})
    run = feed_all(
        call,
        noise(3.0),
        at=[(1.0, lambda c: c.press_key("5", out_of_band=True, in_band=True))],
    )
    [key] = run.of(ev.KeyPressed)
    assert key.key == "5" and key.sources == frozenset({"inBand", "outOfBand"})
    assert seconds(key) == 1.0  # the out-of-band stamp is exact
    tones = [n for n in run.notifications() if "toneInfo" in n["value"][0]["resourceData"]]
    assert len(tones) == 1
    assert tones[0]["value"][0]["resourceData"]["toneInfo"] == {
        "@odata.type": "#microsoft.graph.toneInfo",
        "sequenceId": 1,
        "tone": "tone5",
    }


def test_tone_sequence_ids_increase_per_key() -> None:
    call = new_call()
    call.action("subscribeToTone", {})

    def press(key: str) -> Callable[[Call], None]:
        return lambda c: c.press_key(key, in_band=True)

    presses = [(0.5 + 0.3 * i, press(k)) for i, k in enumerate("1*#D")]
    run = feed_all(call, noise(3.0), at=presses)
    infos = [n["value"][0]["resourceData"]["toneInfo"] for n in run.notifications()]
    assert [i["sequenceId"] for i in infos] == [1, 2, 3, 4]
    assert [i["tone"] for i in infos] == ["tone1", "star", "pound", "d"]


def test_keys_are_not_reported_without_a_subscription() -> None:
    call = new_call()
    run = feed_all(call, noise(2.0), at=[(0.5, lambda c: c.press_key("1"))])
    assert len(run.of(ev.KeyPressed)) == 1
    assert run.notifications() == []


# ---------------------------------------------------------------- queue, cancel, barge-in


def test_second_record_waits_in_fifo_order() -> None:
    call = new_call()
    first = call.action("recordResponse", record_body(maxRecordDurationInSeconds=1))
    second = call.action("recordResponse", record_body(maxRecordDurationInSeconds=2))
    assert first.body["status"] == "running" and second.body["status"] == "notStarted"
    run = feed_all(call, noise(5.0))
    ends = run.endings
    assert [e.operation_id for e in ends] == [first.operation_id, second.operation_id]
    assert [seconds(e) for e in ends] == [1.0, 3.0]


def test_cancel_media_processing_fails_running_and_queued_with_8508() -> None:
    call = new_call()
    a = call.action("recordResponse", record_body())
    b = call.action("recordResponse", record_body())
    run = feed_all(
        call,
        track(("s", 0.3), ("v", 2.0)),
        at=[(1.0, lambda c: c.action("cancelMediaProcessing", {"clientContext": "c"}))],
    )
    ends = run.endings
    assert [(e.operation_id, e.subcode, seconds(e)) for e in ends] == [
        (a.operation_id, 8508, 1.0),
        (b.operation_id, 8508, 1.0),
    ]
    payloads = [n["value"][0]["resourceData"] for n in run.notifications()]
    assert [p["id"] for p in payloads] == [a.operation_id, b.operation_id]
    for p in payloads:
        assert p["status"] == "failed"
        assert p["resultInfo"]["code"] == 400 and p["resultInfo"]["subcode"] == 8508
        assert p["recordingLocation"] == "" and p["recordingAccessToken"] == ""
        assert p["completionReason"] == "operationCanceled"


def test_barge_in_cancels_the_playing_prompt_and_starts_at_once() -> None:
    long_prompt = voice(5.0)

    def loader(uri: str) -> LoadedPrompt:
        return LoadedPrompt(long_prompt, 16000, 1, "PCM_16", "WAV")

    call = Call(prompt_loader=loader)
    prompt = [{"@odata.type": "#microsoft.graph.mediaPrompt", "mediaInfo": {"uri": "x.wav"}}]
    play = call.action("playPrompt", {"prompts": prompt})
    run = feed_all(
        call,
        noise(4.0),
        at=[
            (
                1.0,
                lambda c: c.action(
                    "recordResponse", record_body(bargeInAllowed=True, maxRecordDurationInSeconds=1)
                ),
            )
        ],
    )
    cancelled, recorded = run.endings
    assert cancelled.operation_id == play.operation_id and cancelled.subcode == 8508
    assert cancelled.reason == "mediaOperationCanceled" and seconds(cancelled) == 1.0
    interrupted = [e for e in run.of(ev.PlaybackEnded) if e.interrupted]
    assert len(interrupted) == 1 and seconds(interrupted[0]) == 1.0
    assert recorded.subcode == 8515 and seconds(recorded) == 2.0


def test_play_prompt_completes_with_200_0() -> None:
    def loader(uri: str) -> LoadedPrompt:
        return LoadedPrompt(np.zeros(8000, np.float32), 16000, 1, "PCM_16", "WAV")

    call = Call(prompt_loader=loader)
    prompt = {"@odata.type": "#microsoft.graph.mediaPrompt", "mediaInfo": {"uri": "x.wav"}}
    call.action("playPrompt", {"prompts": [prompt, prompt]})
    run = feed_all(call, noise(2.0))
    [end] = run.endings
    assert (end.status, end.code, end.subcode, seconds(end)) == ("completed", 200, 0, 1.0)


# ------------------------------------------------------ prompt failures (docs/graph-contract.md §4)


@pytest.mark.parametrize(
    ("result", "subcode"),
    [
        (PromptLoadError("download", "404"), 8536),
        (PromptLoadError("format", "garbage"), 8535),
        (PromptLoadError("play", "ftp"), 8511),
        (LoadedPrompt(np.zeros((800, 2), np.float32), 8000, 2, "PCM_16", "WAV"), 8535),
        (LoadedPrompt(np.zeros(0, np.float32), 16000, 1, "PCM_16", "WAV"), 8511),
    ],
)
def test_prompt_failures(result: object, subcode: int) -> None:
    call = Call(prompt_loader=lambda uri: result)  # type: ignore[arg-type,return-value]
    prompt = [{"@odata.type": "#microsoft.graph.mediaPrompt", "mediaInfo": {"uri": "p.wav"}}]
    call.action("recordResponse", record_body(prompts=prompt))
    run = feed_all(call, noise(0.5))
    [end] = run.endings
    assert end.status == "failed" and end.subcode == subcode and end.sample_index == 0


def test_lenient_mode_resamples_a_wrong_format_prompt() -> None:
    stereo = np.zeros((8000, 2), np.float32)  # 1 s at 8 kHz, stereo

    call = Call(
        __import__("app.core.call", fromlist=["CallConfig"]).CallConfig(lenient_prompts=True),
        prompt_loader=lambda uri: LoadedPrompt(stereo, 8000, 2, "PCM_16", "WAV"),
    )
    prompt = [{"@odata.type": "#microsoft.graph.mediaPrompt", "mediaInfo": {"uri": "p.wav"}}]
    call.action("recordResponse", record_body(prompts=prompt, maxRecordDurationInSeconds=1))
    run = feed_all(call, noise(3.0))
    started = run.of(ev.PlaybackStarted)[0]
    assert started.duration_samples == RATE  # resampled to 16 kHz mono, 1 s
    assert run.endings[0].subcode == 8515


# ---------------------------------------------------------------- media timeout, hang-up


def test_no_media_fails_with_8513_after_the_media_timeout() -> None:
    call = new_call(media_timeout_s=1.5)
    call.action("recordResponse", record_body(initialSilenceTimeoutInSeconds=10))
    run = feed_all(call, noise(1.0), at=[(1.0, lambda c: c.feed_no_media(3 * RATE))])
    [end] = run.endings
    assert (end.code, end.subcode) == (500, 8513) and seconds(end) == 2.5


def test_no_media_in_pieces_is_one_gap_as_a_live_feed_reports_it() -> None:
    """A live microphone reports a gap one 20 ms block at a time: the pieces add up to one gap,
    one input-log entry, and the same 8513 sample as a gap fed at once."""

    def feed_pieces(c: Call) -> None:
        for _ in range(150):
            c.feed_no_media(320)

    call = new_call(media_timeout_s=1.5)
    call.action("recordResponse", record_body(initialSilenceTimeoutInSeconds=10))
    run = feed_all(call, noise(1.0), at=[(1.0, feed_pieces)])
    [end] = run.endings
    assert (end.code, end.subcode) == (500, 8513) and seconds(end) == 2.5
    gaps = [entry for entry in call.input_log if entry[1] == "no_media"]
    assert gaps == [(RATE, "no_media", {"samples": 3 * RATE})]

    # A key pressed mid-gap splits the log entry but not the gap the timeout sees.
    def with_key(c: Call) -> None:
        c.feed_no_media(RATE)
        c.press_key("1")
        c.feed_no_media(2 * RATE)

    call = new_call(media_timeout_s=1.5)
    call.action("recordResponse", record_body(initialSilenceTimeoutInSeconds=10))
    run = feed_all(call, noise(1.0), at=[(1.0, with_key)])
    [end] = run.endings
    assert end.subcode == 8513 and seconds(end) == 2.5
    gaps = [entry for entry in call.input_log if entry[1] == "no_media"]
    assert gaps == [
        (RATE, "no_media", {"samples": RATE}),
        (2 * RATE, "no_media", {"samples": 2 * RATE}),
    ]


def test_caller_hang_up_sends_no_operation_notification_by_default() -> None:
    call = new_call()
    call.action("recordResponse", record_body())
    run = feed_all(call, track(("s", 0.3), ("v", 2.0)), at=[(1.5, lambda c: c.hang_up())])
    [end] = run.endings
    assert end.status == "dropped"
    [note] = run.notifications()
    item = note["value"][0]
    assert item["changeType"] == "deleted"
    assert item["resourceData"]["state"] == "terminated"
    info = item["resourceData"]["resultInfo"]
    assert (info["code"], info["subcode"]) == (200, 4521)
    [ended] = run.of(ev.CallEnded)
    assert seconds(ended) == 1.5 and (ended.by, ended.reason) == ("caller", "callerHungUp")
    after = call.action("recordResponse", record_body())
    assert after.status == 404 and after.body["error"]["code"] == "NotFound"


def test_bot_hang_up_notifies_terminating_then_terminated_with_its_end_reason() -> None:
    """The call-delete page's samples: `updated` terminating, then `deleted` terminated with
    resultInfo 200/5001; a reason given by the service (keepAlive timeout) replaces it."""
    call = new_call()
    run = feed_all(call, noise(1.0), at=[(0.5, lambda c: c.hang_up("bot"))])
    items = [n["value"][0] for n in run.notifications()]
    assert [(i["changeType"], i["resourceData"]["state"]) for i in items] == [
        ("updated", "terminating"),
        ("deleted", "terminated"),
    ]
    assert "resultInfo" not in items[0]["resourceData"]
    info = items[1]["resourceData"]["resultInfo"]
    assert (info["code"], info["subcode"], info["message"]) == (
        200,
        5001,
        "The conversation has ended.",
    )
    assert call.input_log[-1] == (8000, "hangup", {"by": "bot", "reason": "botHungUp"})

    call = new_call()
    timeout = lambda c: c.hang_up("bot", reason=CallEnd.KEEP_ALIVE_TIMEOUT)  # noqa: E731
    run = feed_all(call, noise(1.0), at=[(0.5, timeout)])
    [note] = run.notifications()
    info = note["value"][0]["resourceData"]["resultInfo"]
    assert (info["code"], info["subcode"]) == (408, 8537)
    assert run.of(ev.CallEnded)[0].reason == "keepAliveTimeout"


def test_hang_up_can_deliver_what_was_recorded() -> None:
    call = new_call(hangup_delivers_recording=True)
    call.action("recordResponse", record_body())
    run = feed_all(call, track(("s", 0.3), ("v", 2.0)), at=[(1.5, lambda c: c.hang_up())])
    [end] = run.endings
    assert (end.status, end.subcode) == ("completed", 8528)
    assert len(run.recording(end.operation_id)) == int(1.5 * RATE)
    kinds = [n["value"][0]["resourceData"]["@odata.type"] for n in run.notifications()]
    assert kinds == ["#microsoft.graph.recordOperation", "#microsoft.graph.call"]


# ---------------------------------------------------------------- invalid bodies


def test_invalid_body_gets_a_graph_error_and_the_call_goes_on() -> None:
    call = new_call()
    bad = call.action("recordResponse", {"maxRecordDurationInSeconds": 500})
    assert bad.status == 400
    assert "maxRecordDurationInSeconds" in bad.body["error"]["message"]
    assert set(bad.body["error"]["innerError"]) == {"date", "request-id", "client-request-id"}
    malformed = call.action("recordResponse", b"{not json")
    assert malformed.status == 400
    ok = call.action("recordResponse", record_body(maxRecordDurationInSeconds=1))
    assert ok.status == 200
    assert ok.headers_dict["Location"].endswith(f"/operations/{ok.operation_id}")
    run = feed_all(call, noise(2.0))
    assert [e.subcode for e in run.endings] == [8515]


# ---------------------------------------------------------------- determinism


def _records(run_events: list[ev.Event]) -> list[tuple[str, int, str]]:
    out = []
    for e in run_events:
        if isinstance(e, ev.RecordingChunk):
            continue
        out.append((type(e).__name__, e.sample_index, getattr(e, "reason", "")))
    return out


@pytest.mark.parametrize("block", [37, 320, 1000, 16000])
def test_results_do_not_depend_on_block_size(block: int) -> None:
    audio = track(("s", 0.5), ("v", 1.0), ("s", 0.7), ("v", 0.8), ("s", 3.0))

    def once(block_samples: int) -> tuple[list[tuple[str, int, str]], bytes]:
        call = new_call()
        call.action("recordResponse", record_body(maxSilenceTimeoutInSeconds=2, stopTones=["9"]))
        run = feed_all(call, audio, block=block_samples)
        pcm = b"".join(c.pcm16 for c in run.of(ev.RecordingChunk))
        return _records(run.events), pcm

    reference = once(1600)
    assert once(block) == reference


@pytest.mark.parametrize("rate_hz", [8000, 44100, 48000])
def test_any_input_rate_gives_the_same_ending(rate_hz: int) -> None:
    import soxr

    audio16 = track(("s", 0.5), ("v", 1.0), ("s", 3.0))
    audio = soxr.resample(audio16, RATE, rate_hz).astype(np.float32)
    call = new_call()
    call.action("recordResponse", record_body(maxSilenceTimeoutInSeconds=2))
    run = feed_all(call, audio, block=rate_hz // 50, rate_hz=rate_hz)
    [end] = run.endings
    assert end.subcode == 8509
    assert seconds(end) == pytest.approx(3.5, abs=2 * FRAME_S)


def test_one_stop_key_ends_one_recording_only() -> None:
    call = new_call()
    first = call.action("recordResponse", record_body(stopTones=["#"]))
    second = call.action(
        "recordResponse", record_body(stopTones=["#"], maxRecordDurationInSeconds=2)
    )
    run = feed_all(call, noise(5.0), at=[(1.0, lambda c: c.press_key("#"))])
    ends = run.endings
    assert [(e.operation_id, e.subcode, seconds(e)) for e in ends] == [
        (first.operation_id, 8514, 1.0),
        (second.operation_id, 8515, 3.0),
    ]


def test_operation_started_carries_the_parsed_request() -> None:
    """Whoever sent the body (the GUI's form or a bot over HTTP), a consumer of the events can
    word the ending with the timers the operation ran (app/ui/live_call.py)."""
    call = new_call()
    call.action("recordResponse", record_body(maxSilenceTimeoutInSeconds=2))
    run = feed_all(call, track(("s", 0.5), ("v", 1.0), ("s", 3.0)))
    [record] = run.of(ev.OperationStarted)
    assert record.request is not None and record.request.max_silence_timeout_s == 2
    # Not part of the event's value: records and equality are as before.
    assert record == ev.OperationStarted(record.sample_index, record.operation_id, record.kind)


# ------------------------------------------- when a timer's ending can be known (app/core/call.py)


@pytest.mark.parametrize(
    ("body", "audio"),
    [
        (record_body(initialSilenceTimeoutInSeconds=1), track(("s", 3.0))),
        (record_body(maxSilenceTimeoutInSeconds=1), track(("s", 0.5), ("v", 1.0), ("s", 3.0))),
        (record_body(maxRecordDurationInSeconds=2), track(("s", 0.3), ("v", 3.0))),
    ],
    ids=["initial silence", "max silence", "max duration"],
)
def test_decision_sample_is_the_least_feed_that_decides_the_timer(
    body: dict[str, object], audio: np.ndarray
) -> None:
    """Fed (and analysed) up to ``decision_sample``, the running timer's ending is out; one
    sample less, it is not. Its sample is the same as with any other feeding."""
    expected = feed_all(_with_action(body), audio).endings[0].sample_index

    def feed_to(limit_from_decision: int) -> list[ev.OperationEnded]:
        call = _with_action(body)
        pos = 0
        while True:
            decision = call.decision_sample
            if decision is not None and pos >= decision - 3200:
                target = decision + limit_from_decision
                call.feed(audio[pos:target], analyse_now=True)
                return [e for e in call.drain() if isinstance(e, ev.OperationEnded)]
            call.feed(audio[pos : pos + 320], analyse_now=True)
            pos += 320
            assert pos < len(audio), "no timer ever ran"

    [ended] = feed_to(0)
    assert ended.sample_index == expected
    assert feed_to(-1) == []


def _with_action(body: dict[str, object]) -> Call:
    call = new_call()
    call.action("recordResponse", body)
    return call
