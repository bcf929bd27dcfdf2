"""Binary files (and text too large for a note): content-addressed blobs, last writer wins.

The index names each binary file's blob; the bytes travel apart (sync/blobs.py) and
land in the blob store, verified, before the file is written. A version that loses,
or a file of ours in the way, is kept as a version, never dropped.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..config import STATE_DIR
from ..store.db import FileRow
from ..vault.fsops import Stat, prune_empty_dirs, stat_of
from ..vault.paths import safe_target
from .documents import index_changed, is_live
from .settle import busy
from .tracked import alloc_id, forget, record

if TYPE_CHECKING:
    from .enginestate import EngineState


def is_blob(s: EngineState, row: FileRow | None) -> bool:
    e = None if row is None else s.entries.get(row.file_id)
    return e is not None and e.kind == "blob"


def ingest_blob(s: EngineState, rel: str, row: FileRow | None, st: Stat, now: float | None) -> int:
    """A binary file (or text too large for a note) changed here: its content goes into the
    blob store (streamed, never whole in memory) and the index names it. Returns changes."""
    try:
        h, size = s.blobs.add_file(s.root.joinpath(*rel.split("/")))
    except OSError:
        return 0  # changing under us, vanished or unreadable: the next event sees it again
    hb = bytes.fromhex(h)
    if now is not None:
        s.touched[rel] = now
    s.store.set_unsynced(rel, None)
    if row is not None and row.hash == hb:
        record(s, row.file_id, rel, st, hb, b"")
        return 0
    file_id = row.file_id if row is not None and not row.file_id.startswith("u") else alloc_id(s, rel)
    if row is not None and row.file_id != file_id:
        forget(s, row.file_id)  # a pre-pairing text note turned binary: one id from now on
    before = s.index.vv()
    s.index.put_blob(file_id, rel, h, size, st.mtime_ns // 1_000_000, st.ctime_ns // 1_000_000)
    index_changed(s, file_id, before)
    record(s, file_id, rel, st, hb, b"")
    s.store.add_blob_version(file_id, h, size, rel, "local", s.now)
    return 1


def absorb_local_blob(s: EngineState, row: FileRow) -> bool:
    """Before a peer's version replaces a binary file: a version the user saved here since
    is recorded first (and, being newer, wins). True if there was one."""
    path = s.root.joinpath(*row.path.split("/"))
    st = stat_of(path)
    if st is None or st.key == row.stat:
        return False
    s.touched[row.path] = s.now
    return bool(ingest_blob(s, row.path, row, st, s.now))


def write_blob(s: EngineState, file_id: str, target: str, row: FileRow | None) -> None:
    """Bring a binary file to the version the index names, once its blob is here."""
    if row is not None and absorb_local_blob(s, row):
        return  # the user's newer version here wins; peers get it from the index
    entry = s.entries.get(file_id)
    if entry is None or busy(s, file_id, target, *([row.path] if row is not None else [])):
        return
    h = entry.blob
    if row is not None and row.path == target and row.hash == bytes.fromhex(h):
        return
    if not s.blobs.has(h):
        s.awaiting.setdefault(h, set()).add(file_id)  # the daemon fetches it from a peer
        return
    dst = safe_target(s.root, target)
    occupant = stat_of(dst)
    if occupant is not None and not (row is not None and row.path == target):
        # A file of our own is where this one belongs: keep it as a version, never lose it.
        kept, size = s.blobs.add_file(dst)
        s.store.add_blob_version(file_id, kept, size, target, "local", s.now)
    s.blobs.copy_to(h, dst, s.root / STATE_DIR / "tmp")
    if entry.mtime_ms:  # keep the time it was made (photos, recordings): a blob is a copy
        os.utime(dst, ns=(entry.mtime_ms * 1_000_000, entry.mtime_ms * 1_000_000))
    s.stats["files_written"] += 1
    st = stat_of(dst)
    if st is not None:
        if row is not None and row.path != target:
            old = s.root.joinpath(*row.path.split("/"))
            if old.exists():
                old.unlink()
                prune_empty_dirs(s.root, old.parent)
        record(s, file_id, target, st, bytes.fromhex(h), b"")
    s.store.add_blob_version(file_id, h, entry.size, target, "peer", s.now)
    s.store.set_unsynced(target, None)


def wanted_blobs(s: EngineState) -> dict[str, int]:
    """Blobs the index names that are not here yet: hash -> size (for the daemon to fetch)."""
    out = {}
    for h, fids in list(s.awaiting.items()):
        live = {f for f in fids if (e := s.entries.get(f)) is not None and e.kind == "blob" and e.blob == h and is_live(s, e)}
        if not live:
            del s.awaiting[h]  # no file needs that version any more
        elif not s.blobs.has(h):  # (present: `blob_arrived` is about to write its files)
            out[h] = s.entries[next(iter(live))].size
    return out
