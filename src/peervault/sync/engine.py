"""The vault engine: the one place where disk, database, CRDTs and peers meet.

Local side:  changed paths -> read -> diff into the note (against the version the
             disk held) -> commit to SQLite -> mark pending for peers.
Remote side: updates -> import -> commit to SQLite -> write the merged text to
             disk atomically, after first reading any local edit it has not seen.

This is the façade: the work is done by the modules beside it, each a set of
functions over one shared `EngineState` (sync/enginestate.py). It is synchronous and
single-threaded (the daemon calls it from its event loop); it implements the
session's `Replica` protocol, so sessions read vault state from it without knowing
about disk or SQLite.

Time is an input: every operation that may save, write or delete takes `now` (wall
clock seconds) from its caller. Only the two calls the session makes on its own
(`doc_batches`, `accept_pairing`: it runs on a monotonic clock) read the wall clock
the engine was given.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Generic, TypeVar, cast

from ..config import Config
from ..crdt.entries import Entry, EntryTable
from ..crdt.index import VaultIndex
from ..errors import StoreUnavailable
from ..memory import SERVING_CACHE_KIB, SERVING_EVERY, BurstTrimmer
from ..protocol import messages as m
from ..store.db import Store
from ..store.filetable import FileTable
from ..vault.blobstore import BlobStore
from ..vault.fsops import Stat
from ..vault.ignore import IgnoreRules
from . import (
    binaries,
    blobsource,
    catchup,
    deletions,
    ignorehere,
    ingest,
    layout,
    live,
    publishing,
    remote,
    savedindex,
    settle,
    tracked,
    wholeindex,
    writeback,
)
from .deleteguard import DeleteGuard, Published
from .documents import fold_index, is_live, text
from .enginestate import EngineState
from .settle import SETTLE_S

__all__ = ["SETTLE_S", "Engine"]

log = logging.getLogger(__name__)

T = TypeVar("T")

SHED_AFTER = 1000  # index changes (see shed_memory)


class _Shared(Generic[T]):
    """An attribute of the engine's state, read (and set, by the daemon and tests) on the engine."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, engine: Engine, owner: type | None = None) -> T:
        return cast(T, getattr(engine.state, self.name))

    def __set__(self, engine: Engine, value: T) -> None:
        setattr(engine.state, self.name, value)


class Engine:
    root = _Shared[Path]()
    store = _Shared[Store]()
    cfg = _Shared[Config]()
    vault_id = _Shared[bytes]()
    published = _Shared[bool]()
    session_peer = _Shared[int]()
    index = _Shared[VaultIndex]()
    entries = _Shared[EntryTable]()
    files = _Shared[FileTable]()
    file_id_at = _Shared[dict[str, str]]()
    addrs = _Shared[list[str]]()
    blobs = _Shared[BlobStore]()
    ignore = _Shared[IgnoreRules]()
    ignored = _Shared[int]()
    case_insensitive = _Shared[bool]()
    failed_writes = _Shared[set[str]]()
    guard = _Shared[DeleteGuard[Published]]()
    held = _Shared[dict[str, str]]()
    stats = _Shared[dict[str, int]]()

    def __init__(self, root: Path, store: Store, cfg: Config, clock: Callable[[], float]) -> None:
        """`clock`: the wall clock (`time.time`), for the session's calls only (see above)."""
        self.state = EngineState(root, store, cfg, clock)
        self._trimmer = BurstTrimmer(SERVING_EVERY)  # a peer's catch-up, served in batches (doc_batches)
        ignorehere.apply(self.state)  # this device's rules, as they are now (they may have changed while stopped)

    def _at(self, now: float) -> EngineState:
        self.state.now = now
        return self.state

    def shed_memory(self, churn: int = SHED_AFTER) -> bool:
        """Between batches, once everything is saved: drop the index's Loro document (it is
        loaded again from the database when next needed, sync/savedindex.py), so an idle
        daemon holds none. After a burst of index changes (a first import, an initial sync:
        `churn` of them) the index is first saved as a new snapshot, in place of its log,
        with its entries for the next warm start, and the WAL of the burst emptied into the
        database; the notes the burst left in the cache are dropped too (the `real` tier:
        5 MB). SQLite's page cache, and what only speeds up the next layouts and blob look-ups,
        are freed in any case. True if the index or the cache was shed."""
        return savedindex.shed(self.state, churn)

    def save_for_restart(self) -> None:
        """At a clean stop: if the index has changes logged after its snapshot, fold them into
        a new one, so the next start finds its entries saved (savedindex.py) and need not
        decode the index. Quick (the vault's snapshot, once); skipped on a full disk."""
        s = self.state
        if s.batch_depth or s.store.in_transaction:
            return
        if not s.index_cached or s.store.rollbacks != s.index_rollbacks:
            try:
                with s.store.transaction():
                    fold_index(s)
            except StoreUnavailable as exc:
                log.warning("could not save the vault index for the next start: %s", exc)
        savedindex.unload(s)

    # ------------------------------------------------------------------ local side
    def reconcile(self, now: float) -> int:
        """Full pass over the folder: cheap (size+mtime) unless something changed. Returns changes."""
        return ingest.reconcile(self._at(now))

    def reconcile_steps(
        self, now: float, chunk: int | None = ingest.IMPORT_CHUNK, planned: Callable[[int], None] | None = None
    ) -> Iterator[int]:
        """`reconcile` in steps of `chunk` changed files (see ingest.reconcile_steps)."""
        return ingest.reconcile_steps(self._at(now), chunk, planned)

    def local_paths(self, rels: set[str], now: float, moves: Sequence[tuple[str, str]] = (), write_into: bool = True) -> int:
        """Look again at these paths (files or folders, present or gone). Returns changes.

        `moves` are renames the watcher saw, (from, to) in order, files or folders: applied
        exactly first, so a note keeps its identity whatever other notes hold the same text.
        A file that vanished, or became empty while its note has text, may be in the middle
        of an editor's save (vim renames it away; others truncate, then write): that waits
        SETTLE_S and is decided by `settle`, so a save is never mistaken for a delete.
        `write_into=False`: the notes these paths may have freed are left to `write_into`."""
        return ingest.local_paths(self._at(now), rels, moves, write_into)

    def write_into(self, rels: set[str], moves: Sequence[tuple[str, str]], now: float) -> None:
        """Notes waiting for a place these paths may have freed (writeback.write_into): the
        daemon's call once the change is sent (a first call after a layout change lays out
        the whole vault: 11,004 files, ~20 ms)."""
        writeback.write_into(self._at(now), ingest.freed_by(rels, moves))

    def ignores(self, rel: str) -> bool:
        return ignorehere.ignores(self.state, rel)

    def reload_rules(self, now: float) -> int:
        """Read the ignore rules again (the daemon calls it when `.peervault/ignore`, which the
        watcher never sees, changed): if they did, pick up what they no longer keep out and
        write the notes they no longer hide. Returns changes."""
        s = self._at(now)
        if not ignorehere.refresh_rules(s):
            return 0
        changes = ingest.reconcile(s)
        writeback.recover(s)
        return changes

    def watch_ignores(self, rel: str) -> bool:
        """What the watcher may drop (see ignorehere.watch_ignores)."""
        return ignorehere.watch_ignores(self.state, rel)

    def settle(self, now: float) -> int:
        """Decide what waited out its settle period: still gone is deleted, still empty is
        emptied, and remote changes held back meanwhile are written. Returns changes."""
        s = self._at(now)
        rels = settle.take_due(s, now)
        changes = ingest.ingest_paths(s, rels, now) if rels else 0
        if changes:
            writeback.write_into(s, rels)
        deferred = settle.take_deferred(s)
        if deferred:
            writeback.write_out(s, deferred)  # whatever is still busy defers itself again
        return changes

    def next_settle(self) -> float | None:
        """When `settle` has work to do (wall-clock time), or None."""
        return settle.next_settle(self.state)

    def check_vault(self) -> None:
        tracked.check_vault(self.state)

    # ------------------------------------------------------------------ held deletions
    def held_deletions(self) -> dict[str, tuple[str, float, str]]:
        """file_id -> (path, held_at, reason) of the deletions the guard holds."""
        return self.state.store.held_deletions()

    def apply_held(self, now: float) -> int:
        return deletions.apply_held(self._at(now), now)

    def restore_held(self, now: float) -> int:
        return deletions.restore_held(self._at(now))

    # ------------------------------------------------------------------ remote side
    def adopt_index(self, msg: m.IndexSnapshot, now: float, origin: str = "peer") -> bool:
        """A peer's index as saved (INDEX_SNAPSHOT: a join); False if it held nothing new."""
        return wholeindex.adopt(self._at(now), msg, origin)

    def index_snapshot_updates(self, msg: m.IndexSnapshot) -> bytes:
        """INDEX_SNAPSHOT's snapshot as INDEX_UPDATES would carry it (to forward it)."""
        return wholeindex.inflated(msg)

    def apply_index(self, blob: bytes, now: float, origin: str = "peer") -> bool:
        """Import index updates; False if they held nothing new (then they are not forwarded)."""
        return remote.apply_index(self._at(now), blob, origin)

    def apply_docs(
        self, entries: tuple[tuple[bytes, bytes], ...], now: float, origin: str = "peer"
    ) -> tuple[tuple[bytes, bytes], ...]:
        """Import a batch of note updates; returns the entries that brought something new."""
        return remote.apply_docs(self._at(now), entries, origin)

    def forget_device(self, endpoint_id: str) -> None:
        remote.forget_device(self.state, endpoint_id)

    def take_forgotten(self) -> set[str]:
        return remote.take_forgotten(self.state)

    def take_written(self) -> list[tuple[str, bool]]:
        """(path, merged) of the notes written to disk since the last call: merged when an
        edit made here met the incoming one (the events the daemon publishes)."""
        written, self.state.written = self.state.written, []
        return written

    def retry_failed_writes(self, now: float) -> bool:
        return writeback.retry_failed_writes(self._at(now))

    def recover(self, now: float) -> None:
        writeback.recover(self._at(now))

    def wanted_blobs(self, skip: Container[str] = (), limit: int | None = None) -> dict[str, int]:
        """Blobs the index names that are not here yet: hash -> size (for the daemon to fetch;
        `skip` and `limit`: see binaries.wanted_blobs)."""
        return binaries.wanted_blobs(self.state, skip, limit)

    def awaited(self) -> int:
        """How many blobs files here wait for (cheap: see binaries.awaited)."""
        return binaries.awaited(self.state)

    def awaits(self, h: str) -> bool:
        """Whether a file here still waits for blob `h`."""
        return h in self.state.awaiting

    def blobs_arrived(self, hashes: Iterable[str], now: float) -> None:
        """Fetched blobs are complete and verified: write the files that wait for them, in
        one batch (one transaction, one layout pass, one sync of the disk for them all)."""
        fids: set[str] = set()
        for h in hashes:
            fids |= self.state.awaiting.pop(h, set())
        if fids:
            writeback.write_out(self._at(now), fids)

    # ------------------------------------------------------------------ binary files
    def blob_source(self, h: str) -> blobsource.Source | None:
        """Where the bytes of blob `h` are here for certain (sync/blobsource.py), or None."""
        return blobsource.locate(self.state, h)

    def blob_candidates(self, h: str) -> list[Path]:
        """Vault files recorded as `h` whose stat moved: a fresh hash tells if they still are."""
        return blobsource.candidates(self.state, h)

    def hash_in_background(self, notify: Callable[[], None] | None) -> None:
        """From now on binary files are queued for `take_hash_jobs` (and `notify` called)
        instead of being hashed inside engine calls; None: hashed at once again."""
        self.state.hash_later = notify

    def take_hash_jobs(self) -> dict[str, Stat]:
        return binaries.take_hash_jobs(self.state)

    def blob_hashed(self, rel: str, st: Stat, h: str, size: int, now: float) -> int:
        """A worker hashed `rel` at stat `st`: recorded if the file still shows it. Returns changes."""
        return binaries.blob_hashed(self._at(now), rel, st, h, size)

    def restore_blob(self, file_id: str, rel: str, h: str, size: int, now: float) -> bool:
        """Make a binary version the current one again (see binaries.restore_blob): written
        now if its bytes are here (True), else fetched from a peer first (False)."""
        s = self._at(now)
        fid, here = binaries.restore_blob(s, file_id, rel, h, size)
        writeback.write_out(s, {fid})
        return here

    def layout(self) -> dict[str, str]:
        return layout.layout(self.state)

    def text(self, file_id: str) -> str | None:
        return text(self.state, file_id)

    def is_live(self, entry: Entry) -> bool:
        return is_live(self.state, entry)

    # ------------------------------------------------------------------ live editors
    def bind_live(self, file_id: str) -> bytes:
        """A live editor opened the note (sync/live.py); returns its snapshot."""
        return live.bind(self.state, file_id)

    def unbind_live(self, file_id: str, now: float) -> int:
        return live.unbind(self._at(now), file_id)

    def apply_editor(self, file_id: str, update: bytes, now: float) -> bool:
        return live.apply_editor(self._at(now), file_id, update)

    def take_live(self) -> list[tuple[str, bytes]]:
        """(file_id, update) that peers sent for live notes since the last call."""
        out, self.state.live_out = self.state.live_out, []
        return out

    # ------------------------------------------------------------------ outgoing
    def publish_pending(self, now: float) -> int:
        return publishing.publish_pending(self._at(now))

    def pending(self) -> set[str]:
        """Keys with local changes not yet pushed: note ids (an index entry's change under its
        note's), and INDEX for an index change of no note (see publishing.pending_keys)."""
        return publishing.pending_keys(self.state)

    def clear_pending(self) -> None:
        publishing.clear_pending(self.state)

    def take_pending(self, keys: set[str] | None = None) -> list[m.IndexUpdates | m.DocUpdates]:
        return publishing.take_pending(self.state, keys)

    # ------------------------------------------------------------------ Replica protocol
    def index_vv(self) -> bytes:
        return self.state.index.vv()

    def index_updates_since(self, vv: bytes) -> bytes | None:
        s = self.state
        out = s.index.catch_up(vv)
        if out is not None and not s.index.loaded:
            s.store.release_memory()  # the saved snapshot came through SQLite's page cache (2 MB)
        elif out is not None and len(out) * 4 > s.index_snapshot_bytes + s.index_log_bytes:
            # Exporting much of the index (a peer's join) decodes all of it in Loro, which
            # keeps it so (11,004 files: 12 MB): shed it at the next chance, as after a burst.
            s.index_churn = max(s.index_churn, SHED_AFTER)
        return out

    def index_saved_whole(self, vv: bytes) -> m.IndexSnapshot | None:
        return wholeindex.serve(self.state, vv)

    def bucket_digests(self) -> bytes:
        return self.state.versions.digests()

    def doc_versions(self, buckets: bytes) -> list[tuple[bytes, bytes]]:
        return self.state.versions.in_buckets(buckets)

    def doc_batches(self, buckets: bytes, peer_versions: dict[bytes, bytes]) -> Iterator[list[tuple[bytes, bytes]]]:
        """What the peer lacks, recent notes first, one batch per acknowledgement (catchup.py)."""
        batches = catchup.doc_batches(self.state, buckets, peer_versions, int(self.state.clock() * 10**9))
        while True:
            with self.state.store.small_cache(SERVING_CACHE_KIB):  # not across the yield
                batch = next(batches, None)
            if batch is None:
                return
            yield batch
            self._trimmer.after_work(self.state.clock())  # the batch was sent: its buffers are freed

    def local_addrs(self) -> list[str]:
        return self.state.addrs

    def accept_pairing(self, peer: str, vault_id: bytes, secret: bytes) -> bool:
        return remote.accept_pairing(self.state, peer, vault_id, secret, self.state.clock())

    # ------------------------------------------------------------------ status
    def cache_stats(self) -> dict[str, float]:
        c = self.state.cache
        return {
            "docs_cached": len(c),
            "cache_mb": round(c.bytes / 2**20, 2),
            "cache_hit_rate": round(c.hit_rate, 4),
            "index_loaded": self.state.index.loaded,  # the index's document decoded (savedindex.py)
            "cache_evictions": c.evictions,
        }

    def counts(self) -> dict[str, int]:
        s = self.state
        live = sum(1 for e in s.entries.values() if is_live(s, e))
        unpublished = sum(1 for f in s.files if f.startswith("u"))
        return {"tracked": live + unpublished, "deleted": len(s.entries) - live}
