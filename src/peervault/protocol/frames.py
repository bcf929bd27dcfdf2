"""Length-prefixed frames with a one-byte compression flag.

    frame := u32 length (big endian, of what follows) | u8 flag | body
    flag  := 0 raw body, 1 zstd-compressed body

Bodies under COMPRESS_THRESHOLD go raw; larger ones are compressed and kept
only if at least 10 % smaller (the spec's compression strategy). The decoder is
incremental: feed it whatever bytes arrived, take out whole frames.
"""

from __future__ import annotations

import struct

import zstandard

from ..errors import FrameTooLarge, ProtocolError

MAX_FRAME = 16 * 1024 * 1024  # one frame on the wire; large syncs are split into several
MAX_BODY = 64 * 1024 * 1024  # after decompression: bounds a zip bomb
COMPRESS_THRESHOLD = 1024  # spec: don't compress small messages
RAW, ZSTD = 0, 1
_HEADER = struct.Struct(">IB")

_LEVEL = 3
# zstd sizes a compression context for the largest input it has seen and keeps it: after a
# 1 MB catch-up batch the shared one held about 3 MB for as long as the daemon ran. Bodies of
# ONE_OFF or more get a context of their own, freed with it (about 25 us more per frame,
# under 1 % of compressing one that large); the shared one stays under 0.4 MB.
ONE_OFF = 16 * 1024
_compressor = zstandard.ZstdCompressor(level=_LEVEL)
_decompressor = zstandard.ZstdDecompressor()


def compressor_for(size: int) -> zstandard.ZstdCompressor:
    """The shared compression context for a small body; a fresh one for a large body."""
    return _compressor if size < ONE_OFF else zstandard.ZstdCompressor(level=_LEVEL)


def encode_frame(body: bytes, threshold: int = COMPRESS_THRESHOLD) -> bytes:
    flag, payload = RAW, body
    if len(body) >= threshold:
        packed = compressor_for(len(body)).compress(body)
        if len(packed) <= len(body) * 0.9:
            flag, payload = ZSTD, packed
    if len(payload) + 1 > MAX_FRAME:
        raise FrameTooLarge(f"frame of {len(payload)} bytes exceeds the {MAX_FRAME}-byte limit")
    return _HEADER.pack(len(payload) + 1, flag) + payload


def raw_frame(parts: list[bytes]) -> list[bytes]:
    """A frame with an uncompressed body given in `parts`, as its header and those parts,
    never joined: the sender of a large body already compressed (INDEX_SNAPSHOT) holds no
    copy of it for the body and another for the frame (the `real` tier's: 2.9 MB each)."""
    size = sum(map(len, parts))
    if size + 1 > MAX_FRAME:
        raise FrameTooLarge(f"frame of {size} bytes exceeds the {MAX_FRAME}-byte limit")
    return [_HEADER.pack(size + 1, RAW), *parts]


class FrameDecoder:
    """Incremental decoder: `feed(data)` returns the bodies of every complete frame."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes, limit: int | None = None) -> list[bytes]:
        """Take in `data`; return the bodies of the complete frames (at most `limit`: what
        follows a blob stream's header frame is raw data, not frames)."""
        self._buf += data
        bodies: list[bytes] = []
        while len(self._buf) >= 4 and (limit is None or len(bodies) < limit):
            (length,) = struct.unpack_from(">I", self._buf)
            if length < 1 or length > MAX_FRAME:
                raise FrameTooLarge(f"peer announced a frame of {length} bytes (limit {MAX_FRAME})")
            if len(self._buf) < 4 + length:
                break
            try:
                bodies.append(_unpack(self._buf, 4 + length))
            finally:  # a refused frame is consumed too, as before it was read in place
                del self._buf[: 4 + length]
        return bodies

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def take_buffered(self) -> bytes:
        """Bytes received after the last whole frame (a blob stream's raw data after its header)."""
        rest = bytes(self._buf)
        self._buf.clear()
        return rest


def _unpack(buf: bytearray, end: int) -> bytes:
    """The body of the frame at the start of `buf` (its header and `end` bytes in all). The
    payload is read in place: a raw body is copied out once, a compressed one decompressed
    straight from the buffer (a 3.4 MB index in one frame was copied twice before)."""
    with memoryview(buf) as view, view[5:end] as payload:
        if buf[4] == RAW:
            return bytes(payload)
        if buf[4] == ZSTD:
            return inflate(payload, MAX_BODY)
    raise ProtocolError(f"unknown frame flag {buf[4]}")


def inflate(payload: bytes | memoryview, limit: int) -> bytes:
    """One zstd frame a peer sent, inflated to at most `limit` bytes (a frame's body, or a
    stored form INDEX_SNAPSHOT carries: store/packing.py)."""
    # One-shot decompression: unlike a stream reader it fails on a truncated or empty
    # frame instead of quietly returning part of the body. It trusts the content size in
    # the frame header, so that is checked against the limit first (zip bomb); without one,
    # max_output_size bounds the output.
    try:
        params = zstandard.get_frame_parameters(payload)
        if params.content_size != zstandard.CONTENTSIZE_UNKNOWN and params.content_size > limit:
            raise FrameTooLarge(f"compressed frame expands past {limit} bytes")
        return _decompressor.decompress(payload, max_output_size=limit, allow_extra_data=False)
    except zstandard.ZstdError as exc:
        raise ProtocolError(f"undecodable compressed frame (or larger than {limit} bytes): {exc}") from None
