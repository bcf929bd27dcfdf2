"""Blob transfers, the fetching side: binary files travel on their own QUIC streams,
beside note sync.

A fetch opens a new bi stream on a paired connection and sends BLOB_GET(hash, offset);
the peer answers BLOB_HAVE(found, size) and then the raw bytes from that offset.
The receiver appends them to a partial file in the blob store (so a cut transfer
resumes where it stopped), verifies the hash, and only then does the file appear
in the vault (moved there: sync/blobwrite.py). Small blobs go several to a stream
(BLOB_GETS, up to SMALL bytes in all), each answered whole, and are verified and written
to the store in one worker-thread hop per stream; a device from before BLOB_GETS resets
such a stream, and its connection is then asked one blob per stream. At most
`max_parallel` fetches run at once, and on a fast link BLOB_GETS answers of at most
ARRIVING bytes in all are being received from each peer. The holder's side is sync/blobserve.py.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable, Container
from typing import Any

from ..memory import FETCHING_EVERY, BurstTrimmer
from ..net.endpoint import describe, round_trip_ms
from ..protocol import messages as m
from ..protocol.blobanswers import answer_limit, split_answers
from ..protocol.frames import FrameDecoder, encode_frame
from ..protocol.session import State
from ..vault.faults import crash_point
from .blobserve import BlobServer
from .engine import Engine
from .links import Link

log = logging.getLogger(__name__)

READ = 256 * 1024
RETRY_S = 5.0  # after a failed fetch (peer gone, peer lacks the blob): try again this much later
MAX_HEADER = 1024
SMALL = 256 * 1024  # blobs up to this size are read whole in memory (see _download_small) ...
BATCH_BLOBS, BATCH_BYTES = 32, SMALL  # ... and asked for up to this many and bytes per stream (BLOB_GETS)
ARRIVAL_S = 0.1  # blobs verified within this long of each other are written as one batch
ARRIVAL_BATCH = 256  # ... of at most this many
ANY_SIZE = 2**64
LOOK_AHEAD = 64  # wanted blobs looked up at once (see _take)
# BLOB_GETS answers being received at once from a peer, in bytes (past the first): the
# transport holds an answer's packets, then the whole answer, copied into Python. Up to four
# of 256 KB at once were the joining device's peak; one at a time was 3 MB lower, but the
# `real` tier's join took 7.3-9.2 s against 6.1-6.3 s with two at a time (1.5 MB more), so
# two (docs/PERFORMANCE.md, "The joining device's receive path and blob phase", 2026-12-07).
# Each RTT_STEP_MS of the link's round trip allows ARRIVING more: a request waits a round
# trip for its answer, which a slow link would otherwise leave idle.
ARRIVING = 512 * 1024
RTT_STEP_MS = 5
RTT_EVERY_S = 1.0  # a link's round trip looked up again after this long


class _AnyOf:
    """Membership in any of these collections, without building their union: `kick` runs
    after every fetch, while hundreds of arrivals wait to be written."""

    def __init__(self, *parts: Container[str]) -> None:
        self.parts = parts

    def __contains__(self, h: object) -> bool:
        return any(h in p for p in self.parts)


class BlobTransfers:
    def __init__(
        self,
        engine: Engine,
        links: dict[str, Link],
        max_parallel: int,
        on_arrival: Callable[[], None],
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
    ) -> None:
        """`clock` (monotonic) times the retries; `wall_clock` is the time given to the engine."""
        self.engine = engine
        self.clock = clock
        self.wall_clock = wall_clock
        self.store = engine.blobs
        self.links = links
        self.max_parallel = max_parallel
        self.on_arrival = on_arrival
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._streams = 0  # fetches running: each one stream, of one blob or a BLOB_GETS batch
        # ... of which BLOB_GETS, at most a quarter: each holds up to SMALL bytes until written
        # (and the transport as much again while it arrives), and fewer were as fast (11,004
        # files: 16 of them cost 3 MB more at B's peak than 8, and 8 cost 1.2 MB more than 4)
        self._batch_streams = 0
        # bytes of the BLOB_GETS answers being received from each link (see ARRIVING): per
        # link, so that a peer that holds a stream without answering stalls only its own
        self._arriving: weakref.WeakKeyDictionary[Link, int] = weakref.WeakKeyDictionary()
        self._rtts: weakref.WeakKeyDictionary[Link, tuple[float, int]] = weakref.WeakKeyDictionary()  # (when, ms)
        # Whether a link's peer answers BLOB_GETS: True once one was answered, False once one
        # failed before that (a device from before it resets the stream); absent: not tried.
        self._batches: weakref.WeakKeyDictionary[Link, bool] = weakref.WeakKeyDictionary()
        self._queue: list[tuple[str, int]] = []  # wanted blobs looked up ahead, next last (see _take)
        self._not_before: dict[str, float] = {}  # hash -> monotonic time of the next attempt
        # Asked for and not had by the peer (or not matching its hash): nothing to wait for now.
        # A transfer that failed (a stream reset, a cut) is not: it is tried again (`settled`).
        self._lacking: set[str] = set()
        self._retry: asyncio.TimerHandle | None = None
        self._turn = 0  # round robin over the live peers
        self._arrived: set[str] = set()  # verified, files not yet written (see _arrival)
        self._write_soon: asyncio.TimerHandle | None = None
        self._writing: set[str] = set()  # ... being made durable and written
        self._writes: set[asyncio.Task[None]] = set()
        self.received_bytes = 0
        self._trimmer = BurstTrimmer(FETCHING_EVERY)  # thousands of blobs written in a row
        self.server = BlobServer(engine, clock)  # the other side: blobs this device holds, to peers

    # ------------------------------------------------------------------ fetching
    def kick(self) -> None:
        """Start fetches for blobs the vault needs, up to the limit, from live peers."""
        peers = [lk for lk in self.links.values() if lk.session.state in (State.SYNCING, State.LIVE)]
        if not peers:
            return
        now = self.clock()
        self._not_before = {h: t for h, t in self._not_before.items() if self.engine.awaits(h)}
        later = {h for h, t in self._not_before.items() if t > now}
        picked: set[str] = set()
        skip = _AnyOf(self._inflight, self._arrived, self._writing, later, picked)
        while self._streams < self.max_parallel and (first := self._take(skip, ANY_SIZE)) is not None:
            k = (self._turn + 1) % len(peers)
            link = peers[k]
            batch = [first]
            if first[1] <= SMALL and self._batches.get(link) is not False:
                # this peer's turn, or the next with room for it (one holding its answer back
                # stalls only its own)
                rooms = ((lk, self._room(lk, now)) for lk in peers[k:] + peers[:k])
                link, room = next(((lk, r) for lk, r in rooms if first[1] <= r and self._batches.get(lk) is not False), (link, 0))
                if self._batch_streams >= max(1, self.max_parallel // 4) or first[1] > room:
                    self._queue.append(first)  # back at the head, for when a BLOB_GETS ends or arrives
                    break
                total = first[1]
                picked.add(first[0])
                while len(batch) < BATCH_BLOBS and (more := self._take(skip, min(BATCH_BYTES, room) - total)):
                    batch.append(more)
                    picked.add(more[0])
                    total += more[1]
                self._batch_streams += 1
                self._arriving[link] = self._arriving.get(link, 0) + total
                task = asyncio.create_task(self._fetch_batch(link, batch))
            else:
                task = asyncio.create_task(self._fetch(link, *first))
            self._turn += 1
            self._streams += 1
            for h, _ in batch:
                self._inflight[h] = task
        if later and self._retry is None:
            self._retry = asyncio.get_running_loop().call_later(RETRY_S, self._retry_now)

    def _room(self, link: Link, now: float) -> int:
        """Bytes of BLOB_GETS answers this peer may be asked for now: the first always starts."""
        arriving = self._arriving.get(link, 0)
        return self._arriving_limit(link, now) - arriving if arriving else BATCH_BYTES

    def _arriving_limit(self, link: Link, now: float) -> int:
        """ARRIVING, and as much again per RTT_STEP_MS of the link's round trip (the transport's
        estimate, looked up at most once per RTT_EVERY_S)."""
        when, rtt = self._rtts.get(link, (None, 0))
        if when is None or now - when >= RTT_EVERY_S:
            rtt = round_trip_ms(link.stream.conn)
            self._rtts[link] = (now, rtt)
        return ARRIVING * (1 + rtt // RTT_STEP_MS)

    def _take(self, skip: _AnyOf, room: int) -> tuple[str, int] | None:
        """The next blob to fetch if it is at most `room` bytes, from a queue refilled by one look at the
        awaited blobs per LOOK_AHEAD fetches: looked up per fetch, each started fetch (one per
        arrival) scanned past the hundreds in flight or arrived (a join: 0.5 s of CPU)."""
        while True:
            if not self._queue:
                self._queue = list(self.engine.wanted_blobs(skip=skip, limit=LOOK_AHEAD).items())[::-1]
                if not self._queue:
                    return None
            h, size = self._queue[-1]
            if h in skip or not self.engine.awaits(h):  # fetched, or no longer wanted, meanwhile
                self._queue.pop()
            elif size > room:
                return None
            else:
                return self._queue.pop()

    def _retry_now(self) -> None:
        self._retry = None
        self.kick()

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    def settled(self) -> bool:
        """Nothing in flight or unwritten, and every blob still wanted was asked for and is
        missing on the peers (a `join` ends then: one whose transfer failed is waited for)."""
        return (
            not self._inflight
            and not self._arrived
            and not self._writing
            and not self.engine.wanted_blobs(skip=self._lacking, limit=1)
        )

    async def _fetch(self, link: Link, h: str, size: int) -> None:
        try:
            if await self._download(link, h, size):
                self._not_before.pop(h, None)
                self._lacking.discard(h)
                self._arrival(h)
            else:
                self._not_before[h] = self.clock() + RETRY_S
                self._lacking.add(h)
        except Exception as exc:  # noqa: BLE001 - connection lost or peer misbehaving: retry later
            log.info("fetching %s… from %s stopped: %s (it resumes later)", h[:12], link.peer[:10], describe(exc))
            self._not_before[h] = self.clock() + RETRY_S
        finally:
            self._inflight.pop(h, None)
            self._streams -= 1
            self.kick()

    async def _fetch_batch(self, link: Link, batch: list[tuple[str, int]]) -> None:
        """Several small blobs on one stream (BLOB_GETS). If the peer has never answered one on
        this connection, a failure is taken for a device from before BLOB_GETS: the blobs are
        asked again at once, one per stream. Else they are retried later, as a single fetch."""
        try:
            got = await self._download_batch(link, batch)
            self._batches[link] = True
            for h, _ in batch:
                if h in got:
                    self._not_before.pop(h, None)
                    self._lacking.discard(h)
                    self._arrival(h)
                else:
                    self._not_before[h] = self.clock() + RETRY_S
                    self._lacking.add(h)
        except Exception as exc:  # noqa: BLE001 - connection lost, older peer, or peer misbehaving
            if self._batches.get(link) is not True and not link.closed.is_set():
                if link not in self._batches:
                    log.info("device %s answers one blob per stream (an older version): %s", link.peer[:10], describe(exc))
                self._batches[link] = False
            else:
                log.info("fetching %d blobs from %s stopped: %s (they resume later)", len(batch), link.peer[:10], describe(exc))
                for h, _ in batch:
                    self._not_before[h] = self.clock() + RETRY_S
        finally:
            for h, _ in batch:
                self._inflight.pop(h, None)
            self._streams -= 1
            self._batch_streams -= 1
            self.kick()

    async def _download_batch(self, link: Link, batch: list[tuple[str, int]]) -> set[str]:
        """Ask for the blobs in one BLOB_GETS, read the whole answer (at most SMALL bytes and a
        header each), then verify and write them to the store in one worker-thread hop.
        Returns the blobs now waiting in ready/."""
        sizes = [size for _, size in batch]
        try:
            bi = await link.stream.conn.open_bi()
            send, recv = bi.send(), bi.recv()
            await send.write_all(encode_frame(m.encode(m.BlobGets(tuple(bytes.fromhex(h) for h, _ in batch)))))
            await send.finish()
            answer = await recv.read_to_end(answer_limit(sizes))
        finally:
            self._arriving[link] -= sum(sizes)
        self.kick()  # the next answer arrives while this one is written
        bodies = split_answers(answer, sizes)
        found = [(h, body) for (h, _), body in zip(batch, bodies, strict=True) if body is not None]
        if len(found) < len(batch):
            log.info("device %s does not have %d of %d blobs asked (yet)", link.peer[:10], len(batch) - len(found), len(batch))
        self.received_bytes += sum(len(body) for _, body in found)
        return await asyncio.to_thread(self._accept_all, link.peer, found)

    def _accept_all(self, peer: str, found: list[tuple[str, memoryview]]) -> set[str]:
        """(A worker thread.) Each blob verified and moved to ready/, as `_download_small` does."""
        accepted = set()
        for h, body in found:
            if self.store.accept_whole(h, body):
                accepted.add(h)
                crash_point("blob-batch-accepted")
            else:
                log.warning("blob %s… from %s did not match its hash; discarded", h[:12], peer[:10])
        return accepted

    def _arrival(self, h: str) -> None:
        """A verified blob waits in the store's ready/ (no peer is asked for it again) until
        its files are written, together with the others that arrive within ARRIVAL_S, or
        while the batch before is being written: one write batch (two syncs of the disk, one
        transaction) for many small attachments instead of one each."""
        self._arrived.add(h)
        if len(self._arrived) >= ARRIVAL_BATCH:
            self.write_arrived()
        elif self._write_soon is None and not self._writes:
            self._write_soon = asyncio.get_running_loop().call_later(ARRIVAL_S, self.write_arrived)

    def write_arrived(self) -> None:
        """Write the files of the blobs that arrived: made durable in a worker thread first
        (one sync for the batch), then moved into the vault."""
        if self._write_soon is not None:
            self._write_soon.cancel()
            self._write_soon = None
        if self._arrived:
            hashes, self._arrived = sorted(self._arrived), set()
            self._writing.update(hashes)
            task = asyncio.create_task(self._write(hashes))
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)

    async def _write(self, hashes: list[str]) -> None:
        try:
            await asyncio.to_thread(self.store.make_durable, hashes)
            self.engine.blobs_arrived(hashes, self.wall_clock())
        except Exception as exc:  # noqa: BLE001 - (a full disk): the blobs are wanted again, fetched later
            log.warning("could not place %d received file(s): %s", len(hashes), describe(exc))
        finally:
            self._writing.difference_update(hashes)
            if self._arrived and self._write_soon is None and not self._writes - {asyncio.current_task()}:
                # arrived meanwhile: their batch starts its own wait now (see _arrival)
                self._write_soon = asyncio.get_running_loop().call_later(ARRIVAL_S, self.write_arrived)
        self._trimmer.after_work(self.clock())
        self.on_arrival()

    async def finish(self) -> None:
        """At shutdown: write what arrived (or the next start places it: a pending write)."""
        self.write_arrived()
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    async def _download(self, link: Link, h: str, size: int) -> bool:
        bi = await link.stream.conn.open_bi()
        send, recv = bi.send(), bi.recv()
        offset = self.store.partial_size(h)
        if offset > size:  # a leftover that cannot be this blob: start again
            self.store.finish_partial(h, size)  # (fails the size check, which removes it)
            offset = 0
        await send.write_all(encode_frame(m.encode(m.BlobGet(bytes.fromhex(h), offset))))
        await send.finish()
        if offset == 0 and size <= SMALL:
            return await self._download_small(link, recv, h, size)
        decoder = FrameDecoder()
        header: m.Message | None = None
        while header is None:
            data = await recv.read(READ)
            if not data:
                raise ConnectionError("stream ended before the blob header")
            bodies = decoder.feed(data, limit=1)
            if bodies:
                header = m.decode(bodies[0])
            elif decoder.buffered > MAX_HEADER:
                raise ConnectionError("peer sent no valid blob header")
        if not isinstance(header, m.BlobHave) or not header.found:
            log.info("device %s does not have blob %s… (yet)", link.peer[:10], h[:12])
            return False
        if header.size != size:
            raise ConnectionError(f"peer announced {header.size} bytes for a blob of {size}")
        pos = offset
        rest = decoder.take_buffered()
        while True:
            if rest:
                if pos + len(rest) > size:
                    raise ConnectionError("peer sent more bytes than the blob holds")
                pos = self.store.append_partial(h, pos, rest)
                self.received_bytes += len(rest)
            if pos >= size:
                break
            rest = await recv.read(READ)
            if not rest:
                raise ConnectionError(f"transfer cut at {pos} of {size} bytes")
        if not await asyncio.to_thread(self.store.finish_partial, h, size):  # hashing 200 MB: off the loop
            log.warning("blob %s… from %s did not match its hash; discarded", h[:12], link.peer[:10])
            return False
        log.info("received %s (%d bytes) from %s", h[:12], size, link.peer[:10])
        return True

    async def _download_small(self, link: Link, recv: Any, h: str, size: int) -> bool:
        """A small blob in one read of the whole answer (the header and the bytes), verified in
        memory: per attachment one call into the transport instead of a loop of reads, and no
        hashing thread (a thread hop costs more than hashing a few KB)."""
        data = await recv.read_to_end(size + MAX_HEADER)  # more than that: an error (see _fetch)
        decoder = FrameDecoder()
        bodies = decoder.feed(data, limit=1)
        header = m.decode(bodies[0]) if bodies else None
        if not isinstance(header, m.BlobHave) or not header.found:
            log.info("device %s does not have blob %s… (yet)", link.peer[:10], h[:12])
            return False
        if header.size != size:
            raise ConnectionError(f"peer announced {header.size} bytes for a blob of {size}")
        body = decoder.take_buffered()
        if len(body) != size:
            raise ConnectionError(f"transfer cut at {len(body)} of {size} bytes")
        self.received_bytes += size
        if not self.store.accept_whole(h, body):
            log.warning("blob %s… from %s did not match its hash; discarded", h[:12], link.peer[:10])
            return False
        log.debug("received %s (%d bytes) from %s", h[:12], size, link.peer[:10])
        return True

    async def serve(self, link: Link) -> None:
        """Answer the blob streams a paired peer opens on this connection (sync/blobserve.py)."""
        await self.server.serve(link)
