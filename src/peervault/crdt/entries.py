"""One file's entry in the vault index (crdt/index.py): the record read from its map, the
binary file's `content` value, the row the database keeps beside the snapshot, and the
compact table the engine keeps them in for its whole life (`EntryTable`)."""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..packedmap import PackedMap

# digest:size:mtime_ms[:stamp_ms[:deleted]]; entries written before the stamp have no
# stamp (0) and keep their delete in the separate `deleted` key
_BLOB_CONTENT = re.compile(r"([0-9a-f]{64}):([0-9]{1,19}):([0-9]{1,19})(?::([0-9]{1,19})(:deleted)?)?")
_DELETED = ":deleted"
_KINDS = {"text": "text", "blob": "blob"}


@dataclass(frozen=True, slots=True)  # one per file: slots halve the memory
class Entry:
    file_id: str
    path: str
    kind: str  # "text" (a Loro note) or "blob" (content-addressed, last writer wins)
    deleted: bool
    dvv: bytes
    blob: str = ""  # kind "blob": the content's blake3 hex digest
    size: int = 0
    mtime_ms: int = 0  # kind "blob": when it was last modified where it was made
    stamp: int = 0  # kind "blob": when this version (or the delete) was made, ms; the later wins


def entry_of(file_id: str, v: object) -> Entry | None:
    """The entry of one file's map in the index; None for a malformed one (never acted on)."""
    if not isinstance(v, dict) or not isinstance(v.get("path"), str):
        return None
    kind = str(v.get("kind", "text"))
    kind = _KINDS.get(kind, kind)  # one string for all: a copy per entry is 0.6 MB at 11,000 files
    if kind == "blob":
        m = _BLOB_CONTENT.fullmatch(str(v.get("content") or ""))
        if m is None:
            return None  # a malformed entry from a peer: never acted on
        # A stamped value says itself whether the file is deleted; an older one (no stamp)
        # left that to the `deleted` key. A blob's delete covers no note version: no dvv.
        deleted = bool(m[5]) if m[4] is not None else bool(v.get("deleted"))
        return Entry(file_id, v["path"], kind, deleted, b"", m[1], int(m[2]), int(m[3]), int(m[4] or 0))
    return Entry(file_id, v["path"], kind, bool(v.get("deleted")), bytes(v.get("dvv") or b""))


def blob_value(blob: str, size: int, mtime_ms: int, stamp: int, deleted: bool) -> str:
    """A binary file's `content`: its version and its delete in one value (see crdt/index.py)."""
    return f"{blob}:{size}:{mtime_ms}:{stamp}{_DELETED if deleted else ''}"


def entry_row(e: Entry) -> tuple[str, str, str, int, bytes, str, int, int, int]:
    """An entry as the database keeps it beside the index's snapshot (store/indexentries.py)."""
    return (e.file_id, e.path, e.kind, int(e.deleted), e.dvv, e.blob, e.size, e.mtime_ms, e.stamp)


_DIGEST = re.compile(r"[0-9a-f]{64}")
_MAX_INT = 10**19 - 1  # what `_BLOB_CONTENT` reads (at most 19 digits)


def row_ok(row: Sequence[Any]) -> bool:
    """`row` is one `entry_of` could have made (a peer's, sent with its snapshot): a binary
    file's with a digest and no dvv, any other's with no blob fields."""
    fid, path, kind, deleted, dvv, blob, size, mtime_ms, stamp = row
    if not (isinstance(fid, str) and isinstance(path, str) and isinstance(kind, str) and isinstance(dvv, bytes)):
        return False
    if deleted not in (0, 1) or not all(isinstance(n, int) and 0 <= n <= _MAX_INT for n in (size, mtime_ms, stamp)):
        return False
    if kind == "blob":
        return bool(dvv == b"" and isinstance(blob, str) and _DIGEST.fullmatch(blob) is not None)
    return bool(blob == "" and size == mtime_ms == stamp == 0)


def row_entry(row: Sequence[Any]) -> Entry:
    """The entry of an `entry_row` read back (one string per kind, as `entry_of` makes them)."""
    fid, path, kind, deleted, dvv, blob, size, mtime_ms, stamp = row
    return Entry(fid, path, _KINDS.get(kind, kind), bool(deleted), dvv, blob, size, mtime_ms, stamp)


# A binary file's entry packed: deleted, size, mtime_ms, stamp, then the 32-byte digest
_BLOB = struct.Struct("<?QQQ32s")


def _pack(e: Entry) -> str | tuple[str, bytes] | Entry:
    """The common entries without an object of their own: a live text note is its path
    (the very string the entry holds), a binary file its path and one packed bytes (the
    digest as 32 bytes, not 64 characters). Anything else stays an `Entry`."""
    if e.dvv:
        return e
    if e.kind == "text" and not e.deleted and not e.blob and e.size == e.mtime_ms == e.stamp == 0:
        return e.path
    if e.kind == "blob" and len(e.blob) == 64:
        try:
            digest = bytes.fromhex(e.blob)
            if digest.hex() == e.blob:  # lowercase hex only: it must read back the same
                return (e.path, _BLOB.pack(e.deleted, e.size, e.mtime_ms, e.stamp, digest))
        except (ValueError, struct.error):
            pass
    return e


def _unpack(file_id: str, value: str | tuple[str, bytes] | Entry) -> Entry:
    if isinstance(value, str):
        return Entry(file_id, value, "text", False, b"")
    if isinstance(value, tuple):
        deleted, size, mtime_ms, stamp, digest = _BLOB.unpack(value[1])
        return Entry(file_id, value[0], "blob", deleted, b"", digest.hex(), size, mtime_ms, stamp)
    return value


class EntryTable(PackedMap[Entry]):
    """file id -> Entry, as a dict of them would be, an `Entry` made when one is read (the
    entries are values: equal, not the same object). An object per entry was 104 bytes, and
    a binary file's digest, size and times 200 more (10,000 notes: 1 MB of a warm daemon)."""

    def __init__(self, entries: dict[str, Entry] | None = None) -> None:
        super().__init__()
        if entries:
            self.update(entries)

    def _pack(self, file_id: str, entry: Entry) -> str | tuple[str, bytes] | Entry:
        return _pack(entry) if entry.file_id == file_id else entry

    def _unpack(self, file_id: str, stored: str | tuple[str, bytes] | Entry) -> Entry:
        return _unpack(file_id, stored)

    def subset(self, file_ids: Iterable[str]) -> EntryTable:
        """The entries of these file ids held here, as a table sharing what this one holds."""
        out = EntryTable()
        out._rows = {fid: value for fid in file_ids if (value := self._rows.get(fid)) is not None}
        return out

    def take(self, source: EntryTable, file_ids: Iterable[str]) -> None:
        """Each of these file ids as `source` holds it, or dropped where it holds none (as
        held: no `Entry` made and packed again)."""
        for fid in file_ids:
            value = source._rows.get(fid)
            if value is None:
                self._rows.pop(fid, None)
            else:
                self._rows[fid] = value

    def names_blob(self, file_id: str, digest: bytes) -> bool | None:
        """Whether `file_id`'s entry is a binary file of this digest, not deleted, read from
        its packed form without making an `Entry` (a joining device's status counts 4,000
        awaited blobs each second). None for an entry held as an `Entry` (one with a
        deletion's version vector, say, which `documents.is_live` decides): read it."""
        value = self._rows.get(file_id)
        if isinstance(value, tuple):
            packed = value[1]
            return packed[-32:] == digest and not packed[0]  # _BLOB: deleted first, digest last
        return None if isinstance(value, Entry) else False

    def differing(self, other: EntryTable) -> set[str]:
        """The file ids whose entry here is not the one `other` holds (or that it lacks).
        Compared as held: an entry is packed (or not) from its own fields alone, so equal
        entries are held equal."""
        return {fid for fid, value in self._rows.items() if other._rows.get(fid) != value}
