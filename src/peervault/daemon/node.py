"""The daemon as the vault service's `Node`: what only a running daemon can do for an
operation (push what it recorded, drop a device, dial, pause, restart), and the control
API's server started beside the sync endpoint."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..config import Config
from ..errors import Conflict
from ..net import endpoint as netep
from ..protocol import messages as m
from ..protocol.codes import REMOVED_REASON
from . import profile

if TYPE_CHECKING:
    from .root import Daemon

log = logging.getLogger(__name__)


class DaemonNode:
    def __init__(self, daemon: Daemon) -> None:
        self.d = daemon

    def runtime(self) -> dict[str, Any]:
        return self.d.status.document(running=True)

    def recorded(self) -> None:
        self.d.timers.schedule_flush()
        self.d.timers.schedule_settle()
        self.d.timers.mark_status()
        self.d.blobs.kick()  # a restore may want a binary version only a peer holds

    def drop_device(self, peer: str) -> None:
        self.d.conns.drop_device(peer, REMOVED_REASON)

    def endpoint_ticket(self) -> str:
        return netep.ticket_for(self.d.ep)

    def dial(self, peer: str) -> None:
        self.d.conns.start_dialer(peer)

    def set_paused(self, paused: bool) -> None:
        self.d.conns.set_paused(paused)
        self.d.timers.mark_status()

    def samples(self) -> dict[str, Any]:
        self.d.status.observe_traffic()
        return self.d.metrics.samples.series(time.time())

    def set_debounce(self, seconds: float) -> None:
        self.d.timers.set_debounce(seconds)

    def switch_profile(self, cfg: Config) -> list[str]:
        applied = profile.switch(self.d, cfg)["applied"]
        log.info(
            "vault %s: profile %s applied while running (%s)", self.d.state.root, cfg.profile, ", ".join(applied) or "none differ"
        )
        return applied

    def sync_now(self) -> None:
        if self.d.conns.paused:
            raise Conflict("sync is paused on this device; `peervault resume` first")
        if self.d.engine.reconcile(time.time()):
            self.d.timers.schedule_flush()
        self.d.conns.dial_now()

    # ------------------------------------------------------------------ live editors (service/live.py)
    def push_now(self, file_id: str) -> None:
        """An editor's keystroke: to every peer now, not after the debounce."""
        self.d.events.flush({file_id})

    def send_presence(self, file_id: str, data: bytes) -> None:
        if self.d.conns.paused:
            return
        msg = m.Presence(bytes.fromhex(file_id), data) if not file_id.startswith("u") else None
        for link in list(self.d.links.values()):
            if msg is not None and link.session.live:
                link.push(msg)

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        asyncio.get_running_loop().call_later(delay, fn)

    def restart(self, before: Callable[[], None]) -> None:
        log.info("restarting the engine: this vault joins another")
        self.d.outcome.restart = before
        self.d.stopping.set()
