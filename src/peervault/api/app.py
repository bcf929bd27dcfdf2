"""The control API's application: routes, access and errors, on httpserver.py's HTTP/1.1.

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
import contextlib
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from ..errors import BadRequest, PeerVaultError
from ..service.operations import MAX_BODY, OPERATIONS, Operation, coerce
from . import access, dashboard, prometheus
from .httpserver import Handler, HttpError, Request, Response, Write
from .registry import Vaults
from .router import Router

log = logging.getLogger(__name__)

MAX_QUERY = 8 * 1024
EVENTS_WAIT_S = 30.0  # long-poll: the longest a request for events waits
HEARTBEAT_S = 15.0  # SSE: a comment line this often, so proxies and clients see a live stream

Resolve = Callable[[Request], Any]  # the request's VaultService
Token = str | Callable[[], str]  # the API token, or how to read it when first needed
VAULT = "vault"  # the path parameter naming a vault in /vaults/{vault}/...
VAULT_PREFIX = re.compile(r"^/vaults/[^/]+")


def json_response(data: Any, status: int = 200) -> Response:
    """JSON as aiohttp wrote it (json.dumps' default separators), which clients may compare."""
    return Response(status, json.dumps(data).encode(), {"Content-Type": "application/json; charset=utf-8"})


def error(status: int, code: str, message: str) -> Response:
    return json_response({"error": {"code": code, "message": message}}, status=status)


def refused(status: int, message: str) -> Response:
    """What the server answers for a request it could not parse (httpserver.py)."""
    return error(status, "InternalError" if status >= 500 and status != 501 else "BadRequest", message)


CORS_HEADERS = {
    "Access-Control-Allow-Methods": "GET, POST, DELETE",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Last-Event-ID",
    "Access-Control-Max-Age": "600",
    "Vary": "Origin",
}


class App:
    """The API for one server: `handle` answers every request, `refused` what could not be parsed."""

    def __init__(self, router: Router, token: Token, origins: tuple[str, ...], server: Any) -> None:
        self.router = router
        self._token = token
        self.origins = origins
        self.server = server
        self.refused = refused
        self.max_body = MAX_BODY

    async def handle(self, request: Request) -> Response:
        """CORS: a page from an allowed origin (api_origins) may call the API from the browser:
        its preflight is answered and every answer names the origin. Others get no CORS
        headers, and `guard` refuses them anyway."""
        origin = request.headers.get("origin")
        allowed = origin is not None and origin in self.origins
        if request.method == "OPTIONS" and allowed and "access-control-request-method" in request.headers:
            return Response(204, headers={"Access-Control-Allow-Origin": origin or "", **CORS_HEADERS})
        response = await self.guard(request)
        if allowed:
            response.headers["Access-Control-Allow-Origin"] = origin or ""
            response.headers["Vary"] = "Origin"
        return response

    @property
    def token(self) -> str:
        """Read (or created) when a request first needs it: a socket nobody calls creates no file."""
        if not isinstance(self._token, str):
            self._token = self._token()
        return self._token

    async def guard(self, request: Request) -> Response:
        server = self.server
        try:
            headers = request.headers
            if request.path == dashboard.PREFIX or request.path.startswith(dashboard.PREFIX + "/"):
                pass  # the page and its login: dashboard.py decides
            elif request.over_tcp and server is not None and "authorization" not in headers and server.logged_in(request.cookies):
                access.check_cookie(headers, server.own_origin or "")
            else:
                access.check(headers, request.over_tcp, self.token, self.origins)
            if len(request.query_string) > MAX_QUERY:
                raise BadRequest(f"the query string is longer than {MAX_QUERY} bytes")
            handler = self.router.find(request)
            return await handler(request)
        except PeerVaultError as exc:
            answer = error(exc.http_status, type(exc).__name__, str(exc))
            if exc.retry_after_s is not None:
                answer.headers["Retry-After"] = str(exc.retry_after_s)
            return answer
        except HttpError as exc:
            if exc.status == 413:
                return error(413, "BadRequest", f"the request body is larger than {_limit(request)} bytes")
            if exc.status in (404, 405):
                what = "no API resource" if exc.status == 404 else "this resource does not take"
                message = f"{what} {request.method} {request.path}; docs/openapi.json lists the routes"
                answer = error(exc.status, "NotFound", message)
                if exc.status == 405:
                    answer.headers["Allow"] = str(exc)
                return answer
            return error(exc.status, "BadRequest", str(exc))
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception as exc:  # noqa: BLE001 - a bug answers 500; the daemon keeps running
            log.exception("control API: %s %s failed", request.method, request.path)
            return error(500, "InternalError", f"{type(exc).__name__}: {exc}; see the daemon's log")


def build(
    service: Callable[[], Any] | None, token: Token, origins: tuple[str, ...], server: Any = None, vaults: Vaults | None = None
) -> App:
    """`service`: the vault's service as it is now (read at each request: a daemon serves one
    while its first import runs, then its engine's; daemon/importing.py), None: no
    unprefixed routes (the process-wide API); `vaults`: the vaults of /vaults/{vault}/...;
    `server` (api/server.py's ControlServer) holds the dashboard's sessions and its loopback
    port; without it (tests of the API alone) there is no dashboard."""
    router = Router()
    if service is not None:
        _add_routes(router, "", lambda request: service())
    if vaults is not None:

        async def listing(request: Request) -> Response:
            return json_response(vaults.listing())

        router.add("GET", "/vaults", listing)
        _add_routes(router, f"/vaults/{{{VAULT}}}", lambda request: vaults.service(request.match_info[VAULT]))
    if server is not None:
        dashboard.add_routes(router, server)
    return App(router, token, origins, server)


def _add_routes(router: Router, prefix: str, resolve: Resolve) -> None:
    for op in OPERATIONS:
        router.add(op.method, prefix + op.path, _handler(resolve, op))
    router.add("GET", prefix + "/metrics", _metrics(resolve))
    router.add("GET", prefix + "/events", _events(resolve))


def _limit(request: Request) -> int:
    op = BY_ROUTE.get((request.method, VAULT_PREFIX.sub("", request.path)))
    return op.max_body if op is not None else MAX_BODY


BY_ROUTE = {(op.method, op.path): op for op in OPERATIONS}


async def _params(request: Request, op: Operation) -> dict[str, Any]:
    if request.content_length > op.max_body:
        raise HttpError(413, "too large")  # answered before the body is read
    raw: dict[str, Any] = {}
    for key, value in request.query:
        if key in raw:
            count = sum(1 for k, _ in request.query if k == key)
            raise BadRequest(f"parameter {key!r} is given {count} times")
        raw[key] = value
    if request.content_length:
        data = await request.read()
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
    async def handle(request: Request) -> Response:
        method = getattr(resolve(request), op.name)  # first: an unknown or stopped vault answers 404 or 503
        return json_response(method(**await _params(request, op)))

    return handle


def _metrics(resolve: Resolve) -> Handler:
    async def handle(request: Request) -> Response:
        status = resolve(request).status()
        return Response(body=prometheus.render(status).encode(), headers={"Content-Type": prometheus.CONTENT_TYPE})

    return handle


def _after(request: Request) -> int:
    raw = request.headers.get("last-event-id") or request.arg("since") or "0"
    try:
        return max(0, int(raw))
    except ValueError:
        raise BadRequest(f"since (or Last-Event-ID) must be an event id, not {raw[:40]!r}") from None


def _same(resolve: Resolve, request: Request, service: Any) -> bool:
    try:
        return resolve(request) is service
    except PeerVaultError:
        return False


def _events(resolve: Resolve) -> Handler:
    """Server-Sent Events when the client accepts text/event-stream, else one long-poll:
    the events after `since`, waiting up to `timeout` seconds for the first."""

    async def handle(request: Request) -> Response:
        service = resolve(request)
        bus = service.events
        after = _after(request)
        if "text/event-stream" not in request.headers.get("accept", ""):
            try:
                given = request.arg("timeout")
                timeout = min(float(given if given is not None else EVENTS_WAIT_S), EVENTS_WAIT_S)
            except ValueError:
                raise BadRequest("timeout must be a number of seconds") from None
            events, missed = await bus.wait(after, max(timeout, 0.0))
            return json_response({"events": events, "missed": missed, "last_id": bus.last_id})

        async def stream(write: Write) -> None:
            nonlocal after
            with contextlib.suppress(ConnectionError):  # the client went away (a browser tab closed)
                while True:
                    events, missed = await bus.wait(after, HEARTBEAT_S)
                    if missed:
                        await write(f"event: missed\ndata: {json.dumps({'last_id': bus.last_id})}\n\n".encode())
                    for ev in events:
                        await write(f"id: {ev['id']}\nevent: {ev['kind']}\ndata: {json.dumps(ev)}\n\n".encode())
                        after = ev["id"]
                    if not events:
                        await write(b": still here\n\n")
                        if not _same(resolve, request, service):
                            return  # the vault stopped or was opened again: the client reconnects to its new events

        return Response(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}, stream=stream)

    return handle
