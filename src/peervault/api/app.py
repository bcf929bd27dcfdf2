"""The control API as an aiohttp application (the one module that imports aiohttp).

Every route of service/operations.py maps to the VaultService method of the same name;
here are only the transport's concerns: who may call (access.py), reading parameters
from the path, query or JSON body with size limits, and turning every failure into a
4xx/5xx with a JSON body `{"error": {"code": ..., "message": ...}}` that never takes
the daemon down. Two routes are the API's own: /metrics and /events; the dashboard's
page and login are dashboard.py's.

The same routes are served under `/vaults/{vault}/` for each vault the API answers for
(registry.py), with `GET /vaults` listing them: the process-wide socket of `peervault run`
has only those; a vault's own socket has both (its unprefixed routes for the CLI and the
plugin, and the prefixed ones for its one vault, so the dashboard works from either).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..errors import BadRequest, PeerVaultError
from ..service.operations import MAX_BODY, OPERATIONS, Operation, coerce
from . import access, dashboard, prometheus
from .registry import Vaults

log = logging.getLogger(__name__)

MAX_QUERY = 8 * 1024
EVENTS_WAIT_S = 30.0  # long-poll: the longest a request for events waits
HEARTBEAT_S = 15.0  # SSE: a comment line this often, so proxies and clients see a live stream

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Resolve = Callable[[web.Request], Any]  # the request's VaultService
VAULT = "vault"  # the path parameter naming a vault in /vaults/{vault}/...
VAULT_PREFIX = re.compile(r"^/vaults/[^/]+")


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


CORS_HEADERS = {
    "Access-Control-Allow-Methods": "GET, POST, DELETE",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Last-Event-ID",
    "Access-Control-Max-Age": "600",
    "Vary": "Origin",
}


def build(
    service: Any, token: str, origins: tuple[str, ...], server: Any = None, vaults: Vaults | None = None
) -> web.Application:
    """`service` None: no unprefixed routes (the process-wide API); `vaults`: the vaults of
    /vaults/{vault}/...; `server` (api/server.py's ControlServer) holds the dashboard's
    sessions and its loopback port; without it (tests of the API alone) there is no dashboard."""

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        """A page from an allowed origin (api_origins) may call the API from the browser: its
        preflight is answered and every answer names the origin. Others get no CORS headers,
        and `guard` refuses them anyway."""
        origin = request.headers.get("Origin")
        allowed = origin is not None and origin in origins
        if request.method == "OPTIONS" and allowed and "Access-Control-Request-Method" in request.headers:
            return web.Response(status=204, headers={"Access-Control-Allow-Origin": origin or "", **CORS_HEADERS})
        response = await handler(request)
        if allowed:
            response.headers["Access-Control-Allow-Origin"] = origin or ""
            response.headers["Vary"] = "Origin"
        return response

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            over_tcp = not isinstance(request.transport.get_extra_info("sockname") if request.transport else "", str)
            headers = {k.lower(): v for k, v in request.headers.items()}
            request[dashboard.OVER_TCP] = over_tcp
            if request.path == dashboard.PREFIX or request.path.startswith(dashboard.PREFIX + "/"):
                pass  # the page and its login: dashboard.py decides
            elif over_tcp and server is not None and "authorization" not in headers and server.logged_in(request.cookies):
                access.check_cookie(headers, server.own_origin or "")
            else:
                access.check(headers, over_tcp, token, origins)
            if len(request.query_string) > MAX_QUERY:
                raise BadRequest(f"the query string is longer than {MAX_QUERY} bytes")
            return await handler(request)
        except PeerVaultError as exc:
            return _error(exc.http_status, type(exc).__name__, str(exc))
        except web.HTTPRequestEntityTooLarge:
            return _error(413, "BadRequest", f"the request body is larger than {_limit(request)} bytes")
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            if exc.status in (404, 405):
                what = "no API resource" if exc.status == 404 else "this resource does not take"
                message = f"{what} {request.method} {request.path}; docs/openapi.json lists the routes"
                return _error(exc.status, "NotFound", message)
            return _error(exc.status, "BadRequest", exc.reason)
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception as exc:  # noqa: BLE001 - a bug answers 500; the daemon keeps running
            log.exception("control API: %s %s failed", request.method, request.path)
            return _error(500, "InternalError", f"{type(exc).__name__}: {exc}; see the daemon's log")

    app = web.Application(middlewares=[cors, guard], client_max_size=MAX_BODY)
    if service is not None:
        _add_routes(app, "", lambda request: service)
    if vaults is not None:

        async def listing(request: web.Request) -> web.StreamResponse:
            return web.json_response(vaults.listing())

        app.router.add_get("/vaults", listing)
        _add_routes(app, f"/vaults/{{{VAULT}}}", lambda request: vaults.service(request.match_info[VAULT]))
    if server is not None:
        dashboard.add_routes(app, server)
    return app


def _add_routes(app: web.Application, prefix: str, resolve: Resolve) -> None:
    for op in OPERATIONS:
        app.router.add_route(op.method, prefix + op.path, _handler(resolve, op))
    app.router.add_get(prefix + "/metrics", _metrics(resolve))
    app.router.add_get(prefix + "/events", _events(resolve))


def _limit(request: web.Request) -> int:
    op = BY_ROUTE.get((request.method, VAULT_PREFIX.sub("", request.path)))
    return op.max_body if op is not None else MAX_BODY


BY_ROUTE = {(op.method, op.path): op for op in OPERATIONS}


async def _params(request: web.Request, op: Operation) -> dict[str, Any]:
    if (request.content_length or 0) > op.max_body:
        raise web.HTTPRequestEntityTooLarge(max_size=op.max_body, actual_size=request.content_length or 0)
    raw: dict[str, Any] = {}
    for key in request.query:
        values = request.query.getall(key)
        if len(values) > 1:
            raise BadRequest(f"parameter {key!r} is given {len(values)} times")
        raw[key] = values[0]
    if request.can_read_body:
        data = await request.read()  # aiohttp stops at MAX_BODY; each operation has its own limit
        if len(data) > op.max_body:
            raise web.HTTPRequestEntityTooLarge(max_size=op.max_body, actual_size=len(data))
        try:
            body = json.loads(data) if data else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BadRequest("the request body is not valid JSON") from None
        if body is not None and not isinstance(body, dict):
            raise BadRequest("the request body must be a JSON object")
        raw.update(body or {})
    raw.update({k: v for k, v in request.match_info.items() if k != VAULT})
    return coerce(op, raw)


def _handler(resolve: Resolve, op: Operation) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        method = getattr(resolve(request), op.name)  # first: an unknown or stopped vault answers 404 or 503
        return web.json_response(method(**await _params(request, op)))

    return handle


def _metrics(resolve: Resolve) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        status = resolve(request).status()
        return web.Response(text=prometheus.render(status), headers={"Content-Type": prometheus.CONTENT_TYPE})

    return handle


def _after(request: web.Request) -> int:
    raw = request.headers.get("Last-Event-ID") or request.query.get("since") or "0"
    try:
        return max(0, int(raw))
    except ValueError:
        raise BadRequest(f"since (or Last-Event-ID) must be an event id, not {raw[:40]!r}") from None


def _same(resolve: Resolve, request: web.Request, service: Any) -> bool:
    try:
        return resolve(request) is service
    except PeerVaultError:
        return False


def _events(resolve: Resolve) -> Handler:
    """Server-Sent Events when the client accepts text/event-stream, else one long-poll:
    the events after `since`, waiting up to `timeout` seconds for the first."""

    async def handle(request: web.Request) -> web.StreamResponse:
        service = resolve(request)
        bus = service.events
        after = _after(request)
        if "text/event-stream" not in request.headers.get("Accept", ""):
            try:
                timeout = min(float(request.query.get("timeout", EVENTS_WAIT_S)), EVENTS_WAIT_S)
            except ValueError:
                raise BadRequest("timeout must be a number of seconds") from None
            events, missed = await bus.wait(after, max(timeout, 0.0))
            return web.json_response({"events": events, "missed": missed, "last_id": bus.last_id})
        stream = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await stream.prepare(request)
        try:
            while True:
                events, missed = await bus.wait(after, HEARTBEAT_S)
                if missed:
                    await stream.write(f"event: missed\ndata: {json.dumps({'last_id': bus.last_id})}\n\n".encode())
                for ev in events:
                    await stream.write(f"id: {ev['id']}\nevent: {ev['kind']}\ndata: {json.dumps(ev)}\n\n".encode())
                    after = ev["id"]
                if not events:
                    await stream.write(b": still here\n\n")
                    if not _same(resolve, request, service):
                        return stream  # the vault stopped or was opened again: the client reconnects to its new events
        except ConnectionResetError:  # the client went away (a browser tab closed): nothing to report
            return stream

    return handle
