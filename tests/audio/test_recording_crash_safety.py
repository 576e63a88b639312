"""A recording in progress is a complete WAV on disk after every commit (a kill loses no more).

The desktop app and the HTTP endpoint write takes through ``attach_recording_writer``, the
headless runner through the same ``RecordingWriter``: these tests read the file from disk, with
Python's ``wave`` and with soundfile, while the writer still holds it open.
"""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np
import soundfile as sf

from app.audio.wav import RecordingWriter, attach_recording_writer
from app.core import events as ev
from app.core.call import Call
from app.engine.host import EngineHost
from tests.core.helpers import record_body, track


def on_disk(path: Path) -> tuple[list[int], list[int], list[int]]:
    """(samples read by wave, by soundfile, and the header's RIFF/data sizes vs the file's)."""
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)
        by_wave = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").tolist()
    by_soundfile = sf.read(str(path), dtype="int16")[0].tolist()
    raw = path.read_bytes()
    riff_size, data_size = struct.unpack_from("<I", raw, 4)[0], struct.unpack_from("<I", raw, 40)[0]
    return by_wave, by_soundfile, [riff_size, data_size, len(raw) - 8, len(raw) - 44]


def test_a_recording_in_progress_is_a_valid_wav_after_every_chunk(tmp_path: Path) -> None:
    writer = RecordingWriter(tmp_path)
    pcm = (np.arange(9000) * 37 % 20000 - 10000).astype("<i2")
    path = tmp_path / "op.wav"
    written = 0
    for n in (1600, 1, 3199, 1600, 2600):  # odd sizes too: the header must count each one
        writer.handle(ev.RecordingChunk(written, "op", pcm[written : written + n].tobytes()))
        written += n
        by_wave, by_soundfile, sizes = on_disk(path)
        assert by_wave == by_soundfile == pcm[:written].tolist()
        riff, data, riff_expected, data_expected = sizes
        assert (riff, data) == (riff_expected, data_expected) == (36 + 2 * written, 2 * written)
    writer.handle(ev.RecordingFinished(written, "op", written, True, "x"))
    # A finished file has the bytes soundfile wrote before (44-byte PCM header, then data).
    sf.write(str(tmp_path / "reference.wav"), pcm, 16000, subtype="PCM_16", format="WAV")
    assert path.read_bytes() == (tmp_path / "reference.wav").read_bytes()


def test_closing_mid_take_leaves_a_valid_wav(tmp_path: Path) -> None:
    writer = RecordingWriter(tmp_path)
    pcm = np.arange(2000, dtype="<i2")
    writer.handle(ev.RecordingChunk(0, "op", pcm.tobytes()))
    writer.close()  # the app quitting mid-take
    by_wave, by_soundfile, _ = on_disk(tmp_path / "op.wav")
    assert by_wave == by_soundfile == pcm.tolist()


def test_empty_recording_has_the_bytes_soundfile_wrote(tmp_path: Path) -> None:
    writer = RecordingWriter(tmp_path)
    writer.handle(ev.RecordingFinished(0, "empty", 0, True, "x"))
    sf.write(str(tmp_path / "reference.wav"), np.zeros(0, np.int16), 16000, subtype="PCM_16")
    assert (tmp_path / "empty.wav").read_bytes() == (tmp_path / "reference.wav").read_bytes()
    assert on_disk(tmp_path / "empty.wav")[0] == []


def test_the_gui_and_server_path_leaves_a_valid_wav_at_every_commit(tmp_path: Path) -> None:
    """EngineHost + attach_recording_writer, as app/session/live.py and app/server use them.

    A listener added after the writer runs right after it on the engine thread, for every
    chunk the engine commits: the file on disk must then hold everything committed so far.
    """
    host = EngineHost(Call()).start()
    writer = attach_recording_writer(host, tmp_path)
    committed: list[int] = []
    checks: list[tuple[int, int, int] | str] = []  # (committed, by wave, by soundfile)

    def after_writer(event: ev.Event) -> None:
        if isinstance(event, ev.RecordingChunk):
            committed.append(len(event.pcm16) // 2)
            try:
                by_wave, by_soundfile, _ = on_disk(writer.path_for(event.operation_id))
            except Exception as exc:  # reported below; raising here would stop the engine
                checks.append(repr(exc))
            else:
                checks.append((sum(committed), len(by_wave), len(by_soundfile)))

    host.add_listener(after_writer)
    response = host.action("recordResponse", record_body(maxRecordDurationInSeconds=3))
    assert response.result(5).status == 200
    audio = track(("s", 0.3), ("v", 1.5), ("s", 0.5), ("v", 2.0))
    for i in range(0, len(audio), 320):  # 20 ms blocks, as a sound card delivers
        host.feed(audio[i : i + 320].copy())
    host.flush().result(10)
    host.stop()
    assert host.error is None
    assert len(checks) >= 20  # one per 100 ms of a 3 s take, and the last one
    assert all(isinstance(c, tuple) and c[0] == c[1] == c[2] for c in checks), checks
