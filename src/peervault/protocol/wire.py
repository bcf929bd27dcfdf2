"""The byte-level codec of a message body: a kind byte, then big-endian integers, fixed
byte strings and length-prefixed blobs. messages.py says what each message holds; this
module only writes and reads the fields, refusing what does not fit (ProtocolError)."""

from __future__ import annotations

import struct

from ..errors import ProtocolError

MAX_ITEMS = 1_000_000  # the most items a list field may announce
_U16, _U32, _U64, _F64 = struct.Struct(">H"), struct.Struct(">I"), struct.Struct(">Q"), struct.Struct(">d")


class Writer:
    def __init__(self, kind: int) -> None:
        self.parts: list[bytes] = [bytes([kind])]

    def u16(self, v: int) -> None:
        self.parts.append(struct.pack(">H", v))

    def u32(self, v: int) -> None:
        self.parts.append(struct.pack(">I", v))

    def f64(self, v: float) -> None:
        self.parts.append(struct.pack(">d", v))

    def u64(self, v: int) -> None:
        self.parts.append(struct.pack(">Q", v))

    def fixed(self, b: bytes, n: int) -> None:
        if len(b) != n:
            raise ValueError(f"expected {n} bytes, got {len(b)}")
        self.parts.append(b)

    def blob(self, b: bytes) -> None:
        self.u32(len(b))
        self.parts.append(b)

    def text(self, s: str) -> None:
        self.blob(s.encode("utf-8"))

    def done(self) -> bytes:
        return b"".join(self.parts)


class Reader:
    def __init__(self, body: bytes, start: int = 1) -> None:
        """Fields of `body` from `start` (a message's: past its kind byte)."""
        self.b = memoryview(body)
        self.pos = start

    def _at(self, n: int) -> int:
        """Where the next `n` bytes start (the field's bounds checked; the position moved past it)."""
        if n < 0 or self.pos + n > len(self.b):
            raise ProtocolError("truncated message")
        self.pos += n
        return self.pos - n

    def _take(self, n: int) -> bytes:
        at = self._at(n)
        return bytes(self.b[at : at + n])

    # integers read in place: no bytes object made for each (several per entry of a batch)
    def u16(self) -> int:
        return int(_U16.unpack_from(self.b, self._at(2))[0])

    def u32(self) -> int:
        return int(_U32.unpack_from(self.b, self._at(4))[0])

    def f64(self) -> float:
        return float(_F64.unpack_from(self.b, self._at(8))[0])

    def u64(self) -> int:
        return int(_U64.unpack_from(self.b, self._at(8))[0])

    def fixed(self, n: int) -> bytes:
        return self._take(n)

    def blob(self) -> bytes:
        return self._take(self.u32())

    def text(self) -> str:
        n = self.u32()
        at = self._at(n)
        try:
            return str(self.b[at : at + n], "utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("string field is not UTF-8") from None

    def count(self) -> int:
        n = self.u32()
        if n > MAX_ITEMS or n > len(self.b) - self.pos:
            raise ProtocolError(f"list of {n} items does not fit the message")
        return n

    def end(self) -> None:
        if self.pos != len(self.b):
            raise ProtocolError(f"{len(self.b) - self.pos} unexpected trailing bytes")
