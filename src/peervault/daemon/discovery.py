"""LAN discovery for the daemon: this device announced, the others' announcements judged.

The rules are protocol/discovery.py's (what is announced, which announcements are believed);
the mDNS itself is net/mdns.py's, imported only here and only when discovery is on, so
`--no-mdns` costs nothing. A believed announcement gives the connections a paired peer's
current addresses (`Connections.lan_found`); a change of this machine's own addresses makes
the connections dial every peer afresh (`Connections.moved`) and the next HELLO carry them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..config import Config
from ..net import endpoint as netep
from ..protocol import discovery as disc
from ..state import VaultState
from ..sync.engine import Engine
from .connections import Connections

if TYPE_CHECKING:
    from ..net.mdns import Lan

log = logging.getLogger(__name__)


class Discovery:
    def __init__(
        self,
        state: VaultState,
        cfg: Config,
        *,
        engine: Engine,
        conns: Connections,
        ep: netep.Endpoint,
        mark_status: Callable[[], None],
    ) -> None:
        self.state = state
        self._mark_status = mark_status
        self.cfg = cfg
        self.engine = engine
        self.conns = conns
        self.ep = ep
        self.tag = disc.vault_tag(engine.vault_id)
        self.lan: Lan | None = None
        self.accepted = 0
        self.ignored = 0

    async def start(self) -> None:
        """Announce and browse; a failure (no multicast here, say) leaves sync as it was without it."""
        port = netep.bound_port(self.ep)
        if port is None:
            log.info("LAN discovery off: no IPv4 port to announce")
            return
        try:
            from ..net.mdns import Lan  # zeroconf is loaded only when discovery is on
        except ImportError as exc:  # a broken installation: said once, sync goes on without it
            log.warning("LAN discovery is off: %s; reinstall PeerVault to get it back", exc)
            return
        me = self.state.device_id
        lan = Lan(
            service_type=disc.SERVICE_TYPE,
            name=disc.instance_name(me, self.tag),
            properties=disc.properties(self.tag, me),
            port=port,
            poll_s=self.cfg.mdns_poll_s,
            on_found=self._found,
            on_moved=self._moved,
        )
        self.lan = lan  # set first: a shutdown during start still closes its sockets
        self._mark_status()
        try:
            await lan.start()
        except Exception as exc:  # noqa: BLE001 - discovery is a help, never a reason to stop
            log.warning("LAN discovery is off: %s; paired devices are dialled at their known addresses", exc)
            self.lan = None
            await lan.close()
            return
        log.info("LAN discovery on: announcing this device on %s", ", ".join(lan.addresses) or "no address yet")

    def _found(self, props: dict[bytes, bytes | None], addresses: list[str], port: int | None) -> None:
        ann = disc.parse(props, addresses, port)
        self._mark_status()  # daemon.json shows what discovery saw
        if ann is None:
            self.ignored += 1
            log.debug("LAN announcement ignored: not a PeerVault one this version reads")
            return
        store = self.state.store
        paired = {p.endpoint_id for p in store.peers() if p.pair_secret is None}
        verdict = disc.judge(ann, tag=self.tag, me=self.state.device_id, paired=paired, forgotten=self.engine.index.forgotten())
        if verdict is disc.Verdict.SELF:
            return
        if verdict is not disc.Verdict.ACCEPT:
            self.ignored += 1
            log.debug("LAN announcement of %s ignored: %s", ann.endpoint_id[:10], verdict.value)
            return
        self.accepted += 1
        log.debug("device %s announced itself at %s", ann.endpoint_id[:10], ", ".join(ann.addrs))
        self.conns.lan_found(ann.endpoint_id, list(ann.addrs))

    def _moved(self, addresses: list[str]) -> None:
        port = netep.bound_port(self.ep)
        lan = [f"{a}:{port}" for a in addresses]
        self.engine.addrs = list(dict.fromkeys([*lan, *netep.direct_addrs(self.ep)]))
        log.info("this device is now at %s: dialling paired devices afresh", ", ".join(lan) or "no address")
        self._mark_status()
        self.conns.moved()

    def summary(self) -> dict[str, Any]:
        """For daemon.json and `status --json`: what discovery did, never the vault tag."""
        return {
            "enabled": self.lan is not None,
            "announcing": self.lan.addresses if self.lan is not None else [],
            "accepted": self.accepted,
            "ignored": self.ignored,
            "peers": dict(self.conns.lan_addrs),
        }

    async def close(self) -> None:
        if self.lan is not None:
            await self.lan.close()
