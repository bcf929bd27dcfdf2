"""A new vault's daemon while its first import runs in a process of its own (sync/firstimport.py):
ready at once, as it is when the import runs in the daemon.

The control API listens from the start, answering with service/importing.py's
`ImportingVault` (the status, with the import's progress; 503 `FirstImportRunning` with
Retry-After for the rest); daemon.json says `ready`, `scan_done` false and `first_import`
{files_done, files_total}, rewritten at each progress line of the child, and each line is
a `first_import` event too. Nothing here writes to the database: the child does, until it
has exited. Then the daemon builds its engine from the database (root.py `_build`), whose
VaultService takes over the same sockets and event ring: the API is never down, only slow
to answer while the engine loads. A stop meanwhile ends the child (a crash, for the
database: the next start completes the import) and the daemon stops without building.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..api.server import ControlServer
from ..metrics import children_peak_mb, rss_mb
from ..net import endpoint as netep
from ..service.events import EventBus
from ..service.importing import ImportingVault
from ..sync.firstimport import ChildImport
from .binding import remember_port
from .status import write_runtime

if TYPE_CHECKING:
    from .root import Daemon

log = logging.getLogger(__name__)


class FirstImport:
    def __init__(self, daemon: Daemon, child: ChildImport, clock: Callable[[], float]) -> None:
        self.d = daemon
        self.child = child
        self.clock = clock
        self.vault = ImportingVault(daemon.state, self.runtime, EventBus())
        self.addrs = netep.direct_addrs(daemon.ep)
        self.ticket = netep.ticket_for(daemon.ep)

    async def serve(self) -> bool:
        """Answer while the child imports. True once it has ended (the daemon builds its
        engine now); False if the daemon was stopped meanwhile (the API is closed again,
        the endpoint released, and daemon.json says stopped)."""
        d = self.d
        try:
            d.api = ControlServer(d.state.dir, self.vault, d.cfg.api_port, d.cfg.api_host, d.cfg.api_origins)
            d.api.start()
        except BaseException:
            self.child.stop()
            raise
        d.metrics.startup_done()
        self._write()
        ready, d.on_ready = d.on_ready, None  # once: the host counts the vault as served from now on
        if ready is not None:
            ready()
        log.info("vault %s: ready; its first import runs in a process of its own", d.state.root)
        t = time.perf_counter()
        self.child.on_progress = self._progressed
        await self.child.finished(d.stopping)
        d.metrics.phase("first_import_process", t)
        peak = children_peak_mb()
        d.metrics.first_import_peak_mb = None if peak is None else round(peak, 1)
        if d.stopping.is_set():
            await d._abandon()
            self._write(running=False)
            return False
        d.state.store.written_elsewhere()
        if d.router is None:
            remember_port(d.state, d.ep)
        return True

    def handed_over(self) -> None:
        """The engine's service answers now: clients showing the import hear it ended."""
        done, total = self.child.progress
        self.d.service.events.publish("first_import", self.clock(), files_done=done, files_total=total, done=True)

    def runtime(self, running: bool = True) -> dict[str, Any]:
        """daemon.json while the child imports: the keys of daemon/status.py's document."""
        d = self.d
        done, total = self.child.progress
        return {
            "pid": os.getpid(),
            "running": running,
            "mode": d.mode,
            "addrs": self.addrs,
            "endpoint_ticket": self.ticket,
            "connected": {},
            "suspended": [],
            "pending": 0,
            "hashing": 0,
            "ignored": 0,
            "blobs": {"wanted": 0, "fetching": 0, "bytes_received": 0},
            "ready": True,
            "held_deletions": 0,
            "traffic": {},
            "scan_done": False,
            "first_import": {"files_done": done, "files_total": total},
            "lan": {"enabled": False},
            "metrics": {
                "startup_time_ms": d.metrics.startup_ms,
                "phases_ms": d.metrics.phases_ms,
                "memory_mb": round(rss_mb(), 1),
                "profile": d.cfg.profile,
            },
            "updated_at": self.clock(),
        }

    def _progressed(self) -> None:
        done, total = self.child.progress
        self.vault.events.publish("first_import", self.clock(), files_done=done, files_total=total, done=False)
        self._write()

    def _write(self, running: bool = True) -> None:
        write_runtime(self.d.state, self.runtime(running))
