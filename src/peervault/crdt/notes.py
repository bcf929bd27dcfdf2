"""One Loro document per text file: its content lives in the text container "content"."""

from __future__ import annotations

import struct

from loro import ExportMode, Frontiers, LoroDoc, VersionVector

from . import CrdtError, genesis_peer, guard

_CONTAINER = "content"

# What the rest of PeerVault calls a note document: code outside crdt/ names this type
# (to annotate caches and parameters) without importing loro itself.
Note = LoroDoc


def new_note(text: str, session_peer: int) -> LoroDoc:
    """A note first imported on this device: inserted under a content-derived genesis peer
    (identical imports elsewhere produce identical ops), then handed to this session's peer."""
    doc = LoroDoc()
    if text:
        doc.peer_id = genesis_peer(text.encode("utf-8"))
        doc.get_text(_CONTAINER).insert(0, text)
        doc.commit()
    doc.peer_id = session_peer
    return doc


def load_note(snapshot: bytes, session_peer: int) -> LoroDoc:
    """A note from `whole`'s bytes (a snapshot, or its ops alone), or any snapshot."""
    doc = LoroDoc()
    guard("load note", lambda: doc.import_(snapshot))
    # A fresh peer id per session: reusing one after state loss silently drops ops (TECHNOTES 1.1).
    doc.peer_id = session_peer
    return doc


def empty_note(session_peer: int) -> LoroDoc:
    doc = LoroDoc()
    doc.peer_id = session_peer
    return doc


def text_of(doc: LoroDoc) -> str:
    return doc.get_text(_CONTAINER).to_string()


def set_text(doc: LoroDoc, new: str, diff_timeout_ms: int = 100, line_timeout_ms: int = 1000) -> bool:
    """Make the note read `new` through a diff, so concurrent edits merge. Returns True if it changed.

    Char diff first (bounded: it is quadratic on rewrites), then line diff, then a plain splice."""
    text = doc.get_text(_CONTAINER)
    if text.to_string() == new:
        return False
    try:
        text.update(new, timeout_ms=diff_timeout_ms)
    except ValueError:
        try:
            text.update_by_line(new, timeout_ms=line_timeout_ms)
        except ValueError:
            text.splice(0, len(text), new)
    doc.commit()
    return True


def merge_foreign_text(doc: LoroDoc, content: str, session_peer: int) -> None:
    """Bring in text created independently elsewhere (same path, different history):
    its genesis ops merge with `doc`, so identical text stays one copy and different text keeps both."""
    foreign = new_note(content, session_peer)
    guard("merge note", lambda: doc.import_(foreign.export(ExportMode.Snapshot())))


def snapshot(doc: LoroDoc) -> bytes:
    return bytes(doc.export(ExportMode.Snapshot()))


SHORT_HISTORY = 1024  # ops beyond the text's own characters (deletes, replaced text)


def whole(doc: LoroDoc) -> bytes:
    """The whole note as it is stored and sent to a device that has none of it.

    A note with a short history goes as its ops alone (Loro's updates from the start): a
    snapshot holds the text twice, in the ops and in the state, so this is smaller (the
    `real` bench tier's notes as stored, deflated: 16.4 MB against 22.2) and three times
    quicker to make, and importing it replays no more than the text plus SHORT_HISTORY ops
    (a 5 KB note: 18 us against 27 for its snapshot). A long
    history goes as a snapshot, whose import does not replay it (a note rewritten many
    times can take Loro seconds to replay). `load_note` imports either."""
    history = doc.len_ops - doc.get_text(_CONTAINER).len_unicode
    if history > SHORT_HISTORY:
        return snapshot(doc)
    return bytes(doc.export(ExportMode.Updates(VersionVector())))


def vv_bytes(doc: LoroDoc) -> bytes:
    return bytes(doc.oplog_vv.encode())


def vv_canonical(vv: bytes) -> bytes:
    """The same version as bytes every device agrees on. Loro's own encoding writes its peer
    map in hash order, so equal versions can encode differently on two devices; anything that
    compares versions by their bytes (the sync bucket digests) must use this form."""
    spans = guard("decode version", lambda: VersionVector.decode(vv).to_spans().inner())
    return b"".join(struct.pack(">Qqq", peer, start, end) for peer, (start, end) in sorted(spans.items()))


def vv_at(doc: LoroDoc, frontiers_bytes: bytes) -> bytes:
    """The version vector of the note at `frontiers_bytes` (the current one if empty)."""
    if not frontiers_bytes:
        return vv_bytes(doc)
    f = guard("decode version", lambda: Frontiers.decode(frontiers_bytes))
    vv = guard("resolve version", lambda: doc.frontiers_to_vv(f))
    if vv is None:  # a version this note's history does not contain
        raise CrdtError("resolve version: not in this note's history")
    return bytes(vv.encode())


def updates_since(doc: LoroDoc, vv: bytes | None) -> bytes:
    since = VersionVector() if not vv else guard("decode version", lambda: VersionVector.decode(vv))
    return bytes(doc.export(ExportMode.Updates(since)))


def includes(vv_a: bytes, vv_b: bytes) -> bool:
    """True if version `vv_a` already contains everything in `vv_b`."""
    a = guard("decode version", lambda: VersionVector.decode(vv_a))
    b = guard("decode version", lambda: VersionVector.decode(vv_b))
    return bool(a.includes_vv(b))


def apply(doc: LoroDoc, blob: bytes) -> None:
    guard("import note update", lambda: doc.import_(blob))


def text_at(doc: LoroDoc, frontiers_bytes: bytes) -> str:
    """The note's text as it was at a recorded version (Loro's checkout, on a fork)."""
    f = guard("decode version", lambda: Frontiers.decode(frontiers_bytes))
    return text_of(guard("check out version", lambda: doc.fork_at(f)))


def frontiers(doc: LoroDoc) -> bytes:
    return bytes(doc.oplog_frontiers.encode())


def edit_from(doc: LoroDoc, base: bytes, new: str, diff_timeout_ms: int = 100, line_timeout_ms: int = 1000) -> bytes | None:
    """Apply a local edit made on top of version `base` (what the disk held), even if the
    note has moved on since: the edit is diffed against `base` and merged, never against
    newer remote text (which would silently revert it).

    Returns the version whose text is exactly `new` (what the disk now shows: the next
    local edit must be diffed against it, or this edit would be applied twice), or None
    if `new` is no change from `base`."""
    if not base or base == frontiers(doc):
        return frontiers(doc) if set_text(doc, new, diff_timeout_ms, line_timeout_ms) else None
    base_f = guard("decode base version", lambda: Frontiers.decode(base))
    fork = guard("fork note", lambda: doc.fork_at(base_f))
    if not set_text(fork, new, diff_timeout_ms, line_timeout_ms):
        return None
    before = doc.oplog_vv
    guard("merge local edit", lambda: doc.import_(fork.export(ExportMode.Updates(before))))
    return frontiers(fork)
