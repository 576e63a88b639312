"""HTTP-level refusals over real sockets: every error is Graph error JSON, none a traceback.

Covers aiohttp's parser-level refusals (malformed request lines, headers, chunked bodies),
browser-borne requests (Origin 403, non-JSON body 415, foreign Host 421), compressed bodies
(gzip and deflate decoded, bounded after decompression; other encodings 415) and a client that
leaves mid-request.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import logging
import random
import zlib
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from app.server.http_guard import MAX_BODY_BYTES, decode_body
from app.server.server import GraphServer
from tests.server.support import Receiver, create_body

FLOW_TIMEOUT_S = 60.0
# A case whose request the server is still waiting to complete (a truncated body) gives no
# answer: the client gives up after this and closes, as a real one would.
READ_TIMEOUT_S = 1.5
JSON = "application/json"


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, FLOW_TIMEOUT_S))


def parse_responses(data: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Split raw bytes into (status, lower-case headers, body) responses (Content-Length only)."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, data[:200]
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers["content-length"])
        out.append((status, headers, rest[:length]))
        data = rest[length:]
    return out


def assert_graph_error(status: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The response is Graph's OData error JSON with the status and request ids."""
    assert status >= 400, (status, body[:200])
    assert headers["content-type"].startswith(JSON), headers
    payload = json.loads(body)
    assert set(payload) == {"error"}, payload
    error = payload["error"]
    assert set(error) == {"code", "message", "innerError"}, error
    assert isinstance(error["code"], str) and error["code"], error
    assert isinstance(error["message"], str) and error["message"], error
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}, error
    assert error["innerError"]["request-id"] == headers["request-id"]
    result: dict[str, Any] = error
    return result


async def exchange(port: int, data: bytes, *, close_after_send: bool = False) -> bytes:
    """Send raw bytes on a fresh connection; everything the server sends back until it closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received = b""
    try:
        writer.write(data)
        await writer.drain()
        if close_after_send:
            return b""
        try:
            while chunk := await asyncio.wait_for(reader.read(65536), READ_TIMEOUT_S):
                received += chunk
        except TimeoutError:
            pass  # the server waits for the rest of a truncated request: the client leaves
    except ConnectionError:
        pass  # the server may reset a connection whose garbage it stopped reading
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return received


def request(
    port: int,
    method: str = "POST",
    path: str = "/v1.0/communications/calls",
    body: bytes = b"{}",
    headers: str = "",
) -> bytes:
    """A well-formed request (Host matching the endpoint) carrying ``headers`` and ``body``."""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: {JSON}\r\nContent-Length: {len(body)}\r\n{headers}Connection: close\r\n"
    )
    return head.encode() + b"\r\n" + body


def malformed_cases(port: int) -> list[bytes]:
    """Requests aiohttp's parser refuses, or whose body cannot be read, one per connection."""
    host = f"Host: 127.0.0.1:{port}\r\n".encode()
    chunked = b"POST /v1.0/communications/calls HTTP/1.1\r\n" + host
    chunked += b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    return [
        b"GARBAGE\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(64)),  # a TLS hello
        b"GET\r\n\r\n",
        b"GET / HTTP/1.1 extra\r\n\r\n",
        b"GET / HTTP/9.9\r\n" + host + b"\r\n",
        b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n" + host + b"\r\n",
        b"G\x00T / HTTP/1.1\r\n" + host + b"\r\n",
        b"GET /\x7f\x01 HTTP/1.1\r\n" + host + b"\r\n",
        b"GET / HTTP/1.1\r\n" + host + b"NoColonHeader\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + host + b" folded: header\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + host + b"Bad Name: x\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + host + b"X-Huge: " + b"a" * 100_000 + b"\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + host + b"".join(b"X-%d: y\r\n" % i for i in range(400)) + b"\r\n",
        b"GET / HTTP/1.1\r\n" + host + b"X-Bad: a\x00b\r\n\r\n",
        request(port, headers="Content-Length: 5\r\n"),  # two different Content-Lengths
        request(port, headers="Transfer-Encoding: chunked\r\n"),  # both framings
        b"POST /v1.0/communications/calls HTTP/1.1\r\n" + host + b"Content-Length: abc\r\n\r\n",
        b"POST /v1.0/communications/calls HTTP/1.1\r\n" + host + b"Content-Length: -1\r\n\r\n",
        b"POST /v1.0/communications/calls HTTP/1.1\r\n" + host + b"Transfer-Encoding: gzip\r\n\r\n",
        chunked + b"zz\r\n{}\r\n0\r\n\r\n",
        chunked + b"2\r\n{}XX0\r\n\r\n",
        chunked + b"ffffffffffffffffffffffff\r\n{}\r\n0\r\n\r\n",
        chunked + b"2;\x00ext\r\n{}\r\n0\r\n\r\n",
        chunked + b"1\r\n{}\r\n0\r\n\r\n",  # more data than the chunk size says
        chunked + b"2\r\n{}\r\n",  # truncated: no last chunk
        request(port, body=b"{}")[:-1],  # truncated: Content-Length says one byte more
        request(port, headers="Content-Encoding: gzip\r\n", body=b"not gzip"),
        request(port, headers="Content-Encoding: gzip\r\n", body=gzip.compress(b"{}")[:-6]),
        request(port, headers="Content-Encoding: deflate\r\n", body=b"\x78\x9c garbage"),
        request(port, headers="Content-Encoding: br\r\n", body=b"\x0b\x01\x80{}\x03"),
        request(port, headers="Content-Encoding: gzip, gzip\r\n", body=b"{}"),
        b"\r\n\r\n\r\n",
        b"GET http://evil.example/ HTTP/1.1\r\nHost: evil.example\r\n\r\n",
    ]


def mutated_cases(port: int, count: int, seed: int) -> list[bytes]:
    """Valid-looking requests with random bytes flipped, inserted, deleted or cut (seeded)."""
    rng = random.Random(seed)
    bases = [
        request(port, body=b"{}"),
        request(port, "GET", "/v1.0/communications/calls/nope", b""),
        request(port, path="/beta/communications/calls/nope/recordResponse", body=b'{"a": 1}'),
        request(port, "GET", "/recordings/nope", b"", "Authorization: Bearer x\r\n"),
    ]
    cases = []
    for _ in range(count):
        data = bytearray(rng.choice(bases))
        for _ in range(rng.randint(1, 4)):
            where = rng.randrange(len(data))
            kind = rng.randrange(4)
            if kind == 0:
                data[where] = rng.randrange(256)
            elif kind == 1:
                data[where:where] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
            elif kind == 2:
                del data[where : where + rng.randint(1, 8)]
            else:
                data[where:where] = rng.choice([b"\r\n", b":", b" ", b"\x00", b"\r\n\r\n"])
        cases.append(bytes(data))
    return cases


def test_fuzzed_http_gets_only_graph_error_json_and_no_traceback(
    serve: Callable[..., GraphServer],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Every answer to malformed HTTP is Graph error JSON; nothing logs a traceback."""
    caplog.set_level(logging.DEBUG)
    server = serve()
    cases = malformed_cases(server.port) + mutated_cases(server.port, 300, seed=20261203)

    async def flow() -> list[bytes]:
        limit = asyncio.Semaphore(16)

        async def one(data: bytes) -> bytes:
            async with limit:
                return await exchange(server.port, data)

        return list(await asyncio.gather(*(one(case) for case in cases)))

    answers = run(flow())
    answered = 0
    for case, raw in zip(cases, answers, strict=True):
        for status, headers, body in parse_responses(raw):
            answered += 1
            try:
                assert_graph_error(status, headers, body)
            except AssertionError as exc:
                raise AssertionError(f"request {case[:120]!r} got {raw[:400]!r}") from exc
    assert answered >= len(cases) * 0.8, (answered, len(cases))
    # The malformed ones the parser refuses outright all got an answer.
    for case, raw in zip(cases[:14], answers[:14], strict=True):
        assert parse_responses(raw), case[:80]
    with_traceback = [r for r in caplog.records if r.exc_info]
    assert not with_traceback, [r.getMessage() for r in with_traceback][:5]
    assert "Traceback" not in capfd.readouterr().err
    # And the endpoint still serves.
    assert server.running


def test_every_route_gives_graph_json_for_404_and_405(serve: Callable[..., GraphServer]) -> None:
    server = serve()
    base = server.base_url

    async def flow() -> None:
        async with aiohttp.ClientSession() as http:
            for method, path, status in [
                ("GET", "/recordings/nope", 404),
                ("GET", "/recordings/", 404),
                ("POST", "/recordings/nope", 405),
                ("DELETE", "/", 405),
                ("GET", "/v1.0/communications/calls/nope", 404),
                ("PUT", "/v1.0/communications/calls/nope", 405),
                ("GET", "/v1.0/communications/calls/x/operations/y", 404),
                ("PATCH", "/beta/app/calls", 405),
                ("GET", "/nothing", 404),
            ]:
                async with http.request(method, base + path) as resp:
                    error = assert_graph_error(
                        resp.status,
                        {k.lower(): v for k, v in resp.headers.items()},
                        await resp.read(),
                    )
                    assert resp.status == status, (method, path, error)
                    if status == 405:
                        assert error["code"] == "MethodNotAllowed"
                        assert "Allow" in resp.headers

    run(flow())


def test_browser_pages_are_refused_unless_allowed(serve: Callable[..., GraphServer]) -> None:
    """Origin 403, non-JSON body 415, foreign Host 421; an allowed origin gets CORS answers."""
    allowed = "http://localhost:3000"
    server = serve(allowed_origins=[allowed])
    port = server.port

    async def flow() -> None:
        async with Receiver() as receiver, aiohttp.ClientSession() as http:
            calls = f"{server.graph_base_url()}/communications/calls"
            body = json.dumps(create_body(receiver.url())).encode()

            async def post(headers: dict[str, str], data: bytes = body) -> tuple[int, Any]:
                async with http.post(calls, data=data, headers=headers) as resp:
                    raw = await resp.read()
                    if resp.status >= 400:
                        return resp.status, assert_graph_error(
                            resp.status, {k.lower(): v for k, v in resp.headers.items()}, raw
                        )
                    return resp.status, {k.lower(): v for k, v in resp.headers.items()}

            # A page's "simple request": text/plain, cross-origin, no preflight.
            status, error = await post(
                {"Content-Type": "text/plain", "Origin": "http://evil.example"}
            )
            assert (status, error["code"]) == (403, "Forbidden")
            assert "--allow-origin" in error["message"]
            status, error = await post({"Content-Type": "text/plain"})
            assert (status, error["code"]) == (415, "UnsupportedMediaType")
            status, error = await post({"Content-Type": "application/json; charset=latin-1"})
            assert status == 415
            status, error = await post({"Content-Type": JSON, "Origin": "null"})
            assert status == 403
            status, error = await post({"Content-Type": JSON, "Host": f"evil.example:{port}"})
            assert (status, error["code"]) == (421, "MisdirectedRequest")
            status, error = await post({"Content-Type": JSON, "Host": f"127.0.0.1:{port + 1}"})
            assert status == 421
            # What a bot sends is served: JSON with or without charset, any loopback name.
            for headers in [
                {"Content-Type": "application/json; charset=utf-8"},
                {"Content-Type": JSON, "Host": f"localhost:{port}"},
                {"Content-Type": JSON, "Host": f"[::1]:{port}"},
            ]:
                status, _ = await post(headers)
                assert status == 201, headers
            # An allowed page: its preflight and its request are answered with CORS headers.
            async with http.options(
                calls,
                headers={
                    "Origin": allowed,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type",
                },
            ) as resp:
                assert resp.status == 204
                assert resp.headers["Access-Control-Allow-Origin"] == allowed
                assert "POST" in resp.headers["Access-Control-Allow-Methods"]
                assert resp.headers["Access-Control-Allow-Headers"] == "content-type"
            status, headers = await post({"Content-Type": JSON, "Origin": allowed})
            assert status == 201
            assert headers["access-control-allow-origin"] == allowed
            assert "Location" in headers["access-control-expose-headers"]

    run(flow())


def test_gzip_and_deflate_bodies_are_decoded_and_bounded(
    serve: Callable[..., GraphServer],
) -> None:
    """gzip/deflate bodies work; a zip bomb is 413 after decompression; br is 415."""
    server = serve()

    async def flow() -> None:
        async with Receiver() as receiver, aiohttp.ClientSession() as http:
            calls = f"{server.graph_base_url()}/communications/calls"
            body = json.dumps(create_body(receiver.url())).encode()

            async def post(encoding: str, data: bytes) -> tuple[int, bytes]:
                headers = {"Content-Type": JSON, "Content-Encoding": encoding}
                async with http.post(calls, data=data, headers=headers) as resp:
                    return resp.status, await resp.read()

            assert (await post("gzip", gzip.compress(body)))[0] == 201
            assert (await post("deflate", zlib.compress(body)))[0] == 201
            raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
            assert (await post("deflate", raw_deflate.compress(body) + raw_deflate.flush()))[
                0
            ] == 201
            # 64 MiB of spaces is ~64 KB of gzip: refused once it decodes past 1 MiB.
            bomb = gzip.compress(b" " * (64 << 20), compresslevel=9)
            assert len(bomb) < MAX_BODY_BYTES
            status, raw = await post("gzip", bomb)
            assert status == 413
            error = json.loads(raw)["error"]
            assert error["code"] == "RequestEntityTooLarge"
            assert "decoded from gzip" in error["message"]
            status, raw = await post("gzip", b"not gzip at all")
            assert status == 400
            assert "not valid gzip" in json.loads(raw)["error"]["message"]
            status, raw = await post("br", b"\x0b\x01\x80{}\x03")
            assert status == 415
            assert "gzip or deflate" in json.loads(raw)["error"]["message"]

    run(flow())


def test_decode_body_bounds_the_decoded_size() -> None:
    """Exactly MAX_BODY_BYTES decodes; one byte more is 413."""
    fits = b"x" * MAX_BODY_BYTES
    assert decode_body(gzip.compress(fits), "gzip") == fits
    assert decode_body(b"{}", None) == b"{}"
    with pytest.raises(Exception) as over:
        decode_body(gzip.compress(fits + b"x"), "GZIP")
    assert getattr(over.value, "status", None) == 413


def test_client_leaving_mid_request_is_one_log_line(
    serve: Callable[..., GraphServer],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A body cut short by a disconnect: one info line, no traceback; the endpoint carries on."""
    caplog.set_level(logging.DEBUG)
    server = serve()

    def left_lines() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "client left" in r.getMessage()]

    async def flow() -> None:
        head = request(server.port, body=b"{" + b" " * 999)
        await exchange(server.port, head[:-500], close_after_send=True)
        deadline = asyncio.get_running_loop().time() + 10.0
        while not left_lines() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        async with aiohttp.ClientSession() as http, http.get(server.base_url + "/") as resp:
            assert resp.status == 200

    run(flow())
    assert len(left_lines()) == 1, [r.getMessage() for r in caplog.records]
    assert not [r for r in caplog.records if r.exc_info]
    assert "Traceback" not in capfd.readouterr().err
