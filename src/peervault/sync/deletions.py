"""Deletions made here: published, or held by the mass-deletion guard until the person decides.

The guard's thresholds live in sync/deleteguard.py; this is what the engine does with
its verdict: record the held ones (they survive a restart), publish them on `apply`,
put the files back on `restore`, and note a peer's mass deletion for `status`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..crdt.entries import Entry
from ..vault.fsops import stat_of
from . import ignorehere, localedits, writeback
from .deleteguard import DeleteGuard, summary
from .documents import batch, is_live
from .tracked import abs_path, check_vault, forget, recorded_stat

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
    if reason is not None:
        rows = [(f, s.files[f].path) for f in sorted(published)]
        s.store.hold_deletions(rows, now, reason)
        first = not s.held
        s.held.update(rows)
        (log.warning if first else log.debug)(summary(reason, len(s.held)))  # logged once per hold
        file_ids = file_ids - published
    for fid in file_ids:
        s.vanished.pop(fid, None)
        localedits.local_delete(s, fid)
    if reason is None:
        s.guard.published(len(published), now)
    return len(file_ids)


def note_peer_deletions(
    s: EngineState, before: Mapping[str, Entry], after: Mapping[str, Entry], changed: set[str], origin: str
) -> None:
    """`before`/`after`: the entries an import touched (remote.apply_index), as they were and are."""
    deleted = [f for f in changed if (old := before.get(f)) is not None and not old.deleted and s.entries[f].deleted]
    if not deleted:
        return
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
    s.guard.published(len(gone), now)
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
