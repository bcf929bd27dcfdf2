"""Local changes: the folder watcher, the periodic reconcile, the start-up scan, and this
device's ignore rules looked at again when their file changes.

Each records what changed on disk in the engine and sets the timers that push it; none
sends anything itself. If the vault folder is gone or replaced (VaultGone) the daemon
halts: nothing more is published from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

from ..config import Config
from ..errors import VaultGone
from ..memory import trim_heap
from ..metrics import Metrics
from ..sync.engine import Engine
from ..vault.filewatch import WatchedFile
from ..vault.fsops import stat_of
from ..vault.ignore import DEVICE_IGNORE_FILE
from ..vault.watcher import watch
from .hasher import Hasher
from .status import Status
from .timers import Timers, rescan_after

log = logging.getLogger(__name__)

RULES_POLL_S = 2.0  # how often `.peervault/ignore` is looked at where inotify cannot watch it


class LocalChanges:
    def __init__(
        self,
        root: Path,
        engine: Engine,
        cfg: Config,
        metrics: Metrics,
        *,
        timers: Timers,
        status: Status,
        kick_blobs: Callable[[], None],
        stopping: asyncio.Event,
        halt: Callable[[VaultGone], None],
        publish: Callable[..., None],
        hasher: Hasher | None = None,
    ) -> None:
        self.root = root
        self.engine = engine
        self.cfg = cfg
        self.metrics = metrics
        self.timers = timers
        self.status = status
        self._kick_blobs = kick_blobs
        self.stopping = stopping
        self._halt = halt
        self._publish = publish
        self.hasher = hasher
        # `.peervault/ignore`, watched on the vault watcher's inotify instance (one per vault)
        self._rules_poke = asyncio.Event()
        self._rules_file = WatchedFile(root.joinpath(*DEVICE_IGNORE_FILE.split("/")), self._rules_poke.set)

    def initial_scan(self) -> None:
        """One-shot modes: the folder is compared before any peer connects."""
        t = time.perf_counter()
        changes = self.engine.reconcile(time.time())
        self.engine.recover(time.time())
        self.engine.clear_pending()  # no peer yet: each one gets these changes in its handshake
        self.metrics.phase("initial_scan", t)
        if changes:
            log.info("recorded %d local change(s) made while PeerVault was not running", changes)

    async def background_scan(self) -> None:
        """`run`: start-up's comparison of folder and database, a chunk at a time between other
        work, so the daemon is ready (and syncing) before it ends."""
        t = time.perf_counter()
        changes = 0
        try:
            for n in self.engine.reconcile_steps(time.time()):
                changes += n
                if n:
                    self.timers.schedule_flush()
                await asyncio.sleep(0)
        except VaultGone as exc:
            self._halt(exc)
            return
        self.engine.recover(time.time())
        self.timers.schedule_settle()
        self._kick_blobs()
        self.timers.schedule_retry()
        if self.hasher is not None:
            await self.hasher.idle()  # the first import ends when its binary files are recorded too
        self.metrics.phase("initial_scan", t)
        self.engine.shed_memory()
        trim_heap()
        self.status.scan_done = True
        self.timers.write_status()  # at once: scripts (and the bench) wait for scan_done
        if changes:
            log.info("recorded %d local change(s) made while PeerVault was not running", changes)

    async def watch_loop(self) -> None:
        async for changes in watch(
            self.root,
            self.stopping,
            self.cfg.watch_step_ms,
            self.cfg.watch_debounce_ms,
            self.engine.watch_ignores,
            also=self._rules_file,
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
                    if self.engine.reconcile(time.time()):
                        self.timers.schedule_flush()
                looked = rels or changes.moves
                if looked and self.engine.local_paths(rels, time.time(), moves=changes.moves, write_into=False):
                    self.metrics.record_local(time.perf_counter() - t)
                    self.timers.schedule_flush()
                    moved = {p for move in changes.moves for p in move}
                    self._publish("local_change", paths=sorted(rels | moved)[:1000])
                if looked:
                    await asyncio.sleep(0)  # the links send the change first (Engine.write_into)
                    self.engine.write_into(rels, changes.moves, time.time())
                self.engine.take_written()  # notes laid out again after a local change: not news from a peer
                self.timers.schedule_settle()
            except VaultGone as exc:
                self._halt(exc)
                return
            except Exception as exc:  # noqa: BLE001 - keep watching; reconcile will retry
                log.exception("could not record local changes to %s", ", ".join(sorted(rels)[:3]))
                self._publish("error", message=f"could not record local changes: {exc}", paths=sorted(rels)[:20])

    async def reconcile_loop(self) -> None:
        """The backstop: every file's size and mtime compared with the database, for what the
        watcher missed, at most as often as its cost allows (timers.rescan_after)."""
        wait = self.cfg.reconcile_interval_s
        while True:
            await asyncio.sleep(wait)
            cpu = time.thread_time()
            try:
                if self.engine.reconcile(time.time()):
                    self.timers.schedule_flush()
            except VaultGone as exc:
                self._halt(exc)
                return
            self.engine.recover(time.time())  # notes that could not be written before (a folder in the way)
            self.timers.schedule_settle()
            took = time.thread_time() - cpu
            wait = rescan_after(self.cfg.reconcile_interval_s, took)
            log.debug("backstop rescan: %.0f ms of CPU; the next in %.0f s", took * 1000, wait)

    async def rules_loop(self) -> None:
        """Apply changes to `.peervault/ignore` while running: the watcher never watches
        the state folder's files as the vault's, so the file's stat is compared when the
        watcher's watch on that folder says it may have changed (vault/filewatch.py: within
        milliseconds, and no timer while idle), or every RULES_POLL_S where there is no
        such watch (no inotify, the folder gone), and until the start-up scan, which reads
        the rules itself, is done."""
        path, watched, poke = self._rules_file.path, self._rules_file, self._rules_poke
        seen = stat_of(path)
        # (not `while True`: the watcher's close pokes this loop as the shutdown cancels it,
        # and Python 3.11's `wait_for` then loses the cancel when the wait ends with it)
        while not self.stopping.is_set():
            timeout = None if watched.alive and self.status.scan_done else RULES_POLL_S
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(poke.wait(), timeout)
            poke.clear()
            now_st = stat_of(path)
            if now_st == seen or not self.status.scan_done:
                continue
            seen = now_st
            try:
                if self.engine.reload_rules(time.time()):
                    self.timers.schedule_flush()
            except VaultGone as exc:
                self._halt(exc)
                return
            self.engine.take_written()
            self._kick_blobs()  # binary files no longer ignored here are fetched
            self.timers.schedule_settle()
