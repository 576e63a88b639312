"""Loads prompt media for the engine from file paths, file: URIs and http(s) URLs."""

from __future__ import annotations

import io
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import soundfile as sf

from app.core.media import LoadedPrompt, PromptLoader, PromptLoadError

# A prompt download that takes longer than this fails the operation with 8536 rather than
# stalling the call; the service's own limit is undocumented (graph-spec.md §4 [I]).
DEFAULT_HTTP_TIMEOUT_S = 5.0


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


def make_prompt_loader(
    base_dir: Path | None = None, *, http_timeout_s: float = DEFAULT_HTTP_TIMEOUT_S
) -> PromptLoader:
    """A loader for absolute file:// URIs, http(s) URLs and paths relative to ``base_dir``."""

    def load(uri: str) -> LoadedPrompt | PromptLoadError:
        parsed = urllib.parse.urlparse(uri)
        scheme = parsed.scheme.lower()
        if scheme in ("http", "https"):
            try:
                with urllib.request.urlopen(uri, timeout=http_timeout_s) as response:
                    data = response.read()
            except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
                return PromptLoadError("download", f"{uri}: could not be downloaded ({exc})")
            return decode_prompt(data, uri)
        if scheme == "file":
            path = Path(urllib.request.url2pathname(parsed.path))
        elif scheme == "" or (len(scheme) == 1 and uri[1:3] in (":\\", ":/")):
            path = Path(uri)
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
        else:
            return PromptLoadError("play", f"{uri}: unsupported URI scheme '{scheme}'")
        try:
            data = path.read_bytes()
        except OSError as exc:
            return PromptLoadError("download", f"{uri}: could not be read ({exc.strerror})")
        return decode_prompt(data, uri)

    return load
