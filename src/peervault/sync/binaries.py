"""Binary files (and text too large for a note): content-addressed blobs, last writer wins.

A binary file is hashed where it lies (no copy): the index names its digest, and the
`files` row records the stat (size, mtime, inode) the digest belongs to, so the file
itself serves the blob to peers for as long as that stat holds (sync/blobsource.py).
In the daemon, hashing runs in worker threads (`hash_later`): a large file never holds
up a note. Writing a peer's version into the folder is sync/blobwrite.py.
"""

from __future__ import annotations

from collections.abc import Container
from typing import TYPE_CHECKING

from ..crdt.index import file_id_for
from ..errors import Conflict
from ..store.filetable import FileRow
from ..vault.blobio import hash_stable, hasher
from ..vault.fsops import Stat, stat_of
from .blobsource import locate
from .documents import batch, index_changed, is_live
from .tracked import abs_path, alloc_id, forget, record, row_at

if TYPE_CHECKING:
    from .enginestate import EngineState


def is_blob(s: EngineState, row: FileRow | None) -> bool:
    e = None if row is None else s.entries.get(row.file_id)
    return e is not None and e.kind == "blob"


def ingest_blob(
    s: EngineState,
    rel: str,
    row: FileRow | None,
    st: Stat,
    now: float | None,
    found: tuple[str, int] | None = None,
    data: bytes | None = None,
    inline: bool = False,
) -> int:
    """A binary file (or text too large for a note) changed here: the index names its digest.
    `found`: the digest and size a worker computed for the file at stat `st`; `data`: its
    bytes, already read (a small file). Otherwise it is hashed now, or queued for the
    daemon's workers (`hash_later`) unless `inline` (the caller needs it recorded now).
    Returns changes."""
    if found is None and data is not None:
        digest = hasher()
        digest.update(data)
        found = (digest.hexdigest(), len(data))
        now_st = stat_of(f"{s.root}/{rel}")  # (a string: a Path per file costs more than its stat)
        if now_st is None or now_st.key != st.key:
            return 0  # changing under us: the next event sees it again
    if found is None:
        if s.hash_later is not None and not inline:
            s.to_hash[rel] = st
            s.hash_later()
            return 0
        try:
            h, size, st = hash_stable(abs_path(s, rel))
        except OSError:
            return 0  # changing under us, vanished or unreadable: the next event sees it again
    else:
        h, size = found
    hb = bytes.fromhex(h)
    if now is not None:
        s.touched[rel] = now
    s.store.set_unsynced(rel, None)
    if row is not None and row.hash == hb:
        record(s, row.file_id, rel, st, hb, b"")
        return 0
    shown = _version_shown(s, rel, row, h)
    if shown is not None:
        # The file holds the version the index names already (written just before a crash,
        # or copied in by hand): recorded as it is, not a new edit.
        record(s, shown, rel, st, hb, b"")
        s.store.add_blob_version(shown, h, size, rel, "peer", s.now)
        s.awaiting.get(h, set()).discard(shown)
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


def _version_shown(s: EngineState, rel: str, row: FileRow | None, h: str) -> str | None:
    """The file at `rel` whose live index entry names `h` already, if any."""
    if row is not None:
        fids = [] if row.file_id.startswith("u") else [row.file_id]
    else:
        fids = [f for f in (file_id_for(rel, n) for n in range(3)) if f not in s.files]
    for fid in fids:
        e = s.entries.get(fid)
        if e is not None and e.kind == "blob" and e.path == rel and e.blob == h and is_live(s, e):
            return fid
    return None


def absorb_local_blob(s: EngineState, row: FileRow) -> bool:
    """Before a peer's version replaces a binary file: a version the user saved here since
    is recorded first (and, being newer, wins). True if there was one."""
    st = stat_of(abs_path(s, row.path))
    if st is None or st.key == row.stat:
        return False
    s.touched[row.path] = s.now
    return bool(ingest_blob(s, row.path, row, st, s.now, inline=True))


# -- the daemon's hashing workers ---------------------------------------------------------


def take_hash_jobs(s: EngineState) -> dict[str, Stat]:
    """Files waiting to be hashed (path -> the stat seen), handed to the workers."""
    jobs, s.to_hash = s.to_hash, {}
    return jobs


def blob_hashed(s: EngineState, rel: str, st: Stat, h: str, size: int) -> int:
    """A worker hashed `rel` as it was at `st`: record it, if the file still shows that stat
    (else it is queued again). Returns changes."""
    if s.ignore.ignored_here(rel):
        return 0  # this device's rules came to ignore it meanwhile (sync/ignorehere.py)
    now_st = stat_of(abs_path(s, rel))
    if now_st is None:
        return 0  # gone meanwhile: the watcher reports the delete
    if now_st.key != st.key:
        s.to_hash[rel] = now_st  # changed again while hashed
        if s.hash_later is not None:
            s.hash_later()
        return 0
    row = row_at(s, rel)
    if row is not None and row.stat == st.key:
        return 0  # recorded meanwhile (a peer's version was written there)
    with batch(s):
        changes = ingest_blob(s, rel, row, st, s.now, found=(h, size))
    s.stats["local_changes"] += changes
    return changes


# -- what the daemon fetches, and restores ------------------------------------------------


def wanted_blobs(s: EngineState, skip: Container[str] = (), limit: int | None = None) -> dict[str, int]:
    """Blobs the index names that are not here yet: hash -> size (for the daemon to fetch).
    `skip`: hashes not to look at (in flight, or waiting to be retried); `limit`: stop after
    that many. Both keep a fetch loop over thousands of small attachments from costing
    O(awaiting) file lookups per arrival."""
    out: dict[str, int] = {}
    unneeded = []
    for h, fids in s.awaiting.items():  # not a copy: called on every arrival, it stops at `limit`
        if limit is not None and len(out) >= limit:
            break
        if h in skip:
            continue
        live = [f for f in fids if (e := s.entries.get(f)) is not None and e.kind == "blob" and e.blob == h and is_live(s, e)]
        if not live:
            unneeded.append(h)  # no file needs that version any more
        elif locate(s, h) is None:  # (here: `blobs_arrived` is about to write its files)
            out[h] = s.entries[live[0]].size
    for h in unneeded:
        del s.awaiting[h]
    return out


def awaited(s: EngineState) -> int:
    """How many blobs files here wait for (`status`'s "wanted"), without looking on disk for
    each: `wanted_blobs` stats every awaited blob's possible places, which on a joining
    device waiting for 4,000 attachments cost ~0.1 s per status write. A blob that arrived
    counts until its files are written (a tenth of a second, see sync/blobs.py)."""
    return sum(1 for h, fids in s.awaiting.items() if _waits_for(s, h, fids))


def _waits_for(s: EngineState, h: str, file_ids: set[str]) -> bool:
    """One of these files is live here as blob `h` (their entries may have changed since)."""
    try:
        digest = bytes.fromhex(h)
    except ValueError:
        digest = b""
    if digest.hex() != h:
        digest = b""  # a packed entry's blob is its digest in lowercase hex: none names this one
    for f in file_ids:
        named = s.entries.names_blob(f, digest)
        if named is None:
            named = (e := s.entries.get(f)) is not None and e.kind == "blob" and e.blob == h and is_live(s, e)
        if named:
            return True
    return False


def restore_blob(s: EngineState, file_id: str, rel: str, h: str, size: int) -> tuple[str, bool]:
    """`peervault restore` of a binary version: the index names it again (a new version,
    stamped now, that every device gets), for the file at `rel` now or else `file_id`.
    Returns (file id, whether its bytes are here); if not, this device fetches them from
    a peer like any peer's version, and the file keeps its content until they arrive."""
    here = s.file_id_at.get(rel)
    fid = here if here is not None and not here.startswith("u") else file_id
    entry = s.entries.get(fid)
    if entry is not None and entry.kind != "blob":
        raise Conflict(f"{rel} is a note now; a binary version cannot be restored over it")
    row = s.files.get(fid)
    if row is not None:
        absorb_local_blob(s, row)  # what the file holds now is a version too
    with batch(s):
        before = s.index.vv()
        s.index.put_blob(fid, rel, h, size, 0, int(s.now * 1000))
        index_changed(s, fid, before)
        s.store.add_blob_version(fid, h, size, rel, "local", s.now)
        s.store.add_pending_writes({fid})
    return fid, locate(s, h) is not None
