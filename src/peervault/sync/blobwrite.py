"""Writing a peer's version of a binary file into the vault, with no copy where one can be avoided.

The bytes come from where sync/blobsource.py finds them: a verified download is moved
into place; a kept version, or the same blob at another vault path, is copied (a hard
link would share every later in-place edit between the two files). The version the
file held is kept: hard-linked into the store before the rename over it (vault/blobswap.py),
so kill -9 at any step leaves both on disk and the next start finishes the job. A file
a peer deleted, or left behind by a peer's move, goes into the store by rename.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..config import STATE_DIR
from ..crdt.index import file_id_for
from ..store.filetable import FileRow
from ..vault import blobswap
from ..vault.blobio import hash_stable
from ..vault.fsops import Stat, prune_empty_dirs, rename_new, stat_of
from ..vault.paths import safe_target
from .binaries import absorb_local_blob
from .blobsource import locate
from .settle import busy
from .tracked import abs_path, record, row_at

if TYPE_CHECKING:
    from pathlib import Path

    from .enginestate import EngineState

log = logging.getLogger(__name__)


def _stat(row: FileRow) -> Stat:
    return Stat(row.size, row.mtime_ns, row.ino, row.ctime_ns, row.dev)


def write_blob(s: EngineState, file_id: str, target: str, row: FileRow | None) -> None:
    """Bring a binary file to the version the index names, once its bytes are here."""
    if row is not None and absorb_local_blob(s, row):
        return  # the user's newer version here wins; peers get it from the index
    entry = s.entries.get(file_id)
    if entry is None or busy(s, file_id, target, *([row.path] if row is not None else [])):
        return
    h = entry.blob
    hb = bytes.fromhex(h)
    here = row is not None and row.path == target
    if row is not None and here and row.hash == hb:
        return
    if row is not None and not here and row.hash == hb and _rename(s, row, target, safe_target(s.root, target)):
        return
    src = locate(s, h)
    if src is None:
        s.awaiting.setdefault(h, set()).add(file_id)  # the daemon fetches it from a peer
        return
    # Checked where it is written, not before: a joining device meets each of its thousands
    # of attachments twice, first with no bytes to write (nothing touches the disk then).
    dst = safe_target(s.root, target)
    keep: tuple[str, Stat] | None = None
    occupant = stat_of(dst)
    if occupant is not None:
        if row is not None and here:
            digest, recorded = row.hash.hex(), _stat(row)
        else:
            digest, recorded = _identify(s, target, dst, occupant)
            if digest == h:  # our own copy of this very version (joined with it, or put there by hand)
                _done(s, file_id, target, recorded, entry.size, row)
                return
            # A file of our own is where this one belongs: keep it as a version, never lose it.
            s.store.add_blob_version(file_id, digest, recorded.size, target, "local", s.now)
        if not s.blobs.has(digest):
            keep = (digest, recorded)
    mtime_ns = entry.mtime_ms * 1_000_000 if entry.mtime_ms else None  # the time it was made (photos)
    tmp = s.root / STATE_DIR / "tmp"
    later = None if s.write_batch is None else s.write_batch.dirs
    # absent: a file made there since (the user's) is not written over; this write is retried
    st, kept = blobswap.replace(
        s.blobs,
        src.path,
        dst,
        tmp,
        move=src.move,
        keep=keep,
        mtime_ns=mtime_ns,
        expect=src.expect,
        later=later,
        absent=occupant is None,
    )
    if kept is not None and kept.changed:
        s.store.add_blob_version(file_id, kept.digest, kept.size, target, "local", s.now)
    s.stats["files_written"] += 1
    _done(s, file_id, target, st, entry.size, row)


def _identify(s: EngineState, target: str, dst: Path, occupant: Stat) -> tuple[str, Stat]:
    """Digest and stat of a file at `target` that is not this file's: as recorded, if its
    row still matches, else hashed now (rare: a file created where a peer's belongs)."""
    other = row_at(s, target)
    if other is not None and len(other.hash) == 32 and other.stat == occupant.key:
        return other.hash.hex(), occupant
    h, _, st = hash_stable(dst)
    return h, st


def _done(s: EngineState, file_id: str, target: str, st: Stat, size: int, row: FileRow | None) -> None:
    entry = s.entries[file_id]
    if row is not None and row.path != target:
        leave(s, row, entry.blob)  # moved (with a new version, or onto a copy): the old path's file
    record(s, file_id, target, st, bytes.fromhex(entry.blob), b"")
    s.store.add_blob_version(file_id, entry.blob, size, target, "peer", s.now)
    s.store.set_unsynced(target, None)
    s.awaiting.get(entry.blob, set()).discard(file_id)


def _rename(s: EngineState, row: FileRow, target: str, dst: Path) -> bool:
    """A peer moved the file and its content is unchanged: a rename, like a note's."""
    src = abs_path(s, row.path)
    st = stat_of(src)
    if st is None or st.key != row.stat or stat_of(dst) is not None:
        return False
    dst.parent.mkdir(parents=True, exist_ok=True)
    rename_new(src, dst)  # a file made there since is kept: this write fails and is retried
    prune_empty_dirs(s.root, src.parent)
    moved = stat_of(dst)
    if moved is None:
        return False
    record(s, row.file_id, target, moved, row.hash, b"")
    s.store.set_unsynced(target, None)
    return True


def leave(s: EngineState, row: FileRow, current: str | None = None) -> None:
    """The file at `row.path` leaves the vault (a peer deleted or moved it): its bytes go into
    the store, by rename, unless the store has them already, or they are the file's
    `current` version, now at its new path."""
    path = abs_path(s, row.path)
    st = stat_of(path)
    if st is None or path.is_symlink():
        return
    digest = row.hash.hex() if len(row.hash) == 32 else None
    if digest is not None and st.key == row.stat and (digest == current or s.blobs.has(digest)):
        path.unlink()
    else:
        kept = blobswap.keep(s.blobs, path, (digest or "", _stat(row)))
        if kept is not None and kept.changed:
            s.store.add_blob_version(row.file_id, kept.digest, kept.size, row.path, "local", s.now)
    prune_empty_dirs(s.root, path.parent)


def finish_moves(s: EngineState) -> None:
    """At start-up: finish or undo the moves into the store a crash interrupted. A kept file
    whose bytes were not the version recorded is listed as a version of its own."""
    for target, kept in blobswap.recover(s.blobs):
        rel = None
        if target is not None and s.root in target.parents:
            rel = target.relative_to(s.root).as_posix()
        log.info("finished keeping %s (%s…) in the blob store after a crash", rel or "a file", kept.digest[:12])
        if kept.changed and rel is not None:
            fid = s.file_id_at.get(rel) or next((f for f, e in s.entries.items() if e.path == rel), file_id_for(rel))
            s.store.add_blob_version(fid, kept.digest, kept.size, rel, "local", s.now)
