"""BLOB_GETS: the request's limits, and the fetcher's split of the whole answer (pure)."""

from __future__ import annotations

import pytest

from peervault.errors import ProtocolError
from peervault.protocol import messages as m
from peervault.protocol.blobanswers import ANSWER_HEADER, answer_limit, split_answers
from peervault.protocol.frames import encode_frame
from peervault.protocol.wire import Writer


def _have(found: bool, size: int) -> bytes:
    return encode_frame(m.encode(m.BlobHave(found, size)))


def test_answers_split_in_order_with_a_missing_blob_between() -> None:
    data = _have(True, 3) + b"abc" + _have(False, 0) + _have(True, 0) + _have(True, 5) + b"hello"
    assert split_answers(data, [3, 7, 0, 5]) == [b"abc", None, b"", b"hello"]


def test_a_full_answer_fits_the_limit_exactly() -> None:
    sizes = [10, 0, 4000]
    data = b"".join(_have(True, n) + bytes(n) for n in sizes)
    assert len(data) == answer_limit(sizes) == sum(sizes) + 3 * ANSWER_HEADER
    assert [len(b or b"") for b in split_answers(data, sizes)] == sizes


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (_have(True, 3) + b"abc", "blob answer 2 of 2 is missing"),  # stream ended early
        (_have(True, 3) + b"ab", "cut at 2 of 3 bytes"),
        (_have(True, 4) + b"abcd" + _have(False, 0), "announced 4 bytes for a blob of 3"),
        (_have(True, 3) + b"abc" + _have(False, 0) + b"x", "1 bytes after the last blob answer"),
        (encode_frame(m.encode(m.Ping())) + _have(False, 0), "answer 1 of 2 is not a BLOB_HAVE"),
        (b"\xff\xff\xff\xff" + bytes(20), "answer 1 of 2 has no valid BLOB_HAVE header"),
        (b"\x00\x00\x00\x00" + bytes(20), "answer 1 of 2"),  # a frame of length 0
    ],
)
def test_a_malformed_answer_is_one_clear_error(data: bytes, error: str) -> None:
    with pytest.raises(ProtocolError, match=error):
        split_answers(data, [3, 9])


def test_blob_gets_round_trip_and_its_limits() -> None:
    blobs = tuple(bytes([i]) * 32 for i in range(m.MAX_BLOB_GETS))
    body = m.encode(m.BlobGets(blobs))
    assert m.decode(body) == m.BlobGets(blobs)
    assert len(encode_frame(body)) <= 4096  # the holder reads a request of at most MAX_REQUEST
    for count in (0, m.MAX_BLOB_GETS + 1):
        w = Writer(m.BlobGets.kind)
        w.u32(count)
        for _ in range(count):
            w.fixed(bytes(32), 32)
        with pytest.raises(ProtocolError, match="BLOB_GETS of"):
            m.decode(w.done())
    with pytest.raises(ProtocolError):
        m.decode(body[:-1])  # a digest cut short
