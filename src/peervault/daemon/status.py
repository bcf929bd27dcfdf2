"""daemon.json: what a running daemon tells `peervault status`.

`status` reads this file, which the daemon rewrites within a second of a change (see
`Timers.mark_status`) and at once on start, on stop and on SIGUSR1; so a status check
costs the daemon nothing, and a full disk only leaves the file stale.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from ..config import Config
from ..metrics import Metrics
from ..net import endpoint as netep
from ..state import VaultState
from ..sync.blobs import BlobTransfers
from ..sync.engine import Engine
from ..sync.links import Link
from .hasher import Hasher

log = logging.getLogger(__name__)


class Status:
    def __init__(
        self,
        state: VaultState,
        cfg: Config,
        mode: str,
        metrics: Metrics,
        *,
        engine: Engine,
        ep: netep.Endpoint,
        blobs: BlobTransfers,
        links: dict[str, Link],
        suspended: set[str],
        hasher: Hasher | None = None,
    ) -> None:
        self.state = state
        self.cfg = cfg
        self.mode = mode
        self.metrics = metrics
        self.engine = engine
        self.ep = ep
        self.blobs = blobs
        self.links = links
        self.suspended = suspended  # the connections' set, read as it is at each write
        self.hasher = hasher
        self.scan_done = False  # `run`: the start-up comparison of folder and database finished
        self._closed_bytes = [0, 0]  # sent, received over links that have closed
        self._closed_by_peer: dict[str, list[int]] = {}  # the same, per device
        self.lan: Callable[[], dict[str, Any]] | None = None  # LAN discovery's summary, when it is on

    def link_closed(self, link: Link) -> None:
        """A link's final Close: its byte counts outlive it, in the totals."""
        self._closed_bytes[0] += link.stream.bytes_sent
        self._closed_bytes[1] += link.stream.bytes_received
        totals = self._closed_by_peer.setdefault(link.peer, [0, 0])
        totals[0] += link.stream.bytes_sent
        totals[1] += link.stream.bytes_received

    def observe_traffic(self) -> None:
        """The byte totals now, into the metrics and the last hour's samples."""
        links = self.links.values()
        self.metrics.bytes_sent = self._closed_bytes[0] + sum(lk.stream.bytes_sent for lk in links)
        self.metrics.bytes_received = self._closed_bytes[1] + sum(lk.stream.bytes_received for lk in links)
        self.metrics.samples.traffic(self.metrics.bytes_sent, self.metrics.bytes_received, time.time())

    def traffic(self) -> dict[str, list[int]]:
        """Bytes [sent, received] per device since the daemon started, open links included."""
        out = {peer: list(totals) for peer, totals in self._closed_by_peer.items()}
        for peer, link in self.links.items():
            totals = out.setdefault(peer, [0, 0])
            totals[0] += link.stream.bytes_sent
            totals[1] += link.stream.bytes_received
        return out

    def document(self, running: bool) -> dict[str, Any]:
        links = self.links
        hashing = 0 if self.hasher is None else self.hasher.pending
        self.metrics.active_connections = len(links)
        self.observe_traffic()
        return {
            "pid": os.getpid(),
            "running": running,
            "mode": self.mode,
            "addrs": self.engine.addrs,
            "endpoint_ticket": netep.ticket_for(self.ep),  # with the relay URL, when there is one
            "connected": {p: lk.session.state.value for p, lk in links.items()},
            "suspended": sorted(self.suspended),
            # binary files waiting for a hashing worker are local changes not yet sent, too
            "pending": len(self.engine.pending()) + hashing,
            "hashing": hashing,
            "ignored": self.engine.ignored,
            "blobs": {
                "wanted": self.engine.awaited(),
                "fetching": self.blobs.in_flight,
                "bytes_received": self.blobs.received_bytes,
            },
            "ready": True,
            "held_deletions": len(self.engine.held),
            "traffic": self.traffic(),
            "scan_done": self.scan_done or self.mode != "run",
            "first_import": None,  # {files_done, files_total} while a first import's process runs (daemon/importing.py)
            "lan": self.lan() if self.lan is not None else {"enabled": False},
            "metrics": {**self.metrics.snapshot(self.engine), "profile": self.cfg.profile},
            "updated_at": time.time(),
        }

    def write(self, running: bool = True) -> None:
        write_runtime(self.state, self.document(running))


def write_runtime(state: VaultState, doc: dict[str, Any]) -> None:
    """daemon.json, or a warning: a full disk leaves the status stale until space returns."""
    try:
        state.write_runtime(doc)
    except OSError as exc:
        log.warning("could not write %s/daemon.json: %s", state.dir, exc)
