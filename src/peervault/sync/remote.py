"""The remote side: what peers send (index and note updates) and the devices of the vault.

Updates are imported and committed first, then written to disk (writeback.py): a
crash between the two is finished at the next start from the pending-writes table.
What brought nothing new is reported as such, so it is not forwarded again (in a
triangle of links an update would otherwise circle for ever).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..crdt import CrdtError, afterimport, notes
from ..crdt.entries import EntryTable
from ..crdt.index import is_snapshot
from ..crdt.notes import Note
from ..memory import trim_heap
from . import live, savedindex, writeback
from .deletions import note_peer_deletions
from .documents import INDEX, batch, doc, keep_index_snapshot, reindex, save, saves_from

if TYPE_CHECKING:
    from .enginestate import EngineState

log = logging.getLogger(__name__)

# An index update smaller than 1/EVENTS_BELOW of the index saved is imported with events
# (VaultIndex.apply), a larger one followed by a read of every entry.
EVENTS_BELOW = 32
# Note batches this large (a peer's catch-up, catchup.BATCH_DOCS at most) leave the cache as
# it was: a loaded note is ~50 KB of RSS, and a join's notes are read once.
PASSING_BATCH = 16
# ... and is applied in parts of this many notes (a part: one transaction, one write batch).
WRITE_PART = 64


def apply_index(s: EngineState, blob: bytes, origin: str) -> bool:
    """Import index updates; False if they held nothing new. A peer's deletions are
    applied, but a mass deletion among them is recorded for `status` to show."""
    vv_before = s.index.vv()
    whole = s.index.is_empty() and is_snapshot(blob)  # a join: the peer's whole index
    whole_vv = b""
    with batch(s):
        # Only the entries the import touched are read again (not the whole index: at
        # 50,000 files every remote edit would pay for all of them, in time and memory),
        # unless the update is large against the index (a join, a peer's first import).
        touched = s.index.apply(blob, track=len(blob) * EVENTS_BELOW < s.index_snapshot_bytes + s.index_log_bytes)
        if notes.includes(vv_before, s.index.vv()):
            return False
        if whole:
            whole_vv = s.index.vv()
        if touched is None:
            touched = set(s.entries).union(s.index.file_ids())
        # both compact, as the engine's own (a join's 11,004 entries: 1 MB less at its peak)
        before = s.entries.subset(touched)
        after = EntryTable()
        for fid in touched:
            if (e := s.index.entry(fid)) is not None:
                after[fid] = e
        if (repaired := afterimport.keep_later_blobs(s.index, before, after)) is not None:
            s.pending.setdefault(INDEX, repaired)  # a later blob value lost to an earlier one
        if (repaired := afterimport.keep_own_deletes(s.index, before, after, s.own_peers)) is not None:
            s.pending.setdefault(INDEX, repaired)  # a take-back elsewhere undid a delete of ours too
        s.entries.take(after, touched)
        if whole and s.index.vv() == whole_vv:
            # the index is that snapshot now: saved as it came, with the entries just read
            # (saved beside it for a warm start, so only once they are the snapshot's). Every
            # entry is read: Loro's decoded copy goes first (11,004 files: 6 MB, not held
            # through the save's deflating and SQLite's copy of it, the peak of a join).
            s.index.reload(blob)
            trim_heap()
            keep_index_snapshot(s, blob, whole_vv)
        reindex(s)
        changed = after.differing(before)
        s.index_churn += len(changed)  # a peer's burst (an initial sync) sheds memory after it
        s.store.add_pending_writes(changed)
        note_peer_deletions(s, before, after, changed, origin)
    if whole:
        savedindex.unload(s)  # all saved: not held for the rest of the join either (~5 MB)
    writeback.write_out(s, changed)
    s.stats["remote_changes"] += len(changed)
    return True


def apply_docs(s: EngineState, entries: tuple[tuple[bytes, bytes], ...], origin: str) -> tuple[tuple[bytes, bytes], ...]:
    """Import a batch of note updates; returns the entries that brought something new (to
    forward to others: what only repeats known operations stops here). A large batch (a
    peer's catch-up) goes in parts of WRITE_PART notes, each committed and written before
    the next is decoded: at most that many notes are held decoded, whatever the batch."""
    passing = len(entries) >= PASSING_BATCH
    accepted: list[tuple[bytes, bytes]] = []
    for start in range(0, len(entries), WRITE_PART):
        accepted += _apply_part(s, entries[start : start + WRITE_PART], origin, passing)
    return tuple(accepted)


def _apply_part(
    s: EngineState, entries: tuple[tuple[bytes, bytes], ...], origin: str, passing: bool
) -> list[tuple[bytes, bytes]]:
    """`apply_docs` for one part: imported and saved in one transaction, then written out."""
    changed = set()
    accepted: list[tuple[bytes, bytes]] = []
    # The batch's notes stay at hand until written out, even if the cache is smaller
    # than the batch (an initial sync would otherwise reload each note it just imported).
    pinned: dict[str, Note] = {}
    s.pinned = pinned
    with batch(s), saves_from(s, origin):
        for raw_id, blob in entries:
            fid = raw_id.hex()
            d = doc(s, fid) or notes.empty_note(s.session_peer)
            vv_before = notes.vv_bytes(d)
            try:
                notes.apply(d, blob)
                if fid in s.versions.vvs and notes.includes(vv_before, notes.vv_bytes(d)):
                    continue  # nothing new: a duplicate (forwarded by another device)
            except CrdtError as exc:
                s.stats["sync_errors"] += 1
                log.warning("refused an update for note %s: %s", fid, exc)
                # The in-memory copy may be half-applied: rebuild it from the database
                # plus the good updates of this batch (they are not saved yet).
                s.cache.discard(fid)
                pinned.pop(fid, None)
                good = [b for r, b in accepted if r == raw_id]
                if good:
                    d = doc(s, fid) or notes.empty_note(s.session_peer)
                    for b in good:
                        notes.apply(d, b)
                    save(s, fid, d)
                    pinned[fid] = d
                continue
            save(s, fid, d)
            pinned[fid] = d
            changed.add(fid)
            accepted.append((raw_id, blob))
            live.from_peer(s, fid, blob)
        s.store.add_pending_writes(changed)
    try:
        writeback.write_out(s, changed)
    finally:
        s.pinned = {}
        if passing:  # a catch-up batch: its notes are on disk now, not kept decoded
            s.cache.drop_saved(pinned, keep=s.live)
    s.stats["remote_changes"] += len(changed)
    return accepted


def forget_device(s: EngineState, endpoint_id: str) -> None:
    """`peervault forget`: this device drops the peer, and tells the others through the index."""
    with batch(s):
        before = s.index.vv()
        s.index.forget_device(endpoint_id)
        s.pending.setdefault(INDEX, before)
        s.index_unsaved = True
        s.store.remove_peer(endpoint_id)


def take_forgotten(s: EngineState) -> set[str]:
    """Paired devices another device has removed from the vault (dropped here too, now)."""
    gone = s.index.forgotten() & {p.endpoint_id for p in s.store.peers()}
    for peer in gone:
        s.store.remove_peer(peer)
    return gone


def accept_pairing(s: EngineState, peer: str, vault_id: bytes, secret: bytes, now: float) -> bool:
    if vault_id != s.vault_id or not s.store.redeem_invite(secret, peer, now):
        return False
    with batch(s):
        s.store.add_peer(peer, [])
        if peer in s.index.forgotten():  # removed before, invited again: readmitted everywhere
            before = s.index.vv()
            s.index.readmit_device(peer)
            s.pending.setdefault(INDEX, before)
            s.index_unsaved = True
    return True
