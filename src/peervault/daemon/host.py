"""Several vaults in one process: one `Daemon` per vault on one event loop, each under its
own supervisor, so what goes wrong in one vault stays in that vault.

Each vault keeps everything it had as a process of its own: its database, lock, control
socket (`peervault status VAULT` and the plugin work unchanged), ignore rules and pairings.
The vaults whose key is the per-user device key (devicekey.py) share one Iroh endpoint,
bound here once (`_router_for`, daemon/router.py); a vault with a key of its own binds its
own endpoint as before, so the device id its peers paired with never changes behind them
(docs/ARCHITECTURE.md, "One endpoint for the vaults of a device").

Isolation, per vault:
  * it cannot be opened (missing folder, not a vault, locked by another daemon): one
    error line naming it; the others start anyway
  * its folder vanishes (VaultGone): that vault stops, the others run on
  * it fails before it was ever ready (the port in --bind taken, an error at start-up):
    it stops, with its error; `run` exits with it when no vault is left
  * an error after it ran (a database damaged while running, a full disk the daemon did
    not recover from, a bug): logged with the vault's path (and the traceback of an
    unexpected one), the vault is closed and opened again after a backoff (a damaged
    database is set aside and rebuilt then)
The process-wide things are done here once: SIGINT/SIGTERM (stop every vault, once), the
malloc arena limit, the log tag that names the vault on each line (vaultlog.py), and the
control API of every vault (hostapi.py: `/vaults`, and each vault's routes under it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from pathlib import Path

from .. import devicekey
from ..config import Config
from ..errors import NotAVault, PeerVaultError, StoreTooNew, VaultBusy, VaultGone
from ..memory import tune_malloc
from ..state import VaultState
from ..vaultlog import VAULT_TAG
from .hostapi import ProcessApi
from .root import Daemon
from .router import Router

log = logging.getLogger(__name__)

# Seconds before a failed vault is opened again: soon for a passing fault, then no more
# often than every five minutes for a lasting one (each attempt logs one error).
RETRY_BACKOFF_S = (1.0, 5.0, 30.0, 120.0, 300.0)
HEALTHY_S = 600.0  # a vault that ran this long before failing starts the backoff afresh
FINAL = (NotAVault, VaultBusy, VaultGone, StoreTooNew)  # retrying cannot help: a person must act

Opener = Callable[[Path], tuple[VaultState, Config]]


def tags(roots: list[Path]) -> dict[Path, str]:
    """How log lines name each vault: its folder's name, the full path when two share one,
    nothing when the process serves a single vault (the lines look as they always did)."""
    if len(roots) < 2:
        return {r: "" for r in roots}
    names = [r.name for r in roots]
    return {r: r.name if names.count(r.name) == 1 else str(r) for r in roots}


class Host:
    def __init__(
        self,
        roots: list[Path],
        open_vault: Opener,
        clock: Callable[[], float] = time.monotonic,
        device_key: bytes | None = None,
        api: tuple[str, int] | None = None,
    ) -> None:
        """`device_key`: the per-user key (devicekey.load()), None: every vault on its own;
        `api`: the loopback port of the API of every vault (`run --api` with several)."""
        self.roots = roots
        self.device_key = device_key
        self.router: Router | None = None
        self._router_lock = asyncio.Lock()
        self.open_vault = open_vault
        self.clock = clock
        self.stopping = asyncio.Event()
        self.daemons: dict[Path, Daemon] = {}
        self.failed: dict[Path, BaseException] = {}  # vaults that stopped for good, and why
        self.served: set[Path] = set()  # vaults that got ready at least once: a later failure is retried
        self.retrying: dict[Path, str] = {}  # vaults waiting to be opened again, and why they stopped
        self.api = ProcessApi(self, api)

    async def main(self) -> dict[Path, BaseException]:
        """Serve every vault until a signal, or until none is left; the vaults that stopped
        on their own, with their errors."""
        tune_malloc()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop)
        names = tags(self.roots)
        self.api.start()
        try:
            await asyncio.gather(*(self._supervise(root, names[root]) for root in self.roots))
        finally:
            await self.api.stop()
            await self._close_network()
        return self.failed

    def stop(self) -> None:
        """Every vault shuts down in its own order (pending changes pushed, peers told); a
        second signal changes nothing."""
        if self.stopping.is_set():
            return
        log.info("stopping %d vault(s)", len(self.daemons))
        self.stopping.set()
        for daemon in self.daemons.values():
            daemon.stopping.set()

    async def _supervise(self, root: Path, tag: str) -> None:
        VAULT_TAG.set(tag)  # this task's context, copied into every task the vault's daemon starts
        attempt = 0
        while not self.stopping.is_set():
            started = self.clock()
            try:
                await self._serve(root)
                return  # stopped by a signal
            except Exception as exc:  # noqa: BLE001 - one vault's failure must not end the others
                if isinstance(exc, FINAL) or root not in self.served:
                    self._give_up(root, exc)  # a person must act, or it never got going (a bad setup)
                    return
                log.error("vault %s stopped: %s", root, exc, exc_info=not isinstance(exc, PeerVaultError))
                self.retrying[root] = str(exc)
            finally:
                self.daemons.pop(root, None)
            attempt = 1 if self.clock() - started > HEALTHY_S else attempt + 1
            delay = RETRY_BACKOFF_S[min(attempt, len(RETRY_BACKOFF_S)) - 1]
            log.warning("vault %s: opening it again in %.1f s", root, delay)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)

    async def _serve(self, root: Path) -> None:
        state, cfg = self.open_vault(root)
        try:
            while True:
                router = await self._router_for(state, cfg)
                daemon = Daemon(state, cfg, mode="run", hosted=True, router=router)
                daemon.on_ready = lambda: self._ready(root)
                self.daemons[root] = daemon
                if self.stopping.is_set():
                    daemon.stopping.set()  # a signal came while it was opening: start and stop at once
                outcome = await daemon.main()
                if outcome.restart is None or self.stopping.is_set():
                    return
                outcome.restart()  # a join through the API: the vault took another vault's identity
        finally:
            state.close()

    # ------------------------------------------------------------------ the network part
    async def _router_for(self, state: VaultState, cfg: Config) -> Router | None:
        """The shared endpoint for a vault holding the per-user key (bound by the first such
        vault, with its network options); None for a vault with a key of its own."""
        if self.device_key is None:
            with contextlib.suppress(PeerVaultError):  # damaged or unsafe: said when `vaults add` reads it
                self.device_key = devicekey.load()  # made since the start (a vault moved to it, say)
        if self.device_key is None or state.secret_key != self.device_key:
            return None
        async with self._router_lock:
            if self.router is None:
                self.router = await Router.bind(self.device_key, cfg)
                log.info("device %s: one endpoint for the vaults with the per-user key", state.device_id[:10])
            return self.router

    async def _close_network(self) -> None:
        """Every vault has stopped (each closed its links): close the shared endpoint."""
        if self.router is not None:
            await self.router.close()
            self.router = None

    def _ready(self, root: Path) -> None:
        self.served.add(root)
        self.retrying.pop(root, None)

    def _give_up(self, root: Path, exc: BaseException) -> None:
        self.failed[root] = exc
        unexpected = not isinstance(exc, PeerVaultError)
        if len(self.roots) > 1 or unexpected:  # alone, a known error is the one line `run` prints as it exits
            log.error("vault %s stopped: %s", root, exc, exc_info=exc if unexpected else None)
