"""Writing to disk: bring the folder in line with the notes, without losing a local edit.

Remote changes are committed first, then written (`write_out`): atomically, after
first reading any local edit the file holds that the note has not seen (read, merge,
then write), never under someone still writing, and never over a file of ours that
is not this note's (it is moved, adopted or merged in first). What could not be
written is retried; the database says which writes a crash interrupted.
"""

from __future__ import annotations

import heapq
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ..crdt import notes
from ..crdt.notes import Note
from ..errors import UnsafePath
from ..store.filetable import FileRow
from ..vault.fsops import WriteBatch, atomic_write, content_hash, prune_empty_dirs, rename_new, stat_of
from ..vault.ignore import IGNORE_FILE
from ..vault.paths import printable_path, safe_target
from . import ignorehere, ingest, localedits
from .binaries import absorb_local_blob, is_blob
from .blobwrite import finish_moves, leave, write_blob
from .documents import batch, doc, mark_pending, save, text, written_version
from .layout import NOT_HERE, layout, misplaced
from .settle import busy
from .tracked import forget, local_changed, record

if TYPE_CHECKING:
    from .enginestate import EngineState

log = logging.getLogger(__name__)


def write_out(s: EngineState, file_ids: set[str]) -> None:
    """Second step of applying remote updates (the first committed them): the disk."""
    with batch(s):
        s.write_batch = wb = WriteBatch(s.root)
        try:
            materialize(s, file_ids)
        finally:
            s.write_batch = None
            wb.commit()  # durable before the commit that says the files are written
        awaiting = set().union(*s.awaiting.values()) if s.awaiting else set()
        done = file_ids - s.deferred - awaiting - s.failed_writes
        s.store.clear_pending_writes(done)
    if any(s.files[f].path == IGNORE_FILE for f in file_ids if f in s.files) and ignorehere.refresh_rules(s):
        ingest.reconcile(s)  # a peer changed the rules: pick up what they no longer keep out


def write_into(s: EngineState, rels: set[str]) -> None:
    """Notes whose place is under these paths but not on disk there: one that could not
    be written (a folder was in the way), or one laid out beside another under a suffixed
    name that a local delete or rename has just freed (`p.bin` deleted here: its twin
    `p (f63053).bin` becomes `p.bin`, as on every other device)."""
    places = layout(s)
    # A path whose file is the note placed there (an edit in place, a new note) frees
    # nothing: only the others need the pass over every note, 9 ms of each one-character
    # edit on the `real` tier's 11,004 files. (Under a file in place no note can be written.)
    rels = {rel for rel in rels if places.get(s.file_id_at.get(rel, "")) != rel}
    if not rels:
        return
    # (`file_id_at`, not the packed file rows: this runs over every note)
    waiting = {f for f, path in places.items() if s.file_id_at.get(path) != f and _under_any(path, rels)}
    if waiting:
        write_out(s, waiting)


def _under_any(path: str, rels: set[str]) -> bool:
    """`path` is one of `rels` or inside one (a folder): O(depth), not O(len(rels))."""
    if path in rels:
        return True
    parts = path.split("/")
    return any("/".join(parts[:i]) in rels for i in range(1, len(parts)))


def materialize(s: EngineState, file_ids: set[str]) -> None:
    """Bring the disk in line with the CRDT state for these notes (and any whose place moved)."""
    places, seen = layout(s), s.layout_version
    todo = set(file_ids) | misplaced(s, places)
    queue = sorted(todo)  # a heap: id order keeps every device's choices the same
    failed: set[str] = set()
    while queue:
        fid = heapq.heappop(queue)
        todo.discard(fid)
        if s.layout_version != seen:
            # A local edit read during this pass revived a deleted note (edit wins): places
            # may have changed, so lay out again before writing anything more.
            places, seen = layout(s), s.layout_version
            for extra in misplaced(s, places) - failed - todo:
                todo.add(extra)
                heapq.heappush(queue, extra)
        try:
            target = places.get(fid)
            row = s.files.get(fid)
            if fid in s.blocked or fid in s.held:
                continue  # reported by the layout, or a held deletion: the disk stays as it is
            if target is None:
                if row is not None and fid in s.entries:
                    remove_local(s, fid, row)
            else:
                _write_local(s, fid, target, row)
        except (UnsafePath, OSError) as exc:
            failed.add(fid)
            retry = fid in s.failed_writes or fid in s.failed_before
            s.failed_writes.add(fid)  # (a full disk, a folder in the way): retried later
            s.failed_before.add(fid)
            s.stats["sync_errors"] += 1
            path = s.entries[fid].path if fid in s.entries else fid
            (log.debug if retry else log.warning)("could not write %s: %s", printable_path(path)[:200], exc)
            s.store.set_unsynced(printable_path(path), f"{NOT_HERE}{exc}")


def absorb_local_edit(s: EngineState, row: FileRow) -> bool:
    """Read, merge, then write: pull in an unseen local edit before touching the file."""
    changed = local_changed(s, row)
    if changed is None:
        return False
    data, st = changed
    s.touched[row.path] = s.now  # someone wrote it just now and may still be writing
    try:
        new = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if not new and text(s, row.file_id):
        s.unsettled.setdefault(row.path, s.now)  # maybe mid-save: `settle` decides
        return False
    localedits.local_edit(s, row, new, st, content_hash(data))
    return True


def _replaced(s: EngineState, file_id: str, row: FileRow) -> bool:
    """The note's path holds another file than the one last seen there (a new inode): an
    editor's replacing save, or the note renamed away and a new file made in its place. Only
    a look at the folder tells which (the watcher's report, or a reconcile pairing by inode);
    a peer's change must not decide it by reading the new file as this note's edit. So the
    write waits (deferred, retried after SETTLE_S) until a look has recorded the path again."""
    st = stat_of(s.root.joinpath(*row.path.split("/")))
    if st is None or not row.ino or (st.ino == row.ino and (not row.dev or st.dev == row.dev)):
        return False  # gone, recorded before inodes were, or the same file (rows before schema 6 have no device)
    s.touched[row.path] = s.now
    s.deferred.add(file_id)
    return True


def remove_local(s: EngineState, file_id: str, row: FileRow) -> None:
    if s.ignore.ignored_here(row.path):
        ignorehere.set_aside(s, {file_id})  # ignored on this device: never removed here
        return
    blob = is_blob(s, row)
    if not blob and _replaced(s, file_id, row):
        return
    if absorb_local_blob(s, row) if blob else absorb_local_edit(s, row):
        return  # edited here after the delete: the edit wins and the note stays
    if busy(s, file_id, row.path):
        return
    path = s.root.joinpath(*row.path.split("/"))
    if blob:
        leave(s, row)  # the only copy here may be this file: into the store, by rename
    elif path.exists() and not path.is_symlink():
        path.unlink()
        prune_empty_dirs(s.root, path.parent)
    forget(s, file_id)


def _write_local(s: EngineState, file_id: str, target: str, row: FileRow | None) -> None:
    entry = s.entries.get(file_id)
    if entry is not None and entry.kind == "blob":
        write_blob(s, file_id, target, row)
        return
    d = doc(s, file_id)
    if d is None:
        return
    merged = False
    if row is not None:
        if _replaced(s, file_id, row):
            return
        merged = absorb_local_edit(s, row)  # an edit here meets the incoming one: merged
        row = s.files.get(file_id)
        if file_id in s.live_dirty:
            return  # a live editor's save not yet matched by its updates: left as it is

    if busy(s, file_id, target, *([row.path] if row is not None else [])):
        return
    dst = safe_target(s.root, target)
    if not (row is not None and row.path == target) and stat_of(dst) is not None:
        if _unseen_occupant(s, file_id, target):
            return
        if _vacate(s, file_id, target):
            row = s.files.get(file_id)
    if row is not None and row.path != target:  # renamed or moved elsewhere
        src = s.root.joinpath(*row.path.split("/"))
        if src.exists() and not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            rename_new(src, dst)
            prune_empty_dirs(s.root, src.parent)
            st = stat_of(dst)
            if st is not None:
                record(s, file_id, target, st, row.hash, row.base)
                row = s.files[file_id]
    occupant = stat_of(dst)
    known = row is not None and row.path == target
    if occupant is not None and not known:
        merged = _merge_occupant(s, file_id, d, target, dst) or merged
    data = notes.text_of(d).encode("utf-8")
    h = content_hash(data)
    row = s.files.get(file_id)
    if row is not None and row.path == target and row.hash == h and stat_of(dst) is not None:
        record(s, file_id, target, stat_of(dst), h, notes.frontiers(d))  # type: ignore[arg-type]
        return
    # nothing was there: a file made there since (the user's) is never written over, and
    # this write fails and is retried, merging it in as an occupant
    st = atomic_write(s.root, dst, data, s.write_batch, absent=occupant is None)
    s.stats["files_written"] += 1
    if len(s.written) < 1000:  # drained by the daemon after each update; bounded in case nothing does
        s.written.append((target, merged))
    s.store.set_unsynced(target, None)
    if row is not None and row.path != target:
        old = s.root.joinpath(*row.path.split("/"))
        if old.exists() and not local_changed(s, row):
            old.unlink()
            prune_empty_dirs(s.root, old.parent)
    record(s, file_id, target, st, h, notes.frontiers(d))


def _unseen_occupant(s: EngineState, file_id: str, target: str) -> bool:
    """`target` is recorded as another note's file, but holds a new file (a new inode): that
    note was renamed away and a file made in its place, or an editor replaced it, and no look
    has told which yet. Read as the other note's edit, the new file would replace that note's
    text (the renamed copy, with edits the index has not seen, then counts as written and is
    overwritten): both writes wait for a look, as `_replaced` makes a note's own write wait."""
    other = s.file_id_at.get(target)
    if other is None or other == file_id or other.startswith("u") or other not in s.files:
        return False  # untracked, or a pre-pairing copy: _merge_occupant handles those
    orow = s.files[other]
    if is_blob(s, orow) or not _replaced(s, other, orow):
        return False
    s.deferred.add(file_id)
    return True


def _vacate(s: EngineState, file_id: str, target: str) -> bool:
    """The file at `target` is another tracked note's that no longer belongs there (it was
    renamed elsewhere, lost the name to a concurrent rename, or was deleted): move or remove
    it first, so it is not mistaken for a local copy of `file_id` and merged into it.
    Returns True if `target` was freed."""
    other = s.file_id_at.get(target)
    if other is None or other == file_id or other.startswith("u"):
        return False  # an untracked file or a pre-pairing copy: _merge_occupant handles those
    place = layout(s).get(other)
    if place is None and other in s.entries:
        remove_local(s, other, s.files[other])  # keeps it if edited here (edit wins)
        if stat_of(s.root.joinpath(*target.split("/"))) is None:
            return True
        place = layout(s).get(other)  # the edit brought it back: it may belong elsewhere
    if place is None or place == target or other not in s.files:
        return False
    absorb_local_edit(s, s.files[other])
    orow = s.files.get(other)
    if orow is None or orow.path != target:
        return stat_of(s.root.joinpath(*target.split("/"))) is None
    if local_changed(s, orow) is not None:
        return False  # not text: never delete it
    src = s.root.joinpath(*target.split("/"))
    dst = safe_target(s.root, place)  # refuse before touching anything
    if stat_of(dst) is None:
        dst.parent.mkdir(parents=True, exist_ok=True)
        rename_new(src, dst)
        st = stat_of(dst)
        if st is not None:
            record(s, other, place, st, orow.hash, orow.base)
            _write_local(s, other, place, s.files[other])  # shows any newer note text
        return True
    # Its place is taken too (a chain or cycle of renames). Its content is in its note:
    # drop the file and write the note at its place. Each step removes a tracked file,
    # so this terminates.
    if is_blob(s, orow):
        leave(s, orow)  # a binary file's bytes are in no note: kept in the store
    else:
        src.unlink()
    forget(s, other)
    _write_local(s, other, place, None)
    return True


def _merge_occupant(s: EngineState, file_id: str, d: Note, target: str, dst: Path) -> bool:
    """A file we don't know as this note sits where it belongs (created here meanwhile, or
    a local copy from before pairing): identical text is adopted, different text merged in
    (returns True then)."""
    try:
        local = dst.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise UnsafePath(f"{target} is a binary file here; the note was not written over it") from None
    other = s.file_id_at.get(target)
    pre = doc(s, other) if other and other.startswith("u") else None
    if local != notes.text_of(d) and (pre is not None or written_version(s, file_id, d, local) is None):
        before = notes.vv_bytes(d)
        if pre is not None:
            notes.apply(d, notes.updates_since(pre, None))
        else:
            notes.merge_foreign_text(d, local, s.session_peer)
        save(s, file_id, d)
        mark_pending(s, file_id, before)
        merged = True
    else:
        merged = False
    if other is not None:
        forget(s, other)
        if other.startswith("u"):
            s.store.delete_doc(other)
            s.cache.discard(other)
    return merged


def retry_failed_writes(s: EngineState) -> bool:
    """Try again the disk writes that failed (space may be back). True if some still fail."""
    file_ids, s.failed_writes = s.failed_writes, set()
    if file_ids:
        write_out(s, file_ids)
    return bool(s.failed_writes)


def recover(s: EngineState) -> None:
    """At start-up: finish disk writes a crash or stop interrupted, and write any live
    note that has no file yet."""
    finish_moves(s)  # first: binary versions a crash left on their way into the store
    todo = (s.store.pending_writes() | (set(layout(s)) - set(s.files))) - set(s.held)
    if todo:
        write_out(s, todo)
