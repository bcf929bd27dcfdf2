"""The holder's side of blob transfers: answering the blob streams a paired peer opens.

A stream's first frame is BLOB_GET(hash, offset), answered BLOB_HAVE(found, size) and the
bytes from that offset, or BLOB_GETS(hashes), answered with each blob whole, in order
(docs/PROTOCOL.md). The bytes come from wherever they are (sync/blobsource.py): usually the
vault file itself, checked against the stat recorded with its digest; one chunk per stream
is held, whatever the file's size. The fetching side is sync/blobs.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from typing import Any

from ..memory import SERVING_EVERY, BurstTrimmer
from ..net.endpoint import describe
from ..net.stream import WRITE_PIECE
from ..protocol import messages as m
from ..protocol.codes import StreamCode
from ..protocol.frames import FrameDecoder, encode_frame
from ..protocol.session import State
from ..vault.blobio import BlobReader, hash_stable
from .engine import Engine
from .links import Link

log = logging.getLogger(__name__)

MAX_REQUEST = 4096  # a blob stream's first frame: BLOB_GETS of MAX_BLOB_GETS digests is 2,058 bytes


class BlobServer:
    def __init__(self, engine: Engine, clock: Callable[[], float]) -> None:
        """`clock` (monotonic) paces the heap trims of a long run of blobs served."""
        self.engine = engine
        self.clock = clock
        self._trimmer = BurstTrimmer(SERVING_EVERY)  # thousands of blobs served in a row (a peer's join)

    async def serve(self, link: Link) -> None:
        """Answer the blob streams a paired peer opens on this connection."""
        tasks: set[asyncio.Task[None]] = set()
        try:
            while not link.closed.is_set():
                bi = await link.stream.conn.accept_bi()
                task = asyncio.create_task(self._serve_one(link, bi))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except Exception as exc:  # noqa: BLE001 - the connection ended
            log.debug("blob streams from %s ended: %s", link.peer[:10], describe(exc))
        finally:
            for t in tasks:
                t.cancel()

    async def _reader(self, h: str) -> BlobReader | None:
        """The bytes of `h` here: the store, or a vault file still as recorded, or one whose
        stat moved but that a fresh hash (in a worker thread) shows still holds `h`. None:
        the peer tries another device, or later."""
        src = self.engine.blob_source(h)
        if src is not None:
            with contextlib.suppress(OSError):
                return BlobReader(src.path, src.expect)
        for path in self.engine.blob_candidates(h):
            try:
                digest, _, st = await asyncio.to_thread(hash_stable, path)
                if digest == h:
                    return BlobReader(path, st)
            except OSError:
                continue
        return None

    async def _serve_one(self, link: Link, bi: Any) -> None:
        send, recv = bi.send(), bi.recv()
        try:
            decoder = FrameDecoder()
            request: m.Message | None = None
            while request is None:
                data = await recv.read(MAX_REQUEST)
                if not data:
                    return
                bodies = decoder.feed(data, limit=1)
                if bodies:
                    request = m.decode(bodies[0])
                elif decoder.buffered > MAX_REQUEST:
                    raise ConnectionError("no valid request")
            if link.session.state not in (State.SYNCING, State.LIVE) or not isinstance(request, m.BlobGet | m.BlobGets):
                raise ConnectionError(f"unexpected {type(request).__name__} on a blob stream")
            if isinstance(request, m.BlobGets):
                if _AS_BEFORE_BATCHES:
                    raise ConnectionError("unknown message type 19")  # as a device from before BLOB_GETS
                await self._serve_many(send, request.blobs)
                await send.finish()
                self._trimmer.after_work(self.clock())
                log.debug("sent %d blobs to %s on one stream", len(request.blobs), link.peer[:10])
                return
            reader = await self._reader(request.blob.hex())
            if reader is None or request.offset > reader.size:
                await send.write_all(encode_frame(m.encode(m.BlobHave(False, 0))))
            else:
                try:
                    # The header goes with the first piece: a small attachment is one write.
                    header = encode_frame(m.encode(m.BlobHave(True, reader.size)))
                    for chunk in reader.pieces(request.offset):
                        await send.write_all(header + chunk if header else chunk)
                        header = b""
                    if header:
                        await send.write_all(header)  # nothing after the offset (an empty blob)
                finally:
                    reader.close()
            await send.finish()
            self._trimmer.after_work(self.clock())
        except Exception as exc:  # noqa: BLE001 - one bad request only ends its stream
            log.info("blob request from %s refused: %s", link.peer[:10], describe(exc))
            with contextlib.suppress(Exception):
                await send.reset(StreamCode.REFUSED)

    async def _serve_many(self, send: Any, blobs: tuple[bytes, ...]) -> None:
        """Answer a BLOB_GETS: each blob whole, in order, as BLOB_GET from offset 0 is answered;
        written in pieces of about WRITE_PIECE bytes (a small attachment is no call of its own)."""
        out: list[bytes] = []
        pending = 0
        for raw in blobs:
            reader = await self._reader(raw.hex())
            if reader is None:
                out.append(_NOT_FOUND)
                pending += len(_NOT_FOUND)
                continue
            try:
                out.append(encode_frame(m.encode(m.BlobHave(True, reader.size))))
                for chunk in reader.pieces(0):
                    out.append(chunk)
                    pending += len(chunk)
                    if pending >= WRITE_PIECE:
                        await send.write_all(b"".join(out))
                        out, pending = [], 0
            finally:
                reader.close()
        if out:
            await send.write_all(b"".join(out))


_NOT_FOUND = encode_frame(m.encode(m.BlobHave(False, 0)))
# Serve as a device from before BLOB_GETS did (reset such a stream): for the test that an
# older device still syncs with this one. Read once, at import.
_AS_BEFORE_BATCHES = os.environ.get("PEERVAULT_NO_BLOB_GETS", "") not in ("", "0")
