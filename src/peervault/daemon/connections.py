"""Connections: the endpoint, the links to peers, and how each comes and goes.

    bind        (daemon/binding.py) the port tickets and peers know, if still free; else another
    accept      an incoming connection becomes a Link (in `once`/`join`, only a paired peer's)
    dial        one dialer task per paired peer: reconnect with backoff while `run` lasts;
                a link that died young (refused, duplicate) does not turn into a dial storm
    duplicate   both sides dialled at once: both keep the link dialled by the smaller id
    suspend     low-power: an idle link closes with 290, and is dialled again only after
                the next local change (or when the peer dials)
    removed     a peer that said 410 is not dialled again until a new pairing
    lan         addresses a paired peer announced on the LAN (daemon/discovery.py) are dialled
                first; when it (or this device) moved, its link is closed and dialled again at once

A link's session events go to the daemon's `Events`; the Close event comes back here.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from ..config import Config
from ..net import endpoint as netep
from ..net.stream import MessageStream
from ..protocol import messages as m
from ..protocol.codes import REMOVED_REASON, STRANGER, Code, stranger_refusal
from ..protocol.session import Close, Event, Session
from ..state import VaultState
from ..store import removal
from ..sync.blobs import BlobTransfers
from ..sync.engine import Engine
from ..sync.links import Link

log = logging.getLogger(__name__)

MOVED_FROM = "moved_from:"  # meta + a peer's new id: its old id, until it connects as the new one (moving.py)
SIMULTANEOUS_DIAL_S = 3.0  # two links to one peer opened within this window are a simultaneous dial
# A live link is closed for a peer's announced move at most this often: announcements are not
# authenticated, and a replayed one with other addresses must not keep a healthy link down.
MOVED_REDIAL_S = 30.0


def refuse(stream: MessageStream, code: int, reason: str) -> None:
    """REFUSED, then the connection closed with the same code 0.1 s later (as a link does)."""
    stream.send_soon([m.Refused(code, reason)])
    asyncio.get_running_loop().call_later(0.1, stream.close, code, reason)


class Connections:
    def __init__(
        self,
        state: VaultState,
        cfg: Config,
        mode: str,
        *,
        ep: netep.Endpoint,
        engine: Engine,
        links: dict[str, Link],
        blobs: BlobTransfers,
        stopping: asyncio.Event,
        on_event: Callable[[Link, Event], None],
        mark_status: Callable[[], None],
    ) -> None:
        self.state = state
        self.cfg = cfg
        self.mode = mode
        self.ep = ep
        self.engine = engine
        self.links = links
        self.blobs = blobs
        self.stopping = stopping
        self._on_event = on_event
        self._mark_status = mark_status
        self.dialers: dict[str, asyncio.Task[None]] = {}
        # peers that refused our HELLO's protocol version: the older one they speak (this run)
        self.peer_versions: dict[str, int] = {}
        self._handshakes: set[asyncio.Task[None]] = set()
        self.suspended: set[str] = set()  # low-power: peers whose idle link was suspended
        self._wake = asyncio.Event()  # set by a local change: suspended links come back
        self.paused = bool(state.store.get_meta("paused"))  # `peervault pause`: no link at all
        # what paired peers announced on the LAN (memory only: an announcement is not authenticated;
        # the addresses a peer sends in its HELLO, over the authenticated link, are the ones stored)
        self.lan_addrs: dict[str, list[str]] = {}
        self._moved_at: dict[str, float] = {}  # when a peer's announced move last closed its link
        self.context = contextvars.copy_context()  # the vault's (its log tag): where a routed stream is admitted

    # ------------------------------------------------------------------ accept
    async def accept_loop(self) -> None:
        while True:
            inc = await self.ep.accept_next()
            if inc is None:
                return
            self._spawn(self._accept(inc))

    async def _accept(self, inc: object) -> None:
        conn = None
        arrived = time.monotonic()  # the pairing deadline counts from here, not from the stream
        try:
            acc = await asyncio.wait_for(inc.accept(), self.cfg.connect_timeout_s)  # type: ignore[attr-defined]
            conn = await asyncio.wait_for(acc.connect(), self.cfg.connect_timeout_s)
            peer = str(conn.remote_id())
            if self.paused:
                conn.close(Code.PAUSED, b"sync is paused on this device")
                return
            if self.mode in ("once", "join") and not self._paired(peer):
                removed = peer in self.engine.index.forgotten()
                code = Code.REMOVED if removed else Code.UNKNOWN_PEER
                conn.close(code, REMOVED_REASON.encode() if removed else b"not accepting pairings now")
                return
            stream = await asyncio.wait_for(MessageStream.accept(conn), self.cfg.pair_timeout_s)
        except Exception as exc:  # noqa: BLE001 - a failed handshake only affects that peer
            log.info("incoming connection failed: %s", netep.describe(exc))
            if conn is not None:  # no stream within the pairing timeout, say: not left open
                with contextlib.suppress(Exception):
                    conn.close(Code.SILENT, b"no stream opened in time")
            return
        self.admit(peer, stream, arrived)

    def _paired(self, peer: str) -> bool:
        known = self.state.store.peer(peer)
        return known is not None and known.pair_secret is None and peer not in self.engine.index.forgotten()

    def admit(self, peer: str, stream: MessageStream, arrived: float, first: list[m.Message] | None = None) -> None:
        """An incoming stream becomes a link. `first`: the messages the shared endpoint's router
        read to choose this vault (daemon/router.py); there a paused vault answers a device
        not paired with it as any vault would, so pausing reveals nothing to a stranger."""
        removed = peer in self.engine.index.forgotten()  # its first message is refused with 410
        paired = self._paired(peer)
        if first is not None:
            if self.paused and not paired:
                refuse(stream, *stranger_refusal(first[0], (Code.REMOVED, REMOVED_REASON) if removed else STRANGER))
                return
            if self.paused:
                stream.close(Code.PAUSED, "sync is paused on this device")
                return
            stream.unread(first)
        if removed:
            log.info("removed device %s connected: refused (%d) unless it pairs with a new ticket", peer[:10], Code.REMOVED)
        elif not paired:
            log.info("unknown device %s connected: it must present a pairing ticket", peer[:10])
        self.install(peer, stream, dialer=False, paired=paired, secret=None, removed=removed, arrived=arrived)

    # ------------------------------------------------------------------ dial
    def removed_us(self, peer: str) -> bool:
        """`peer` refused us as removed from the vault, and we are not pairing with it anew."""
        if peer not in removal.refused_by(self.state.store):
            return False
        row = self.state.store.peer(peer)
        return row is None or row.pair_secret is None

    def gave_up(self, peer: str) -> bool:
        """No link to `peer` and none coming: it removed us, or its dialer stopped trying."""
        if self.removed_us(peer):
            return True
        task = self.dialers.get(peer)
        return task is not None and task.done() and peer not in self.links

    def start_dialer(self, peer: str) -> None:
        if self.removed_us(peer) or self.paused:
            return  # it would only refuse us again (410): wait for a new pairing; or a resume
        if self.state.store.get_meta(MOVED_FROM + peer):
            return  # a device's announced new id: it dials us from it once its move is done
        if peer not in self.dialers or self.dialers[peer].done():
            self.dialers[peer] = asyncio.create_task(self._dial_loop(peer))

    async def _dial_loop(self, peer: str) -> None:
        attempt = 0
        while not self.stopping.is_set():
            link = self.links.get(peer)
            if peer in self.suspended:
                await self._wait_for_change(peer)
                continue
            if link is not None:
                await link.closed.wait()
                if peer in self.suspended:
                    continue
                # a link that died young (refused, duplicate) must not turn into a dial storm
                attempt = 0 if time.monotonic() - link.opened_at > SIMULTANEOUS_DIAL_S else max(attempt, 1)
                if attempt:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self.stopping.wait(), self.cfg.reconnect_backoff_s[attempt])
                continue
            row = self.state.store.peer(peer)
            if row is None:
                return
            try:
                conn = await netep.connect(self.ep, peer, self._addrs(peer, row.addrs), self.cfg.connect_timeout_s)
                stream = await MessageStream.open(conn)
                if peer not in self.links:
                    link = self.install(peer, stream, dialer=True, paired=row.pair_secret is None, secret=row.pair_secret)
                attempt = 0
                continue
            except Exception as exc:  # noqa: BLE001 - unreachable now; retry with backoff
                log.info("cannot reach %s yet: %s", peer[:10], netep.describe(exc))
            if self.mode != "run" and attempt >= 1:
                return  # one-shot modes: two attempts, then report unreachable
            delay = self.cfg.reconnect_backoff_s[min(attempt, len(self.cfg.reconnect_backoff_s) - 1)]
            attempt += 1
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)

    def _addrs(self, peer: str, stored: list[str]) -> list[str]:
        return list(dict.fromkeys([*self.lan_addrs.get(peer, []), *stored]))

    # ------------------------------------------------------------------ LAN announcements
    def lan_found(self, peer: str, addrs: list[str]) -> None:
        """A paired peer announced where it is. Not linked: dial it now (its backoff forgotten).
        Linked, but its addresses changed: it moved, and the old link may be dead without either
        side knowing for a heartbeat timeout (15 s): it is closed and dialled again at once."""
        before = self.lan_addrs.get(peer)
        self.lan_addrs[peer] = addrs
        moved = before is not None and set(before) != set(addrs)
        if self.paused or self.removed_us(peer) or peer in self.suspended or self.stopping.is_set():
            return  # suspended (low-power): the next local change dials it, at the new address
        if peer in self.links:
            now = time.monotonic()
            if moved and now - self._moved_at.get(peer, -MOVED_REDIAL_S) >= MOVED_REDIAL_S:
                self._moved_at[peer] = now
                log.info("device %s moved to %s: connecting there", peer[:10], ", ".join(addrs))
                self._reconnect(peer)
            return
        task = self.dialers.get(peer)
        if task is None or task.done() or moved or before is None:
            self._reconnect(peer)

    def moved(self) -> None:
        """This device's addresses changed: its links may be dead; dial every paired peer afresh."""
        if self.paused or self.stopping.is_set():
            return
        for row in self.state.store.peers():
            peer = row.endpoint_id
            if row.pair_secret is None and not self.removed_us(peer) and peer not in self.suspended:
                self._reconnect(peer)

    def _reconnect(self, peer: str) -> None:
        """Close the link to `peer` (if any) and dial it now. A new connection beside a dead one
        does not get through (iroh keeps dialling the dead path): the old one goes first."""
        link = self.links.get(peer)
        if link is not None:
            link.close(Code.OK, "reconnecting: an address changed")
        task = self.dialers.pop(peer, None)
        if task is not None:
            task.cancel()
        self.start_dialer(peer)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._handshakes.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._handshakes.discard)

    def dial_now(self) -> None:
        """`peervault sync` beside a running daemon: every peer without a link is dialled at
        once (its backoff forgotten), suspended ones too."""
        self.wake()
        for row in self.state.store.peers():
            if row.endpoint_id not in self.links:
                task = self.dialers.pop(row.endpoint_id, None)
                if task is not None:
                    task.cancel()
                self.suspended.discard(row.endpoint_id)
                self.start_dialer(row.endpoint_id)

    def set_paused(self, paused: bool) -> None:
        """Pause: close every link and stop dialling (local changes are still recorded, and
        each peer gets them in the handshake after `resume`). Resume: dial every peer."""
        self.paused = paused
        if not paused:
            for row in self.state.store.peers():
                self.start_dialer(row.endpoint_id)
            log.info("sync resumed")
            return
        for task in self.dialers.values():
            task.cancel()
        self.dialers.clear()
        for link in list(self.links.values()):
            link.close(Code.PAUSED, "sync is paused on that device")
        log.info("sync paused: no device is sent or asked anything until `peervault resume`")

    # ------------------------------------------------------------------ suspend (low-power)
    async def _wait_for_change(self, peer: str) -> None:
        """A suspended peer is dialled again after the next local change (or when it dials us)."""
        wake = self._wake
        waits = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(self.stopping.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        if wake.is_set():
            self.suspended.discard(peer)

    def wake(self) -> None:
        """A local change to push: suspended links come back and get it all in their handshake."""
        self._wake.set()
        self._wake = asyncio.Event()

    # ------------------------------------------------------------------ links
    def install(
        self,
        peer: str,
        stream: MessageStream,
        *,
        dialer: bool,
        paired: bool,
        secret: bytes | None,
        removed: bool = False,
        arrived: float | None = None,
    ) -> Link | None:
        existing = self.links.get(peer)
        if existing is not None and not existing.closed.is_set():
            # Both sides dialed at once: keep the connection dialed by the smaller endpoint id,
            # on both sides. An older link is replaced: the peer only dials when it has lost
            # its side of it (it restarted), and our side would otherwise linger until the
            # heartbeat gives up.
            me = self.state.device_id
            fresh = time.monotonic() - existing.opened_at < SIMULTANEOUS_DIAL_S
            new_pref = not fresh or (me if dialer else peer) < (peer if dialer else me)
            if not new_pref:
                stream.close(Code.DUPLICATE, "duplicate connection")
                return None
            existing.close(Code.DUPLICATE, "duplicate connection")
        session = Session(
            self.engine,
            peer=peer,
            dialer=dialer,
            paired=paired,
            now=time.monotonic(),
            pair_secret=secret,
            heartbeat_interval=self.cfg.heartbeat_interval_s,
            silent_timeout=self.cfg.peer_silent_timeout_s,
            window=self.cfg.max_concurrent_syncs,
            idle_suspend=self.cfg.idle_suspend_s,
            pair_timeout=self.cfg.pair_timeout_s,
            removed=removed,
            hello_version=self.peer_versions.get(peer, m.PROTOCOL_VERSION),
        )
        if arrived is not None:  # a stranger gets pair_timeout from its connection's arrival, in all
            session.pair_deadline = arrived + self.cfg.pair_timeout_s
        self.suspended.discard(peer)
        stream.compress_threshold = self.cfg.compress_threshold
        link = Link(peer, session, stream, self._on_event, time.monotonic)
        self.links[peer] = link
        link.start()
        link.spawn(self.blobs.serve(link))
        self._mark_status()
        return link

    def closed(self, link: Link, ev: Close) -> None:
        """A link's session closed (or the link itself): forget it, and remember why."""
        if self.links.get(link.peer) is link:
            del self.links[link.peer]
            with contextlib.suppress(Exception):  # bookkeeping only (the disk may be full)
                self.state.store.update_peer(link.peer, seen=True)
            log.info("disconnected from %s: %s", link.peer[:10], ev.reason)
            self._mark_status()
        if ev.code == Code.IDLE:
            self.suspended.add(link.peer)
            log.info("connection to %s suspended while idle (low-power profile)", link.peer[:10])
        if ev.code == Code.REMOVED and ev.by_peer and link.session.paired:  # a stranger cannot say so
            self._removed_by(link.peer)
        if (older := link.session.fall_back(ev)) is not None:
            self.peer_versions[link.peer] = older  # dialled again (the dial loop) with that version
            log.info("%s speaks protocol version %d: dialling it again with that version", link.peer[:10], older)

    # ------------------------------------------------------------------ removal
    def drop_device(self, peer: str, why: str) -> None:
        """The vault removed `peer`: stop dialling it, and tell its link why before closing it."""
        dialer = self.dialers.pop(peer, None)
        if dialer is not None:
            dialer.cancel()
        link = self.links.get(peer)
        if link is not None:
            link.send([m.Refused(Code.REMOVED, why)])  # it learns why, and stops dialling
            asyncio.get_running_loop().call_later(0.1, link.close, Code.REMOVED, why)
        log.info("removed device %s from this vault", peer[:10])

    def _removed_by(self, peer: str) -> None:
        """`peer` refused us with 410: this device was removed from the vault. Stop dialling
        it, now and at later starts, until a new pairing clears the record (kept in the store)."""
        dialer = self.dialers.pop(peer, None)
        if dialer is not None:
            dialer.cancel()
        if removal.record(self.state.store, peer, time.time()):
            log.warning(
                "device %s says this device was removed from the vault: no longer dialling it; %s",
                peer[:10],
                self.rejoin_hint(),
            )
        self._mark_status()

    def rejoin_hint(self) -> str:
        return (
            "to rejoin, run `peervault invite` on a device still in the vault, "
            f"then `peervault join {self.state.root} TICKET` here"
        )
