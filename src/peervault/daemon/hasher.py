"""Hashing binary files in worker threads, beside note ingestion.

The engine queues each binary file it meets (`Engine.hash_in_background`) instead of
hashing it inside the call: a 1 GB video takes seconds to hash, and the notes read in
the same pass must not wait for it. Workers hash the file where it lies (no copy; BLAKE3
and the reads release the GIL) and hand the digest back on the event loop, where the
engine records it only if the file still shows the stat it was hashed at.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..sync.engine import Engine
from ..vault.blobio import BlobChanged, hash_stable
from ..vault.fsops import Stat

log = logging.getLogger(__name__)

WORKERS = 2  # at most; fewer on a machine with fewer cores (the event loop keeps one)
RETRY_S = 1.0  # a file still being written when hashed: looked at again this much later


class Hasher:
    def __init__(self, engine: Engine, root: Path, on_recorded: Callable[[int, str], None]) -> None:
        self.engine = engine
        self.root = root
        self.on_recorded = on_recorded
        workers = max(1, min(WORKERS, (os.cpu_count() or 2) - 1))
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="peervault-hash")
        self._inflight: set[str] = set()
        self._again: dict[str, Stat] = {}  # queued again while being hashed
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    def notify(self) -> None:
        """Called by the engine (inside one of its calls) when it queued a file: start after it."""
        if not self._scheduled:
            self._scheduled = True
            self._idle.clear()
            asyncio.get_running_loop().call_soon(self._start)

    @property
    def pending(self) -> int:
        """Files waiting to be hashed or being hashed: local changes not yet recorded."""
        return len(self._inflight) + len(self.engine.state.to_hash) + len(self._again)

    async def idle(self) -> None:
        """Until nothing is queued or being hashed."""
        while self.pending:
            self._idle.clear()
            await self._idle.wait()

    def close(self) -> None:
        self.engine.hash_in_background(None)
        for t in self._tasks:
            t.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _start(self) -> None:
        self._scheduled = False
        for rel, st in self.engine.take_hash_jobs().items():
            if rel in self._inflight:
                self._again[rel] = st
                continue
            self._inflight.add(rel)
            task = asyncio.create_task(self._one(rel))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._check_idle()

    async def _one(self, rel: str) -> None:
        path = self.root.joinpath(*rel.split("/"))
        loop = asyncio.get_running_loop()
        try:
            h, size, st = await loop.run_in_executor(self._pool, hash_stable, path)
            changes = self.engine.blob_hashed(rel, st, h, size, time.time())
            if changes:
                self.on_recorded(changes, rel)
        except BlobChanged:
            loop.call_later(RETRY_S, self._look_again, rel)  # still being written
        except OSError as exc:
            log.debug("could not hash %s: %s (the next change or reconcile looks again)", rel, exc)
        except Exception:  # noqa: BLE001 - one file's failure must not stop the others
            log.exception("recording the binary file %s failed", rel)
        finally:
            self._inflight.discard(rel)
            again = self._again.pop(rel, None)
            if again is not None:
                self.engine.state.to_hash[rel] = again
                self.notify()
            self._check_idle()

    def _look_again(self, rel: str) -> None:
        try:
            changes = self.engine.local_paths({rel}, time.time())
        except Exception:  # noqa: BLE001 - the periodic reconcile looks again
            log.exception("looking again at %s failed", rel)
            return
        if changes:
            self.on_recorded(changes, rel)

    def _check_idle(self) -> None:
        if not self.pending:
            self._idle.set()
