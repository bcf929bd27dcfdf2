"""Who may call the control API.

The Unix socket is the owner's alone (mode 0600 in a 0700 folder), so a request there
needs no token. On loopback TCP any local program could connect, so every request
needs `Authorization: Bearer TOKEN` with the token from `.peervault/api-token`. A
request a web browser sends carries an `Origin`; unless that origin is in the
vault's allow-list, it is refused on either transport, so a web page the person
visits cannot drive their vault.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from ..errors import Forbidden, Unauthorized

TOKEN_FILE = "api-token"


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
        raise Unauthorized("this API needs `Authorization: Bearer TOKEN`; the token is in .peervault/api-token")
    if not hmac.compare_digest(value.strip().encode(), expected_token.encode()):
        raise Unauthorized("the API token is wrong; it is in .peervault/api-token")
