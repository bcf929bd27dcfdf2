"""How the fetching side groups blobs (sync/blobs.py): the queue of wanted blobs, and
arrivals written in as few batches as their pace allows."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Container
from typing import Any, cast

import pytest

from peervault import memory
from peervault.protocol import messages as m
from peervault.protocol.frames import FrameDecoder, encode_frame
from peervault.protocol.session import State
from peervault.sync import blobs
from peervault.sync.blobs import BlobTransfers, _AnyOf


class FakeEngine:
    """What BlobTransfers asks of the engine here: the wanted blobs, in order, and the
    batches of arrived blobs it is told to write."""

    def __init__(self, wanted: dict[str, int]) -> None:
        self.wanted = dict(wanted)
        self.blobs = None
        self.arrived: list[list[str]] = []

    def wanted_blobs(self, skip: Container[str] = (), limit: int | None = None) -> dict[str, int]:
        out = {h: n for h, n in self.wanted.items() if h not in skip}
        return dict(list(out.items())[:limit])

    def awaits(self, h: str) -> bool:
        return h in self.wanted

    def blobs_arrived(self, hashes: list[str], now: float) -> None:
        self.arrived.append(list(hashes))
        for h in hashes:
            self.wanted.pop(h, None)


class FakeStore:
    def __init__(self, delay: float) -> None:
        self.delay = delay

    def make_durable(self, hashes: list[str]) -> None:
        time.sleep(self.delay)  # (a worker thread: the sync of the disk)


def transfers(engine: FakeEngine, store: FakeStore | None = None) -> BlobTransfers:
    t = BlobTransfers(cast(Any, engine), {}, 16, lambda: None, time.monotonic, time.time)
    if store is not None:
        t.store = cast(Any, store)
    return t


def test_blobs_no_longer_wanted_or_in_flight_are_dropped_from_the_queue() -> None:
    engine = FakeEngine({"a": 10, "b": 10, "c": 10})
    t = transfers(engine)
    inflight: set[str] = set()
    skip = _AnyOf(inflight)
    assert t._take(skip, blobs.ANY_SIZE) == ("a", 10)
    inflight.add("a")
    del engine.wanted["b"]  # its file went meanwhile
    inflight.add("c")  # being fetched by another stream
    assert t._take(skip, 100) is None
    assert not t._queue


def test_arrivals_during_a_write_wait_for_it_and_go_as_one_batch() -> None:
    async def run() -> list[list[str]]:
        engine = FakeEngine({f"h{i}": 1 for i in range(20)})
        t = transfers(engine, FakeStore(delay=0.3))
        t._arrival("h0")
        await asyncio.sleep(blobs.ARRIVAL_S + 0.05)  # h0's batch is being made durable now
        for i in range(1, 20):
            t._arrival(f"h{i}")
            await asyncio.sleep(0.02)  # 0.38 s of arrivals: more than ARRIVAL_S apart in all
        await asyncio.sleep(0.3 + blobs.ARRIVAL_S + 0.3)
        await t.finish()
        return engine.arrived

    arrived = asyncio.run(run())
    assert arrived[0] == ["h0"]
    assert sorted(h for b in arrived for h in b) == sorted(f"h{i}" for i in range(20))
    # at most one batch for the arrivals during h0's write, one for those after it
    assert len(arrived) <= 3


class _Link:
    peer = "b" * 64


def _fetched_once(outcome: object) -> BlobTransfers:
    """Transfers that asked once for blob "a" (10 bytes), the download ending with `outcome`:
    True (received), False (the peer lacks it or sent bytes of another hash) or an error."""
    engine = FakeEngine({"a": 10})
    t = transfers(engine)

    async def download(link: object, h: str, size: int) -> bool:
        if isinstance(outcome, Exception):
            raise outcome
        return bool(outcome)

    t._download = download  # type: ignore[method-assign]
    t._streams = 1

    async def run() -> None:
        t._inflight["a"] = cast(Any, None)
        await t._fetch(cast(Any, _Link()), "a", 10)

    asyncio.run(run())
    return t


def test_a_join_does_not_wait_for_a_blob_the_peer_lacks() -> None:
    assert _fetched_once(False).settled()


def test_a_join_waits_for_a_blob_whose_transfer_failed() -> None:
    # a reset stream or a cut transfer is tried again RETRY_S later: a join that ended here
    # would report the vault in sync with that attachment missing
    assert not _fetched_once(ConnectionError("stream reset")).settled()


class _Answering:
    """A peer's side of the blob streams: each BLOB_GETS answered whole once `gate` is set."""

    def __init__(self, sizes: dict[str, int], gate: asyncio.Event, rtt_ms: int) -> None:
        self.sizes, self.gate, self.rtt_ms = sizes, gate, rtt_ms
        self.waiting = 0  # answers asked for and not yet read
        self.asked: list[list[str]] = []

    def paths(self) -> list[Any]:
        """The transport's paths: a relay's unused, the direct one in use."""
        path = type("Path", (), {"rtt_ms": self.rtt_ms, "is_selected": True})
        return [type("Path", (), {"rtt_ms": 500, "is_selected": False})(), path()]

    async def open_bi(self) -> Any:
        asked: list[str] = []
        peer = self

        class Send:
            async def write_all(self, data: bytes) -> None:
                (body,) = FrameDecoder().feed(data)
                msg = m.decode(body)
                assert isinstance(msg, m.BlobGets)
                asked.extend(b.hex() for b in msg.blobs)
                peer.asked.append(asked)

            async def finish(self) -> None:
                pass

        class Recv:
            async def read_to_end(self, limit: int) -> bytes:
                peer.waiting += 1
                await peer.gate.wait()
                peer.waiting -= 1
                return b"".join(encode_frame(m.encode(m.BlobHave(True, peer.sizes[h]))) + bytes(peer.sizes[h]) for h in asked)

        return type("Bi", (), {"send": lambda self: Send(), "recv": lambda self: Recv()})()


class _LiveLink:
    peer = "c" * 64

    def __init__(self, conn: _Answering) -> None:
        self.session = type("S", (), {"state": State.SYNCING})()
        self.closed = asyncio.Event()
        self.stream = type("St", (), {"conn": conn})()


def _run_held(sizes: dict[str, int], rtt_ms: int = 1) -> tuple[list[list[str]], list[int], set[str]]:
    """Every wanted blob fetched in BLOB_GETS, the answers held until all that may be asked
    for at once have been: what each stream asked for, the bytes arriving and the answers
    awaited then, and what arrived in the end."""
    engine = FakeEngine(sizes)
    held: list[int] = []

    async def run() -> list[list[str]]:
        gate = asyncio.Event()
        peer = _Answering(sizes, gate, rtt_ms)
        t = transfers(engine, FakeStore(delay=0))
        t.links = {"p": cast(Any, _LiveLink(peer))}
        t._accept_all = lambda _peer, found: {h for h, _ in found}  # type: ignore[method-assign]
        t.kick()
        await asyncio.sleep(0.05)
        held.extend([sum(t._arriving.values()), peer.waiting])
        gate.set()
        for _ in range(500):
            if t.settled():
                break
            await asyncio.sleep(0.01)
        await t.finish()
        assert not any(t._arriving.values())
        return peer.asked

    asked = asyncio.run(run())
    return asked, held, {h for b in engine.arrived for h in b}


def _h(i: int) -> str:
    return f"{i:064x}"


def test_blob_gets_answers_arriving_at_once_stay_within_the_budget(monkeypatch: Any) -> None:
    monkeypatch.setattr(blobs, "ARRIVING", 512 * 1024)
    sizes = {_h(i): 200_000 for i in range(12)}
    asked, (arriving, waiting), arrived = _run_held(sizes)
    # 200 KB each, one per BLOB_GETS (two exceed BATCH_BYTES): two fit in 512 KB, not three
    assert waiting == 2 and arriving == 400_000
    assert arrived == set(sizes) and sorted(h for a in asked for h in a) == sorted(sizes)


def test_small_blobs_share_the_budget_in_few_answers() -> None:
    sizes = {_h(i): 4_000 for i in range(200)}
    asked, (arriving, waiting), arrived = _run_held(sizes)
    assert arriving <= blobs.ARRIVING and all(len(a) <= blobs.BATCH_BLOBS for a in asked)
    assert 1 <= waiting <= 4 and arrived == set(sizes)


def test_the_first_answer_is_asked_for_whatever_the_budget(monkeypatch: Any) -> None:
    monkeypatch.setattr(blobs, "ARRIVING", 1000)
    sizes = {_h(1): 200_000, _h(2): 100_000}
    asked, (arriving, waiting), arrived = _run_held(sizes)
    assert waiting == 1 and arriving == 200_000
    assert arrived == set(sizes)


def test_a_slow_link_has_more_answers_on_their_way(monkeypatch: Any) -> None:
    # over a 20 ms round trip one answer at a time would leave the link idle between them
    monkeypatch.setattr(blobs, "ARRIVING", 256 * 1024)
    sizes = {_h(i): 200_000 for i in range(12)}
    assert _run_held(sizes, rtt_ms=4)[1] == [200_000, 1]
    assert _run_held(sizes, rtt_ms=5)[1] == [400_000, 2]
    assert _run_held(sizes, rtt_ms=20)[1] == [800_000, 4]  # the quarter of the 16 streams


def test_a_peer_that_holds_its_answer_stalls_only_its_own_blob_gets() -> None:
    sizes = {_h(i): 200_000 for i in range(8)}
    engine = FakeEngine(sizes)

    async def run() -> tuple[list[list[str]], list[list[str]]]:
        stalled, answering = asyncio.Event(), asyncio.Event()
        answering.set()
        mute, live = _Answering(sizes, stalled, 1), _Answering(sizes, answering, 1)
        t = transfers(engine, FakeStore(delay=0))
        t.links = {"mute": cast(Any, _LiveLink(mute)), "live": cast(Any, _LiveLink(live))}
        t._accept_all = lambda _peer, found: {h for h, _ in found}  # type: ignore[method-assign]
        t.kick()
        for _ in range(300):
            if len(engine.wanted) <= len({h for a in mute.asked for h in a}):
                break
            await asyncio.sleep(0.01)
        stalled.set()  # (let the held answer end, for a clean finish)
        await t.finish()
        return mute.asked, live.asked

    held, answered = asyncio.run(run())
    held_blobs = {h for a in held for h in a}
    assert held and answered
    # all but the blobs the mute peer was asked for came from the other one
    assert {h for b in engine.arrived for h in b} >= set(sizes) - held_blobs


def test_batches_of_arrivals_written_a_tenth_of_a_second_apart_each_trim_the_heap(monkeypatch: pytest.MonkeyPatch) -> None:
    """At once a second, the freed buffers of ten batches of a join's blobs stayed resident
    between two trims (the joining device's peak)."""
    trims: list[None] = []
    monkeypatch.setattr(memory, "trim_heap", lambda: trims.append(None))

    async def run() -> None:
        engine = FakeEngine({f"h{i}": 1 for i in range(8)})
        t = transfers(engine, FakeStore(delay=0.0))
        ticks = iter(1000.0 + 0.125 * n for n in range(100))  # 0.125 s apart: exact in binary
        t.clock = lambda: next(ticks)
        for i in range(8):
            t._arrival(f"h{i}")
            t.write_arrived()
            await t.finish()

    asyncio.run(run())
    assert len(trims) == 8  # at once a second: 1
