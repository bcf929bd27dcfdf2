"""The message codec's fields: integers read in place, text decoded from the body, bounds."""

from __future__ import annotations

import struct

import pytest

from peervault.errors import ProtocolError
from peervault.protocol.wire import Reader, Writer


def _reader(w: Writer) -> Reader:
    return Reader(w.done())


def test_fields_round_trip() -> None:
    w = Writer(7)
    w.u16(65535)
    w.u32(2**32 - 1)
    w.u64(2**64 - 1)
    w.f64(-1.5)
    w.fixed(b"abcd", 4)
    w.blob(b"\x00\x01")
    w.text("é 💾")
    r = _reader(w)
    assert (r.u16(), r.u32(), r.u64(), r.f64()) == (65535, 2**32 - 1, 2**64 - 1, -1.5)
    assert r.fixed(4) == b"abcd"
    blob = r.blob()
    assert blob == b"\x00\x01" and type(blob) is bytes
    assert r.text() == "é 💾"
    r.end()


@pytest.mark.parametrize("read", [Reader.u16, Reader.u32, Reader.u64, Reader.f64])
def test_a_truncated_integer_is_refused_and_the_position_kept(read: object) -> None:
    r = Reader(b"\x01\x00")  # the kind byte and one byte more
    with pytest.raises(ProtocolError, match="truncated"):
        read(r)  # type: ignore[operator]
    assert r.pos == 1


def test_a_blob_longer_than_the_message_is_refused() -> None:
    r = Reader(b"\x01" + struct.pack(">I", 10) + b"short")
    with pytest.raises(ProtocolError, match="truncated"):
        r.blob()


def test_text_that_is_not_utf8_is_refused() -> None:
    r = Reader(b"\x01" + struct.pack(">I", 2) + b"\xff\xfe")
    with pytest.raises(ProtocolError, match="UTF-8"):
        r.text()


def test_trailing_bytes_are_refused() -> None:
    r = Reader(b"\x01" + struct.pack(">H", 3) + b"x")
    assert r.u16() == 3
    with pytest.raises(ProtocolError, match="trailing"):
        r.end()
