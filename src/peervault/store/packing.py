"""How snapshots are stored in the database: compressed when that saves space, behind a
prefix that says how (`pvz1` zlib, `pvzs` zstd; Loro's own snapshots start with `loro`),
so rows of every earlier version still read."""

from __future__ import annotations

import zlib

import zstandard

from ..errors import ProtocolError
from ..protocol.frames import inflate

PACKED = b"pvz1"  # a snapshot stored deflated (zlib); Loro's own start with b"loro"
PACKED_ZSTD = b"pvzs"  # a snapshot stored zstd-compressed (notes and, since 2026-12-07, the index)

# zstd level 1: on the `real` tier's 6,000 notes (33 MB of snapshots) 0.15 s against 0.44 s
# for zlib level 1, 13.2 MB against 13.6, and a third of the time to read back. A note is
# compressed each time it is saved, so this is most of a first import's and an initial
# sync's compression time.
_zstd_in = zstandard.ZstdCompressor(level=1)
_zstd_out = zstandard.ZstdDecompressor()


def pack_snapshot(snapshot: bytes) -> bytes:
    """The index's snapshot as stored: zstd level 1 when that saves space (`pvzs`, as notes).
    A first import folds the index several times (the `real` tier's final snapshot, 3.4 MB:
    6 ms against 58 ms for zlib level 1, 2 % larger; read back in 4 ms against 21). A
    compressor of its own, dropped after: `_zstd_in` sized for a few-MB input would keep
    that context (about 1 MB) for the life of the process. Rows written as `pvz1` still read."""
    if len(snapshot) < 256:
        return snapshot
    packed = PACKED_ZSTD + zstandard.ZstdCompressor(level=1).compress(snapshot)
    return packed if len(packed) < len(snapshot) else snapshot


def pack_note(snapshot: bytes) -> bytes:
    """A note's snapshot as stored: zstd-compressed when that saves space. Loro keeps a
    note's text in its ops and again in its state, so a vault's snapshots are about the
    size of its text uncompressed, less than half of it compressed."""
    if len(snapshot) < 256:
        return snapshot
    packed = PACKED_ZSTD + _zstd_in.compress(snapshot)
    return packed if len(packed) < len(snapshot) else snapshot


def unpack_snapshot(stored: bytes) -> bytes:
    """The snapshot `pack_note` or `pack_snapshot` stored (rows written before either are
    Loro's bytes as they are, and notes stored before zstd are deflated). A damaged row comes
    back as it is: Loro then refuses it, as it refuses any damaged snapshot (see
    documents.open_cache)."""
    try:
        if stored.startswith(PACKED_ZSTD):
            return _zstd_out.decompress(stored[len(PACKED_ZSTD) :])
        if stored.startswith(PACKED):
            return zlib.decompress(stored[len(PACKED) :])
    except (zlib.error, zstandard.ZstdError):
        pass
    return stored


LORO = b"loro"  # Loro's own snapshots, stored as they are


def sendable(stored: bytes) -> bool:
    """A stored index snapshot a joining peer may be sent as it is (protocol version 4's
    INDEX_SNAPSHOT): zstd (`pvzs`) or Loro's bytes; the older `pvz1` is inflated and sent
    as INDEX_UPDATES instead, so a receiver has one compressed form to check."""
    return stored.startswith((PACKED_ZSTD, LORO))


def inflate_sent(stored: bytes, limit: int) -> bytes:
    """The snapshot of a stored form a peer sent (`sendable`): inflated to at most `limit`
    bytes. ValueError if it is of another form, damaged, or larger (a zip bomb)."""
    if stored.startswith(LORO):
        return stored
    if not stored.startswith(PACKED_ZSTD):
        raise ValueError("not a stored form of a snapshot")
    return _inflate(stored[len(PACKED_ZSTD) :], limit)


def pack_rows(data: bytes | bytearray) -> bytes:
    """INDEX_SNAPSHOT's entry rows as sent: a zstd frame (level 3, a context of its own, as
    frames.py does for large bodies). The `real` tier's 1.8 MB of rows: 0.65 MB, 6 ms; sent
    raw they were 2 MB more for the sender to hold through the send, and the transport too."""
    return zstandard.ZstdCompressor(level=3).compress(data)


def unpack_rows(data: bytes, limit: int) -> bytes:
    """`pack_rows`' rows, inflated to at most `limit` bytes (ValueError otherwise)."""
    return _inflate(data, limit)


def _inflate(frame: bytes, limit: int) -> bytes:
    """One zstd frame a peer sent, inflated to at most `limit` bytes (frames.inflate: its
    announced size checked first); ValueError if it is damaged, truncated or larger."""
    try:
        return inflate(frame, limit)
    except ProtocolError as exc:
        raise ValueError(str(exc)) from None


__all__ = [
    "LORO",
    "PACKED",
    "PACKED_ZSTD",
    "inflate_sent",
    "pack_note",
    "pack_rows",
    "pack_snapshot",
    "sendable",
    "unpack_rows",
    "unpack_snapshot",
]
