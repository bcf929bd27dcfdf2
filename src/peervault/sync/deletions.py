"""Deletions made here: published, or held by the mass-deletion guard until the person decides.

The guard's thresholds live in sync/deleteguard.py; this is what the engine does with
its verdict: record the held ones (they survive a restart), publish them on `apply`,
put the files back on `restore`, and note a peer's mass deletion for `status`.

When the guard trips, the deletions published within its window are taken back into
the held set (`_pull_back`): each entry is made live again, published as such (the
other devices keep the file, or write it again: a note from its document, an attachment
from the store they moved it into on our delete), and its row is put back as it was, so
the file stays gone here and is listed with the others. Only where that is exact: the
entry still as our delete left it, no other device's change to it since (a delete of
theirs, even one that lost to ours, was meant), and nothing at its path here now.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..crdt.entries import Entry
from ..store.filetable import FileRow
from ..vault.fsops import stat_of
from . import ignorehere, localedits, writeback
from .deleteguard import DeleteGuard, Published, summary
from .documents import batch, index_changed, is_live
from .tracked import abs_path, check_vault, forget, record, recorded_stat

if TYPE_CHECKING:
    from .enginestate import EngineState

log = logging.getLogger(__name__)


def delete_or_hold(s: EngineState, file_ids: set[str], now: float) -> int:
    """Publish these local deletions, or hold them all if they look like a wipe (see
    sync/deleteguard.py); once some are held, later ones join them. Returns changes."""
    here = {f for f in file_ids if f in s.files and s.ignore.ignored_here(s.files[f].path)}
    for fid, rel in ignorehere.moved_here(s, file_ids - here).items():
        localedits.local_rename(s, fid, rel, recorded_stat(s.files[fid]))  # moved, not deleted
        here.add(fid)
    if here:  # missing at a path ignored on this device: never a delete (sync/ignorehere.py)
        ignorehere.set_aside(s, here)
        file_ids = file_ids - here
    if not file_ids:
        return 0
    check_vault(s)
    published = {f for f in file_ids if not f.startswith("u") and (e := s.entries.get(f)) is not None and is_live(s, e)}
    synced = sum(1 for f in s.files if not f.startswith("u"))
    reason = s.guard.trips(len(published), synced, now) if published else None
    if reason is None and s.held and published:
        reason = "deletions are being held: this one waits with them"
    first = not s.held
    if reason is not None:
        rows = [(f, s.files[f].path) for f in sorted(published)]
        s.store.hold_deletions(rows, now, reason)
        s.held.update(rows)
        file_ids = file_ids - published
        back = _pull_back(s, now, reason) if first else {}
        s.held.update(back)
        (log.warning if first else log.debug)(summary(reason, len(s.held), len(back)))  # logged once per hold
    # what each deletion published undoes, kept by the guard for its window (see _pull_back)
    since = s.index.vv() if reason is None and published else b""
    rows_before = {f: row for f in published if reason is None and (row := s.files.get(f)) is not None}
    for fid in file_ids:
        s.vanished.pop(fid, None)
        localedits.local_delete(s, fid)
    if reason is None and published:
        s.guard.published([(f, _undo(s, f, rows_before.get(f), since)) for f in sorted(published)], now)
    return len(file_ids)


def _undo(s: EngineState, file_id: str, row: FileRow | None, since: bytes) -> Published | None:
    """What takes this published deletion back: None if it deleted nothing (no row, no tombstone)."""
    entry = s.entries.get(file_id)
    return None if row is None or entry is None or not entry.deleted else Published(row, entry, since)


def _pull_back(s: EngineState, now: float, reason: str) -> dict[str, str]:
    """The guard tripped: the deletions it let through within its window are held too.
    Returns {file_id: path} of those taken back."""
    taken = s.guard.take(now)
    if not taken:
        return {}
    by_since: dict[bytes, list[str]] = {}  # one version per batch of deletions
    for fid, p in taken.items():
        by_since.setdefault(p.since, []).append(fid)
    others = set().union(*(s.index.changed_by_others(fids, since) for since, fids in by_since.items()))
    back: dict[str, str] = {}
    for fid, p in sorted(taken.items()):
        rel = p.row.path
        if fid in others or s.entries.get(fid) != p.entry or fid in s.files or fid in s.held:
            continue  # changed since (by a peer, a restore, the file back here): as it is now
        if rel in s.file_id_at or s.ignore.ignored_here(rel) or stat_of(abs_path(s, rel)) is not None:
            continue
        before = s.index.vv()
        # a binary file's undo is stamped just after our delete, no later: a version or a
        # delete another device made after it, not seen here yet, still wins over it; a
        # device that deleted the file meanwhile keeps its delete (crdt/afterimport.py)
        s.index.undelete(fid, 0 if p.entry.kind == "blob" else None, taken_back=before)
        index_changed(s, fid, before)
        record(s, fid, rel, recorded_stat(p.row), p.row.hash, p.row.base)
        back[fid] = rel
    if back:
        s.store.hold_deletions(sorted(back.items()), now, reason)
    return back


def note_peer_deletions(
    s: EngineState, before: Mapping[str, Entry], after: Mapping[str, Entry], changed: set[str], origin: str
) -> None:
    """`before`/`after`: the entries an import touched (remote.apply_index), as they were and are."""
    deleted = [f for f in changed if (old := before.get(f)) is not None and not old.deleted and s.entries[f].deleted]
    if not deleted:
        return
    release_held(s, set(deleted))  # a held deletion another device made too: nothing left to hold
    # the live files before the import: those now, with the touched ones as they were
    live_now = sum(1 for e in s.entries.values() if not e.deleted)
    live_before = live_now - sum(1 for e in after.values() if not e.deleted) + sum(1 for e in before.values() if not e.deleted)
    reason = DeleteGuard(s.cfg.delete_guard_percent, s.cfg.delete_guard_files).trips(len(deleted), live_before, s.now)
    if reason is not None:
        log.warning("%s deleted %d file(s) at once; `peervault deleted` lists them to restore", origin[:10], len(deleted))
        s.store.set_meta("peer_mass_deletion", json.dumps({"peer": origin, "count": len(deleted), "at": s.now}))


def release_held(s: EngineState, file_ids: set[str]) -> None:
    file_ids = file_ids & set(s.held)
    if file_ids:
        s.store.release_held(file_ids)
        for f in file_ids:
            del s.held[f]


def apply_held(s: EngineState, now: float) -> int:
    """`peervault deletions apply`: publish the held deletions whose files are still gone
    (a file put back meanwhile stays). Returns how many were published."""
    file_ids = set(s.held)
    with batch(s):
        release_held(s, file_ids)
        gone = {f for f in file_ids if f in s.files and stat_of(abs_path(s, s.files[f].path)) is None}
        for fid in gone:
            localedits.local_delete(s, fid)
    s.guard.published(((f, None) for f in gone), now)  # counted, never taken back: the person meant them
    return len(gone)


def restore_held(s: EngineState) -> int:
    """`peervault deletions restore`: put the held files back from the vault's own copy
    (the note, or the blob), with any edits peers made since. A binary file whose only copy
    here was the file deleted is wanted again: it comes back from a peer, which kept it.
    Returns the files restored (written, or on their way from a peer)."""
    file_ids = set(s.held)
    with batch(s):
        release_held(s, file_ids)
        for fid in file_ids:
            if fid in s.files and stat_of(abs_path(s, s.files[fid].path)) is None:
                forget(s, fid)  # no file here now: written afresh where the note belongs
    writeback.write_out(s, file_ids)
    coming = set().union(*s.awaiting.values()) if s.awaiting else set()
    return sum(1 for f in file_ids if f in s.files or f in coming)
