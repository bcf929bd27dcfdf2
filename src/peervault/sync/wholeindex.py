"""A join's index as saved (protocol version 4, INDEX_SNAPSHOT): the serving device sends
its snapshot in the form its database stores it, with the entries kept beside it; the
joining device checks what it can without decoding the index, saves both in one
transaction, and takes the entries as its own, as a warm start takes its saved ones.

The `real` tier (11,004 files): the server no longer inflates the 3.4 MB snapshot and
compresses it again (its read and send of the index: about 2 MB lower at their peak), the
joiner no longer decodes Loro's state to read every entry (its index step: +5 MB at its
high-water mark against +14; docs/PERFORMANCE.md, "INDEX_SNAPSHOT"). Why the joiner may
trust the entries: docs/PROTOCOL.md,
"INDEX_SNAPSHOT". The document stays the truth: they are compared with it once it is first
loaded (`savedindex.check_adopted`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..crdt import CrdtError
from ..crdt.entries import EntryTable, entry_row, row_entry, row_ok
from ..crdt.indexversions import same_version, snapshot_version, vv_is_empty
from ..errors import ProtocolError
from ..memory import SERVING_CACHE_KIB, trim_heap
from ..protocol import messages as m
from ..protocol.entryrows import encode_rows, iter_rows
from ..protocol.frames import MAX_BODY
from ..store.packing import inflate_sent, pack_rows, unpack_rows
from ..vault.faults import crash_point
from . import savedindex, writeback
from .deletions import note_peer_deletions
from .documents import batch, reindex
from .remote import apply_index

if TYPE_CHECKING:
    from .enginestate import EngineState

log = logging.getLogger(__name__)


def serve(s: EngineState, peer_vv: bytes) -> m.IndexSnapshot | None:
    """INDEX_SNAPSHOT for a peer at `peer_vv`, if it has no index and the database holds
    this device's whole index (the snapshot of the version held, its entries beside it,
    nothing logged after: what a warm start here would trust), else None (INDEX_UPDATES).
    Entries this device itself took from a peer and has not compared yet are not passed on."""
    if not vv_is_empty(peer_vv) or s.batch_depth or s.store.in_transaction or s.index_unsaved:
        return None
    # Read once, so not cached (SERVING_CACHE_KIB); the rows compressed before the snapshot
    # is read, so their 1.8 MB (the `real` tier's) is gone by then.
    with s.store.reading(), s.store.small_cache(SERVING_CACHE_KIB):
        cached = s.store.cached_index()
        if cached is None or cached.adopted or not same_version(cached.vv, s.index.vv()):
            return None
        rows = pack_rows(encode_rows(cached.rows))
        stored = s.store.stored_index()
        if stored is None:
            return None
    trim_heap()  # the rows' encoding went through the heap: back before the send's buffers (once per join)
    return m.IndexSnapshot(cached.vv, stored, cached.snapshot_size, tuple(sorted(cached.forgotten)), rows)


def inflated(msg: m.IndexSnapshot) -> bytes:
    """The snapshot of INDEX_SNAPSHOT, inflated (ProtocolError if it does not inflate
    within MAX_BODY to the size announced): what INDEX_UPDATES would have carried."""
    try:
        snapshot = inflate_sent(msg.snapshot, MAX_BODY)
    except ValueError as exc:
        raise ProtocolError(f"INDEX_SNAPSHOT: the snapshot: {exc}") from None
    if len(snapshot) != msg.size:
        raise ProtocolError(f"INDEX_SNAPSHOT: the snapshot is {len(snapshot)} bytes, not {msg.size}")
    return snapshot


def rows_of(msg: m.IndexSnapshot) -> bytes:
    """INDEX_SNAPSHOT's entry rows, inflated (ProtocolError past MAX_BODY or damaged)."""
    try:
        return unpack_rows(msg.rows, MAX_BODY)
    except ValueError as exc:
        raise ProtocolError(f"INDEX_SNAPSHOT: the entry rows: {exc}") from None


def checked(msg: m.IndexSnapshot) -> EntryTable:
    """The entries of INDEX_SNAPSHOT, once its snapshot is a Loro snapshot of the version
    announced and every row is one an entry could be (each file once); ProtocolError
    otherwise. Nothing is decoded but the snapshot's blocks' headers."""
    snapshot = inflated(msg)
    try:
        if not same_version(snapshot_version(snapshot), msg.vv):
            raise ProtocolError("INDEX_SNAPSHOT: the snapshot is not of the version announced")
    except CrdtError as exc:
        raise ProtocolError(f"INDEX_SNAPSHOT: {exc}") from None
    del snapshot
    entries = EntryTable()
    for row in iter_rows(rows_of(msg)):
        if not row_ok(row):
            raise ProtocolError(f"INDEX_SNAPSHOT: the entry row of {row[0]!r} is malformed")
        if row[0] in entries:
            raise ProtocolError(f"INDEX_SNAPSHOT: {row[0]!r} has two entry rows")
        entries[row[0]] = row_entry(row)
    return entries


def adopt(s: EngineState, msg: m.IndexSnapshot, origin: str) -> bool:
    """Take a peer's index as saved; False if it held nothing new. Only into an index with
    nothing in it: otherwise (this device made a change since its HELLO) the snapshot is
    imported, as INDEX_UPDATES carrying it would be."""
    if not vv_is_empty(s.index.vv()) or len(s.entries):
        return apply_index(s, inflated(msg), origin)
    after = checked(msg)
    trim_heap()  # the inflated snapshot's pages, before the save
    if vv_is_empty(msg.vv):
        return False
    before = EntryTable()
    with batch(s):
        s.store.save_stored_index(msg.snapshot, msg.vv, msg.size, map(entry_row, after.values()), msg.forgotten)
        savedindex.adopt(s, msg.vv, msg.forgotten)
        s.index_snapshot_bytes, s.index_log_bytes = msg.size, 0
        s.index_saved_vv = msg.vv
        s.index_rollbacks = s.store.rollbacks
        s.index_cached = True
        s.entries.take(after, list(after))
        reindex(s)
        changed = after.differing(before)
        s.index_churn += len(changed)  # a peer's burst (an initial sync) sheds memory after it
        s.store.add_pending_writes(changed)
        note_peer_deletions(s, before, after, changed, origin)
        crash_point("index-adopt-saved")  # the kill -9 tests: saved, not committed
    crash_point("index-adopt-committed")
    writeback.write_out(s, changed)
    s.stats["remote_changes"] += len(changed)
    log.info("took %s's index as saved: %d entries", origin[:10], len(after))
    return True
