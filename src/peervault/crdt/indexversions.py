"""The index's versions and snapshots, read without decoding an index: what a device
joining checks of the index a peer sends it as saved (sync/wholeindex.py)."""

from __future__ import annotations

from loro import EncodedBlobMode, LoroDoc, VersionVector

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
