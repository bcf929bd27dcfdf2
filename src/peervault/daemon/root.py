"""Composition root: builds the parts for one vault, owns the tasks and the shutdown order.

Modes:
  run     watch the folder and sync live with every paired peer until SIGINT/SIGTERM
  once    connect to paired peers, exchange everything, exit when converged (`sync`)
  join    pair with the device in a ticket, then as `once`
  serve   wait for one device to pair and sync, then exit (`invite` with no daemon running)

The parts: `connections` (endpoint, accept, dial, links), `events` (what each session
event does; local changes pushed, through `routing`'s rule), `timers` (when), `status`
(daemon.json), `local` (watcher, reconcile, start-up scan).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Coroutine
from typing import Any

from ..api.server import ControlServer
from ..config import Config
from ..errors import VaultGone
from ..memory import tune_malloc
from ..metrics import Metrics
from ..net import endpoint as netep
from ..protocol.codes import Code
from ..service.live import LiveNotes
from ..service.vault import VaultService
from ..state import VaultState
from ..store import removal
from ..sync import firstimport
from ..sync.blobs import BlobTransfers
from ..sync.engine import Engine
from ..sync.links import Link
from .binding import bind
from .connections import Connections
from .discovery import Discovery
from .events import Events, Outcome
from .hasher import Hasher
from .importing import FirstImport
from .local import LocalChanges
from .moving import IdMove
from .node import DaemonNode
from .router import Router
from .status import Status
from .timers import Timers

log = logging.getLogger(__name__)

# SQLite's page cache in a `join` (KiB; 2,000 by default): its rows are written once and
# few read back, and a full cache was 2 MB of the joining device's peak (docs/PERFORMANCE.md)
JOIN_CACHE_KIB = 512


class Daemon:
    def __init__(
        self,
        state: VaultState,
        cfg: Config,
        mode: str = "run",
        timeout: float = 30.0,
        hosted: bool = False,
        router: Router | None = None,
    ) -> None:
        self.state = state
        self.hosted = hosted  # daemon/host.py does the process-wide things (signals, malloc arenas) once
        self.router = router  # the shared endpoint of the vaults with the per-user key (daemon/router.py)
        self.cfg = cfg
        self.mode = mode
        self.timeout = timeout
        self.metrics = Metrics()
        self.links: dict[str, Link] = {}
        self.stopping = asyncio.Event()
        self.outcome = Outcome()
        self._tasks: list[asyncio.Task[None]] = []
        self.halted: VaultGone | None = None
        self.failed: BaseException | None = None
        self.on_ready: Callable[[], None] | None = None
        self._held_seen = 0
        self.discovery: Discovery | None = None

    # ------------------------------------------------------------------ lifecycle
    async def main(self) -> Outcome:
        """Ready as soon as the transport is bound and the index loaded; in `run` mode the
        folder is compared with the database in the background (stat first, reading only
        what changed), so a 10,000-file vault starts as fast as an empty one. A large first
        import runs in a process of its own (sync/firstimport.py): this daemon is ready, its
        API answering, meanwhile, and builds its engine once it has ended (daemon/importing.py)."""
        t0 = time.perf_counter()
        if not self.hosted:
            tune_malloc()
        # a large first import runs in a process of its own, started by `run` (sync/firstimport.py)
        child = firstimport.take(self.state.root) if self.mode == "run" else None
        try:
            self.ep = self.router.ep if self.router is not None else await bind(self.state, self.cfg, remember=child is None)
        except BaseException:
            if child is not None:
                child.stop()
            raise
        self.metrics.phase("transport_init", t0)
        if not self.hosted:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, self.stopping.set)
        importing = FirstImport(self, child, time.time) if child is not None else None
        try:
            if importing is not None and not await importing.serve():
                return self.outcome  # stopped while the first import ran: nothing was built
            self._build()
            if importing is not None:
                importing.handed_over()
            if self.mode != "run":
                self.local.initial_scan()  # one-shot modes: the peer must get everything in the handshake
            self.engine.addrs = netep.direct_addrs(self.ep)
            if self.router is not None:
                self.router.register(self.engine.vault_id, self.conns)  # another vault with this id: refused
        except BaseException:  # e.g. the API's port is taken: release what was started, then say why
            await self._abandon()
            raise
        if self.router is None:  # else the router hands this vault its connections
            self._start(self.conns.accept_loop())
        if self.mode == "run":
            self._start(self.local.watch_loop())
            self._start(self.local.background_scan())
            self._start(self.local.rules_loop())
            if self.cfg.background_sync:
                self._start(self.local.reconcile_loop())
        self.events.ready_at = time.perf_counter()
        if self.mode in ("run", "once", "join"):
            for peer in self.state.store.peers():
                self.conns.start_dialer(peer.endpoint_id)
            if self.state.store.peers():  # else once a device has paired (see _publish)
                self._discover()
        removed = removal.load(self.state.store)
        if removed and self.mode in ("run", "once"):  # a reminder: else nothing says why it does not sync
            log.warning(
                "this device was removed from the vault (device %s said so): not dialling %d device(s); %s",
                removed["by"][:10],
                len(removed["peers"]),
                self.conns.rejoin_hint(),
            )
        if importing is None:  # else it was ready before its engine
            self.metrics.startup_done()
        self.timers.write_status()
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
        if self.failed is not None:
            raise self.failed
        return self.outcome

    def _start(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro, name=getattr(coro, "__qualname__", None))
        task.add_done_callback(self._task_ended)
        self._tasks.append(task)

    def _task_ended(self, task: asyncio.Task[None]) -> None:
        """A loop of this vault died of an unexpected error (a damaged database, a bug): stop
        the vault rather than run on half-blind; `main` raises it after the shutdown, and
        daemon/host.py starts the vault again (the other vaults of the process run on)."""
        if task.cancelled() or (exc := task.exception()) is None:
            return
        log.error("vault %s: %s failed (%r); stopping this vault", self.state.root, task.get_name(), exc)
        self.failed = self.failed or exc
        self.stopping.set()

    def _build(self) -> None:
        """The parts on the bound endpoint, up to the control API listening."""
        t1 = time.perf_counter()
        if self.mode == "join":
            self.state.store.limit_cache(JOIN_CACHE_KIB)
        self.engine = Engine(self.state.root, self.state.store, self.cfg, time.time)
        self.engine.take_forgotten()
        self.blobs = BlobTransfers(self.engine, self.links, self.cfg.blob_fetches, self._after_blob, time.monotonic, time.time)
        self.hasher: Hasher | None = None
        if self.mode == "run":  # one-shot modes hash at once: a peer must get everything in the handshake
            self.hasher = Hasher(self.engine, self.state.root, self._hashed)
            self.engine.hash_in_background(self.hasher.notify)
        self.metrics.phase("index_load", t1)
        self.node = DaemonNode(self)
        api: ControlServer | None = getattr(self, "api", None)  # serving since a first import began
        events = api.service.events if api is not None else None  # its clients' event ring goes on
        self.service = VaultService(self.state, self.cfg, time.time, engine=self.engine, node=self.node, events=events)
        self.service.live = LiveNotes(self.engine, self.node, self.service.events, time.time, self.state.device_id)
        self._compose()
        self.events.live = self.service.live
        if api is not None:
            api.serve(self.service)
            return
        self.api = ControlServer(self.state.dir, self.service, self.cfg.api_port, self.cfg.api_host, self.cfg.api_origins)
        self.api.start()

    async def _abandon(self) -> None:
        """Start-up failed after the endpoint was bound: in a process serving other vaults
        (daemon/host.py) its port, threads and socket must not outlive this attempt."""
        hasher = getattr(self, "hasher", None)
        if hasher is not None:
            hasher.close()
        api = getattr(self, "api", None)
        if api is not None:
            await api.stop()
        await self._release_endpoint()

    async def _release_endpoint(self) -> None:
        """Close the vault's own endpoint; a shared one only stops routing to this vault."""
        if self.router is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ep.close(), 2.0)
            return
        conns = getattr(self, "conns", None)
        if conns is not None:
            self.router.unregister(self.engine.vault_id, conns)

    def _compose(self) -> None:
        """Build the parts around the engine. Links call back into the events, and the timers
        into the events' push, which needs both: the lambdas look the part up when called."""
        self.conns = Connections(
            self.state,
            self.cfg,
            self.mode,
            ep=self.ep,
            engine=self.engine,
            links=self.links,
            blobs=self.blobs,
            stopping=self.stopping,
            on_event=lambda link, ev: self.events.on_event(link, ev),
            mark_status=lambda: self.timers.mark_status(),
        )
        self.status = Status(
            self.state,
            self.cfg,
            self.mode,
            self.metrics,
            engine=self.engine,
            ep=self.ep,
            blobs=self.blobs,
            links=self.links,
            suspended=self.conns.suspended,
            hasher=self.hasher,
        )
        self.timers = Timers(
            self.engine,
            self.cfg.debounce_ms / 1000,
            flush=lambda keys: self.events.flush(keys),
            write_status=self._write_status,
            kick_blobs=self.blobs.kick,
            halt=self._halt,
        )
        self.events = Events(
            self.state,
            engine=self.engine,
            links=self.links,
            conns=self.conns,
            timers=self.timers,
            status=self.status,
            blobs=self.blobs,
            metrics=self.metrics,
            outcome=self.outcome,
            publish=self._publish,
        )
        self.events.moving = IdMove(self.state, self.conns, self._restart, active=self.mode == "run")
        self.local = LocalChanges(
            self.state.root,
            self.engine,
            self.cfg,
            self.metrics,
            timers=self.timers,
            status=self.status,
            kick_blobs=self.blobs.kick,
            stopping=self.stopping,
            halt=self._halt,
            publish=self._publish,
            hasher=self.hasher,
        )

    def _restart(self, before: Callable[[], None]) -> None:
        """Stop this vault, run `before`, open it again (daemon/host.py does the last two)."""
        self.outcome.restart = before
        self.stopping.set()

    def _publish(self, kind: str, **fields: Any) -> None:
        self.service.events.publish(kind, time.time(), **fields)
        if kind == "peer_connected":
            self._discover()

    def _discover(self) -> None:
        """LAN discovery, once this vault has a paired device to find: not while waiting to
        pair (`serve`: the joiner has the ticket's addresses), nor for a vault with no
        device yet, which would pay zeroconf's 4 MB to find nobody."""
        if self.discovery is not None or not self.cfg.mdns or self.mode == "serve":
            return
        self.discovery = Discovery(
            self.state, self.cfg, engine=self.engine, conns=self.conns, ep=self.ep, mark_status=self.timers.mark_status
        )
        self.status.lan = self.discovery.summary
        self._tasks.append(asyncio.create_task(self.discovery.start()))  # readiness does not wait for it

    def _write_status(self, running: bool = True) -> None:
        """daemon.json, and what a look at the figures finds new: deletions the guard holds."""
        self.status.write(running)
        held = len(self.engine.held)
        if held > self._held_seen:
            reason = next(iter(self.state.store.held_deletions().values()))[2]
            self._publish("held_deletions", count=held, reason=reason)
        self._held_seen = held

    def _halt(self, exc: VaultGone) -> None:
        """The vault folder is gone or was replaced: publish nothing more, stop (the error is
        the one line `run` prints as it exits)."""
        self.halted = self.halted or exc
        self.engine.clear_pending()
        self.stopping.set()

    def _hashed(self, changes: int, rel: str) -> None:
        """A binary file a worker hashed was recorded as a local change."""
        self.metrics.record_local(0.0)
        self.timers.schedule_flush()
        self.timers.mark_status()
        self._publish("local_change", paths=[rel])

    def _after_blob(self) -> None:
        """A blob arrived and its files were written (a local version may have been recorded)."""
        self.timers.schedule_flush()
        self.timers.schedule_settle()
        self.timers.mark_status()

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
        waiting = [p for p in peers if p not in self.outcome.synced_peers and not self.conns.gave_up(p)]
        return not waiting and bool(self.outcome.synced_peers or peers)

    async def _shutdown(self) -> None:
        """Stop answering the API, push what is pending, let each paired peer confirm it got
        everything (PING/PONG barrier), close the links, stop the tasks and the endpoint, and
        say so in daemon.json."""
        if self.router is not None:  # new connections for this vault: answered as for any vault not served
            self.router.unregister(self.engine.vault_id, self.conns)
        await self.api.stop()
        await self.blobs.finish()
        self.events.flush()
        links = list(self.links.values())
        paired = [lk for lk in links if lk.session.paired]  # a stranger gets no PING, only REFUSED
        if paired:
            await asyncio.gather(*(lk.barrier(2.0) for lk in paired), return_exceptions=True)
        for lk in links:
            lk.close(Code.OK, "peer is shutting down")
        dialers = self.conns.dialers.values()
        for t in [*self._tasks, *dialers]:
            t.cancel()
        await asyncio.gather(*self._tasks, *dialers, return_exceptions=True)
        if self.discovery is not None:
            await self.discovery.close()  # its goodbye: peers drop this device's LAN records at once
        if self.hasher is not None:
            self.hasher.close()  # a file not hashed yet is hashed again at the next start
        await self._release_endpoint()
        try:
            self.engine.save_for_restart()  # the next start reads the index's entries, not the index
        except Exception:  # noqa: BLE001 - the vault may be gone: the next start reads the index whole
            log.exception("could not save the vault index for the next start")
        self.timers.write_status(running=False)
