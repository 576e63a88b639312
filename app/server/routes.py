"""The HTTP face of the local Graph endpoint: aiohttp routes, request guards, Graph responses.

Each handler parses the request (``app/graph``), asks the call registry
(``app/server/lifecycle.py``) and shapes the Graph response; the routes hold no state of their
own. Every error leaves as Graph error JSON; every request is reported as a ``RequestLogged``.

Routes (each under ``/v1.0`` and ``/beta``; ``/beta/app/calls/...`` is the deprecated alias,
docs/graph-contract.md §1.1; every action also as ``microsoft.graph.<action>``):

    POST   /communications/calls                          create (201 + call)
    GET    /communications/calls/{id}                     the call
    DELETE /communications/calls/{id}                     bot hangs up (204)
    POST   /communications/calls/{id}/answer | reject     incoming calls (202)
    POST   /communications/calls/{id}/keepAlive           200
    POST   /communications/calls/{id}/recordResponse | playPrompt | cancelMediaProcessing |
                                  subscribeToTone         200 + Location + operation (§2)
    GET    /communications/calls/{id}/operations/{op}     the operation's current JSON
    GET    /recordings/{op}                               the WAV, with the bearer token (§7)
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from app.core.call import ACTIONS as MEDIA_ACTIONS
from app.graph import payloads
from app.graph.calls import parse_answer, parse_create_call, parse_reject
from app.graph.errors import GraphError, error_body, graph_date, http_error, new_request_id
from app.graph.requests import ACTION_NAMESPACE_PREFIX, parse_json_body
from app.server.calls import ServerCall
from app.server.events import RequestLogged, ServerEvent
from app.server.faults import DownloadFault
from app.server.http_guard import MAX_BODY_BYTES, RequestGuard, decode_body
from app.server.lifecycle import CallRegistry
from app.server.recordings import RecordingStore

log = logging.getLogger(__name__)

VERSIONS = ("v1.0", "beta")  # docs/graph-contract.md §1.1: v1.0 and beta prefixes

# Per-request storage keys: aiohttp >= 3.14 wants typed keys (a str key warns).
_KeyType: Any = getattr(web, "RequestKey", None)
REQUEST_ID: Any = _KeyType("request_id", str) if _KeyType else "request_id"
CLIENT_REQUEST_ID: Any = _KeyType("client_request_id", str) if _KeyType else "client_request_id"
CALL_ID: Any = _KeyType("call_id", str) if _KeyType else "call_id"

CALL_ACTIONS = ("answer", "reject", "keepAlive")
_ACTION_NAMES = {name.lower(): name for name in (*MEDIA_ACTIONS, *CALL_ACTIONS)}


def auth_scheme(authorization: str | None) -> str | None:
    """The scheme of an Authorization header that carries credentials ("Bearer"), else None."""
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    return scheme if scheme and credentials.strip() else None


class GraphRoutes:
    """The endpoint's aiohttp handlers and middleware (no state of their own)."""

    def __init__(
        self,
        *,
        registry: CallRegistry,
        recordings: RecordingStore,
        guard: RequestGuard,
        emit: Callable[[ServerEvent], None],
        graph_base_url: Callable[[str], str],
        download_faults: list[DownloadFault] | None = None,
    ) -> None:
        self._registry = registry
        self._download_faults = download_faults or []  # app/server/faults.py
        self._recordings = recordings
        self._guard = guard
        self._emit = emit
        self.graph_base_url = graph_base_url

    def add_to(self, app: web.Application) -> None:
        """Register every route on ``app``."""
        app.router.add_get("/", self._handle_info)
        app.router.add_get("/recordings/{op_id}", self._handle_recording)
        roots = [f"/{v}/communications/calls" for v in VERSIONS] + ["/beta/app/calls"]
        for root in roots:
            app.router.add_post(root, self._handle_create)
            app.router.add_get(root + "/{call_id}", self._handle_get_call)
            app.router.add_delete(root + "/{call_id}", self._handle_delete_call)
            app.router.add_post(root + "/{call_id}/{action}", self._handle_action)
            app.router.add_get(root + "/{call_id}/operations/{op_id}", self._handle_operation)

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Guards, Graph error JSON for every failure, request ids, the request log, CORS."""
        start = time.perf_counter()
        request[REQUEST_ID] = new_request_id()
        request[CLIENT_REQUEST_ID] = request.headers.get("client-request-id") or request[REQUEST_ID]
        try:
            self._guard.check(request)
            preflight = self._guard.preflight(request)
            response = preflight if preflight is not None else await handler(request)
        except GraphError as err:
            response = self._error(request, err)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            message = {
                404: f"Resource not found for the path '{request.path[:200]}'.",
                405: f"The HTTP method {request.method} is not allowed for '{request.path[:200]}'.",
                413: f"The request body is over {MAX_BODY_BYTES} bytes.",
            }.get(exc.status, exc.reason)
            response = self._error(request, http_error(exc.status, message))
            allow = exc.headers.get("Allow")
            if allow:
                response.headers["Allow"] = allow
        except ConnectionError as exc:
            # The client went away mid-request: its doing, worth one line, not a traceback.
            log.info("client left during %s %s: %s", request.method, request.path[:200], exc)
            response = self._error(
                request, http_error(400, "The client closed the connection mid-request.")
            )
        except Exception as exc:  # never let one request take the endpoint down
            log.exception("unexpected error answering %s %s", request.method, request.path)
            internal = GraphError(500, "UnknownError", f"Unknown internal server error ({exc}).")
            response = self._error(request, internal)
        self._emit(
            RequestLogged(
                request.method,
                request.path,
                response.status,
                (time.perf_counter() - start) * 1000.0,
                request.get(CALL_ID),
                time.time(),
                auth_scheme(request.headers.get("Authorization")),
            )
        )
        response.headers.update(self._guard.cors_headers(request))
        return response

    def _ids(self, request: web.Request) -> dict[str, str]:
        return {
            "request-id": request[REQUEST_ID],
            "client-request-id": request[CLIENT_REQUEST_ID],
        }

    def _error(self, request: web.Request, err: GraphError) -> web.Response:
        body = error_body(
            err,
            request_id=request[REQUEST_ID],
            client_request_id=request[CLIENT_REQUEST_ID],
            date=graph_date(time.time()),
        )
        return web.Response(
            status=err.status,
            text=json.dumps(body),
            content_type="application/json",
            headers=self._ids(request),
        )

    @staticmethod
    def _version(request: web.Request) -> str:
        return "beta" if request.path.startswith("/beta/") else "v1.0"

    def _live_call(self, request: web.Request) -> ServerCall:
        call = self._registry.live(request.match_info["call_id"])
        request[CALL_ID] = call.call_id
        return call

    async def _read_body(self, request: web.Request) -> bytes:
        """The body, gzip/deflate undone (bounded: http_guard.decode_body)."""
        return decode_body(await request.read(), request.headers.get("Content-Encoding"))

    async def _read_json(self, request: web.Request) -> object:
        return parse_json_body(await self._read_body(request))

    async def _handle_info(self, request: web.Request) -> web.Response:
        body = {
            "name": "CallSim local Graph endpoint",
            "graphBaseUrl": {v: self.graph_base_url(v) for v in VERSIONS},
            "calls": self._registry.live_count(),
        }
        return web.json_response(body, headers=self._ids(request))

    async def _handle_create(self, request: web.Request) -> web.Response:
        req = parse_create_call(await self._read_json(request))
        call = self._registry.create(req)
        request[CALL_ID] = call.call_id
        version = self._version(request)
        body = call.resource()
        body["@odata.context"] = (
            f"{self.graph_base_url(version)}/$metadata#communications/calls/$entity"
        )
        return web.Response(
            status=201,
            text=json.dumps(body),
            content_type="application/json",
            headers={
                "Location": f"{self.graph_base_url(version)}{payloads.call_path(call.call_id)}",
                **self._ids(request),
            },
        )

    async def _handle_get_call(self, request: web.Request) -> web.Response:
        call = self._live_call(request)
        return web.Response(
            text=json.dumps(call.resource()),
            content_type="application/json",
            headers=self._ids(request),
        )

    async def _handle_delete_call(self, request: web.Request) -> web.Response:
        call = self._live_call(request)
        self._registry.hang_up(call)
        return web.Response(status=204, headers=self._ids(request))

    async def _handle_operation(self, request: web.Request) -> web.Response:
        call = self._live_call(request)
        raw_op = request.match_info["op_id"]
        op_id = payloads.canonical_id(raw_op)
        resource = await self._registry.operation_resource(call, op_id)
        if resource is None:
            raise GraphError(
                404, "NotFound", f"Operation '{raw_op[:80]}' was not found on this call."
            )
        return web.Response(
            text=json.dumps(resource), content_type="application/json", headers=self._ids(request)
        )

    async def _handle_action(self, request: web.Request) -> web.Response:
        call = self._live_call(request)
        segment = request.match_info["action"]
        name = segment
        if name.lower().startswith(ACTION_NAMESPACE_PREFIX):
            name = name[len(ACTION_NAMESPACE_PREFIX) :]
        action = _ACTION_NAMES.get(name.lower())
        if action is None:
            raise GraphError(
                400,
                "BadRequest",
                f"Resource not found for the segment '{segment[:80]}'; supported actions are: "
                f"{', '.join(sorted(_ACTION_NAMES.values()))}.",
            )
        raw = await self._read_body(request)
        if action == "answer":
            self._registry.answer(call, parse_answer(parse_json_body(raw)))
            return web.Response(status=202, headers=self._ids(request))
        if action == "reject":
            self._registry.reject(call, parse_reject(parse_json_body(raw)))
            return web.Response(status=202, headers=self._ids(request))
        if action == "keepAlive":
            self._registry.keep_alive(call)
            return web.Response(status=200, headers=self._ids(request))
        response = await self._registry.media_action(
            call,
            action,
            raw,
            request_id=request[REQUEST_ID],
            client_request_id=request[CLIENT_REQUEST_ID],
            date=graph_date(time.time()),
        )
        headers = response.headers_dict
        if response.operation_id is not None and "Location" in headers:
            # Location follows the version the bot called (docs/graph-contract.md §2).
            headers["Location"] = payloads.operation_location(
                self.graph_base_url(self._version(request)), call.call_id, response.operation_id
            )
        return web.Response(
            status=response.status, body=response.body_json.encode("utf-8"), headers=headers
        )

    async def _faulty_download(
        self, request: web.Request, path: Path, fault: DownloadFault
    ) -> web.StreamResponse:
        """A download fault on demand (app/server/faults.py): an error, or a cut body."""
        if fault.status is not None:
            code = {401: "InvalidAuthenticationToken", 404: "NotFound"}.get(
                fault.status, "InternalServerError"
            )
            return self._error(request, GraphError(fault.status, code, "Download fault (CallSim)."))
        data = path.read_bytes()
        response = web.StreamResponse(
            headers={"Content-Type": "application/octet-stream", **self._ids(request)}
        )
        response.content_length = len(data)  # the whole file is promised...
        response.force_close()
        await response.prepare(request)
        await response.write(data[: fault.cut_bytes])  # ...and only the start is sent
        if request.transport is not None:
            request.transport.close()
        return response

    async def _handle_recording(self, request: web.Request) -> web.StreamResponse:
        raw_op = request.match_info["op_id"].removesuffix(".wav")
        entry = self._recordings.get(payloads.canonical_id(raw_op))
        if entry is None:
            raise GraphError(
                404,
                "NotFound",
                f"Recording '{raw_op[:80]}' was not found: unknown, not delivered, or expired "
                "after its call ended.",
            )
        request[CALL_ID] = entry.call_id
        if not self._recordings.authorized(entry, request.headers.get("Authorization")):
            response = self._error(
                request,
                GraphError(
                    401,
                    "InvalidAuthenticationToken",
                    "Access token is missing or invalid: send 'Authorization: Bearer "
                    "<recordingAccessToken>' from the operation's notification.",
                ),
            )
            response.headers["WWW-Authenticate"] = 'Bearer realm="CallSim recordings"'
            return response
        if not entry.path.is_file():
            raise GraphError(404, "NotFound", f"Recording '{raw_op[:80]}' is gone.")
        fault = next((f for f in self._download_faults if f.times > 0), None)
        if fault is not None:
            fault.times -= 1
            return await self._faulty_download(request, entry.path, fault)
        # Streamed from the file (a 2-minute recording is ~3.8 MB): docs/graph-contract.md §7 shows
        # chunked application/octet-stream.
        return web.FileResponse(
            entry.path,
            headers={"Content-Type": "application/octet-stream", **self._ids(request)},
        )
