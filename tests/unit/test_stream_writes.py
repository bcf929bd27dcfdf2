"""What a MessageStream hands Iroh: a large frame in pieces of at most WRITE_PIECE bytes
(Iroh's bindings copy each write whole, twice), small frames joined into one write."""

from __future__ import annotations

from typing import Any, cast

from peervault.net.stream import WRITE_PIECE, MessageStream, _chunks
from peervault.protocol import messages as m
from peervault.protocol.frames import FrameDecoder


class _Send:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    async def write_all(self, data: bytes) -> None:
        self.writes.append(bytes(data))


def _stream(send: _Send) -> MessageStream:
    return MessageStream(cast(Any, None), cast(Any, send), cast(Any, None))


async def test_a_large_frame_goes_in_pieces_and_reads_back_whole() -> None:
    snapshot = bytes(range(256)) * (3 * WRITE_PIECE // 256 + 7)  # 3 pieces and a bit
    sent = [m.Ping(), m.IndexSnapshot(b"\x01\x02", snapshot, len(snapshot), ("d",), b"rows" * 1000), m.Pong()]
    expected = b"".join(_chunks(list(sent), 1024))
    send = _Send()
    stream = _stream(send)
    await stream.send(list(sent))
    assert all(len(w) <= WRITE_PIECE for w in send.writes)
    assert sum(len(w) > WRITE_PIECE // 2 for w in send.writes) >= 3
    assert b"".join(send.writes) == expected and stream.bytes_sent == len(expected)
    assert [m.decode(b) for b in FrameDecoder().feed(b"".join(send.writes))] == sent


async def test_small_frames_are_one_write() -> None:
    send = _Send()
    await _stream(send).send([m.Ping(), m.Pong(), m.DocUpdates(((bytes(16), b"u" * 2000),))])
    assert len(send.writes) == 1
