"""The vault index: one Loro document mapping a stable file id to its path and state.

    files: { file_id: { path, kind, deleted, dvv } }   (each entry a mergeable map)

File id -> path (not path -> id): a path -> id map loses a file when two devices
create the same path (TECHNOTES 1.11). A delete is a tombstone that remembers the
content version it deleted (`dvv`); an edit the deleter had not seen makes the
file live again ("edit wins over a concurrent delete").
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from loro import ExportMode, LoroDoc, VersionVector

from . import guard

_FILES = "files"
_FORGOTTEN = "forgotten_devices"
_BLOB_CONTENT = re.compile(r"([0-9a-f]{64}):([0-9]{1,19}):([0-9]{1,19})")  # digest:size:mtime_ms


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


def file_id_for(path: str, attempt: int = 0) -> str:
    """Deterministic id for a file created at `path`, so two devices creating the same
    path independently (a daily note) get the same document and merge instead of duplicating."""
    seed = path if attempt == 0 else f"{path}\x00{attempt}"
    return hashlib.blake2b(seed.encode("utf-8"), digest_size=16).hexdigest()


class VaultIndex:
    def __init__(self, doc: LoroDoc) -> None:
        self.doc = doc
        self._files = doc.get_map(_FILES)

    @classmethod
    def empty(cls, session_peer: int) -> VaultIndex:
        doc = LoroDoc()
        doc.peer_id = session_peer
        return cls(doc)

    @classmethod
    def load(cls, snapshot: bytes, session_peer: int) -> VaultIndex:
        doc = LoroDoc()
        guard("load vault index", lambda: doc.import_(snapshot))
        doc.peer_id = session_peer
        return cls(doc)

    def entries(self) -> dict[str, Entry]:
        raw = self._files.get_deep_value()
        return {fid: e for fid, v in raw.items() if (e := _entry(fid, v)) is not None}

    def entry(self, file_id: str) -> Entry | None:
        """One entry, without reading the whole index (that is O(vault size))."""
        v = self._files.get(file_id)
        return None if v is None or v.container is None else _entry(file_id, v.container.get_deep_value())

    def put(self, file_id: str, path: str, kind: str = "text") -> None:
        entry = self._files.ensure_mergeable_map(file_id)
        entry.insert("path", path)
        entry.insert("kind", kind)
        entry.insert("deleted", False)
        self.doc.commit()

    def put_blob(self, file_id: str, path: str, blob: str, size: int, mtime_ms: int = 0) -> None:
        """A binary file's (new) content: concurrent versions resolve last-writer-wins. Digest,
        size and time are ONE value: as separate keys, two concurrent versions could merge
        into one's digest with the other's size (and Loro records no op for a key set to the
        value it already holds, so equal sizes would not even compete)."""
        entry = self._files.ensure_mergeable_map(file_id)
        entry.insert("path", path)
        entry.insert("kind", "blob")
        entry.insert("content", f"{blob}:{size}:{mtime_ms}")
        entry.insert("deleted", False)
        self.doc.commit()

    def set_path(self, file_id: str, path: str) -> None:
        self._files.ensure_mergeable_map(file_id).insert("path", path)
        self.doc.commit()

    def mark_deleted(self, file_id: str, content_vv: bytes) -> None:
        entry = self._files.ensure_mergeable_map(file_id)
        entry.insert("deleted", True)
        entry.insert("dvv", content_vv)
        self.doc.commit()

    def undelete(self, file_id: str) -> None:
        self._files.ensure_mergeable_map(file_id).insert("deleted", False)
        self.doc.commit()

    def forget_device(self, endpoint_id: str) -> None:
        """Remove a device from the vault: every device that learns this stops talking to it."""
        self.doc.get_map(_FORGOTTEN).insert(endpoint_id, True)
        self.doc.commit()

    def forgotten(self) -> set[str]:
        return {str(k) for k, v in self.doc.get_map(_FORGOTTEN).get_deep_value().items() if v is True}

    def vv(self) -> bytes:
        return bytes(self.doc.oplog_vv.encode())

    def updates_since(self, vv: bytes) -> bytes | None:
        theirs = guard("decode index version", lambda: VersionVector.decode(vv)) if vv else VersionVector()
        if theirs.includes_vv(self.doc.oplog_vv):
            return None
        return bytes(self.doc.export(ExportMode.Updates(theirs)))

    def apply(self, blob: bytes) -> None:
        guard("import index update", lambda: self.doc.import_(blob))

    def snapshot(self) -> bytes:
        return bytes(self.doc.export(ExportMode.Snapshot()))


def _entry(fid: str, v: object) -> Entry | None:
    if not isinstance(v, dict) or not isinstance(v.get("path"), str):
        return None
    kind = str(v.get("kind", "text"))
    blob, size, mtime = "", 0, 0
    if kind == "blob":
        m = _BLOB_CONTENT.fullmatch(str(v.get("content") or ""))
        if m is None:
            return None  # a malformed entry from a peer: never acted on
        blob, size, mtime = m[1], int(m[2]), int(m[3])
    return Entry(fid, v["path"], kind, bool(v.get("deleted")), bytes(v.get("dvv") or b""), blob, size, mtime)
