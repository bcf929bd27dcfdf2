"""Local edits: what the user did to a text file here, turned into note and index changes.

An edit is diffed against the version the disk showed (the row's `base`), never
against newer remote text, so it cannot revert a peer's edit; a create allocates the
path's deterministic id (the same path created on two devices is one note); a rename
keeps the note's id; a delete is a tombstone that covers only what the user saw.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from ..crdt import notes
from ..crdt.index import file_id_for
from ..store.filetable import FileRow
from ..vault.fsops import Stat, removed_at_ms
from . import live, writeback
from .binaries import ingest_blob
from .documents import doc, index_changed, is_live, mark_pending, save, save_made, written_version
from .notemaker import Looked
from .tracked import alloc_id, forget, record

if TYPE_CHECKING:
    from .enginestate import EngineState


def local_edit(s: EngineState, row: FileRow, text: str, st: Stat, h: bytes) -> None:
    d = doc(s, row.file_id)
    if d is None:
        forget(s, row.file_id)
        local_create(s, row.path, text, st, h)
        return
    if live.holds_file(s, row.file_id, text):
        return  # open in a live editor: its updates, not this file, carry the edit
    before = notes.vv_bytes(d)
    if text == notes.text_of(d):
        shown = notes.frontiers(d)  # the disk already shows the note (e.g. written just before a crash)
    elif row.base and (written := written_version(s, row.file_id, d, text, row.base)) is not None:
        shown = written  # an older version of the note, written here just before a crash: no edit
    else:
        version = notes.edit_from(d, row.base, text, s.cfg.text_diff_timeout_ms, s.cfg.line_diff_timeout_ms)
        if version is None:
            shown = row.base or notes.frontiers(d)
        else:
            shown = version
            save(s, row.file_id, d)
            mark_pending(s, row.file_id, before)
    entry = s.entries.get(row.file_id)
    if entry is not None and entry.deleted:
        ibefore = s.index.vv()
        s.index.undelete(row.file_id)
        index_changed(s, row.file_id, ibefore)
    # The base is the version the disk shows now, even while the merged text waits to be
    # written (the file may be busy): the next save is diffed against exactly that.
    record(s, row.file_id, row.path, st, h, shown)
    if notes.text_of(d) != text:  # remote edits arrived since the disk was written: show the merge
        writeback.materialize(s, {row.file_id})


def local_create(s: EngineState, rel: str, text: str, st: Stat, h: bytes) -> None:
    if not s.published:
        file_id = "u" + secrets.token_hex(15)
        d = notes.new_note(text, s.session_peer)
        existing = None
    else:
        file_id = alloc_id(s, rel, text)
        existing = doc(s, file_id)
        d = existing if existing is not None else notes.new_note(text, s.session_peer)
        if existing is None:
            mark_pending(s, file_id, None)
        elif notes.text_of(d) != text:
            # The same path was created elsewhere and its note is here already: merge.
            # (Equal text is adopted as it is, e.g. a file written just before a crash.)
            before = notes.vv_bytes(d)
            notes.merge_foreign_text(d, text, s.session_peer)
            mark_pending(s, file_id, before)
        entry = s.entries.get(file_id)
        if entry is None or entry.path != rel or entry.deleted:
            ibefore = s.index.vv()
            s.index.put(file_id, rel)
            index_changed(s, file_id, ibefore)
    save(s, file_id, d)
    record(s, file_id, rel, st, h, notes.frontiers(d))
    # A note made from `text` reads `text` (a first import: 6,800 notes' text not read back)
    if existing is not None and notes.text_of(d) != text:
        writeback.materialize(s, {file_id})


def create_looked(s: EngineState, rel: str, st: Stat, now: float | None, looked: Looked) -> int | None:
    """A new file as the first-import worker read it at stat `st` (sync/notemaker.py): a
    binary file recorded from its digest, a note stored as made. None if the note cannot be
    made without its text (its path's id is taken: the same path created elsewhere, a
    restore): the caller reads the file. Returns changes."""
    if looked.made is None:
        return ingest_blob(s, rel, None, st, now, found=(str(looked.digest), looked.size))
    file_id = file_id_for(rel)  # what `alloc_id` gives when nothing holds it
    if not isinstance(looked.digest, bytes) or not s.published:
        return None
    if file_id in s.entries or file_id in s.versions.vvs or file_id in s.files or doc(s, file_id) is not None:
        return None
    if now is not None:
        s.touched[rel] = now
    s.unsettled.pop(rel, None)
    s.store.set_unsynced(rel, None)
    mark_pending(s, file_id, None)
    ibefore = s.index.vv()
    s.index.put(file_id, rel)
    index_changed(s, file_id, ibefore)
    save_made(s, file_id, looked.made)
    record(s, file_id, rel, st, looked.digest, looked.made.frontiers)
    return 1


def local_rename(s: EngineState, file_id: str, rel: str, st: Stat) -> None:
    """`file_id`'s file is now at `rel`. Callers pass the stat last recorded (not the new one),
    so the file is read again at its new place: an edit made with the rename is not missed."""
    row = s.files[file_id]
    record(s, file_id, rel, st, row.hash, row.base)
    if not file_id.startswith("u"):
        before = s.index.vv()
        s.index.set_path(file_id, rel)
        index_changed(s, file_id, before)


def local_delete(s: EngineState, file_id: str) -> None:
    row = s.files.get(file_id)
    forget(s, file_id)
    if file_id.startswith("u"):
        s.store.delete_doc(file_id)
        s.cache.discard(file_id)
        return
    entry = s.entries.get(file_id)
    if entry is not None and entry.kind == "blob" and not entry.deleted:
        before = s.index.vv()
        at = None if row is None else removed_at_ms(s.root, row.path, max(row.mtime_ns, row.ctime_ns))
        s.index.mark_deleted(file_id, b"", at)  # the later of this delete and a version wins
        index_changed(s, file_id, before)
        return
    d = doc(s, file_id)
    if entry is None or d is None or not is_live(s, entry):
        return
    # The delete covers the version the user saw on disk, not edits that arrived since
    # (held back while the file was busy, say): those still win over the delete.
    vv = notes.vv_at(d, row.base if row is not None else b"")
    before = s.index.vv()
    s.index.mark_deleted(file_id, vv)
    index_changed(s, file_id, before)
