"""WAV writing while capturing, and prompt loading from files, file: URIs and a real HTTP server."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.audio.prompts import make_prompt_loader
from app.audio.wav import AudioFileError, RecordingWriter, read_audio, write_wav
from app.core import events as ev
from app.core.media import LoadedPrompt, PromptLoadError
from tests.support.stalls import silent_http_server


def test_recording_is_readable_while_it_is_being_captured(tmp_path: Path) -> None:
    writer = RecordingWriter(tmp_path)
    pcm = (np.arange(3200) % 100).astype("<i2")
    writer.handle(ev.RecordingChunk(0, "op", pcm[:1600].tobytes()))
    # Mid-take (e.g. the app crashed now): the file already holds the first chunk.
    data, rate = sf.read(str(tmp_path / "op.wav"), dtype="int16")
    assert rate == 16000 and data.tolist() == pcm[:1600].tolist()
    writer.handle(ev.RecordingChunk(1600, "op", pcm[1600:].tobytes()))
    writer.handle(ev.RecordingFinished(3200, "op", 3200, True, "x"))
    info = sf.info(str(tmp_path / "op.wav"))
    assert (info.samplerate, info.channels, info.subtype, info.frames) == (16000, 1, "PCM_16", 3200)
    assert sf.read(str(tmp_path / "op.wav"), dtype="int16")[0].tolist() == pcm.tolist()


def test_empty_recording_is_still_a_valid_wav(tmp_path: Path) -> None:
    writer = RecordingWriter(tmp_path)
    writer.handle(ev.RecordingFinished(0, "empty", 0, True, "x"))
    assert sf.info(str(tmp_path / "empty.wav")).frames == 0


def test_unreadable_audio_file_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav")
    with pytest.raises(AudioFileError, match=r"bad\.wav: not a readable audio file"):
        read_audio(bad)
    with pytest.raises(AudioFileError, match="no such file"):
        read_audio(tmp_path / "none.wav")


@pytest.fixture
def prompt_wav(tmp_path: Path) -> Path:
    path = tmp_path / "prompts" / "hello.wav"
    write_wav(path, (0.1 * np.sin(np.arange(8000) / 5)).astype(np.float32))
    return path


def test_loads_relative_paths_and_file_uris(tmp_path: Path, prompt_wav: Path) -> None:
    load = make_prompt_loader(tmp_path)
    for uri in ("prompts/hello.wav", prompt_wav.as_uri(), str(prompt_wav)):
        loaded = load(uri)
        assert isinstance(loaded, LoadedPrompt), uri
        assert (loaded.rate_hz, loaded.channels, loaded.subtype, loaded.container) == (
            16000,
            1,
            "PCM_16",
            "WAV",
        )
        assert len(loaded.samples) == 8000
    missing = load("prompts/none.wav")
    assert isinstance(missing, PromptLoadError) and missing.kind == "download"
    other = load("ftp://example.invalid/a.wav")
    assert isinstance(other, PromptLoadError) and other.kind == "play"


@pytest.fixture
def http_server(prompt_wav: Path) -> Iterator[str]:
    body = prompt_wav.read_bytes()
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/hello.wav":
                self.send_response(200)
                self.send_header("Content-Type", "audio/wav")
                self.end_headers()
                self.wfile.write(body)
            elif self.path == "/slow.wav":
                release.wait(5)
                self.send_response(200)
                self.end_headers()
            elif self.path == "/text.wav":
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"<html>not audio</html>")
            else:
                self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def test_loads_prompts_over_http_with_timeout(http_server: str) -> None:
    load = make_prompt_loader(None, http_timeout_s=0.5)
    ok = load(f"{http_server}/hello.wav")
    assert isinstance(ok, LoadedPrompt) and len(ok.samples) == 8000
    gone = load(f"{http_server}/missing.wav")
    assert isinstance(gone, PromptLoadError) and gone.kind == "download" and "404" in gone.detail
    slow = load(f"{http_server}/slow.wav")
    assert isinstance(slow, PromptLoadError) and slow.kind == "download"
    text = load(f"{http_server}/text.wav")
    assert isinstance(text, PromptLoadError) and text.kind == "format"


def test_a_fifo_or_a_folder_is_refused_without_blocking(tmp_path: Path) -> None:
    """A FIFO with no writer would block open() forever; it is refused as not a regular file
    (8536). The test itself is bounded: the load runs on a thread it waits for."""
    os.mkfifo(tmp_path / "pipe.wav")
    (tmp_path / "folder.wav").mkdir()
    load = make_prompt_loader(tmp_path)
    results: dict[str, object] = {}

    def work() -> None:
        for name in ("pipe.wav", "folder.wav"):
            results[name] = load(name)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "loading a FIFO blocked"
    for name in ("pipe.wav", "folder.wav"):
        error = results[name]
        assert isinstance(error, PromptLoadError) and error.kind == "download", name
        assert "not a regular file" in error.detail


def test_reads_stop_at_the_size_cap(tmp_path: Path, http_server: str, prompt_wav: Path) -> None:
    size = prompt_wav.stat().st_size  # 16 044 bytes
    exact = make_prompt_loader(tmp_path, max_bytes=size)
    assert isinstance(exact("prompts/hello.wav"), LoadedPrompt)
    assert isinstance(exact(f"{http_server}/hello.wav"), LoadedPrompt)
    capped = make_prompt_loader(tmp_path, max_bytes=size - 1)
    for uri in ("prompts/hello.wav", f"{http_server}/hello.wav"):
        error = capped(uri)
        assert isinstance(error, PromptLoadError) and error.kind == "download", uri
        assert f"larger than {size - 1} bytes" in error.detail


def test_a_host_that_never_answers_fails_at_the_deadline() -> None:
    """A real server on 127.0.0.1 that accepts and stays silent: 8536 after ``timeout_s``."""
    load = make_prompt_loader(None, timeout_s=0.3)
    with silent_http_server() as server:
        error = load(f"{server.url}/prompt.wav")
        assert server.accepted.is_set()
    assert isinstance(error, PromptLoadError) and error.kind == "download"
    assert "timed out" in error.detail
