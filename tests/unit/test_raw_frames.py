"""A message sent raw (INDEX_SNAPSHOT: messages.sent_raw) goes out as its frame's header and
its body's parts, unjoined and uncompressed, between the joined frames of the messages
around it; the receiver's decoder reads the same messages in the same order."""

from __future__ import annotations

import pytest

from peervault.errors import FrameTooLarge
from peervault.net.stream import _chunks
from peervault.protocol import messages as m
from peervault.protocol.frames import MAX_FRAME, FrameDecoder, raw_frame


def _snapshot(n: int) -> m.IndexSnapshot:
    return m.IndexSnapshot(b"\x01\x02", b"pvzs" + bytes(range(256)) * n, 7, ("c" * 64,), b"rows")


def test_a_raw_message_is_written_as_its_parts_in_order_and_reads_back() -> None:
    msgs: list[m.Message] = [m.Ping(), _snapshot(40), m.DocUpdates(((b"\x00" * 16, b"x" * 5000),)), _snapshot(2), m.Done()]
    chunks = _chunks(msgs, 1024)
    big = msgs[1]
    assert isinstance(big, m.IndexSnapshot)
    assert any(c is big.snapshot for c in chunks)  # written as it is: no copy made of it
    decoder = FrameDecoder()
    got = [m.decode(body) for body in decoder.feed(b"".join(chunks))]
    assert got == msgs and decoder.buffered == 0
    head = chunks[1]
    assert len(head) == 5 and head[4] == 0  # the raw message's frame: uncompressed


def test_messages_not_sent_raw_are_one_write_as_before() -> None:
    assert len(_chunks([m.Ping(), m.Pong(), m.Done()], 1024)) == 1


def test_a_raw_frame_over_the_limit_is_refused() -> None:
    with pytest.raises(FrameTooLarge):
        raw_frame([b"x" * (MAX_FRAME // 2), b"y" * (MAX_FRAME // 2)])
