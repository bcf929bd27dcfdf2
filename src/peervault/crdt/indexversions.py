"""The index's versions, snapshots and history, read without decoding an index: what a
device joining checks of the index a peer sends it as saved (sync/wholeindex.py), and
which entries other devices changed since a version (the guard's take-back)."""

from __future__ import annotations

from loro import ID, EncodedBlobMode, LoroDoc, VersionVector

from . import CrdtError, guard


def vv_is_empty(vv: bytes) -> bool:
    """`vv` (an encoded index version) holds no op: a peer with no index at all."""
    return not vv or VersionVector().includes_vv(guard("decode index version", lambda: VersionVector.decode(vv)))


def same_version(a: bytes, b: bytes) -> bool:
    """Two encoded versions name the same ops (Loro's encoding need not be canonical)."""
    va = guard("decode index version", lambda: VersionVector.decode(a)) if a else VersionVector()
    vb = guard("decode index version", lambda: VersionVector.decode(b)) if b else VersionVector()
    return bool(va.includes_vv(vb) and vb.includes_vv(va))


def snapshot_version(blob: bytes) -> bytes:
    """The version of a whole Loro snapshot, read from its header and blocks (checksum
    checked) without decoding its state: CrdtError if `blob` is not one."""
    meta = guard("read index snapshot", lambda: LoroDoc.decode_import_blob_meta(blob, True))
    if meta.mode != EncodedBlobMode.Snapshot:
        raise CrdtError(f"not a whole snapshot of the index ({meta.mode})")
    return bytes(meta.partial_end_vv.encode())


def containers_changed_by_others(doc: LoroDoc, own_peer: int, since: bytes) -> set[str]:
    """The ids of the containers that ops of any peer but `own_peer`, gained since version
    `since`, changed (winning or not): read from the history, not the state."""
    start = VersionVector.decode(since) if since else VersionVector()
    touched: set[str] = set()
    for span in start.get_missing_span(doc.oplog_vv):
        if span.peer != own_peer:
            n = span.counter.end - span.counter.start
            touched.update(str(cid) for cid in doc.get_changed_containers_in(ID(span.peer, span.counter.start), n))
    return touched
