"""What the daemon does with each session event, and with local changes to push.

    Received    apply through `routing`, forward what was new to the other links; an
                update that cannot be stored closes the link with 503 (the peer sends it
                again on reconnect), one that cannot be applied with 400
    Paired      record the pairing; an acceptor dials the new peer back
    PeerHello   remember the peer's addresses for the next dial
    Synced      the first exchange is done: push what is pending, fetch blobs
    Close       to `Connections`; a dialler's final refusal is the one-shot outcome

The forwarding rule itself is in `routing`, where the property test runs it too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import PeerVaultError, StoreUnavailable
from ..memory import trim_heap
from ..metrics import Metrics
from ..protocol import messages as m
from ..protocol.codes import FINAL, REMOVED_REASON, Code
from ..protocol.session import Close, Event, Moving, Paired, PeerHello, PresenceReceived, Received, Synced
from ..state import VaultState
from ..store import removal
from ..sync.blobs import BlobTransfers
from ..sync.engine import Engine
from ..sync.links import Link
from . import routing
from .connections import Connections
from .status import Status
from .timers import Timers

log = logging.getLogger(__name__)

TRIM_AFTER_BYTES = 1 << 20  # an index update this large (a join's) is followed by a malloc_trim


@dataclass
class Outcome:
    """What a one-shot run (`sync`, `join`, `invite`) achieved, for the CLI to report."""

    synced_peers: set[str] = field(default_factory=set)
    refused: str | None = None
    paired: set[str] = field(default_factory=set)
    # `run`: start again after calling this (a join through the API took another vault's identity)
    restart: Callable[[], None] | None = None


class Events:
    def __init__(
        self,
        state: VaultState,
        *,
        engine: Engine,
        links: dict[str, Link],
        conns: Connections,
        timers: Timers,
        status: Status,
        blobs: BlobTransfers,
        metrics: Metrics,
        outcome: Outcome,
        publish: Callable[..., None],
    ) -> None:
        self.state = state
        self.engine = engine
        self.links = links
        self.conns = conns
        self.timers = timers
        self.status = status
        self.blobs = blobs
        self.metrics = metrics
        self.outcome = outcome
        self.publish = publish  # an event for the API's clients: publish(kind, **fields)
        self.live: Any = None  # service/live.py's LiveNotes (set by the daemon once built)
        self.moving: Any = None  # daemon/moving.py's IdMove (set by the daemon once built)
        self.ready_at = 0.0  # perf_counter when the daemon was ready: the peer_connect phase starts

    def on_event(self, link: Link, ev: Event) -> None:
        store = self.state.store
        if isinstance(ev, Received):
            self._received(link, ev.message)
        elif isinstance(ev, PresenceReceived):
            if self.live is not None:
                self.live.presence_from(link.peer, ev.message.file_id.hex(), ev.message.data)
        elif isinstance(ev, Paired):
            if link.session.dialer:
                store.update_peer(link.peer, paired=True)
                removal.clear(store)  # paired anew: in the vault again
                log.info("paired with %s", link.peer[:10])
            else:
                log.info("device %s paired with this vault", link.peer[:10])
                self.conns.start_dialer(link.peer)
            self.outcome.paired.add(link.peer)
        elif isinstance(ev, PeerHello):
            # What it announces, plus what we already knew: the address we dialed may be one it
            # cannot see (a NAT, a proxy), and must not be forgotten for the next dial.
            known = store.peer(link.peer)
            addrs = list(dict.fromkeys([*ev.addrs, *(known.addrs if known else [])]))[:16]
            store.update_peer(link.peer, addrs=addrs, seen=True)
            self.moving.hello(link)
        elif isinstance(ev, Synced):
            published = self.engine.publish_pending(time.time())
            if published:
                log.info("announced %d note(s) this device had before pairing", published)
            self.outcome.synced_peers.add(link.peer)
            store.update_peer(link.peer, seen=True)
            self.metrics.record_sync(time.monotonic() - link.opened_at)
            if "peer_connect" not in self.metrics.phases_ms:
                self.metrics.phase("peer_connect", self.ready_at)
            link.synced.set()
            self.flush()
            self.blobs.kick()
            if self.conns.mode == "run":  # a one-shot sync or join ends soon: shedding would only add to its peak
                self.engine.shed_memory()
            trim_heap()
            log.info("in sync with %s", link.peer[:10])
            self.publish("peer_connected", device=link.peer)
            self.timers.mark_status()
            self.moving.offer(link)
        elif isinstance(ev, Moving):
            self.moving.on_message(link, ev.message)
        elif isinstance(ev, Close):
            if link.closed.is_set():  # the link's final Close (a session's own Close comes first)
                self.status.link_closed(link)
                if link.synced.is_set():
                    self.publish("peer_lost", device=link.peer, reason=_from_here(link, ev))
            self.conns.closed(link, ev)
            self.moving.closed(link, ev)
            if ev.code in FINAL and link.session.dialer and link.session.fall_back(ev) is None:
                self.outcome.refused = ev.reason.removeprefix("peer refused: ")

    def _received(self, link: Link, msg: routing.Received) -> None:
        log.debug("received %s from %s", type(msg).__name__, link.peer[:10])
        arrived = time.perf_counter()
        try:
            sends = routing.receive(self.engine, msg, link.peer, link, self.links.values(), time.time())
            if isinstance(msg, (m.IndexUpdates, m.IndexSnapshot)):
                for peer in self.engine.take_forgotten():  # another device removed one
                    self.conns.drop_device(peer, REMOVED_REASON)
                if len(msg.blob if isinstance(msg, m.IndexUpdates) else msg.snapshot) >= TRIM_AFTER_BYTES:
                    trim_heap()  # a peer's whole index (a join): its import's pages go back now
        except (OSError, StoreUnavailable) as exc:  # a full disk, say: the peer resends it later
            log.error("could not store an update from %s: %s; it is fetched again on reconnect", link.peer[:10], exc)
            self.publish("error", device=link.peer, message=f"could not store an update: {exc}")
            link.close(Code.UNAVAILABLE, "update could not be stored here")
            return
        except PeerVaultError as exc:  # garbage from the peer (an index update that won't import)
            log.warning("refused an update from %s: %s", link.peer[:10], exc)
            link.close(Code.PROTOCOL, "update could not be applied")
            return
        except Exception:  # noqa: BLE001 - a bad update is refused, the link closed
            log.exception("could not apply an update from %s", link.peer[:10])
            link.close(Code.PROTOCOL, "update could not be applied")
            return
        for other, fwd in sends:
            other.push(fwd)  # forward: a third device learns of it too (once: see routing)
        if self.published_writes(link.peer):  # the plot's latency: from the update's arrival to the disk
            self.metrics.samples.latency((time.perf_counter() - arrived) * 1000, time.time())
        self.timers.schedule_flush()
        self.timers.schedule_settle()
        self.timers.schedule_retry()
        self.blobs.kick()
        self.timers.mark_status()

    def published_writes(self, device: str) -> int:
        """The notes an update wrote here, as events: each path changed, and those merged.
        Returns how many."""
        if self.live is not None:
            self.live.from_peers(device)  # notes open in an editor here: the update itself
        written = self.engine.take_written()
        if written:
            self.publish("remote_change", device=device, paths=[p for p, _ in written])
        merged = [p for p, was_merged in written if was_merged]
        if merged:
            self.publish("merge", device=device, paths=merged)
        return len(written)

    def flush(self, keys: set[str] | None = None) -> None:
        """Push local changes (all, or just `keys`) to every connected peer."""
        if self.conns.suspended and self.engine.pending():
            self.conns.wake()  # suspended links come back and get it all in their handshake
        if not self.links:
            self.engine.clear_pending()  # whoever connects next gets it all in the handshake
            return
        msgs = self.engine.take_pending(keys)
        log.debug("pushing %d message(s) to %d peer(s)", len(msgs), len(self.links))
        for link, msg in routing.fan_out(msgs, self.links.values()):
            link.push(msg)
        self.timers.mark_status()


def _from_here(link: Link, ev: Close) -> str:
    """A link's end in this device's words: the reason of a close this device decided is
    written for the peer ("sync is paused on that device"), which here means this device paused."""
    if link.closed_here == Code.PAUSED:
        return "sync is paused on this device"
    return ev.reason
