"""Tracked files: which file on disk is which note, and what the disk held when last seen.

A row records a file's path, stat and content hash, and the note version its content
shows (`base`): a local edit is diffed against exactly that. The rows, the path ->
id map are looked after here (the ignore rules: ignorehere.py); so are the id a new
file gets, and the check that the vault folder itself is still the one we know.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import STATE_DIR
from ..crdt.index import file_id_for
from ..errors import VaultGone
from ..store.filetable import FileRow
from ..vault.blobstore import hash_file
from ..vault.fsops import Stat, content_hash, stat_of
from .documents import is_live, text

if TYPE_CHECKING:
    from .enginestate import EngineState


def abs_path(s: EngineState, rel: str) -> Path:
    return s.root.joinpath(*rel.split("/"))


def row_at(s: EngineState, rel: str) -> FileRow | None:
    file_id = s.file_id_at.get(rel)
    return None if file_id is None else s.files.get(file_id)


def recorded_stat(row: FileRow) -> Stat:
    """The stat a row holds, its device included: a rename records it again as it was (the
    file read again at its new place), and the inode pairs files only with the device."""
    return Stat(*row.stat, row.dev)


def record(s: EngineState, file_id: str, rel: str, st: Stat, h: bytes, base: bytes) -> None:
    row = FileRow(file_id, rel, st.size, st.mtime_ns, h, base, st.ino, st.ctime_ns, st.dev)
    other = s.file_id_at.get(rel)
    if other is not None and other != file_id:
        _unindex(s, other, s.files.pop(other, None))
        s.misplaced_check.add(other)
    old = s.files.get(file_id)
    if old is not None and old.path != rel and s.file_id_at.get(old.path) == file_id:
        del s.file_id_at[old.path]
    _unindex(s, file_id, old)
    s.files[file_id] = row
    s.misplaced_check.add(file_id)
    s.file_id_at[rel] = file_id
    if len(h) == 32 and s.blob_rows is not None:
        add_blob_row(s.blob_rows, h, file_id)
    s.store.put_file(row)


def forget(s: EngineState, file_id: str) -> None:
    """This device no longer has a file for `file_id` on disk."""
    row = s.files.pop(file_id, None)
    s.misplaced_check.add(file_id)
    if row is not None and s.file_id_at.get(row.path) == file_id:
        del s.file_id_at[row.path]
    _unindex(s, file_id, row)
    s.store.delete_file(file_id)


def _unindex(s: EngineState, file_id: str, row: FileRow | None) -> None:
    """Drop `row` (the row `file_id` had) from the binary files by digest."""
    if row is None or len(row.hash) != 32 or s.blob_rows is None:
        return
    ids = s.blob_rows.get(row.hash)
    if ids is not None:
        rest = tuple(f for f in ids if f != file_id)
        if rest:
            s.blob_rows[row.hash] = rest
        else:
            del s.blob_rows[row.hash]


def share_paths(s: EngineState) -> None:
    """After a burst: the path -> id map keyed by the entries' own path strings, as a warm
    start builds it (enginestate.py). A first import keys it by the scanner's strings while
    the entries hold Loro's: two copies of every path (the `real` tier: 1.3 MB). Same keys,
    same order: only which string object holds each."""
    shared = {}
    for path, file_id in s.file_id_at.items():
        e = s.entries.get(file_id)
        shared[e.path if e is not None and e.path == path else path] = file_id
    s.file_id_at = shared


def blob_rows(s: EngineState) -> dict[bytes, tuple[str, ...]]:
    """The tracked binary files by digest, made from the file rows if dropped (11,004 files:
    about 15 ms), then kept up to date by `record` and `forget` until `drop_blob_rows`."""
    if s.blob_rows is None:
        s.blob_rows = {}
        for file_id, row in s.files.items():
            if len(row.hash) == 32:
                add_blob_row(s.blob_rows, row.hash, file_id)
    return s.blob_rows


def drop_blob_rows(s: EngineState) -> None:
    """Once idle: 4,200 digests and their ids are 0.8 MB that only serving blobs needs."""
    s.blob_rows = None


def add_blob_row(rows: dict[bytes, tuple[str, ...]], h: bytes, file_id: str) -> None:
    """`file_id` holds digest `h`. A tuple per digest, not a set: almost every digest has one
    file, and a set of one costs 216 bytes against a tuple's 48 (4,200 digests: 0.6 MB)."""
    ids = rows.get(h, ())
    if file_id not in ids:
        rows[h] = (*ids, file_id)


def local_changed(s: EngineState, row: FileRow) -> tuple[bytes, Stat] | None:
    """The disk content of `row` if the user changed it since we last read or wrote it."""
    path = s.root.joinpath(*row.path.split("/"))
    st = stat_of(path)
    if st is None or st.key == row.stat:
        return None
    data = path.read_bytes()
    if content_hash(data) == row.hash:
        record(s, row.file_id, row.path, st, row.hash, row.base)
        return None
    return data, st


def digest_at(s: EngineState, rel: str, blob: bool) -> bytes | None:
    path = s.root.joinpath(*rel.split("/"))
    try:
        return bytes.fromhex(hash_file(path)[0]) if blob else content_hash(path.read_bytes())
    except OSError:
        return None


def alloc_id(s: EngineState, rel: str, text_now: str | None = None) -> str:
    """Deterministic: the same path created on two devices gets the same id (and merges).
    A deleted note whose exact text comes back at its path (a restore) is the same note."""
    for attempt in range(10_000):
        file_id = file_id_for(rel, attempt)
        entry = s.entries.get(file_id)
        if entry is None and file_id not in s.versions.vvs:
            return file_id
        if entry is not None and entry.path == rel and is_live(s, entry) and file_id not in s.files:
            return file_id
        if entry is not None and entry.path == rel and entry.deleted and file_id not in s.files and text_now is not None:
            if entry.kind == "text" and text(s, file_id) == text_now:
                return file_id
    raise RuntimeError(f"no free file id for {rel}")


def check_vault(s: EngineState) -> None:
    """Refuse to record deletions if the vault folder itself is gone or was replaced (an
    unmounted drive, an empty mount point over it): that is not the user deleting notes."""
    try:
        st = os.stat(s.root)
    except OSError:
        st = None
    if st is None or (st.st_dev, st.st_ino) != s.root_id or not (s.root / STATE_DIR).is_dir():
        raise VaultGone(
            f"the vault folder {s.root} has disappeared or was replaced (unmounted, moved, "
            "or a new empty folder): sync stopped and nothing was deleted on other devices. "
            "Put the folder back and run `peervault run` again"
        )
