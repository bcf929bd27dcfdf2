"""A framed, bidirectional message stream over one iroh connection.

One reader task per stream and no timeouts around reads: cancelling a read with
part of a frame buffered loses bytes (TECHNOTES 2.7). Liveness is the session's
heartbeat's job. Writes go through one lock so frames never interleave.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from iroh import Connection, IrohError, RecvStream, SendStream

from ..protocol import messages as m
from ..protocol.frames import COMPRESS_THRESHOLD, FrameDecoder, encode_frame, raw_frame
from .endpoint import describe, peer_words

READ_CHUNK = 256 * 1024
# The size of one write handed to Iroh. Larger writes go in pieces of this size: its bindings
# copy what one call is given, whole, into a buffer of their own and then into a Vec (twice
# the size, in Rust's heap, until the call returns), so the `real` tier's INDEX_SNAPSHOT
# (2.9 MB, its stored snapshot one part of 2.3 MB) cost 4-6 MB more for the time of its send
# (docs/PERFORMANCE.md, "A's peak while it serves a join"). Small ones are joined up to it
# (sync/blobserve.py): at least glibc's mmap threshold (memory.py), each piece and Iroh's
# copies are mapped on their own and handed back when sent, where pieces of 64 KB came from
# the heap and left it fragmented.
WRITE_PIECE = 256 * 1024


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
        self._unread: list[m.Message] = []
        self._sending: set[asyncio.Task[None]] = set()

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
        chunks = _chunks(msgs, self.compress_threshold)
        async with self._lock:
            try:
                for data in chunks:
                    for piece in _pieces(data):
                        await self._send.write_all(piece)
            except IrohError as exc:
                raise ConnectionError(describe(exc)) from None
        self.bytes_sent += sum(map(len, chunks))

    def send_soon(self, msgs: list[m.Message]) -> None:
        """Send without waiting (a refusal just before the close); a failure is the close's business."""

        async def quietly() -> None:
            with contextlib.suppress(ConnectionError):
                await self.send(msgs)

        task = asyncio.get_running_loop().create_task(quietly())
        self._sending.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._sending.discard)

    def unread(self, msgs: list[m.Message]) -> None:
        """Give back what was read to choose the vault (daemon/router.py): the session reads it first."""
        self._unread = [*msgs, *self._unread]

    async def receive(self) -> list[m.Message]:
        """The next batch of whole messages; raises ConnectionError when the stream ends."""
        if self._unread:
            msgs, self._unread = self._unread, []
            return msgs
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
                return _decode_each(bodies)

    def close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            self.conn.close(code, reason.encode("utf-8")[:100])


def _decode_each(bodies: list[bytes]) -> list[m.Message]:
    """The messages of `bodies`, each body let go once decoded (emptying the list): a body
    and the fields copied out of it are held together only one message at a time."""
    bodies.reverse()
    out = []
    while bodies:
        out.append(m.decode(bodies.pop()))
    return out


def _pieces(data: bytes) -> Iterator[bytes]:
    """`data` as writes of at most WRITE_PIECE bytes, each sliced when its turn comes."""
    if len(data) <= WRITE_PIECE:
        yield data
        return
    for i in range(0, len(data), WRITE_PIECE):
        yield data[i : i + WRITE_PIECE]


def _chunks(msgs: list[m.Message], threshold: int) -> list[bytes]:
    """What to write for `msgs`, in order: their frames joined, but a message sent raw
    (`messages.sent_raw`) as its frame's parts, never copied into one."""
    out: list[bytes] = []
    frames: list[bytes] = []
    for x in msgs:
        if not m.sent_raw(x):
            frames.append(encode_frame(m.encode(x), threshold))
            continue
        if frames:
            out.append(b"".join(frames))
            frames = []
        out += raw_frame(m.encode_parts(x))
    if frames:
        out.append(b"".join(frames))
    return out
