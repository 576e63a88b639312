"""Loads prompt media for the engine from file paths, file: URIs and http(s) URLs.

Loading is bounded in time and size (README "Fidelity"; docs/graph-contract.md §4): a prompt
not had within ``timeout_s`` or larger than ``max_bytes`` fails with 8536, and only regular
files are read (a FIFO or a device would block or never end). In the endpoint and the GUI the
loader runs on a worker thread (``app/engine/host.py``), never on the engine's.
"""

from __future__ import annotations

import io
import os
import stat
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

from app.core.media import (
    DEFAULT_PROMPT_TIMEOUT_S,
    LoadedPrompt,
    PromptLoader,
    PromptLoadError,
)

DEFAULT_HTTP_TIMEOUT_S = DEFAULT_PROMPT_TIMEOUT_S  # the former name
# A larger prompt fails with 8536 before it is read whole (Graph's limit is undocumented [I]):
# 32 MiB is 17 min of the required WAV mono 16-bit 16 kHz (docs/graph-contract.md §1.2), far
# beyond any IVR prompt, and bounds the memory one request can make the endpoint use.
DEFAULT_PROMPT_MAX_BYTES = 32 * 2**20
_CHUNK_BYTES = 64 * 1024


class _TooBigError(Exception):
    pass


def decode_prompt(data: bytes, origin: str) -> LoadedPrompt | PromptLoadError:
    """Decode audio bytes, keeping the format so the engine can check the WAV rule."""
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            samples = f.read(dtype="float32", always_2d=True)
            return LoadedPrompt(
                samples=np.asarray(samples, dtype=np.float32),
                rate_hz=int(f.samplerate),
                channels=int(f.channels),
                subtype=str(f.subtype),
                container=str(f.format),
            )
    except (sf.LibsndfileError, RuntimeError) as exc:
        return PromptLoadError("format", f"{origin}: not a readable audio file ({exc})")


def _read_capped(read: Callable[[int], bytes], max_bytes: int, deadline: float) -> bytes:
    """Read chunks with ``read(n)`` until EOF; raise _TooBigError past ``max_bytes``,
    TimeoutError past ``deadline`` (monotonic)."""
    parts: list[bytes] = []
    total = 0
    while True:
        if time.monotonic() > deadline:
            raise TimeoutError("timed out")
        chunk = read(min(_CHUNK_BYTES, max_bytes + 1 - total))
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)
        total += len(chunk)
        if total > max_bytes:
            raise _TooBigError


def _read_regular_file(path: Path, max_bytes: int, deadline: float) -> bytes:
    """The file's bytes; only a regular file is read, opened without blocking (a FIFO's open
    would wait for a writer forever)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(0, "not a regular file (a FIFO, a device or a folder)")
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb", buffering=0) as f:
        return _read_capped(f.read, max_bytes, deadline)


def make_prompt_loader(
    base_dir: Path | None = None,
    *,
    timeout_s: float = DEFAULT_PROMPT_TIMEOUT_S,
    max_bytes: int = DEFAULT_PROMPT_MAX_BYTES,
    http_timeout_s: float | None = None,
) -> PromptLoader:
    """A loader for absolute file:// URIs, http(s) URLs and paths relative to ``base_dir``.

    Each load gives up after ``timeout_s`` and past ``max_bytes`` (both 8536);
    ``http_timeout_s`` is the former name of ``timeout_s``.
    """
    if http_timeout_s is not None:
        timeout_s = http_timeout_s
    too_big = f"larger than {max_bytes} bytes (the prompt size cap)"

    def load(uri: str) -> LoadedPrompt | PromptLoadError:
        deadline = time.monotonic() + timeout_s
        parsed = urllib.parse.urlparse(uri)
        scheme = parsed.scheme.lower()
        if scheme in ("http", "https"):
            # Imported here: urllib.request (http.client, email, ssl) costs ~25 ms of every
            # `callsim run` start-up, and most scenarios' prompts are files.
            from urllib.error import URLError
            from urllib.request import urlopen

            try:
                with urlopen(uri, timeout=timeout_s) as response:
                    length = response.headers.get("Content-Length")
                    if length is not None and length.isdigit() and int(length) > max_bytes:
                        raise _TooBigError
                    data = _read_capped(response.read, max_bytes, deadline)
            except _TooBigError:
                return PromptLoadError("download", f"{uri}: could not be downloaded: {too_big}")
            except (URLError, TimeoutError, OSError, ValueError) as exc:
                return PromptLoadError("download", f"{uri}: could not be downloaded ({exc})")
            return decode_prompt(data, uri)
        if scheme == "file":
            from urllib.request import url2pathname

            path = Path(url2pathname(parsed.path))
        elif scheme == "" or (len(scheme) == 1 and uri[1:3] in (":\\", ":/")):
            path = Path(uri)
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
        else:
            return PromptLoadError("play", f"{uri}: unsupported URI scheme '{scheme}'")
        try:
            data = _read_regular_file(path, max_bytes, deadline)
        except _TooBigError:
            return PromptLoadError("download", f"{uri}: could not be read: {too_big}")
        except TimeoutError:
            return PromptLoadError("download", f"{uri}: not read within {timeout_s:g} s")
        except OSError as exc:
            return PromptLoadError("download", f"{uri}: could not be read ({exc.strerror})")
        return decode_prompt(data, uri)

    return load
