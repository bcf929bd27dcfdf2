"""Frame layer: length prefix, compression flag, limits, hostile input."""

from __future__ import annotations

import os
import struct

import pytest
import zstandard

from peervault.errors import FrameTooLarge, ProtocolError
from peervault.protocol import frames
from peervault.protocol.frames import COMPRESS_THRESHOLD, MAX_FRAME, RAW, ZSTD, FrameDecoder, encode_frame


def _flag(frame: bytes) -> int:
    return frame[4]


def _length(frame: bytes) -> int:
    return struct.unpack(">I", frame[:4])[0]


@pytest.mark.parametrize(
    "body",
    [b"", b"x", b"hello world", b"a" * (COMPRESS_THRESHOLD - 1), b"a" * COMPRESS_THRESHOLD, os.urandom(5000), b"ab" * 50_000],
)
def test_round_trip(body: bytes) -> None:
    frame = encode_frame(body)
    assert _length(frame) == len(frame) - 4
    dec = FrameDecoder()
    assert dec.feed(frame) == [body]
    assert dec.buffered == 0


def test_header_layout_of_small_body() -> None:
    frame = encode_frame(b"abc")
    assert frame == b"\x00\x00\x00\x04\x00abc"


def test_small_bodies_are_never_compressed() -> None:
    body = b"a" * (COMPRESS_THRESHOLD - 1)  # extremely compressible, but under the threshold
    frame = encode_frame(body)
    assert _flag(frame) == RAW
    assert frame[5:] == body


def test_compressible_body_at_threshold_is_compressed() -> None:
    body = b"a" * COMPRESS_THRESHOLD
    frame = encode_frame(body)
    assert _flag(frame) == ZSTD
    assert len(frame) < len(body)
    assert zstandard.ZstdDecompressor().decompress(frame[5:]) == body


def test_incompressible_body_goes_raw() -> None:
    body = os.urandom(20_000)
    frame = encode_frame(body)
    assert _flag(frame) == RAW
    assert frame[5:] == body


def test_compression_kept_only_if_at_least_ten_percent_smaller() -> None:
    # Random bytes (incompressible) with a compressible tail: tune the tail so zstd saves
    # between 0 % and 10 %, which must still be sent raw.
    rnd = os.urandom(10_000)
    chosen = None
    for tail in range(0, 3000, 50):
        body = rnd + b"\x00" * tail
        packed = zstandard.ZstdCompressor(level=3).compress(body)
        if len(body) * 0.9 < len(packed) < len(body):
            chosen = body
            break
    assert chosen is not None, "could not build a body that compresses by less than 10 %"
    assert _flag(encode_frame(chosen)) == RAW
    # and one that saves well over 10 % is compressed
    body = rnd + b"\x00" * 5000
    assert _flag(encode_frame(body)) == ZSTD


def test_custom_threshold() -> None:
    body = b"z" * 200
    assert _flag(encode_frame(body, threshold=100)) == ZSTD
    assert _flag(encode_frame(body, threshold=201)) == RAW


def test_several_frames_in_one_feed() -> None:
    bodies = [b"one", b"two" * 1000, b"", os.urandom(300)]
    data = b"".join(encode_frame(b) for b in bodies)
    assert FrameDecoder().feed(data) == bodies


def test_partial_frame_is_buffered() -> None:
    frame = encode_frame(b"hello")
    dec = FrameDecoder()
    assert dec.feed(frame[:3]) == []
    assert dec.buffered == 3
    assert dec.feed(frame[3:7]) == []
    assert dec.feed(frame[7:]) == [b"hello"]
    assert dec.buffered == 0


def test_oversize_announced_length_raises_before_data_arrives() -> None:
    dec = FrameDecoder()
    with pytest.raises(FrameTooLarge):
        dec.feed(struct.pack(">I", MAX_FRAME + 1))


def test_zero_length_frame_is_refused() -> None:
    with pytest.raises(FrameTooLarge):
        FrameDecoder().feed(struct.pack(">I", 0))


def test_max_frame_length_itself_is_accepted_as_a_header() -> None:
    dec = FrameDecoder()
    assert dec.feed(struct.pack(">IB", MAX_FRAME, RAW)) == []  # waits for the rest
    assert dec.buffered == 5


def test_frame_too_large_is_a_protocol_error() -> None:
    assert issubclass(FrameTooLarge, ProtocolError)


def test_encoding_an_oversize_body_raises() -> None:
    body = os.urandom(MAX_FRAME)  # incompressible: payload + flag byte > MAX_FRAME
    with pytest.raises(FrameTooLarge):
        encode_frame(body)


@pytest.mark.parametrize("flag", [2, 3, 127, 255])
def test_unknown_flag_raises_protocol_error(flag: int) -> None:
    with pytest.raises(ProtocolError, match="flag"):
        FrameDecoder().feed(struct.pack(">IB", 4, flag) + b"abc")


@pytest.mark.parametrize("garbage", [b"", b"\x00", b"not zstd at all", os.urandom(64)])
def test_garbage_zstd_raises_protocol_error(garbage: bytes) -> None:
    data = struct.pack(">IB", len(garbage) + 1, ZSTD) + garbage
    with pytest.raises(ProtocolError):
        FrameDecoder().feed(data)


def test_truncated_zstd_raises_protocol_error() -> None:
    packed = zstandard.ZstdCompressor().compress(os.urandom(100) + b"a" * 5000)
    cut = packed[: len(packed) // 2]
    with pytest.raises(ProtocolError):
        FrameDecoder().feed(struct.pack(">IB", len(cut) + 1, ZSTD) + cut)


def test_zip_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frames, "MAX_BODY", 10_000)
    packed = zstandard.ZstdCompressor().compress(b"\x00" * 20_000)
    with pytest.raises(FrameTooLarge):
        FrameDecoder().feed(struct.pack(">IB", len(packed) + 1, ZSTD) + packed)


def test_zstd_frame_without_content_size_decodes() -> None:
    # A streaming compressor does not record the content size in the frame header.
    body = b"line of text\n" * 2000
    cctx = zstandard.ZstdCompressor(write_content_size=False)
    packed = cctx.compress(body)
    assert FrameDecoder().feed(struct.pack(">IB", len(packed) + 1, ZSTD) + packed) == [body]


def test_zip_bomb_without_content_size_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frames, "MAX_BODY", 10_000)
    packed = zstandard.ZstdCompressor(write_content_size=False).compress(b"\x00" * 20_000)
    with pytest.raises(ProtocolError):
        FrameDecoder().feed(struct.pack(">IB", len(packed) + 1, ZSTD) + packed)


def test_header_announcing_a_huge_body_is_refused_without_allocating() -> None:
    # zstd frame header: magic, descriptor (single segment, 8-byte content size), content size 1 TiB,
    # then one RLE block; the decoder must refuse on the header alone.
    header = struct.pack("<IB", 0xFD2FB528, 0xE0) + struct.pack("<Q", 1 << 40)
    block = struct.pack("<I", (1 << 0) | (1 << 1) | (100 << 3))[:3] + b"\x00"  # last, RLE, 100 bytes
    payload = header + block
    with pytest.raises(FrameTooLarge):
        FrameDecoder().feed(struct.pack(">IB", len(payload) + 1, ZSTD) + payload)


def test_trailing_bytes_after_zstd_frame_raise() -> None:
    packed = zstandard.ZstdCompressor().compress(b"a" * 5000) + b"junk"
    with pytest.raises(ProtocolError):
        FrameDecoder().feed(struct.pack(">IB", len(packed) + 1, ZSTD) + packed)


def test_body_exactly_max_body_without_content_size_decodes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frames, "MAX_BODY", 10_000)
    body = b"q" * 10_000
    packed = zstandard.ZstdCompressor(write_content_size=False).compress(body)
    assert FrameDecoder().feed(struct.pack(">IB", len(packed) + 1, ZSTD) + packed) == [body]


def test_feed_can_stop_after_one_frame_and_hand_back_the_raw_rest() -> None:
    header = encode_frame(b"header")
    raw = b"\xff\xff\xff\xff raw blob bytes, not a frame"
    dec = FrameDecoder()
    assert dec.feed(header + raw, limit=1) == [b"header"]
    assert dec.take_buffered() == raw and dec.buffered == 0


def test_presence_over_its_limit_is_refused() -> None:
    from peervault.errors import ProtocolError
    from peervault.protocol import messages as m

    big = m.encode(m.Presence(bytes(m.ID_LEN), bytes(m.MAX_PRESENCE + 1)))
    try:
        m.decode(big)
    except ProtocolError as exc:
        assert "PRESENCE" in str(exc)
    else:
        raise AssertionError("an oversized PRESENCE was decoded")


def test_a_large_body_leaves_the_shared_compression_context_small() -> None:
    """zstd keeps a context the size of the largest input it compressed: a 1 MB catch-up batch
    gets a context of its own, so the shared one stays sized for small frames."""
    big = os.urandom(512) * 2048  # 1 MB, compressible
    bodies = FrameDecoder().feed(encode_frame(big))
    assert bodies == [big]
    assert frames.compressor_for(len(big)) is not frames.compressor_for(len(big))  # one-off
    assert frames.compressor_for(frames.ONE_OFF - 1) is frames.compressor_for(100)  # shared
    assert frames._compressor.memory_size() < 512 * 1024


@pytest.mark.parametrize("flag", [RAW, ZSTD])
def test_large_frame_fed_in_chunks_decodes_to_bytes_and_leaves_nothing(flag: int) -> None:
    # a join's index: one frame of several MB arriving in reads of 256 KB, read in place
    body = b"".join(os.urandom(16) + b"x" * 200 for _ in range(20_000))
    frame = encode_frame(body, threshold=COMPRESS_THRESHOLD if flag == ZSTD else len(body) + 1)
    assert _flag(frame) == flag
    dec = FrameDecoder()
    out: list[bytes] = []
    for i in range(0, len(frame), 256 * 1024):
        out += dec.feed(frame[i : i + 256 * 1024])
    assert out == [body] and type(out[0]) is bytes  # Loro takes bytes only
    assert dec.buffered == 0


@pytest.mark.parametrize("flag", [ZSTD, 9])
def test_a_refused_frame_leaves_the_buffer_free(flag: int) -> None:
    # the payload is read through a view of the buffer: an error must not leave it exported
    dec = FrameDecoder()
    bad = struct.pack(">IB", 65, flag) + os.urandom(64)
    with pytest.raises(ProtocolError):  # not BufferError: the view is released first
        dec.feed(bad + b"\x00")
    assert dec.buffered == 1  # the refused frame consumed, what follows kept
    assert dec.take_buffered() == b"\x00"
    assert dec.feed(encode_frame(b"next")) == [b"next"]
