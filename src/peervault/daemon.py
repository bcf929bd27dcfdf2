"""Composition root: builds the parts for one vault, owns the tasks and the shutdown order.

Modes:
  run     watch the folder and sync live with every paired peer until SIGINT/SIGTERM
  once    connect to paired peers, exchange everything, exit when converged (`sync`)
  join    pair with the device in a ticket, then as `once`
  serve   wait for one device to pair and sync, then exit (`invite` with no daemon running)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .config import Config
from .errors import PeerVaultError, StoreUnavailable, VaultGone
from .metrics import Metrics, trim_heap
from .net import endpoint as netep
from .net.stream import MessageStream
from .protocol import messages as m
from .protocol.session import (
    CODE_IDLE,
    CODE_REMOVED,
    CODE_SILENT,
    CODE_UNKNOWN_PEER,
    CODE_VERSION,
    CODE_WRONG_VAULT,
    REMOVED_REASON,
    Close,
    Event,
    Paired,
    PeerHello,
    Received,
    Session,
    Synced,
)
from .state import VaultState
from .store import removal
from .sync.blobs import BlobTransfers
from .sync.debounce import Debouncer
from .sync.deleteguard import run_deletions_action
from .sync.engine import Engine
from .sync.links import Link
from .vault.watcher import watch

log = logging.getLogger(__name__)

RETRY_WRITES_S = 10.0  # a disk write that failed (disk full) is tried again after this, then less often
SIMULTANEOUS_DIAL_S = 3.0  # two links to one peer opened within this window are a simultaneous dial


@dataclass
class Outcome:
    synced_peers: set[str] = field(default_factory=set)
    refused: str | None = None
    paired: set[str] = field(default_factory=set)


class Daemon:
    def __init__(self, state: VaultState, cfg: Config, mode: str = "run", timeout: float = 30.0) -> None:
        self.state = state
        self.cfg = cfg
        self.mode = mode
        self.timeout = timeout
        self.metrics = Metrics()
        self.links: dict[str, Link] = {}
        self.stopping = asyncio.Event()
        self.outcome = Outcome()
        self._dialers: dict[str, asyncio.Task[None]] = {}
        self._handshakes: set[asyncio.Task[None]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._flush_handle: asyncio.TimerHandle | None = None
        self._debouncer = Debouncer(cfg.debounce_ms / 1000)
        self._settle_handle: asyncio.TimerHandle | None = None
        self._status_handle: asyncio.TimerHandle | None = None
        self._retry_handle: asyncio.TimerHandle | None = None
        self._retry_delay = RETRY_WRITES_S
        self._suspended: set[str] = set()  # low-power: peers whose idle link was suspended
        self._wake = asyncio.Event()  # set by a local change: suspended links come back
        self._ready_at = 0.0
        self._closed_bytes = [0, 0]  # sent, received over links that have closed
        self.scan_done = False
        self.halted: VaultGone | None = None
        self.on_ready: Callable[[], None] | None = None

    # ------------------------------------------------------------------ lifecycle
    async def main(self) -> Outcome:
        """Ready as soon as the transport is bound and the index loaded; in `run` mode the
        folder is compared with the database in the background (stat first, reading only
        what changed), so a 10,000-file vault starts as fast as an empty one."""
        t0 = time.perf_counter()
        self.ep = await self._bind()
        self.metrics.phase("transport_init", t0)
        t1 = time.perf_counter()
        self.engine = Engine(self.state.root, self.state.store, self.cfg)
        for peer in self.state.store.take_forget_requests():  # queued while no daemon ran? (not normally)
            self.engine.forget_device(peer)
        self.engine.take_forgotten()
        self.blobs = BlobTransfers(self.engine, self.links, self.cfg.max_concurrent_syncs, self._after_blob)
        self.metrics.phase("index_load", t1)
        if self.mode != "run":
            self._initial_scan()  # one-shot modes: the peer must get everything in the handshake
        self.engine.addrs = netep.direct_addrs(self.ep)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stopping.set)
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGUSR1, self._write_status)  # `status` asks for fresh figures
            loop.add_signal_handler(signal.SIGUSR2, self._requests)  # `forget` or `deletions` queued a request
        self._tasks.append(asyncio.create_task(self._accept_loop()))
        if self.mode == "run":
            self._tasks.append(asyncio.create_task(self._watch_loop()))
            self._tasks.append(asyncio.create_task(self._background_scan()))
            if self.cfg.background_sync:
                self._tasks.append(asyncio.create_task(self._reconcile_loop()))
        self._ready_at = time.perf_counter()
        if self.mode in ("run", "once", "join"):
            for peer in self.state.store.peers():
                self._start_dialer(peer.endpoint_id)
        removed = removal.load(self.state.store)
        if removed and self.mode in ("run", "once"):  # a reminder: else nothing says why it does not sync
            log.warning(
                "this device was removed from the vault (device %s said so): not dialling %d device(s); %s",
                removed["by"][:10],
                len(removed["peers"]),
                self._rejoin_hint(),
            )
        self.metrics.startup_done()
        self._write_status()
        if self.on_ready is not None:
            self.on_ready()
        log.info(
            "device %s serving vault %s on %s (%s profile, ready in %.0f ms)",
            self.state.device_id[:10],
            self.engine.vault_id.hex()[:8],
            ", ".join(self.engine.addrs),
            self.cfg.profile,
            self.metrics.startup_ms,
        )
        try:
            if self.mode == "run":
                await self.stopping.wait()
            else:
                await self._until_done()
        finally:
            await self._shutdown()
        if self.halted is not None:
            raise self.halted
        return self.outcome

    def _halt(self, exc: VaultGone) -> None:
        """The vault folder is gone or was replaced: publish nothing more, stop (the error is
        the one line `run` prints as it exits)."""
        self.halted = self.halted or exc
        self.engine.clear_pending()
        self.stopping.set()

    def _initial_scan(self) -> None:
        t = time.perf_counter()
        changes = self.engine.reconcile()
        self.engine.recover()
        self.engine.clear_pending()  # no peer yet: each one gets these changes in its handshake
        self.metrics.phase("initial_scan", t)
        if changes:
            log.info("recorded %d local change(s) made while PeerVault was not running", changes)

    async def _background_scan(self) -> None:
        """Start-up's comparison of folder and database, a chunk at a time between other work."""
        t = time.perf_counter()
        changes = 0
        try:
            for n in self.engine.reconcile_steps():
                changes += n
                if n:
                    self._schedule_flush()
                await asyncio.sleep(0)
        except VaultGone as exc:
            self._halt(exc)
            return
        self.engine.recover()
        self._schedule_settle()
        self.blobs.kick()
        self._schedule_retry()
        self.metrics.phase("initial_scan", t)
        trim_heap()
        self.scan_done = True
        self._mark_status()
        if changes:
            log.info("recorded %d local change(s) made while PeerVault was not running", changes)

    async def _bind(self) -> netep.Endpoint:
        store = self.state.store
        bind = self.cfg.bind
        port = store.get_meta("port")
        candidates: list[str | None] = []
        if bind:
            host, _, p = bind.rpartition(":")
            if p == "0" and port:
                candidates.append(f"{host}:{port}")  # keep the address tickets and peers know
            candidates.append(bind)
        else:
            if port:
                candidates.append(f"0.0.0.0:{port}")
            candidates.append(None)
        last: Exception | None = None
        for addr in candidates:
            try:
                ep = await netep.bind(self.state.secret_key, no_relay=self.cfg.no_relay, bind_addr=addr)
            except Exception as exc:  # noqa: BLE001 - port taken: try the next candidate
                last = exc
                continue
            bound = netep.bound_port(ep)
            if bound:
                store.set_meta("port", bound)
            return ep
        where = bind or "the default address"
        raise PeerVaultError(
            f"cannot listen on {where} ({netep.describe(last) if last else 'unknown error'}); choose another --bind HOST:PORT"
        )

    async def _until_done(self) -> None:
        deadline = time.monotonic() + self.timeout
        while not self.stopping.is_set():
            if self._finished():
                return
            if time.monotonic() > deadline:
                return
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), 0.1)

    def _finished(self) -> bool:
        if self.outcome.refused:
            return True
        if self.mode == "serve":
            return bool(self.outcome.paired & self.outcome.synced_peers)
        if not self.blobs.settled():
            return False  # binary files still on their way
        if self.mode == "join":
            return bool(self.outcome.synced_peers)
        peers = {p.endpoint_id for p in self.state.store.peers()}
        # once: every peer either synced, or its dialer gave up
        waiting = [p for p in peers if p not in self.outcome.synced_peers and not self._gave_up(p)]
        return not waiting and bool(self.outcome.synced_peers or peers)

    def _gave_up(self, peer: str) -> bool:
        if self._removed_us(peer):
            return True
        task = self._dialers.get(peer)
        return task is not None and task.done() and peer not in self.links

    async def _shutdown(self) -> None:
        self._flush()
        links = list(self.links.values())
        paired = [lk for lk in links if lk.session.paired]  # a stranger gets no PING, only REFUSED
        if paired:
            await asyncio.gather(*(lk.barrier(2.0) for lk in paired), return_exceptions=True)
        for lk in links:
            lk.close(0, "peer is shutting down")
        for t in [*self._tasks, *self._dialers.values()]:
            t.cancel()
        await asyncio.gather(*self._tasks, *self._dialers.values(), return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ep.close(), 2.0)
        self._write_status(running=False)

    # ------------------------------------------------------------------ connections
    async def _accept_loop(self) -> None:
        while True:
            inc = await self.ep.accept_next()
            if inc is None:
                return
            task = asyncio.create_task(self._accept(inc))
            self._handshakes.add(task)  # the loop keeps only weak references to tasks
            task.add_done_callback(self._handshakes.discard)

    async def _accept(self, inc: object) -> None:
        conn = None
        try:
            acc = await asyncio.wait_for(inc.accept(), self.cfg.connect_timeout_s)  # type: ignore[attr-defined]
            conn = await asyncio.wait_for(acc.connect(), self.cfg.connect_timeout_s)
            peer = str(conn.remote_id())
            known = self.state.store.peer(peer)
            removed = peer in self.engine.index.forgotten()  # its first message is refused with 410
            paired = known is not None and known.pair_secret is None and not removed
            if self.mode in ("once", "join") and not paired:
                code = CODE_REMOVED if removed else CODE_UNKNOWN_PEER
                conn.close(code, REMOVED_REASON.encode() if removed else b"not accepting pairings now")
                return
            stream = await asyncio.wait_for(MessageStream.accept(conn), self.cfg.pair_timeout_s)
        except Exception as exc:  # noqa: BLE001 - a failed handshake only affects that peer
            log.info("incoming connection failed: %s", netep.describe(exc))
            if conn is not None:  # no stream within the pairing timeout, say: not left open
                with contextlib.suppress(Exception):
                    conn.close(CODE_SILENT, b"no stream opened in time")
            return
        if removed:
            log.info("removed device %s connected: refused (%d) unless it pairs with a new ticket", peer[:10], CODE_REMOVED)
        elif not paired:
            log.info("unknown device %s connected: it must present a pairing ticket", peer[:10])
        self._install(peer, stream, dialer=False, paired=paired, secret=None, removed=removed)

    def _removed_us(self, peer: str) -> bool:
        """`peer` refused us as removed from the vault, and we are not pairing with it anew."""
        if peer not in removal.refused_by(self.state.store):
            return False
        row = self.state.store.peer(peer)
        return row is None or row.pair_secret is None

    def _start_dialer(self, peer: str) -> None:
        if self._removed_us(peer):
            return  # it would only refuse us again (410): wait for a new pairing
        if peer not in self._dialers or self._dialers[peer].done():
            self._dialers[peer] = asyncio.create_task(self._dial_loop(peer))

    async def _dial_loop(self, peer: str) -> None:
        attempt = 0
        while not self.stopping.is_set():
            link = self.links.get(peer)
            if peer in self._suspended:
                await self._wait_for_change(peer)
                continue
            if link is not None:
                await link.closed.wait()
                if peer in self._suspended:
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
                conn = await netep.connect(self.ep, peer, row.addrs, self.cfg.connect_timeout_s)  # type: ignore[arg-type]
                stream = await MessageStream.open(conn)
                if peer not in self.links:
                    link = self._install(peer, stream, dialer=True, paired=row.pair_secret is None, secret=row.pair_secret)
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
            self._suspended.discard(peer)

    def _install(
        self, peer: str, stream: MessageStream, *, dialer: bool, paired: bool, secret: bytes | None, removed: bool = False
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
                stream.close(409, "duplicate connection")
                return None
            existing.close(409, "duplicate connection")
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
        )
        self._suspended.discard(peer)
        stream.compress_threshold = self.cfg.compress_threshold
        link = Link(peer, session, stream, self._on_event)
        self.links[peer] = link
        link.start()
        link.spawn(self.blobs.serve(link))
        self._mark_status()
        return link

    # ------------------------------------------------------------------ events
    def _requests(self) -> None:
        """`peervault forget` or `deletions` ran while this daemon holds the vault: carry out
        what they queued (the daemon owns the index)."""
        store = self.state.store
        for peer in store.take_forget_requests():
            self.engine.forget_device(peer)
            self._drop_device(peer, "this device was removed from the vault")
        action = store.take_deletions_request()
        if action is not None:
            try:
                done = run_deletions_action(self.engine, action, time.time())
            except Exception as exc:  # noqa: BLE001 - reported to the waiting command
                log.exception("could not %s the held deletions", action)
                done = {"action": action, "error": str(exc)}
            store.set_meta("deletions_result", json.dumps(done))
        self._schedule_flush()
        self._write_status()

    def _drop_device(self, peer: str, why: str) -> None:
        dialer = self._dialers.pop(peer, None)
        if dialer is not None:
            dialer.cancel()
        link = self.links.get(peer)
        if link is not None:
            link.send([m.Refused(CODE_REMOVED, why)])  # it learns why, and stops dialling
            asyncio.get_running_loop().call_later(0.1, link.close, CODE_REMOVED, why)
        log.info("removed device %s from this vault", peer[:10])

    def _removed_by(self, peer: str) -> None:
        """`peer` refused us with 410: this device was removed from the vault. Stop dialling
        it, now and at later starts, until a new pairing clears the record (kept in the store)."""
        dialer = self._dialers.pop(peer, None)
        if dialer is not None:
            dialer.cancel()
        if removal.record(self.state.store, peer, time.time()):
            log.warning(
                "device %s says this device was removed from the vault: no longer dialling it; %s",
                peer[:10],
                self._rejoin_hint(),
            )
        self._mark_status()

    def _rejoin_hint(self) -> str:
        return (
            "to rejoin, run `peervault invite` on a device still in the vault, "
            f"then `peervault join {self.state.root} TICKET` here"
        )

    def _on_event(self, link: Link, ev: Event) -> None:
        store = self.state.store
        if isinstance(ev, Received):
            msg = ev.message
            log.debug("received %s from %s", type(msg).__name__, link.peer[:10])
            try:
                if isinstance(msg, m.IndexUpdates):
                    news = self.engine.apply_index(msg.blob, origin=link.peer)
                    for peer in self.engine.take_forgotten():  # another device removed one
                        self._drop_device(peer, "this device was removed from the vault")
                else:
                    accepted = self.engine.apply_docs(msg.entries, origin=link.peer)
                    msg = m.DocUpdates(accepted)  # forward only what was new here
                    news = bool(accepted)
            except (OSError, StoreUnavailable) as exc:  # a full disk, say: the peer resends it later
                log.error("could not store an update from %s: %s; it is fetched again on reconnect", link.peer[:10], exc)
                link.close(503, "update could not be stored here")
                return
            except PeerVaultError as exc:  # garbage from the peer (an index update that won't import)
                log.warning("refused an update from %s: %s", link.peer[:10], exc)
                link.close(400, "update could not be applied")
                return
            except Exception:  # noqa: BLE001 - a bad update is refused, the link closed
                log.exception("could not apply an update from %s", link.peer[:10])
                link.close(400, "update could not be applied")
                return
            for other in self.links.values():
                if other is not link and news:
                    other.push(msg)  # forward: a third device learns of it too (once: see apply_*)
            self._schedule_flush()
            self._schedule_settle()
            self._schedule_retry()
            self.blobs.kick()
            self._mark_status()
        elif isinstance(ev, Paired):
            if link.session.dialer:
                store.update_peer(link.peer, paired=True)
                removal.clear(store)  # paired anew: in the vault again
                log.info("paired with %s", link.peer[:10])
            else:
                log.info("device %s paired with this vault", link.peer[:10])
                self._start_dialer(link.peer)
            self.outcome.paired.add(link.peer)
        elif isinstance(ev, PeerHello):
            # What it announces, plus what we already knew: the address we dialed may be one it
            # cannot see (a NAT, a proxy), and must not be forgotten for the next dial.
            known = store.peer(link.peer)
            addrs = list(dict.fromkeys([*ev.addrs, *(known.addrs if known else [])]))[:16]
            store.update_peer(link.peer, addrs=addrs, seen=True)
        elif isinstance(ev, Synced):
            published = self.engine.publish_pending()
            if published:
                log.info("announced %d note(s) this device had before pairing", published)
            self.outcome.synced_peers.add(link.peer)
            store.update_peer(link.peer, seen=True)
            self.metrics.record_sync(time.monotonic() - link.opened_at)
            if "peer_connect" not in self.metrics.phases_ms:
                self.metrics.phase("peer_connect", self._ready_at)
            link.synced.set()
            self._flush()
            self.blobs.kick()
            trim_heap()
            log.info("in sync with %s", link.peer[:10])
            self._mark_status()
        elif isinstance(ev, Close):
            if link.closed.is_set():  # the link's final Close (a session's own Close comes first)
                self._closed_bytes[0] += link.stream.bytes_sent  # the totals outlive the link
                self._closed_bytes[1] += link.stream.bytes_received
            if self.links.get(link.peer) is link:
                del self.links[link.peer]
                with contextlib.suppress(Exception):  # bookkeeping only (the disk may be full)
                    store.update_peer(link.peer, seen=True)
                log.info("disconnected from %s: %s", link.peer[:10], ev.reason)
                self._mark_status()
            if ev.code == CODE_IDLE:
                self._suspended.add(link.peer)
                log.info("connection to %s suspended while idle (low-power profile)", link.peer[:10])
            if ev.code == CODE_REMOVED and ev.by_peer and link.session.paired:  # a stranger cannot say so
                self._removed_by(link.peer)
            if ev.code in (CODE_UNKNOWN_PEER, CODE_WRONG_VAULT, CODE_VERSION, CODE_REMOVED) and link.session.dialer:
                self.outcome.refused = ev.reason.removeprefix("peer refused: ")

    # ------------------------------------------------------------------ local changes
    async def _watch_loop(self) -> None:
        async for changes in watch(
            self.state.root, self.stopping, self.cfg.watch_step_ms, self.cfg.watch_debounce_ms, self.engine.ignores
        ):
            t = time.perf_counter()
            rels = changes.paths
            log.debug(
                "watcher reported %s%s",
                ", ".join(sorted(rels)[:5]) + (" …" if len(rels) > 5 else ""),
                f" and {len(changes.moves)} move(s)" if changes.moves else "",
            )
            try:
                if changes.overflow:  # the watcher lost events (queue overflow): look at everything
                    if self.engine.reconcile():
                        self._schedule_flush()
                if (rels or changes.moves) and self.engine.local_paths(rels, moves=changes.moves):
                    self.metrics.record_local(time.perf_counter() - t)
                    self._schedule_flush()
                self._schedule_settle()
            except VaultGone as exc:
                self._halt(exc)
                return
            except Exception:  # noqa: BLE001 - keep watching; reconcile will retry
                log.exception("could not record local changes to %s", ", ".join(sorted(rels)[:3]))

    async def _reconcile_loop(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.reconcile_interval_s)
            try:
                if self.engine.reconcile():
                    self._schedule_flush()
            except VaultGone as exc:
                self._halt(exc)
                return
            self.engine.recover()  # notes that could not be written before (a folder in the way)
            self._schedule_settle()

    def _schedule_retry(self) -> None:
        """Disk writes that failed (a full disk, say) are retried every 10 s until they succeed:
        a timer only while there is something to retry."""
        if not self.engine.failed_writes:
            self._retry_delay = RETRY_WRITES_S
        elif self._retry_handle is None:
            self._retry_handle = asyncio.get_running_loop().call_later(self._retry_delay, self._retry_writes)
            self._retry_delay = min(self._retry_delay * 2, 600.0)  # a lasting problem is not hammered

    def _retry_writes(self) -> None:
        self._retry_handle = None
        try:
            self.engine.retry_failed_writes()
        except Exception as exc:  # noqa: BLE001 - try again later
            log.warning("could not retry failed writes: %s", exc)
        self._mark_status()
        self._schedule_retry()

    def _after_blob(self) -> None:
        """A blob arrived and its files were written (a local version may have been recorded)."""
        self._schedule_flush()
        self._schedule_settle()
        self._mark_status()

    def _schedule_settle(self) -> None:
        """Wake up when a possibly half-saved file has had time to settle (see Engine.settle)."""
        when = self.engine.next_settle()
        if when is None or self._settle_handle is not None:
            return
        self._settle_handle = asyncio.get_running_loop().call_later(max(when - time.time(), 0.0) + 0.01, self._settle)

    def _settle(self) -> None:
        self._settle_handle = None
        try:
            self.engine.settle()
        except VaultGone as exc:
            self._halt(exc)
            return
        except Exception:  # noqa: BLE001 - retried at the next reconcile
            log.exception("could not finish settling local changes")
        self.blobs.kick()
        self._schedule_retry()
        self._schedule_flush()
        self._schedule_settle()

    def _schedule_flush(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        now = time.monotonic()
        ready, wake = self._debouncer.due(self.engine.pending(), now)
        if ready:
            self._flush(ready)
        if wake is not None:
            self._flush_handle = asyncio.get_running_loop().call_later(max(wake - now, 0.0), self._schedule_flush)

    def _flush(self, keys: set[str] | None = None) -> None:
        """Push local changes (all, or just `keys`) to every connected peer."""
        if self._suspended and self.engine.pending():
            self._wake.set()  # suspended links come back and get it all in their handshake
            self._wake = asyncio.Event()
        if not self.links:
            self.engine.clear_pending()  # whoever connects next gets it all in the handshake
            return
        msgs = self.engine.take_pending(keys)
        log.debug("pushing %d message(s) to %d peer(s)", len(msgs), len(self.links))
        for msg in msgs:
            for link in self.links.values():
                link.push(msg)
        self._mark_status()

    # ------------------------------------------------------------------ status
    def _mark_status(self) -> None:
        """Something changed: rewrite daemon.json within a second (once, however many changes)."""
        if self._status_handle is None:
            self._status_handle = asyncio.get_running_loop().call_later(1.0, self._write_status)

    def _write_status(self, running: bool = True) -> None:
        if self._status_handle is not None:
            self._status_handle.cancel()
            self._status_handle = None
        self.metrics.active_connections = len(self.links)
        self.metrics.bytes_sent = self._closed_bytes[0] + sum(lk.stream.bytes_sent for lk in self.links.values())
        self.metrics.bytes_received = self._closed_bytes[1] + sum(lk.stream.bytes_received for lk in self.links.values())
        doc = {
            "pid": os.getpid(),
            "running": running,
            "mode": self.mode,
            "addrs": self.engine.addrs,
            "endpoint_ticket": netep.ticket_for(self.ep),  # with the relay URL, when there is one
            "connected": {p: lk.session.state.value for p, lk in self.links.items()},
            "suspended": sorted(self._suspended),
            "pending": len(self.engine.pending()),
            "ignored": self.engine.ignored,
            "blobs": {
                "wanted": len(self.engine.wanted_blobs()),
                "fetching": self.blobs.in_flight,
                "bytes_received": self.blobs.received_bytes,
            },
            "ready": True,
            "held_deletions": len(self.engine.held),
            "scan_done": self.scan_done or self.mode != "run",
            "metrics": {**self.metrics.snapshot(self.engine), "profile": self.cfg.profile},
            "updated_at": time.time(),
        }
        try:
            self.state.write_runtime(doc)
        except OSError as exc:  # a full disk: status is stale until space returns
            log.warning("could not write %s/daemon.json: %s", self.state.dir, exc)
