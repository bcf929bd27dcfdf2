"""A framed, bidirectional message stream over one iroh connection.

One reader task per stream and no timeouts around reads: cancelling a read with
part of a frame buffered loses bytes (TECHNOTES 2.7). Liveness is the session's
heartbeat's job. Writes go through one lock so frames never interleave.
"""

from __future__ import annotations

import asyncio
import contextlib

from iroh import Connection, IrohError, RecvStream, SendStream

from ..protocol import messages as m
from ..protocol.frames import COMPRESS_THRESHOLD, FrameDecoder, encode_frame
from .endpoint import describe, peer_words

READ_CHUNK = 256 * 1024


class MessageStream:
    def __init__(self, conn: Connection, send: SendStream, recv: RecvStream) -> None:
        self.conn = conn
        self.compress_threshold = COMPRESS_THRESHOLD  # the profile's; set by the daemon
        self._send = send
        self._recv = recv
        self._decoder = FrameDecoder()
        self._lock = asyncio.Lock()
        self.bytes_sent = 0
        self.bytes_received = 0

    @classmethod
    async def open(cls, conn: Connection) -> MessageStream:
        bi = await conn.open_bi()  # invisible to the peer until the first write
        return cls(conn, bi.send(), bi.recv())

    @classmethod
    async def accept(cls, conn: Connection) -> MessageStream:
        bi = await conn.accept_bi()
        return cls(conn, bi.send(), bi.recv())

    async def send(self, msgs: list[m.Message]) -> None:
        if not msgs:
            return
        data = b"".join(encode_frame(m.encode(x), self.compress_threshold) for x in msgs)
        async with self._lock:
            try:
                await self._send.write_all(data)
            except IrohError as exc:
                raise ConnectionError(describe(exc)) from None
        self.bytes_sent += len(data)

    async def receive(self) -> list[m.Message]:
        """The next batch of whole messages; raises ConnectionError when the stream ends."""
        while True:
            try:
                data = await self._recv.read(READ_CHUNK)
            except IrohError as exc:
                raise ConnectionError(describe(exc)) from None
            if not data:
                reason = None
                with contextlib.suppress(Exception):
                    reason = self.conn.close_reason()
                raise ConnectionError(peer_words(reason) if reason else "connection closed (stream finished)")
            self.bytes_received += len(data)
            bodies = self._decoder.feed(data)
            if bodies:
                return [m.decode(b) for b in bodies]

    def close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            self.conn.close(code, reason.encode("utf-8")[:100])
