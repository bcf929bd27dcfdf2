"""The dashboard: a web page the daemon serves on its loopback port, and its login.

`peervault dashboard [VAULT]` asks over the owner's socket (the process-wide one of
`peervault run`, or the vault's own) for a login link (POST /dashboard/code, optionally
`{"vault": ID}`: the page opens on that vault); that opens the loopback port if the
daemon has none. The link's code
works once, for a minute, and becomes a session cookie (HttpOnly, SameSite=Strict), so
the page never sees the API token; access.py has the rules. The page itself is plain
HTML, CSS and ES modules in peervault/dashboard_static/, shipped in the package.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from ..errors import BadRequest, Forbidden
from . import access
from .httpserver import HttpError, Request, Response
from .router import Router

PREFIX = "/dashboard"
STATIC = Path(__file__).resolve().parent.parent / "dashboard_static"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_VAULT = re.compile(r"^[0-9a-f]{1,64}$")  # a vault's handle or id (api/registry.py)
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}
# The page loads nothing from elsewhere, runs no inline script and may not be framed.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_LOG_IN_AGAIN = "Run <code>peervault dashboard VAULT</code> for a new login link."


def add_routes(router: Router, server: Any) -> None:
    async def code(request: Request) -> Response:
        if request.over_tcp:
            raise Forbidden("a dashboard login link is given only over the owner's socket: run `peervault dashboard`")
        try:
            data = await request.read()
            body = json.loads(data) if data else {}
        except ValueError:
            raise BadRequest("the request body is not valid JSON") from None
        vault = body.get("vault") if isinstance(body, dict) else None
        if vault is not None and not (isinstance(vault, str) and _VAULT.match(vault)):
            raise BadRequest("vault must be a vault's id from GET /vaults")
        origin = await server.open_loopback()
        now = time.time()
        login = server.sessions.new_code(now)
        url = f"{origin}{PREFIX}/login?code={login}" + (f"&vault={vault}" if vault else "")
        return _json({"url": url, "expires_at": now + access.LOGIN_CODE_S})

    async def login(request: Request) -> Response:
        session = server.sessions.redeem(request.arg("code") or "", time.time())
        if session is None or server.own_origin is None:
            return _message(403, "This login link was already used or has expired.")
        port = int(server.own_origin.rsplit(":", 1)[1])
        vault = request.arg("vault") or ""
        where = f"#overview?vault={vault}" if _VAULT.match(vault) else ""  # the page opens on that vault
        cookie = f"{access.cookie_name(port)}={session}; HttpOnly; Max-Age={int(access.SESSION_S)}; Path=/; SameSite=Strict"
        return Response(303, headers={"Location": f"{PREFIX}/{where}", **PAGE_HEADERS}, cookies=[cookie])

    async def page(request: Request) -> Response:
        if request.over_tcp and not server.logged_in(request.cookies):
            return _message(401, "You are not logged in to this dashboard.")
        return _file("index.html")

    async def static(request: Request) -> Response:
        return _file(request.match_info["name"])

    async def to_page(request: Request) -> Response:
        return Response(302, headers={"Location": f"{PREFIX}/"})

    router.add("POST", f"{PREFIX}/code", code)
    router.add("GET", f"{PREFIX}/login", login)
    router.add("GET", PREFIX, to_page)
    router.add("GET", f"{PREFIX}/", page)
    router.add("GET", PREFIX + "/static/{name}", static)


def _json(data: Any) -> Response:
    return Response(body=json.dumps(data).encode(), headers={"Content-Type": "application/json; charset=utf-8"})


def _file(name: str) -> Response:
    suffix = Path(name).suffix
    path = STATIC / name
    if not _NAME.match(name) or suffix not in _TYPES or not path.is_file():
        raise HttpError(404, "no such file")
    return Response(body=path.read_bytes(), headers={"Content-Type": _TYPES[suffix], **PAGE_HEADERS})


def _message(status: int, text: str) -> Response:
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>PeerVault dashboard</title>'
        f'<link rel="stylesheet" href="{PREFIX}/static/dashboard.css"></head>'
        f"<body><header><h1>PeerVault</h1></header><main><h2>Dashboard</h2><p>{text}</p><p>{_LOG_IN_AGAIN}</p></main>"
        "</body></html>"
    )
    return Response(status, body.encode(), {"Content-Type": "text/html; charset=utf-8", **PAGE_HEADERS})
