"""The process-wide control API of `peervault run`: one socket (and, when asked, one
loopback port) for every vault the process serves, beside each vault's own socket.

It listens on `control.sock` in the per-user runtime folder (userconfig.runtime_dir(),
0700; the socket 0600), so `peervault dashboard` and scripts find every vault without
knowing their folders. Only one process of the user can hold it: the first takes the
folder's lock (`control.lock`, flock, released by the kernel when the process ends) and a
second `peervault run` serves its vaults on their own sockets only (its debug log says so).
The loopback port's token is `api-token` in the same folder.

`HostVaults` is what `/vaults` lists: each vault of the Host in whatever state it is
(running, starting, restarting after an error, failed), and its service for the routes
under `/vaults/{vault}/` (a vault not running answers 503 with the reason).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import userconfig
from ..api import registry
from ..api.server import ControlServer
from ..errors import PeerVaultError

if TYPE_CHECKING:
    from .host import Host

log = logging.getLogger(__name__)

LOCK = "control.lock"


class HostVaults:
    def __init__(self, host: Host) -> None:
        self.host = host

    def _state(self, root: Path) -> tuple[str, str | None, Any]:
        """(state, reason, service) of one vault now."""
        h = self.host
        if root in h.failed:
            return "failed", str(h.failed[root]), None
        daemon = h.daemons.get(root)
        api = getattr(daemon, "api", None)  # what the vault's own socket answers with (its first import's, then its engine's)
        service = api.service if api is not None else None
        if service is not None and not daemon.stopping.is_set():  # type: ignore[union-attr]
            return "running", None, service
        if root in h.retrying:
            return "restarting", h.retrying[root], None
        return ("stopping", "the daemon is shutting down", None) if h.stopping.is_set() else ("starting", None, None)

    def listing(self) -> list[dict[str, Any]]:
        rows = []
        for root in self.host.roots:
            state, reason, service = self._state(root)
            try:
                rows.append(registry.row(root, service, state, reason))
            except PeerVaultError as exc:  # its database failed as we read it: shown, not a 500 for all
                rows.append(registry.row(root, None, "failed", str(exc)))
        return rows

    def service(self, key: str) -> Any:
        known = []
        for root in self.host.roots:
            daemon = self.host.daemons.get(root)
            known.append((root, daemon.state.vault_id if daemon is not None else None))
        root = registry.find(key, known)
        state, reason, service = self._state(root)
        if service is None:
            raise registry.unavailable(root, state, reason)
        return service


class ProcessApi:
    """`address`: (host, port) of the loopback port asked for (`run --api` with several
    vaults), else None: the dashboard opens one on demand, as a vault's socket does."""

    def __init__(self, host: Host, address: tuple[str, int] | None, where: Path | None = None) -> None:
        self.host = host
        self.address = address
        self.dir = where or userconfig.runtime_dir()
        self.server: ControlServer | None = None
        self._lock_fd: int | None = None

    def start(self) -> None:
        try:
            self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.dir / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            return self._without(f"cannot use {self.dir}: {exc.strerror}")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return self._without(f"another PeerVault process serves it on {self.dir / 'control.sock'}")
        self._lock_fd = fd
        host, port = self.address or ("127.0.0.1", None)
        self.server = ControlServer(self.dir, None, port, host, (), vaults=HostVaults(self.host))
        try:
            self.server.start()
        except BaseException:
            self._release()
            raise
        log.debug("control API for every vault of this process on %s", self.dir / "control.sock")

    def _without(self, why: str) -> None:
        if self.address is not None:  # asked for by name: not serving it is an error
            raise PeerVaultError(f"cannot serve the API of every vault: {why}")
        log.debug("the API of every vault is not served by this process: %s; each vault's own socket works", why)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None
        self._release()

    def _release(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = None
