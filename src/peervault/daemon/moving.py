"""Moving a paired vault to the per-user device key, without a peer ever losing it.

The vault's device id is what its peers paired with, so it changes only once every paired
peer has confirmed the new one (`peervault vaults add --migrate` starts it; meta
`moving_to` holds the new id, `moving_confirmed` who confirmed):

  moving vault  on each live link to a paired peer not yet confirmed: ID_MOVED (the vault,
                the new id, signed by the old key); on ID_MOVED_OK: that peer confirmed.
                When all have: secret.key becomes the per-user key (atomically) and the
                vault restarts, on the shared endpoint, dialling its peers from the new id.
  peer          on ID_MOVED over the link of the device it names, signature checked: the
                new id is added as a paired device beside the old one (one transaction),
                not dialled (the old id still serves the vault), and ID_MOVED_OK answered.
                When the new id has said HELLO, the old row goes.

A peer of an older version cannot read ID_MOVED and closes the link (400): it is not asked
again in this run, and the vault keeps its id; `status` (the log) says who holds it back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from .. import devicekey
from ..net import endpoint as netep
from ..protocol import messages as m
from ..protocol.codes import Code
from ..protocol.session import Close
from ..state import VaultState
from ..sync.links import Link
from .connections import MOVED_FROM, Connections

log = logging.getLogger(__name__)

MOVING_TO = "moving_to"
CONFIRMED = "moving_confirmed"


def start(state: VaultState, new_id: str) -> None:
    """`vaults add --migrate`: the vault moves to `new_id` once every paired peer confirmed."""
    state.store.set_meta(MOVING_TO, new_id)
    state.store.set_meta(CONFIRMED, "[]")


def moving_to(state: VaultState) -> str | None:
    to = state.store.get_meta(MOVING_TO)
    return str(to) if to else None


def moved_from(state: VaultState, peer: str) -> str | None:
    """The old id of a peer that announced its move to `peer`, until it said HELLO as it."""
    old = state.store.get_meta(MOVED_FROM + peer)
    return str(old) if old else None


class IdMove:
    def __init__(
        self, state: VaultState, conns: Connections, restart: Callable[[Callable[[], None]], None], *, active: bool
    ) -> None:
        self.state = state
        self.active = active  # only `run` moves the vault (it restarts it); any mode confirms a peer's move
        self.conns = conns
        self.restart = restart  # stop the vault, run the callable, start it again
        self.unable: set[str] = set()  # peers that could not read ID_MOVED (an older version)
        self._asked: set[str] = set()

    @property
    def moving_to(self) -> str | None:
        return moving_to(self.state)

    def _confirmed(self) -> set[str]:
        return set(json.loads(str(self.state.store.get_meta(CONFIRMED) or "[]")))

    # ------------------------------------------------------------------ the moving vault
    def offer(self, link: Link) -> None:
        """A paired link is live: ask its peer to confirm the move, if it has not."""
        to = self.moving_to
        peer = link.peer
        if not self.active or to is None or not link.session.paired or peer in self._confirmed() or peer in self.unable:
            return
        vault = bytes.fromhex(self.state.vault_id)
        me, new = netep.id_bytes(self.state.device_id), netep.id_bytes(to)
        signature = netep.sign(self.state.secret_key, m.moved_statement(vault, me, new))
        self._asked.add(peer)
        link.send([m.IdMoved(vault, new, signature)])
        log.info("asked %s to confirm this vault's move to device id %s", peer[:10], to[:10])

    def closed(self, link: Link, ev: Close) -> None:
        """A peer we asked closed with 400: an older version that cannot read ID_MOVED."""
        if link.peer in self._asked and ev.by_peer and ev.code == Code.PROTOCOL:
            self.unable.add(link.peer)
            log.warning(
                "device %s cannot confirm the move to this device's id (an older PeerVault?): upgrade it; "
                "the vault keeps its own id until it confirms",
                link.peer[:10],
            )

    def _confirm(self, link: Link, msg: m.IdMovedOk) -> None:
        to = self.moving_to
        if to is None or netep.id_of_bytes(msg.new_id) != to:
            return
        confirmed = self._confirmed() | {link.peer}
        self.state.store.set_meta(CONFIRMED, json.dumps(sorted(confirmed)))
        paired = {p.endpoint_id for p in self.state.store.peers() if p.pair_secret is None}
        log.info("device %s confirmed the move (%d of %d)", link.peer[:10], len(paired & confirmed), len(paired))
        if paired <= confirmed:
            self._finish(to)

    def _finish(self, to: str) -> None:
        key = devicekey.load()
        if key is None or netep.endpoint_id_of(key) != to:
            log.error("the per-user device key is not the one this vault was moving to (%s): the vault keeps its id", to[:10])
            return

        def switch() -> None:  # the vault has stopped: nothing uses the old key any more
            self.state.write_key(key)
            self.state.store.set_meta(MOVING_TO, None)
            self.state.store.set_meta(CONFIRMED, None)
            log.info("every device confirmed: this vault is now device %s, on the shared endpoint", to[:10])

        self.restart(switch)

    # ------------------------------------------------------------------ the peer
    def on_message(self, link: Link, msg: m.IdMoved | m.IdMovedOk) -> None:
        if isinstance(msg, m.IdMovedOk):
            self._confirm(link, msg)
            return
        old = link.peer
        vault = bytes.fromhex(self.state.vault_id)
        try:
            new = netep.id_of_bytes(msg.new_id)
        except Exception:  # noqa: BLE001 - not a valid key: ignored like a bad signature
            new = ""
        statement = m.moved_statement(msg.vault_id, netep.id_bytes(old), msg.new_id)
        if not new or new == old or msg.vault_id != vault or not netep.verify(old, statement, msg.signature):
            log.warning("device %s announced a move that does not check out: ignored", old[:10])
            return
        row = self.state.store.peer(old)
        if row is None or row.pair_secret is not None:
            return
        if self.state.store.peer(new) is not None and moved_from(self.state, new) != old:
            log.warning("device %s announced a move to %s, another device of this vault: ignored", old[:10], new[:10])
            return
        with self.state.store.transaction():
            self.state.store.add_peer(new, row.addrs)
            self.state.store.set_meta(MOVED_FROM + new, old)
        link.send([m.IdMovedOk(msg.new_id)])
        log.info("device %s moves to id %s: it is accepted as both until it connects as the new one", old[:10], new[:10])

    def hello(self, link: Link) -> None:
        """A peer said HELLO: if it is the new id of a device that moved, the old id goes."""
        old = moved_from(self.state, link.peer)
        if old is None:
            return
        with self.state.store.transaction():
            self.state.store.remove_peer(old)
            self.state.store.set_meta(MOVED_FROM + link.peer, None)
        dialer = self.conns.dialers.pop(old, None)
        if dialer is not None:
            dialer.cancel()
        log.info("device %s is now %s: its old id is forgotten", old[:10], link.peer[:10])
