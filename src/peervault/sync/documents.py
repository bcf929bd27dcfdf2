"""Note documents and the batch they are saved in.

A note is loaded on first use (through the cache) and saved at the end of the batch
that changed it, in the same SQLite transaction as the files table and the index
snapshot: a crash keeps all of a batch or none of it. Saving also records the version
for `peervault history` and keeps the version summary current.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..config import Config
from ..crdt import CrdtError, notes
from ..crdt.entries import Entry, entry_row
from ..crdt.notes import Note
from ..store.db import Store
from .doccache import DocCache
from .notemaker import Made

if TYPE_CHECKING:
    from .enginestate import EngineState

LOG_FLOOR = 256 * 1024  # the index's log may hold this much before it is folded into a snapshot
INDEX = "index"  # pending-change key of the vault index (note ids are hex, so no clash)


def open_cache(store: Store, cfg: Config, session_peer: int) -> DocCache[Note]:
    """The lazy cache of notes, loading from and writing back to `store`."""

    def load(file_id: str) -> tuple[Note, int] | None:
        snap = store.load_doc(file_id)
        return None if snap is None else (notes.load_note(snap, session_peer), len(snap))

    def persist(file_id: str, doc: Note) -> int:
        snap = notes.whole(doc)
        store.save_doc(file_id, snap, notes.vv_bytes(doc), not file_id.startswith("u"))
        return len(snap)

    return DocCache(cfg.cache_docs, cfg.cache_bytes, load, persist)


def doc(s: EngineState, file_id: str) -> Note | None:
    pinned = s.pinned.get(file_id)
    if pinned is not None:
        return pinned
    if file_id not in s.versions.vvs and not file_id.startswith("u") and file_id not in s.cache:
        # A published note is stored exactly when the version summary has it (both are kept
        # by `save`): one never saved is not looked up, so a first import or an initial sync
        # does not ask SQLite once for each of its new notes.
        return None
    return s.cache.get(file_id)


def text(s: EngineState, file_id: str) -> str | None:
    d = doc(s, file_id)
    return None if d is None else notes.text_of(d)


def is_live(s: EngineState, entry: Entry) -> bool:
    """Deleted, unless the note holds edits the deleting device had not seen (edit wins)."""
    if not entry.deleted:
        return True
    vv = s.versions.vvs.get(entry.file_id)
    if vv is None or not entry.dvv:
        return False
    try:
        return not notes.includes(entry.dvv, vv)
    except CrdtError:
        return False


def save(s: EngineState, file_id: str, d: Note) -> None:
    """Record a changed note: written back at the end of the batch (or at once outside one)."""
    published = not file_id.startswith("u")
    s.cache.put_dirty(file_id, d)
    if s.batch_depth:
        s.uncommitted.add(file_id)  # until the batch's transaction commits (see batch)
    if published:
        e, row = s.entries.get(file_id), s.files.get(file_id)
        path = e.path if e is not None else row.path if row is not None else ""
        s.new_versions.append((file_id, s.now, notes.frontiers(d), s.origin, path))
    if not s.batch_depth:
        flush_saves(s)
    if published:
        _versioned(s, file_id, notes.vv_bytes(d))


def save_made(s: EngineState, file_id: str, made: Made) -> None:
    """Record a new published note made by the note worker (sync/notemaker.py) as `save`
    would, within the batch: stored now, in the batch's transaction, and not loaded (a first
    import's notes are shed from the cache at its end anyway)."""
    if not s.batch_depth:
        raise RuntimeError("save_made outside a batch")
    s.store.save_stored_doc(file_id, made.stored, made.vv)
    s.uncommitted.add(file_id)  # until the batch's transaction commits (see batch)
    e, row = s.entries.get(file_id), s.files.get(file_id)
    path = e.path if e is not None else row.path if row is not None else ""
    s.new_versions.append((file_id, s.now, made.frontiers, s.origin, path))
    _versioned(s, file_id, made.vv)


def _versioned(s: EngineState, file_id: str, vv: bytes) -> None:
    """A published note saved at version `vv`: the version summary and the layout know."""
    e = s.entries.get(file_id)
    if file_id not in s.versions.vvs and e is not None and not e.deleted:
        s.layout_new.add(file_id)  # a new note: added to the layout (layout.layout)
    elif file_id not in s.versions.vvs or (e is not None and e.deleted):
        s.layout_version += 1  # a note with no entry yet, or one whose liveness may change
    s.versions.set(file_id, vv)


VERSION_MERGE_S = 2.0  # saves of a note open in an editor closer than this are one version


@contextlib.contextmanager
def saves_from(s: EngineState, origin: str) -> Iterator[None]:
    """Changes saved meanwhile came from `origin` (a peer), not from this device."""
    s.origin = origin
    try:
        yield
    finally:
        s.origin = "local"


def flush_saves(s: EngineState) -> None:
    """Write back the notes changed in this batch, and the versions history will list."""
    s.cache.flush()
    if s.new_versions:
        s.store.add_versions(s.new_versions, frozenset(s.live), VERSION_MERGE_S)
        s.new_versions = []


def mark_pending(s: EngineState, file_id: str, before: bytes | None) -> None:
    if not file_id.startswith("u") and file_id not in s.pending:
        s.pending[file_id] = before


def index_changed(s: EngineState, file_id: str, before: bytes | None) -> None:
    entry = s.index.entry(file_id)
    if entry is None:
        s.entries.pop(file_id, None)
    else:
        s.entries[file_id] = entry
    reindex(s)
    s.pending.setdefault(INDEX, before)
    s.index_keys.add(file_id)  # pushed with this note's changes (publishing.take_pending)


def reindex(s: EngineState) -> None:
    """Index entries changed: layouts must be recomputed, the snapshot saved (once per batch)."""
    s.layout_version += 1
    s.index_unsaved = True
    s.index_churn += 1


@contextlib.contextmanager
def batch(s: EngineState) -> Iterator[None]:
    """One SQLite transaction per batch of changes, with the index snapshot saved once."""
    try:
        with s.store.transaction():
            s.batch_depth += 1
            try:
                yield
            except BaseException:
                s.cache.discard_dirty()  # rolled back: reload those notes from the database
                s.new_versions = []
                raise
            finally:
                s.batch_depth -= 1
            flush_saves(s)
            if s.index_unsaved:
                save_index(s)
                s.index_unsaved = False
    except BaseException:
        if not s.store.in_transaction:
            _rolled_back(s)
        raise
    if not s.store.in_transaction:
        s.uncommitted.clear()


def _rolled_back(s: EngineState) -> None:
    """The transaction failed (a full disk at the last write or at COMMIT, say): the notes
    it saved are as the database has them, in the cache and in the version summary. Else
    this device would tell its peers it holds versions it lost, and never be sent them again."""
    stored = s.store.published_vvs(s.uncommitted)
    for file_id in s.uncommitted:
        s.cache.discard(file_id)
        if file_id in stored:
            s.versions.set(file_id, stored[file_id])
        else:
            s.versions.drop(file_id)
    s.uncommitted.clear()
    s.new_versions = []


OWN_PEERS = "index_peers"  # meta: the Loro peers this device's index has written as, one per session


def own_peers(store: Store) -> set[int]:
    """Every peer id this device's index has written as: its own ops, whatever the session
    (a take-back elsewhere is checked against this device's deletes: crdt/afterimport.py)."""
    return {int(p) for p in str(store.get_meta(OWN_PEERS) or "").split()}


def _note_own_peer(s: EngineState) -> None:
    peer = s.index.peer
    if not s.index.loaded or peer in s.own_peers:
        return  # (an index not decoded has no write of this session unsaved: a join's adopted one)
    if s.index.doc.oplog_vv.get_last(peer) is not None:
        s.own_peers.add(peer)
        s.store.set_meta(OWN_PEERS, " ".join(str(p) for p in sorted(s.own_peers)))


def save_index(s: EngineState) -> None:
    """Save the index's changes: appended to its log (the cost of the change), or, once the
    log adds up to the snapshot's size, as a new snapshot (the cost of the vault), so a
    first import or a busy day costs a few snapshots, not one per batch. A transaction
    rolled back since the last save may have taken logged updates with it: then the
    snapshot is written, whole."""
    _note_own_peer(s)  # (in the same transaction as what it wrote)
    if s.store.rollbacks != s.index_rollbacks:
        fold_index(s)
        return
    updates = s.index.updates_since(s.index_saved_vv)
    if updates is None:
        return  # nothing new
    if s.index_log_bytes + len(updates) > max(LOG_FLOOR, s.index_snapshot_bytes):
        fold_index(s)
        return
    s.store.log_index(updates)
    s.index_log_bytes += len(updates)
    s.index_cached = False  # the entries beside the snapshot are now behind
    s.index_saved_vv = s.index.vv()


def fold_index(s: EngineState) -> bytes:
    """Save the index as a new snapshot (its log emptied), its entries beside it for the next
    warm start (store/indexentries.py); returns the snapshot. After a rolled-back
    transaction the entries are read again from the index first: one that failed halfway
    through a change may have left the engine's copy behind the document."""
    if s.store.rollbacks != s.index_rollbacks:
        fresh = s.index.entries()
        if fresh != s.entries:
            s.entries.clear()
            s.entries.update(fresh)
            s.layout_version += 1
    snap, vv = s.index.snapshot(), s.index.vv()
    # The document is read back from that snapshot before it is saved: Loro decodes it
    # lazily, so what a burst (a first import) decoded is not held, neither through the
    # save (deflating, SQLite's copy: the peak of a first import) nor after it.
    s.index.reload(snap)
    keep_index_snapshot(s, snap, vv)
    return snap


def keep_index_snapshot(s: EngineState, snap: bytes, vv: bytes) -> None:
    """Save `snap` as the index's snapshot at version `vv`, the engine's entries beside it:
    the index holds exactly its ops (just exported, or a peer's snapshot imported into an
    empty index, which then needs no export) and the entries are read from it."""
    s.store.save_index(snap, vv, map(entry_row, s.entries.values()), s.index.forgotten())
    s.index_snapshot_bytes, s.index_log_bytes = len(snap), 0
    s.index_saved_vv = vv
    s.index_rollbacks = s.store.rollbacks
    s.index_cached = True


def written_version(s: EngineState, file_id: str, d: Note, text: str, base: bytes = b"") -> bytes | None:
    """A recent version of the note, later than `base` (what the disk was known to show),
    whose text is `text`; None if there is none. A kill -9 between writing a note's file
    and committing that it is written leaves the file showing a version this device wrote
    but never recorded; if updates arrive before the file is looked at again, it is
    neither a local edit (diffed against `base`) nor a foreign copy (merged in): either
    would add its text to the note a second time."""
    if base == notes.frontiers(d):
        return None  # nothing arrived since the disk was written: an ordinary edit
    try:
        since = notes.vv_at(d, base) if base else None
        for _, frontiers, _, _ in reversed(s.store.versions(file_id)[-16:]):
            if since is not None and notes.includes(since, notes.vv_at(d, frontiers)):
                continue  # the disk showed that one already: going back to it is an edit
            if notes.text_at(d, frontiers) == text:
                return frontiers
    except CrdtError:
        pass
    return None
