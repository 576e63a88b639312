"""A request as a shell command: ``curl`` with the method, URL, JSON body and headers."""

from __future__ import annotations

import json
import shlex
from typing import Any


def curl_command(method: str, url: str, body: Any = None) -> str:
    """A one-line ``curl`` that repeats the request (the body as compact JSON, shell-quoted)."""
    parts = ["curl", "-sS", "-X", method.upper(), shlex.quote(url)]
    if body is not None:
        text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
        parts += ["-H", shlex.quote("Content-Type: application/json"), "--data-raw"]
        parts.append(shlex.quote(text))
    return " ".join(parts)
