"""One file's entry in the vault index (crdt/index.py): the record read from its map, the
binary file's `content` value, and the row the database keeps beside the snapshot."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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


def row_entry(row: Sequence[Any]) -> Entry:
    """The entry of an `entry_row` read back (one string per kind, as `entry_of` makes them)."""
    fid, path, kind, deleted, dvv, blob, size, mtime_ms, stamp = row
    return Entry(fid, path, _KINDS.get(kind, kind), bool(deleted), dvv, blob, size, mtime_ms, stamp)
