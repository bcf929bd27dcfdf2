"""The vault index: one Loro document mapping a stable file id to its path and state.

    files: { file_id: { path, kind, deleted, dvv } }   (each entry a mergeable map)
    binary files: { file_id: { path, kind: "blob", content: "digest:size:mtime:stamp[:deleted]" } }

File id -> path (not path -> id): a path -> id map loses a file when two devices
create the same path (TECHNOTES 1.11). A text note's delete is a tombstone that
remembers the content version it deleted (`dvv`); an edit the deleter had not seen
makes the file live again ("edit wins over a concurrent delete").

A binary file's version and its delete are ONE value (`content`), so an edit and a
delete compete like two edits: the one with the later stamp (wall-clock ms, never
below the stamp of the value its writer saw, so a change made after seeing another
is always later) wins. Loro's map orders concurrent values by lamport, not time, so
a device whose value lost to an earlier concurrent one writes its own again after
the import (`afterimport.keep_later_blobs`): every device ends with the latest.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Sequence

from loro import Diff, DiffEvent, EncodedBlobMode, ExportMode, Index, LoroDoc, LoroMap, ValueOrContainer, VersionVector

from . import CrdtError, afterimport, guard
from .entries import Entry, blob_value, entry_of
from .indexversions import containers_changed_by_others, same_version

_FILES = "files"
_FORGOTTEN = "forgotten_devices"


def file_id_for(path: str, attempt: int = 0) -> str:
    """Deterministic id for a file created at `path`, so two devices creating the same
    path independently (a daily note) get the same document and merge instead of duplicating."""
    seed = path if attempt == 0 else f"{path}\x00{attempt}"
    return hashlib.blake2b(seed.encode("utf-8"), digest_size=16).hexdigest()


Saved = Callable[[], tuple[bytes | None, Sequence[bytes]]]  # the index as saved: snapshot, log
SavedVersion = Callable[[], bytes | None]  # the version saved with that snapshot (same transaction)


class VaultIndex:
    """The index, its Loro document decoded only while it is needed (`unload`): reading the
    version or the removed devices needs no document; anything else loads it back from
    where the engine saved it."""

    def __init__(self, doc: LoroDoc | None, peer: int = 0) -> None:
        """`doc`, or None with the `peer` it is to write as once loaded (`unloaded`)."""
        self._doc: LoroDoc | None = doc
        self._peer = doc.peer_id if doc is not None else peer  # a reloaded document writes as this peer
        self._saved: Saved | None = None  # where the document is read back from, once unloaded
        self._saved_vv: SavedVersion | None = None
        self._on_other: Callable[[], None] = lambda: None
        self._vv = b""  # the version, while no document is loaded
        self._forgotten: frozenset[str] | None = None  # forgotten(), until the document changes
        self._on_load: Callable[[frozenset[str]], None] | None = None  # once, at the next load (`check_at_load`)

    @classmethod
    def empty(cls, session_peer: int) -> VaultIndex:
        doc = LoroDoc()
        doc.peer_id = session_peer
        return cls(doc)

    @classmethod
    def load(cls, snapshot: bytes | None, session_peer: int, log: Sequence[bytes] = ()) -> VaultIndex:
        """The index from its snapshot and the updates saved after it (store.load_index)."""
        return cls(_decode(snapshot, log, session_peer))

    @classmethod
    def unloaded(
        cls,
        saved: Saved,
        session_peer: int,
        vv: bytes,
        forgotten: Iterable[str],
        on_other: Callable[[], None],
        saved_vv: SavedVersion | None = None,
    ) -> VaultIndex:
        """The index as saved at version `vv`, its document not decoded until first needed
        (a warm start that found its entries cached: store/indexentries.py)."""
        index = cls(None, session_peer)  # not even an empty LoroDoc: making one pages in 1.4 MB of Loro
        index._forgotten = frozenset(forgotten)
        index._vv = vv
        index._saved, index._on_other, index._saved_vv = saved, on_other, saved_vv
        return index

    @property
    def loaded(self) -> bool:
        return self._doc is not None

    @property
    def doc(self) -> LoroDoc:
        """The document, read back from where it was saved if it was unloaded. What is read
        must be the version unloaded: if not (never, unless the database was changed behind
        the engine's back), the read one is kept, as the saved truth, and `on_other` told."""
        if self._doc is None:
            if self._saved is None:
                raise RuntimeError("vault index unloaded with no way to read it back")
            snapshot, log = self._saved()
            doc = _decode(snapshot, log, self._peer)
            self._doc = doc
            expected = guard("decode index version", lambda: VersionVector.decode(self._vv)) if self._vv else VersionVector()
            check, self._on_load = self._on_load, None
            if not (doc.oplog_vv.includes_vv(expected) and expected.includes_vv(doc.oplog_vv)):
                self._forgotten = None
                self._on_other()
            elif check is not None:
                held, self._forgotten = self._forgotten or frozenset(), None  # read from the document now
                check(held)
        return self._doc

    def check_at_load(self, check: Callable[[frozenset[str]], None]) -> None:
        """Call `check` once the document is next read back (if it is the version expected:
        else `on_other` is called, as always), with the removed devices held until then:
        entries and devices taken on trust are compared with the document."""
        self._on_load = check

    @property
    def _files(self) -> LoroMap:
        return self.doc.get_map(_FILES)

    def use_peer(self, peer: int) -> None:
        """Write as `peer` from now on (and after any reload): a fresh one, when the document
        read back may lack ops of the peer it wrote as (reusing its counters drops ops)."""
        self._peer = peer
        self.doc.peer_id = peer

    def unload(self, saved: Saved, on_other: Callable[[], None], saved_vv: SavedVersion | None = None) -> None:
        """Free the document: everything in it is saved, and `saved` reads it back. The
        caller vouches for that (Engine.shed_memory); the version is kept to check it."""
        if self._doc is None:
            return
        self._vv, self._forgotten = self.vv(), frozenset(self.forgotten())
        self._saved, self._on_other, self._saved_vv = saved, on_other, saved_vv
        self._doc = None

    def reload(self, snapshot: bytes) -> None:
        """Become the document of `snapshot` (this document's own, just saved): its ops
        decoded lazily again. The old document is freed first, so the two are never in
        memory together (11,004 files: 17 MB less at the peak of shedding)."""
        self._doc = None
        self._doc = _decode(snapshot, (), self._peer)

    def entries(self) -> dict[str, Entry]:
        """Every well-formed entry. Read one entry at a time: the deep value of the whole map
        is a dict tree of the vault that, freed, still leaves its pages in the process
        (11,000 files: 24 MB of RSS against 13 MB this way, in the same time)."""
        out = {}
        for fid in self._files.keys():
            if (e := self.entry(fid)) is not None:
                out[fid] = e
        return out

    def file_ids(self) -> list[str]:
        """Every key of the index's files map (well-formed entry or not)."""
        return [str(k) for k in self._files.keys()]

    def entry(self, file_id: str) -> Entry | None:
        """One entry, without reading the whole index (that is O(vault size))."""
        v = self._files.get(file_id)
        # a plain value or another container where a peer should have put a map: malformed,
        # never acted on
        if v is None or not ValueOrContainer.is_container(v) or not isinstance(v.container, LoroMap):
            return None
        return entry_of(file_id, v.container.get_deep_value())

    def put(self, file_id: str, path: str, kind: str = "text") -> None:
        entry = self.entry_map(file_id)
        afterimport.mark(entry, b"")
        entry.insert("path", path)
        entry.insert("kind", kind)
        entry.insert("deleted", False)
        self.doc.commit()

    def put_blob(self, file_id: str, path: str, blob: str, size: int, mtime_ms: int = 0, at_ms: int | None = None) -> None:
        """A binary file's (new) content, made at `at_ms` (default now): concurrent versions,
        and a concurrent delete, resolve last-writer-wins. Digest, size, time and the delete
        are ONE value: as separate keys, two concurrent versions could merge into one's
        digest with the other's size (and Loro records no op for a key set to the value it
        already holds, so equal sizes, or `deleted` False against False, would not even compete)."""
        entry = self.entry_map(file_id)
        afterimport.mark(entry, b"")
        stamp = self.next_stamp(file_id, at_ms)
        entry.insert("path", path)
        entry.insert("kind", "blob")
        entry.insert("content", blob_value(blob, size, mtime_ms, stamp, False))
        self.doc.commit()

    def next_stamp(self, file_id: str, at_ms: int | None) -> int:
        """A blob change's stamp: its time, but always after the value this device holds (a
        change made after seeing another wins over it even if this device's clock is behind)."""
        now = time.time_ns() // 1_000_000
        at = now if at_ms is None else min(at_ms, now)
        held = self.entry(file_id)
        return max(at, held.stamp + 1 if held is not None and held.kind == "blob" else 0)

    def _blob_delete(self, file_id: str, deleted: bool, at_ms: int | None) -> bool:
        """Carry a binary file's delete (or its undoing) in its content value. False if the
        entry holds no blob content of this format to carry it (then the `deleted` key does)."""
        held = self.entry(file_id)
        if held is None or held.kind != "blob":
            return False
        stamp = self.next_stamp(file_id, at_ms)
        value = blob_value(held.blob, held.size, held.mtime_ms, stamp, deleted)
        self.entry_map(file_id).insert("content", value)
        self.doc.commit()
        return True

    def entry_map(self, file_id: str) -> LoroMap:
        """The entry's map (made if there is none: for an entry that exists, as an entry read
        from the index does, nothing is written)."""
        return self._files.ensure_mergeable_map(file_id)

    @property
    def peer(self) -> int:
        """The peer id this index writes as (a fresh one each session)."""
        return self._peer

    def set_path(self, file_id: str, path: str) -> None:
        self.entry_map(file_id).insert("path", path)
        self.doc.commit()

    def mark_deleted(self, file_id: str, content_vv: bytes, at_ms: int | None = None) -> None:
        """A text note's delete is a tombstone covering `content_vv`; a binary file's is its
        content value marked deleted at `at_ms` (default now), competing with its versions."""
        entry = self.entry_map(file_id)
        afterimport.mark(entry, b"")
        if self._blob_delete(file_id, True, at_ms):
            return
        entry.insert("deleted", True)
        entry.insert("dvv", content_vv)
        self.doc.commit()

    def undelete(self, file_id: str, at_ms: int | None = None, taken_back: bytes = b"") -> None:
        """The file is live again (a binary file's: its content value, stamped `at_ms`).
        `taken_back`: the mass-deletion guard undoes this device's own delete, at this index
        version (crdt/afterimport.py: a delete made elsewhere meanwhile stays)."""
        entry = self.entry_map(file_id)
        afterimport.mark(entry, taken_back)
        if self._blob_delete(file_id, False, at_ms):
            return
        entry.insert("deleted", False)
        self.doc.commit()

    def changed_by_others(self, file_ids: Iterable[str], since: bytes) -> set[str]:
        """Which of `file_ids` have entries another device (any peer id but the one this
        index writes as) changed in the ops this index gained since version `since`, winning
        or not: a concurrent delete that lost to ours leaves no trace in the entry, only here.
        All of them if the history cannot be read (the caller then does nothing to them)."""
        wanted = set(file_ids)
        try:
            return guard("read the index's history", lambda: self._changed_by_others(wanted, since))
        except CrdtError:
            return wanted

    def _changed_by_others(self, wanted: set[str], since: bytes) -> set[str]:
        ids: dict[str, str] = {}  # container id -> file id
        for fid in wanted:
            v = self._files.get(fid)
            if v is not None and ValueOrContainer.is_container(v) and isinstance(v.container, LoroMap):
                ids[str(v.container.id)] = fid
        return {ids[c] for c in containers_changed_by_others(self.doc, self._peer, since) if c in ids}

    def forget_device(self, endpoint_id: str) -> None:
        """Remove a device from the vault: every device that learns this stops talking to it."""
        self.doc.get_map(_FORGOTTEN).insert(endpoint_id, True)
        self.doc.commit()
        self._forgotten = None

    def readmit_device(self, endpoint_id: str) -> None:
        """A removed device paired again with a fresh ticket: it is a member once more."""
        self.doc.get_map(_FORGOTTEN).insert(endpoint_id, False)
        self.doc.commit()
        self._forgotten = None

    def forgotten(self) -> set[str]:
        """Removed devices (asked at each connection and LAN announcement: kept, not reread)."""
        if self._forgotten is None:
            forgotten = self.doc.get_map(_FORGOTTEN).get_deep_value()
            found = {str(k) for k, v in forgotten.items() if v is True} if isinstance(forgotten, dict) else set()
            self._forgotten = frozenset(found)
        return set(self._forgotten)

    def vv(self) -> bytes:
        return self._vv if self._doc is None else bytes(self._doc.oplog_vv.encode())

    def updates_since(self, vv: bytes) -> bytes | None:
        theirs = guard("decode index version", lambda: VersionVector.decode(vv)) if vv else VersionVector()
        if self._doc is None and theirs.includes_vv(VersionVector.decode(self._vv) if self._vv else VersionVector()):
            return None  # a peer up to date: no need to load the document to say so
        if theirs.includes_vv(self.doc.oplog_vv):
            return None
        return bytes(self.doc.export(ExportMode.Updates(theirs)))

    def catch_up(self, vv: bytes) -> bytes | None:
        """What a peer at `vv` lacks, to send it. A peer with no index at all (a device
        joining) gets a snapshot: Loro imports one lazily into an empty document and the
        receiver keeps it as its own snapshot, where the same ops as updates are decoded
        whole and exported again (11,004 files: +20 MB at the receiver's peak against
        +41 MB); exporting it costs the sender less too (+9 against +20 MB). `import_`
        takes either, so any receiver reads it."""
        theirs = guard("decode index version", lambda: VersionVector.decode(vv)) if vv else VersionVector()
        if not VersionVector().includes_vv(theirs):
            return self.updates_since(vv)
        if (saved := self._saved_snapshot()) is not None:
            return saved
        return None if self.is_empty() else self.snapshot()

    def _saved_snapshot(self) -> bytes | None:
        """The snapshot saved, while the document is unloaded and that snapshot is all of it
        (no update logged after it, and its version the one unloaded): sent as it is, with
        no decoding and no export (the `real` tier's A serving a join: +13 MB at its peak).
        Its version is the one saved with it, in its transaction (`saved_vv`), not read from
        the blob: `decode_import_blob_meta` walks the whole snapshot and pages in 3.3 MB of
        Loro's code for the rest of the daemon's life. Every snapshot the engine saves is a
        `Snapshot` (a fold's export, or a peer's, kept only if `is_snapshot`)."""
        if self._doc is not None or self._saved is None or self._saved_vv is None or not self._vv:
            return None
        saved_vv = self._saved_vv()
        try:
            if not saved_vv or not same_version(saved_vv, self._vv):
                return None
        except CrdtError:  # unreadable: the document is loaded and exported instead
            return None
        snapshot, log = self._saved()
        return None if snapshot is None or log else snapshot

    def is_empty(self) -> bool:
        """No op at all: a device that has not imported or made an index yet."""
        return VersionVector().includes_vv(self.doc.oplog_vv)

    def apply(self, blob: bytes, track: bool = True) -> set[str] | None:
        """Import a peer's updates. Returns the file ids whose entries the import may have
        changed (read from Loro's events for it), or None when some event could not be read
        or `track` is False (then any entry may have): the engine rereads only those, not the
        whole index. Events cost memory in proportion to the update (an index of 11,004
        files imported whole: 14 MB more at its peak than reading every entry afterwards)."""
        self._forgotten = None  # the peer's update may remove or readmit a device
        if not track:
            guard("import index update", lambda: self.doc.import_(blob))
            return None
        touched: set[str] = set()
        unread = False

        def seen(event: DiffEvent) -> None:
            nonlocal unread
            try:
                for d in event.events:
                    keys = [p.index.key if isinstance(p.index, Index.Key) else None for p in d.path]
                    if not keys:
                        unread = True
                    elif keys[0] != _FILES:
                        continue  # the forgotten devices: no entry
                    elif len(keys) > 1 and keys[1] is not None:
                        touched.add(keys[1])  # inside one file's entry
                    elif len(keys) == 1 and isinstance(d.diff, Diff.Map):
                        touched.update(d.diff.diff.updated)  # file ids set or replaced
                    else:
                        unread = True
            except Exception:  # never let a surprise escape into Loro's callback
                unread = True

        subscription = self.doc.subscribe_root(seen)
        try:
            guard("import index update", lambda: self.doc.import_(blob))
        finally:
            subscription.unsubscribe()
        return None if unread else touched

    def snapshot(self) -> bytes:
        return bytes(self.doc.export(ExportMode.Snapshot()))


def _decode(snapshot: bytes | None, log: Sequence[bytes], session_peer: int) -> LoroDoc:
    doc = LoroDoc()
    if snapshot is not None:
        guard("load vault index", lambda: doc.import_(snapshot))
    if log:
        guard("load vault index's log", lambda: doc.import_batch(list(log)))
    doc.peer_id = session_peer
    return doc


def is_snapshot(blob: bytes) -> bool:
    """`blob` is a whole Loro snapshot (VaultIndex.catch_up), not updates."""
    try:
        return bool(LoroDoc.decode_import_blob_meta(blob, False).mode == EncodedBlobMode.Snapshot)
    except Exception:  # noqa: BLE001 - not Loro's at all: the import refuses it with its own error
        return False
