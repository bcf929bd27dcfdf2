"""Who may call the control API.

The Unix socket is the owner's alone (mode 0600 in a 0700 folder), so a request there
needs no token. On loopback TCP any local program could connect, so every request
needs `Authorization: Bearer TOKEN` with the token from `.peervault/api-token`. A
request a web browser sends carries an `Origin`; unless that origin is in the
vault's allow-list, it is refused on either transport, so a web page the person
visits cannot drive their vault.

The dashboard (api/dashboard.py) is a web page the daemon serves itself, on its loopback
port. `peervault dashboard` asks over the socket for a one-time login code (`Sessions`);
the browser swaps it for a session cookie (HttpOnly, SameSite=Strict), so the page never
holds the token. A request that the cookie authenticates must come from the dashboard's
own origin: another page on 127.0.0.1 (same site, another port) would send the cookie too.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from ..errors import Forbidden, Unauthorized

TOKEN_FILE = "api-token"
LOGIN_CODE_S = 60.0  # a login link is opened at once, by the command that printed it
SESSION_S = 24 * 3600.0  # a dashboard session: a day, then `peervault dashboard` again
MAX_SESSIONS = 32  # browsers logged in at once; the oldest is dropped beyond this
SAME_ORIGIN_FETCH = ("same-origin", "none")  # Sec-Fetch-Site of the dashboard's own requests


def token(state_dir: Path) -> str:
    """The vault's API token, created (0600) on first use."""
    path = state_dir / TOKEN_FILE
    try:
        existing = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing
    fresh = secrets.token_urlsafe(32)
    tmp = state_dir / (TOKEN_FILE + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(fresh + "\n")
    os.replace(tmp, path)
    return fresh


def cookie_name(port: int) -> str:
    """Cookies are not kept apart by port: two vaults' dashboards need two names."""
    return f"peervault_session_{port}"


class Sessions:
    """One-time login codes and the dashboard sessions they become, in memory only: a
    daemon that restarts forgets them (the person runs `peervault dashboard` again)."""

    def __init__(self) -> None:
        self._codes: dict[str, float] = {}  # code -> expires at
        self._sessions: dict[str, float] = {}  # session id -> expires at

    def new_code(self, now: float) -> str:
        self._codes = {c: t for c, t in self._codes.items() if t > now}
        code = secrets.token_urlsafe(24)
        self._codes[code] = now + LOGIN_CODE_S
        return code

    def redeem(self, code: str, now: float) -> str | None:
        """A new session id for a valid code, which is used up; None for an unknown,
        expired or already used one."""
        found = _find(self._codes, code)
        if found is None:
            return None
        expires = self._codes.pop(found)
        if expires <= now:
            return None
        self._sessions = {s: t for s, t in self._sessions.items() if t > now}
        while len(self._sessions) >= MAX_SESSIONS:
            del self._sessions[min(self._sessions, key=self._sessions.__getitem__)]
        session = secrets.token_urlsafe(32)
        self._sessions[session] = now + SESSION_S
        return session

    def valid(self, session: str | None, now: float) -> bool:
        found = _find(self._sessions, session or "")
        return found is not None and self._sessions[found] > now


def _find(secrets_: dict[str, float], given: str) -> str | None:
    """The stored secret equal to `given`, compared in constant time."""
    if not given:
        return None
    for known in secrets_:
        if hmac.compare_digest(known.encode(), given.encode()):
            return known
    return None


def check_cookie(headers: dict[str, str], own_origin: str) -> None:
    """A request a dashboard session cookie authenticates: only from the dashboard's own
    page (the Origin a browser sends, and its Sec-Fetch-Site), else Forbidden."""
    origin = headers.get("origin")
    if origin is not None and origin != own_origin:
        raise Forbidden(f"the dashboard's session is not valid for requests from the web page {origin[:100]!r}")
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in SAME_ORIGIN_FETCH:
        raise Forbidden(f"the dashboard's session is valid only on its own page (this request is {fetch_site[:40]!r})")


def check(headers: dict[str, str], over_tcp: bool, expected_token: str, origins: tuple[str, ...]) -> None:
    """Raise Forbidden (a web page's origin) or Unauthorized (the token), with what to do,
    unless the request may proceed."""
    origin = headers.get("origin")
    if origin is not None and origin not in origins:
        raise Forbidden(f"requests from the web page {origin[:100]!r} are not allowed (api_origins in config.toml)")
    if not over_tcp:
        return
    given = headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not value:
        raise Unauthorized(
            "this API needs `Authorization: Bearer TOKEN` (the token is in .peervault/api-token), "
            "or a dashboard session: run `peervault dashboard VAULT`"
        )
    if not hmac.compare_digest(value.strip().encode(), expected_token.encode()):
        raise Unauthorized("the API token is wrong; it is in .peervault/api-token")
