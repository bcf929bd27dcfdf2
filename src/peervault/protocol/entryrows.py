"""The index's entry rows as INDEX_SNAPSHOT carries them (protocol version 4): the rows the
sender keeps beside its snapshot (store/indexentries.py), one after another, written from
the database's cursor and read back one row at a time, so neither side holds a tuple per
file of the vault at once (11,004 files: about 4 MB of Python objects).

    rows := count:u32, row*
    row  := file_id:str, path:str, kind:str, deleted:u8, dvv:bytes, blob:str,
            size:u64, mtime_ms:u64, stamp:u64        (str, bytes: u32 length, then the bytes)

Only the shape is checked here (lengths, UTF-8, integers a database row can hold); what a
row must say to be an entry is crdt/entries.row_ok's business.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from typing import Any

from ..errors import ProtocolError
from .wire import Reader

_LEN = struct.Struct(">I")
_INTS = struct.Struct(">QQQ")
ROW_INT_MAX = 2**63 - 1  # SQLite's INTEGER: a larger one could not have been saved
Row = tuple[str, str, str, int, bytes, str, int, int, int]


def encode_rows(rows: Iterable[tuple[Any, ...]]) -> bytearray:
    """The rows (`entry_row`'s shape) as INDEX_SNAPSHOT carries them; the buffer they were
    written into, not a copy (the sender compresses it: 1.8 MB for the `real` tier)."""
    out = bytearray(_LEN.size)  # the count, filled in at the end
    n = 0
    for fid, path, kind, deleted, dvv, blob, size, mtime_ms, stamp in rows:
        for text in (fid, path, kind):
            raw = str(text).encode("utf-8")
            out += _LEN.pack(len(raw))
            out += raw
        out.append(1 if deleted else 0)
        out += _LEN.pack(len(dvv))
        out += dvv
        raw = str(blob).encode("utf-8")
        out += _LEN.pack(len(raw))
        out += raw
        out += _INTS.pack(size, mtime_ms, stamp)
        n += 1
    _LEN.pack_into(out, 0, n)
    return out


def iter_rows(data: bytes) -> Iterator[Row]:
    """Each row of `encode_rows`' `data`, decoded as it is reached; ProtocolError at the first
    that does not decode (the caller has saved nothing until it has read them all)."""
    try:
        yield from _rows(Reader(data, start=0))
    except ProtocolError as exc:
        raise ProtocolError(f"INDEX_SNAPSHOT rows: {exc}") from None


def _rows(r: Reader) -> Iterator[Row]:
    count = r.u32()
    if count > len(r.b) // 20:  # the smallest row is 25 bytes
        raise ProtocolError(f"{count} rows announced in {len(r.b)} bytes")
    for _ in range(count):
        fid, path, kind = r.text(), r.text(), r.text()
        deleted = r.fixed(1)[0]
        dvv, blob = r.blob(), r.text()
        size, mtime_ms, stamp = r.u64(), r.u64(), r.u64()
        if deleted > 1 or max(size, mtime_ms, stamp) > ROW_INT_MAX:
            raise ProtocolError(f"row {fid!r} out of range")
        yield (fid, path, kind, deleted, dvv, blob, size, mtime_ms, stamp)
    r.end()
