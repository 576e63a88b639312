"""HTTP-level guards of the local Graph endpoint: what is refused before a handler runs.

- Malformed HTTP (bad request line, headers, chunked encoding...) is refused by aiohttp's parser
  before any middleware runs. ``GraphAppRunner`` makes every connection use
  ``GraphRequestHandler``, whose ``handle_error`` (aiohttp's hook for those refusals) answers
  with Graph error JSON and logs one line instead of a traceback.
- ``RequestGuard`` refuses what a web page in the user's browser could send to this loopback
  endpoint: a foreign ``Origin`` (403), a ``Host`` that is not the bound address (421, DNS
  rebinding), a body that is not ``application/json`` (415, the "simple request" a page may send
  cross-origin without asking), and a ``Content-Encoding`` other than gzip or deflate (415).
- ``decode_body`` decodes gzip and deflate bodies, refusing more than ``MAX_BODY_BYTES`` AFTER
  decompression (413), so a small zip bomb cannot expand in memory.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import zlib
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from app.graph.errors import GraphError, error_body, graph_date, http_error, new_request_id

log = logging.getLogger(__name__)

# README "Errors are Graph error JSON": a body over 1 MiB gets 413 (aiohttp's default cap, made
# explicit; for a compressed body it applies to both the bytes received and the decoded body).
MAX_BODY_BYTES = 1 << 20
# zlib window bits: 16 + 15 reads a gzip member; 15 a zlib stream; -15 raw deflate (which some
# clients send as "deflate", and aiohttp accepts too).
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_ENCODINGS = {"gzip": _GZIP_WBITS, "x-gzip": _GZIP_WBITS, "deflate": zlib.MAX_WBITS}
SUPPORTED_ENCODINGS = ("gzip", "deflate")
JSON_TYPE = "application/json"
# A preflighted request from an allowed origin may send these methods (the routes' methods).
_CORS_METHODS = "GET, POST, DELETE"
_CORS_EXPOSE = "Location, request-id, client-request-id"
# Parser messages can quote the client's bytes: keep the error message readable.
_MAX_MESSAGE_CHARS = 300


def normalize_origin(origin: str) -> str:
    """An Origin as compared: lower-case ``scheme://host[:port]`` without a trailing slash."""
    return origin.strip().rstrip("/").lower()


def check_origin_value(origin: str) -> str | None:
    """Why ``origin`` is not a usable ``--allow-origin`` value, or None when it is."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"--allow-origin must look like http://host[:port] (got {origin!r})"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return f"--allow-origin is an origin, without a path (got {origin!r})"
    return None


def decode_body(raw: bytes, content_encoding: str | None, max_bytes: int = MAX_BODY_BYTES) -> bytes:
    """The body with its Content-Encoding undone; GraphError 400/413/415 when that fails."""
    name = (content_encoding or "identity").strip().lower()
    if name in ("", "identity") or not raw:
        return raw
    wbits = _ENCODINGS.get(name)
    if wbits is None:
        raise unsupported_encoding(name)
    if name == "deflate" and raw[0] & 0x0F != 8:  # RFC 1950: a zlib stream's CM nibble is 8
        wbits = -zlib.MAX_WBITS
    decoder = zlib.decompressobj(wbits)
    try:
        body = decoder.decompress(raw, max_bytes + 1)
    except zlib.error as exc:
        raise http_error(400, f"The request body is not valid {name} data ({exc}).") from None
    if len(body) > max_bytes:
        raise http_error(
            413, f"The request body is over {max_bytes} bytes once decoded from {name}."
        )
    if not decoder.eof or decoder.unused_data:
        raise http_error(400, f"The request body is not one complete {name} stream.")
    return body


def unsupported_encoding(name: str) -> GraphError:
    """415 for a Content-Encoding this endpoint does not decode."""
    return http_error(
        415,
        f"Content-Encoding '{name[:40]}' is not supported; send the body uncompressed, or "
        f"as {' or '.join(SUPPORTED_ENCODINGS)}.",
    )


class RequestGuard:
    """Refuses browser-borne and misdirected requests (see the module docstring)."""

    def __init__(self, allowed_origins: Iterable[str] = ()) -> None:
        self.allowed_origins = frozenset(normalize_origin(o) for o in allowed_origins)
        self._hosts: frozenset[str] = frozenset()

    def bind(self, host: str, port: int) -> None:
        """Accept these Host headers from now on: the loopback names and ``host``, at ``port``."""
        names = {"127.0.0.1", "localhost", "[::1]", f"[{host}]" if ":" in host else host}
        hosts = {f"{name.lower()}:{port}" for name in names}
        if port == 80:  # a client may leave the default port out of Host
            hosts |= {name.lower() for name in names}
        self._hosts = frozenset(hosts)

    def check(self, request: web.BaseRequest) -> None:
        """Raise GraphError 421, 403 or 415 for a request this endpoint must not serve."""
        host = request.headers.get("Host")
        # No Host at all is an HTTP/1.0 tool, never a browser (which always sends one).
        if host is not None and host.strip().lower() not in self._hosts:
            raise http_error(
                421,
                f"Host '{host[:80]}' is not this endpoint's address (a request from a page "
                "that renamed the loopback address is refused); use "
                f"{' or '.join(sorted(self._hosts))}.",
            )
        origin = request.headers.get("Origin")
        if origin is not None and normalize_origin(origin) not in self.allowed_origins:
            raise http_error(
                403,
                f"Requests from the web page origin '{origin[:80]}' are refused; start the "
                "endpoint with --allow-origin ORIGIN to allow that page.",
            )
        if request.method == "POST" and request.body_exists:
            encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
            if encoding not in ("", "identity", *_ENCODINGS):
                raise unsupported_encoding(encoding)
            charset = (request.charset or "utf-8").lower()
            if request.content_type != JSON_TYPE or charset not in ("utf-8", "utf8"):
                raw_type = request.headers.get("Content-Type", "none")
                raise http_error(
                    415,
                    f"Content-Type '{raw_type[:80]}' is not supported; a request body must be "
                    "'application/json' (UTF-8).",
                )

    def cors_headers(self, request: web.BaseRequest) -> dict[str, str]:
        """Headers letting an allowed page read the answer (none for other requests)."""
        origin = request.headers.get("Origin")
        if origin is None or normalize_origin(origin) not in self.allowed_origins:
            return {}
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Expose-Headers": _CORS_EXPOSE,
            "Vary": "Origin",
        }

    def preflight(self, request: web.BaseRequest) -> web.Response | None:
        """The answer to an allowed origin's CORS preflight (OPTIONS), or None."""
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return None
        headers = self.cors_headers(request)
        if not headers:
            return None
        headers["Access-Control-Allow-Methods"] = _CORS_METHODS
        asked = request.headers.get("Access-Control-Request-Headers")
        if asked:
            headers["Access-Control-Allow-Headers"] = asked
        headers["Access-Control-Max-Age"] = "600"
        return web.Response(status=204, headers=headers)


def error_response(err: GraphError, *, client_request_id: str | None = None) -> web.Response:
    """A Graph error JSON response with fresh request ids (for refusals outside a handler)."""
    request_id = new_request_id()
    client_id = client_request_id or request_id
    body = error_body(
        err, request_id=request_id, client_request_id=client_id, date=graph_date(time.time())
    )
    return web.Response(
        status=err.status,
        text=json.dumps(body),
        content_type=JSON_TYPE,
        headers={"request-id": request_id, "client-request-id": client_id},
    )


class GraphRequestHandler(RequestHandler):
    """aiohttp's connection handler, answering its own refusals with Graph error JSON."""

    __slots__ = ()

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """aiohttp's hook for a message its parser refused (or a handler failure it caught)."""
        if request.writer.output_size > 0:
            # Part of a response went out already: nothing more can be said on this connection.
            raise ConnectionError("a response was already being sent")
        if status >= 500:
            # The middleware answers every handler error itself: reaching here is a bug, with
            # its traceback in the log.
            log.error("request from %s failed", request.remote, exc_info=exc)
            text = "Unknown internal server error."
        else:
            text = " ".join((message or (str(exc) if exc else "")).replace("^", " ").split())
            text = f"Malformed HTTP request: {text or 'unreadable'}"[:_MAX_MESSAGE_CHARS]
            log.info("refused a malformed request from %s: %s", request.remote, text)
        response = error_response(http_error(status, text))
        response.force_close()
        return response

    def log_exception(self, *args: Any, **kw: Any) -> None:
        """One line, no traceback: what reaches here is a client's doing (e.g. a disconnect)."""
        exc = kw.get("exc_info")
        why = f": {type(exc).__name__}: {exc}" if isinstance(exc, BaseException) else ""
        log.info("%s%s", args[0] if args else "connection error", why)


class _GraphWebServer(web.Server):
    """aiohttp's low-level server, making GraphRequestHandler connections."""

    def __init__(self, handler: Any, *, loop: asyncio.AbstractEventLoop, **kwargs: Any) -> None:
        super().__init__(handler, loop=loop, **kwargs)
        self._graph_loop = loop
        self._graph_kwargs = {k: v for k, v in kwargs.items() if k != "request_factory"}

    def __call__(self) -> RequestHandler:
        return GraphRequestHandler(self, loop=self._graph_loop, **self._graph_kwargs)


class GraphAppRunner(web.AppRunner):
    """An AppRunner whose connections answer parser-level refusals with Graph error JSON.

    Connections skip aiohttp's automatic decompression: ``decode_body`` decodes gzip and
    deflate itself, bounded by MAX_BODY_BYTES, and refuses the rest with 415.
    """

    def __init__(self, app: web.Application) -> None:
        super().__init__(app, handle_signals=False, access_log=None)

    async def _make_server(self) -> web.Server:
        # BaseRunner's hook for the server it runs: the app's own (routing, middlewares,
        # request factory), made with our connection class.
        app_server = await super()._make_server()
        return _GraphWebServer(
            app_server.request_handler,
            request_factory=app_server.request_factory,
            loop=asyncio.get_running_loop(),
            access_log=None,
            auto_decompress=False,
        )
