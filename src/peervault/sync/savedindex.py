"""The vault index as the engine holds it: decoded only while needed.

A warm start takes the entries saved beside the index's snapshot (store/indexentries.py)
and leaves the Loro document undecoded: reading the version or the removed devices needs
none; the first write, import, export or read of an entry loads it from the database.
Once everything is saved again the engine drops it (`unload`), so an idle daemon holds no
index document (11,004 files: about 19 MB of a warm start went to the index).

What is read back is exactly what was saved: the document is dropped only when the
database holds every change it has (no unsaved change, no batch or transaction open, no
rollback since the last save, which may have taken logged updates with it), and its
version is kept to check what is read. A reloaded document writes as this session's Loro
peer, as the one dropped did (a fresh peer per process; the document holds that peer's
every op, so its counter goes on from them); if what is read back is not the version
dropped (the database changed under the engine: never by the engine itself), it is taken
as the saved truth, with a fresh peer id and its entries read whole (`_differs`).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..crdt.entries import Entry, EntryTable, row_entry
from ..crdt.index import VaultIndex
from ..errors import StoreUnavailable
from ..memory import trim_heap
from ..store.db import Store
from . import layout, tracked
from .documents import fold_index

if TYPE_CHECKING:
    from .enginestate import EngineState

log = logging.getLogger(__name__)


def open_index(s: EngineState) -> EntryTable:
    """Set up `s.index` and what the state records of it being saved; returns the entries."""
    s.index_rollbacks = s.store.rollbacks
    with s.store.reading():
        cached = s.store.cached_index()
        if cached is not None:
            entries = EntryTable()
            for e in map(row_entry, cached.rows):
                entries[e.file_id] = e
            s.index = VaultIndex.unloaded(
                s.store.load_index, s.session_peer, cached.vv, cached.forgotten, lambda: _differs(s), s.store.index_snapshot_vv
            )
            if cached.adopted:  # a peer's entries (a join), not yet compared with the document
                s.index.check_at_load(lambda held: check_adopted(s, held))
            s.index_snapshot_bytes, s.index_log_bytes = cached.snapshot_size, 0
            s.index_cached = True
        else:  # changes logged after the snapshot, a crash, a database from before the cache
            snap, updates = s.store.load_index()
            s.index = VaultIndex.load(snap, s.session_peer, updates)
            s.index_snapshot_bytes, s.index_log_bytes = len(snap or b""), sum(map(len, updates))
            s.index_cached = False
            del snap, updates
            entries = EntryTable(s.index.entries())
    # what the database holds of the index (documents.save_index): the version saved
    s.index_saved_vv = s.index.vv()
    return entries


def read_entries(store: Store) -> dict[str, Entry]:
    """The index's entries as saved, for a command run without the daemon (status, history):
    those saved beside the snapshot where they match it, else read from the index."""
    with store.reading():
        cached = store.cached_index()
        if cached is not None:
            return {e.file_id: e for e in map(row_entry, cached.rows)}
        snap, updates = store.load_index()
    return VaultIndex.load(snap, 1, updates).entries() if snap or updates else {}


def saved_whole(s: EngineState) -> bool:
    """The database holds the index as a snapshot with its entries beside it and nothing
    logged after it: folding it again would write the same (and, the index decoded, cost
    an export of all of it: 11,004 files, +9 MB for a moment)."""
    return s.index_cached and not s.index_unsaved and s.store.rollbacks == s.index_rollbacks


def shed(s: EngineState, churn: int) -> bool:
    """`Engine.shed_memory` (its docstring says what and when)."""
    if s.batch_depth or s.index_unsaved or s.store.in_transaction:
        return False
    burst = s.index_churn >= churn
    if burst:
        # What the burst left goes first: folding exports the whole index, the peak of a
        # first import (the `real` tier: 100 loaded notes and SQLite's pages, ~7 MB)
        s.cache.shed(keep=s.live)  # the burst's last notes; those open in an editor stay
        layout.forget_misplaced(s)
        if not saved_whole(s):  # (after serving a join, say, nothing changed)
            s.store.release_memory()
            trim_heap()
            try:
                with s.store.transaction():
                    fold_index(s)
            except StoreUnavailable:  # a full disk: the log stays (the next save writes the snapshot)
                # what is saved may lack what the failed transaction took: keep the document,
                # as a lazily decoded copy of itself (11,000 files: 10 MB less than the burst's)
                s.index.reload(s.index.snapshot())
        s.store.truncate_wal()
        s.index_churn = 0
        tracked.share_paths(s)
    shed = unload(s) or burst
    s.store.release_memory()  # the pages a warm start or the burst read
    layout.release_memory(s)
    tracked.drop_blob_rows(s)
    return shed


def unload(s: EngineState) -> bool:
    """Drop the index's document if the database holds all of it; True if dropped."""
    if not s.index.loaded or s.batch_depth or s.store.in_transaction or s.index_unsaved:
        return False
    if s.store.rollbacks != s.index_rollbacks:
        return False  # the log may have lost an update: the next save writes it whole
    if s.index.updates_since(s.index_saved_vv) is not None:
        return False  # a change not saved (never, outside a batch: kept, to be safe)
    s.index.unload(s.store.load_index, lambda: _differs(s), s.store.index_snapshot_vv)
    return True


def adopt(s: EngineState, vv: bytes, forgotten: Iterable[str]) -> None:
    """The index is the snapshot just saved at version `vv` (a peer's, with its entries:
    sync/wholeindex.py), left undecoded as after a warm start; its entries are compared
    with it when it is first loaded (`check_adopted`)."""
    s.index = VaultIndex.unloaded(
        s.store.load_index, s.session_peer, vv, forgotten, lambda: _differs(s), s.store.index_snapshot_vv
    )
    s.index.check_at_load(lambda held: check_adopted(s, held))


def check_adopted(s: EngineState, held: frozenset[str]) -> None:
    """The index, read back for the first time since its entries (and removed devices,
    `held`) were taken from the peer that sent it: the document is the truth. Entries that
    differ (never, from a device running this code: what it sends is what it reads from
    that very snapshot) are replaced by the document's (as `_differs` does: the layout is
    computed again) and the next save writes entries read from the document."""
    fresh = EntryTable(s.index.entries())
    differing = fresh.differing(s.entries) | s.entries.differing(fresh)
    if not differing and s.index.forgotten() == held:
        return
    log.error(
        "the entries (%d differ) or removed devices a peer sent with its index differ from that index; the index's are kept",
        len(differing),
    )
    s.entries.clear()
    s.entries.update(fresh)
    s.layout_version += 1
    s.index_rollbacks = -1  # the next save folds: a snapshot and entries that agree
    s.index_cached = False


def _differs(s: EngineState) -> None:
    """The index read back is not the version the engine had (the database was changed
    under it): what was read is the saved truth. Its entries are read whole, it writes as a
    fresh Loro peer, and the next save writes a new snapshot with its entries."""
    log.error("the vault index read back from the database is not the version this device had; reading it again whole")
    # It may lack ops this session wrote (and peers have): writing as the same peer again
    # would reuse their counters, and peers would drop the new ops. A fresh peer id.
    s.index.use_peer(secrets.randbits(63))
    fresh = s.index.entries()
    s.entries.clear()
    s.entries.update(fresh)
    s.layout_version += 1
    s.index_saved_vv = s.index.vv()
    s.index_rollbacks = -1  # the next save folds: a snapshot and entries that agree
    s.index_cached = False
