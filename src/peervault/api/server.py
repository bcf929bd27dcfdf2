"""The control API's listening sockets, served by httpserver.py with app.py's routes.

The sockets are bound when the daemon starts (a busy port is reported at once, and a
client can connect from the first moment). The API is served by our own small HTTP/1.1
server on asyncio, which the daemon loads anyway: aiohttp cost about 13 MB of RSS from
the first request on (docs/PERFORMANCE.md).

One class serves both APIs: a vault's own (`state_dir` its .peervault/, `service` its
VaultService) and the process-wide one of `peervault run` (`state_dir` the per-user
runtime folder, no `service`, `vaults` every vault of the process: daemon/hostapi.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import PeerVaultError
from . import access
from .app import build
from .httpserver import HttpServer
from .registry import OneVault, Vaults
from .sockpath import SOCKET, socket_path

log = logging.getLogger(__name__)

SHUTDOWN_S = 0.5  # open event streams are cut after this at shutdown


class ControlServer:
    def __init__(
        self,
        state_dir: Path,
        service: Any,
        port: int | None,
        host: str,
        origins: tuple[str, ...],
        vaults: Vaults | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.service = service
        self.vaults = vaults if vaults is not None else OneVault(service.state.root, service)
        self.port = port
        self.host = host
        self.origins = origins
        self._socks: list[socket.socket] = []
        self._tcp: socket.socket | None = None
        self._http: HttpServer | None = None
        self.sessions = access.Sessions()  # the dashboard's login codes and sessions
        self._activating: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Bind the Unix socket (and the TCP port, if configured) and serve them."""
        path = socket_path(self.state_dir)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # left by a daemon that was killed: we hold the vault's lock now
        unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            unix.bind(path)
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        self._socks.append(unix)
        if self.port is not None:
            try:
                self._tcp = self._bind_tcp(self.port)
            except OSError as exc:
                unix.close()
                raise PeerVaultError(f"cannot serve the control API on {self.host}:{self.port}: {exc.strerror}") from None
            self._socks.append(self._tcp)
            access.token(self.state_dir)  # created now, so a client can read it before its first call
            log.info("control API on %s:%d (token in %s)", self.host, self.port, self.state_dir / access.TOKEN_FILE)
        for s in self._socks:
            s.listen(128)
            s.setblocking(False)
        service = (lambda: self.service) if self.service is not None else None
        app = build(service, lambda: access.token(self.state_dir), self.origins, self, self.vaults)
        self._http = HttpServer(app.handle, app.refused, app.max_body)
        self._activating = asyncio.create_task(self._serve(list(self._socks)))  # the kernel queues clients till then

    def serve(self, service: Any) -> None:
        """Answer for `service` from now on, on the same sockets (daemon/importing.py: the
        vault's engine is built once its first import has ended)."""
        self.service = service
        if isinstance(self.vaults, OneVault):
            self.vaults.serve(service)

    def _bind_tcp(self, port: int) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        tcp = socket.socket(family, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tcp.bind((self.host, port))
        except OSError:
            tcp.close()
            raise
        return tcp

    @property
    def own_origin(self) -> str | None:
        """The dashboard's origin (http://127.0.0.1:PORT), once the loopback port is open."""
        if self._tcp is None:
            return None
        port = self._tcp.getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{port}"

    def logged_in(self, cookies: Mapping[str, str]) -> bool:
        """The request's cookies hold a valid dashboard session for this port."""
        if self._tcp is None:
            return False
        return self.sessions.valid(cookies.get(access.cookie_name(self._tcp.getsockname()[1])), time.time())

    async def open_loopback(self) -> str:
        """The loopback port's origin; opened now on a free port if the daemon has none (a
        dashboard asked over the owner's socket). It stays open until the daemon stops:
        every request there needs the token or a session."""
        if self._tcp is None:
            try:
                tcp = self._bind_tcp(0)
            except OSError as exc:
                raise PeerVaultError(f"cannot open a loopback port for the dashboard on {self.host}: {exc.strerror}") from None
            tcp.listen(128)
            tcp.setblocking(False)
            self._tcp = tcp
            self._socks.append(tcp)
            assert self._http is not None
            await self._http.listen(tcp)
            log.info("control API (for the dashboard) on %s", self.own_origin)
        origin = self.own_origin
        assert origin is not None
        return origin

    async def _serve(self, socks: list[socket.socket]) -> None:
        assert self._http is not None
        for s in socks:
            await self._http.listen(s)

    async def stop(self) -> None:
        if self._activating is not None:
            with contextlib.suppress(Exception):
                await self._activating
        if self._http is not None:
            await self._http.close(SHUTDOWN_S)  # open event streams are ended
        for s in self._socks:
            s.close()
        self._socks.clear()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.state_dir / SOCKET)
