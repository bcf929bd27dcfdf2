"""Hostile peers and input (issue 5, part 4).

A client written for this test binds its own Iroh endpoint, dials the daemon with the
protocol's ALPN and sends what a broken or malicious peer might: frames above the size
limit, truncated frames, unknown message types, valid messages out of order, a HELLO for
another vault, garbage CRDT updates, and index entries naming unsafe paths. Each must get a
log line and a closed connection or a refused change; the daemon keeps running and syncing
with its real peer, and nothing outside the vault (nor under .peervault/ or .git/) is written.

One daemon (A, paired with a real device B) takes every attack in turn: the fixture is
module-scoped, so the last test checks that the daemon survived all of them. The hostile
client pairs legitimately first (an unpaired one only ever gets REFUSED 403: test_trust).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import struct
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
import zstandard

from peervault.config import Config
from peervault.crdt import notes
from peervault.crdt.entries import row_entry
from peervault.crdt.index import VaultIndex
from peervault.crdt.indexversions import same_version
from peervault.errors import PeerVaultError
from peervault.net import endpoint as netep
from peervault.net.stream import MessageStream
from peervault.protocol import messages as m
from peervault.protocol.entryrows import iter_rows
from peervault.protocol.frames import MAX_BODY, MAX_FRAME, encode_frame
from peervault.protocol.ticket import decode_ticket
from peervault.state import read_runtime
from peervault.store.packing import unpack_rows, unpack_snapshot
from peervault.vault.paths import printable_path

from .conftest import Device, pair_running, shut_down, wait_until

T = TypeVar("T")

CLOSE_WAIT = 10.0  # the daemon closes a violating connection within a fraction of a second
# A peer whose stream ended is gone: a connection still open this long after it is kept
# open for good (no session is left on it to send a heartbeat or notice silence).
ZOMBIE_WAIT = 8.0
PAIR_DEADLINE = Config().pair_timeout_s  # an unpaired connection is closed this long after it opens
NOTE = "note.md"
NOTE_TEXT = "the real note\n"
SQLITE_MAGIC = b"SQLite format 3\x00"


# ---------------------------------------------------------------------- the hostile client
def raw_frame(body: bytes, flag: int = 0) -> bytes:
    """A frame as the wire carries it, without any of encode_frame's checks."""
    return struct.pack(">IB", len(body) + 1, flag) + body


def frames(*msgs: m.Message) -> bytes:
    return b"".join(encode_frame(m.encode(x)) for x in msgs)


def hello(vault_id: bytes, version: int = m.PROTOCOL_VERSION, index_vv: bytes = b"") -> m.Hello:
    """A HELLO that claims nothing: no index, no notes, no address to dial back."""
    return m.Hello(version, vault_id, (), index_vv, bytes(m.BUCKETS * 8))


class Wire:
    """One connection of the hostile client: any bytes out, the daemon's messages in."""

    def __init__(self, conn: netep.Connection, bi: object) -> None:
        self.conn = conn
        self.out = bi.send()  # type: ignore[attr-defined]
        self.stream = MessageStream(conn, self.out, bi.recv())  # type: ignore[attr-defined]
        self.got: list[m.Message] = []
        self.ended = False
        self._pos = 0
        self._news = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            while True:
                self.got += await self.stream.receive()
                self._news.set()
        except (ConnectionError, PeerVaultError):
            self.ended = True
            self._news.set()

    async def raw(self, data: bytes) -> None:
        await self.out.write_all(data)

    async def send(self, *msgs: m.Message) -> None:
        await self.raw(frames(*msgs))

    async def expect(self, kinds: type | tuple[type, ...], timeout: float = CLOSE_WAIT) -> m.Message:
        """The next message of one of these types (skipping others); fails if the connection ends."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i in range(self._pos, len(self.got)):
                if isinstance(self.got[i], kinds):
                    self._pos = i + 1
                    return self.got[i]
            if self.ended:
                raise AssertionError(f"connection ended while waiting for {kinds}: got {self.got} ({self.conn.close_reason()})")
            self._news.clear()
            try:
                await asyncio.wait_for(self._news.wait(), deadline - loop.time())
            except TimeoutError:
                raise AssertionError(f"no {kinds} within {timeout:.0f} s: got {self.got}") from None

    async def barrier(self) -> None:
        """PING/PONG: the PONG proves the daemon processed everything sent before."""
        await self.send(m.Ping())
        await self.expect(m.Pong)

    async def closed(self, timeout: float = CLOSE_WAIT) -> str | None:
        """Why the connection closed, or None if it is still open after `timeout`."""
        try:
            return await asyncio.wait_for(self.conn.closed(), timeout)
        except TimeoutError:
            return None

    def refusals(self) -> list[m.Refused]:
        return [x for x in self.got if isinstance(x, m.Refused)]

    async def stop(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


class HostilePeer:
    """An endpoint of its own that speaks PeerVault's ALPN, one connection per `session`."""

    def __init__(self, target: Device, device_id: str) -> None:
        self.target = target
        self.device_id = device_id
        self.key = netep.new_secret_key()
        self.id = netep.endpoint_id_of(self.key)

    def session(self, script: Callable[[Wire], Awaitable[T]]) -> T:
        try:
            return asyncio.run(self._session(script))
        finally:
            self.wait_dropped()

    async def _session(self, script: Callable[[Wire], Awaitable[T]]) -> T:
        addrs = (self.target.runtime() or {})["addrs"]
        ep = await netep.bind(self.key, no_relay=True, bind_addr="127.0.0.1:0")
        try:
            conn = await netep.connect(ep, self.device_id, addrs, 10)
            wire = Wire(conn, await conn.open_bi())
            try:
                return await script(wire)
            finally:
                await wire.stop()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ep.close(), 5)

    def wait_dropped(self) -> None:
        """Until the daemon no longer has a session with us (else the next connection could be
        taken for a simultaneous dial and closed with 409)."""
        state_dir = self.target.root / ".peervault"
        wait_until(
            lambda: self.id not in read_runtime(state_dir).get("connected", {}),
            what="the daemon to drop the hostile connection",
        )

    def pair(self, ticket: str) -> None:
        t = decode_ticket(ticket)

        async def script(w: Wire) -> None:
            await w.send(m.Pair(t.vault_id, t.secret))
            await w.expect(m.PairOk)
            await w.send(hello(t.vault_id))  # the inviter's HELLO answers ours (at our version)
            await w.expect(m.Hello)

        self.session(script)


# ---------------------------------------------------------------------- the arena
@dataclass
class Arena:
    tmp: Path
    a: Device
    b: Device
    hostile: HostilePeer
    vault_id: bytes
    outside: Path

    def hello(self, vault_id: bytes | None = None, version: int = m.PROTOCOL_VERSION, index_vv: bytes = b"") -> m.Hello:
        return hello(vault_id or self.vault_id, version, index_vv)

    def log(self, dev: Device | None = None) -> str:
        return device_log(dev or self.a)

    def mark(self, dev: Device | None = None) -> int:
        """Where the log ends now: `wait_log(since=...)` looks only at what comes after."""
        return len(self.log(dev))

    def wait_log(self, *needles: str, dev: Device | None = None, since: int = 0) -> None:
        wait_until(lambda: all(n in self.log(dev)[since:] for n in needles), what=f"log lines {needles}")

    def assert_alive(self) -> None:
        for d in (self.a, self.b):
            assert d.proc is not None and d.proc.poll() is None, f"{d.root.name}'s daemon died: {self.log(d)[-3000:]}"


def device_log(dev: Device) -> str:
    return "".join(p.read_text(errors="replace") for p in sorted(dev.logs.glob(f"{dev.root.name}-*.log")))


def tree(root: Path, skip: tuple[str, ...] = (".peervault",)) -> dict[str, bytes]:
    """Every file and link below `root` (links are not followed), with content or target;
    a socket (the daemon's control.sock) is listed with no content, as it has none to read."""
    out: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        dirnames[:] = [d for d in dirnames if not (rel_dir == Path(".") and d in skip)]
        for name in filenames + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                out[rel] = b"-> " + os.readlink(p).encode()
            else:
                out[rel] = b"" if p.is_socket() else p.read_bytes()
    return out


@pytest.fixture(scope="module")
def arena(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Arena]:
    tmp = tmp_path_factory.mktemp("hostile")
    logs = tmp / "logs"
    logs.mkdir()
    a, b = Device(tmp / "A", logs), Device(tmp / "B", logs)
    try:
        a.init()
        b.init()
        outside = tmp / "outside"
        outside.mkdir()
        (outside / "victim.md").write_text("outside the vault: must stay as it is\n")
        a.write(NOTE, NOTE_TEXT)
        a.write("rename-me.md", "a note a hostile peer moves out of the vault\n")
        a.write(".git/hooks/pre-commit", "#!/bin/sh\nexit 0\n")  # ignored by default, never synced
        (a.root / "link").symlink_to(outside, target_is_directory=True)
        (a.root / "dangling").symlink_to(outside / "not-yet", target_is_directory=True)
        (a.root / "linked.md").symlink_to(outside / "victim.md")
        a.start()
        pair_running(a, b)
        wait_until(lambda: b.read(NOTE) == NOTE_TEXT and b.exists("rename-me.md"), what="B has A's notes")
        st = a.status()
        hostile = HostilePeer(a, st["device_id"])
        hostile.pair(a.invite("--no-wait"))
        assert any(p["id"] == hostile.id and p["paired"] for p in a.status()["peers"])
        yield Arena(tmp, a, b, hostile, bytes.fromhex(st["vault_id"]), outside)
    finally:
        for d in (a, b):
            shut_down(d)


# ---------------------------------------------------------------------- 1. malformed frames
_BOMB = zstandard.ZstdCompressor().compress(bytes(MAX_BODY + 1))  # 64 MiB + 1 of zeros, in ~2 KB
_BOMB_NO_SIZE = zstandard.ZstdCompressor(write_content_size=False).compress(bytes(MAX_BODY + 1))

BAD_FRAMES = {
    "above-limit": (struct.pack(">IB", MAX_FRAME + 1, 0), f"frame of {MAX_FRAME + 1} bytes"),
    "max-u32-length": (struct.pack(">IB", 2**32 - 1, 0) + b"x" * 64, f"frame of {2**32 - 1} bytes"),
    "zero-length": (struct.pack(">I", 0), "frame of 0 bytes"),
    "unknown-flag": (raw_frame(m.encode(m.Ping()), flag=7), "unknown frame flag 7"),
    "corrupt-zstd": (raw_frame(b"\x28\xb5\x2f\xfd garbage", flag=1), "undecodable compressed frame"),
    "zstd-bomb": (raw_frame(_BOMB, flag=1), "expands past"),
    "zstd-bomb-no-size": (raw_frame(_BOMB_NO_SIZE, flag=1), "undecodable compressed frame"),
}


@pytest.mark.parametrize("case", list(BAD_FRAMES))
def test_malformed_frame_is_refused_and_closed(arena: Arena, case: str) -> None:
    data, reason = BAD_FRAMES[case]

    async def script(w: Wire) -> str | None:
        await w.raw(data)
        return await w.closed()

    since = arena.mark()
    closed = arena.hostile.session(script)
    assert closed is not None, f"{case}: the daemon kept the connection open"
    assert "400" in closed, closed
    arena.wait_log(f"peer {arena.hostile.id[:10]} broke the protocol: ", reason, since=since)
    arena.assert_alive()


# ---------------------------------------------------------------------- 2. truncated frame, stream ends
@pytest.mark.parametrize("paired", [True, False], ids=["paired", "unpaired"])
def test_truncated_frame_then_stream_end_closes_connection(arena: Arena, paired: bool) -> None:
    peer = arena.hostile if paired else HostilePeer(arena.a, arena.hostile.device_id)

    async def script(w: Wire) -> str | None:
        await w.raw(struct.pack(">IB", 100, 0) + b"x" * 10)  # 10 of the 100 announced bytes
        await w.out.finish()
        return await w.closed(ZOMBIE_WAIT)

    closed = peer.session(script)
    arena.wait_log(f"disconnected from {peer.id[:10]}: connection closed (stream finished)")  # the link is gone
    arena.assert_alive()
    assert closed is not None, "the daemon dropped the link but kept the QUIC connection open"


def test_truncated_frame_then_connection_close(arena: Arena) -> None:
    async def script(w: Wire) -> None:
        await w.raw(struct.pack(">IB", 100, 0) + b"x" * 10)
        await asyncio.sleep(0.2)
        w.conn.close(0, b"gone")

    arena.hostile.session(script)  # returns once the daemon has dropped the link
    arena.assert_alive()


# ---------------------------------------------------------------------- 3. unknown / malformed messages
_NOT_UTF8_HELLO = (
    bytes([m.Hello.kind])
    + struct.pack(">H", m.PROTOCOL_VERSION)
    + bytes(16)
    + struct.pack(">II", 1, 2)
    + b"\xff\xfe"
    + struct.pack(">I", 0)
    + bytes(m.BUCKETS * 8)
)
BAD_BODIES = {
    "type-0": (b"\x00", "unknown message type 0"),
    "type-21": (b"\x15payload", "unknown message type 21"),
    "truncated-index-snapshot": (b"\x14payload", "truncated"),
    "malformed-blob-gets": (b"\x13payload", "does not fit the message"),
    "truncated-id-moved": (b"\x11payload", "truncated"),
    "type-255": (b"\xff" * 32, "unknown message type 255"),
    "empty-body": (b"", "empty message"),
    "trailing-bytes": (m.encode(m.Ping()) + b"!", "unexpected trailing bytes"),
    "truncated-hello": (m.encode(m.Hello(2, bytes(16), ("127.0.0.1:1",), b"", bytes(m.BUCKETS * 8)))[:40], "truncated"),
    "non-utf8-string": (_NOT_UTF8_HELLO, "not UTF-8"),
    "huge-list-count": (bytes([m.DocUpdates.kind]) + struct.pack(">I", 2**32 - 1), "does not fit"),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_unknown_or_malformed_message_is_refused_and_closed(arena: Arena, case: str) -> None:
    body, reason = BAD_BODIES[case]

    async def script(w: Wire) -> str | None:
        await w.raw(raw_frame(body))
        return await w.closed()

    since = arena.mark()
    closed = arena.hostile.session(script)
    assert closed is not None, f"{case}: the daemon kept the connection open"
    assert "400" in closed and reason in closed, closed
    arena.wait_log(f"peer {arena.hostile.id[:10]} broke the protocol: ", reason, since=since)
    arena.assert_alive()


# ---------------------------------------------------------------------- 4. valid messages out of order
_ANY_ID, _BLOB_ID = bytes(range(16)), bytes(32)
BEFORE_HELLO: dict[str, m.Message] = {
    "DONE": m.Done(),
    "DONE_ACK": m.DoneAck(),
    "DOC_BATCH": m.DocBatch(1, ((_ANY_ID, b"x"),)),
    "BATCH_ACK": m.BatchAck(1),
    "DOC_VERSIONS": m.DocVersions(bytes(range(256)), ()),
    "INDEX_UPDATES": m.IndexUpdates(b"x"),
    "DOC_UPDATES": m.DocUpdates(((_ANY_ID, b"x"),)),
    "PAIR": m.Pair(bytes(16), bytes(16)),
    "PAIR_OK": m.PairOk(bytes(16)),
    "BLOB_GET": m.BlobGet(_BLOB_ID, 0),
    "BLOB_HAVE": m.BlobHave(True, 10),
    "BLOB_GETS": m.BlobGets((_BLOB_ID,)),
    "PRESENCE": m.Presence(_ANY_ID, b"x"),
}
AFTER_HELLO: dict[str, tuple[list[m.Message], str]] = {
    "second-DOC_VERSIONS": ([m.DocVersions(b"", ()), m.DocVersions(b"", ())], "DOC_VERSIONS sent twice"),
    "BATCH_ACK-never-sent": ([m.BatchAck(7)], "BATCH_ACK 7 for a batch never sent"),
    "second-HELLO": ([m.Hello(2, bytes(16), (), b"", bytes(m.BUCKETS * 8))], "unexpected Hello in state syncing"),
    "PAIR-after-HELLO": ([m.Pair(bytes(16), bytes(16))], "unexpected Pair in state syncing"),
    "BLOB_GET-on-session-stream": ([m.BlobGet(_BLOB_ID, 0)], "unexpected BlobGet in state syncing"),
    "BLOB_GETS-on-session-stream": ([m.BlobGets((_BLOB_ID,))], "unexpected BlobGets in state syncing"),
}


@pytest.mark.parametrize("kind", list(BEFORE_HELLO))
def test_message_before_hello_is_refused(arena: Arena, kind: str) -> None:
    async def script(w: Wire) -> str | None:
        await w.send(BEFORE_HELLO[kind])
        return await w.closed()

    since = arena.mark()
    closed = arena.hostile.session(script)
    reason = f"expected HELLO, got {type(BEFORE_HELLO[kind]).__name__}"
    assert closed is not None and "400" in closed and reason in closed, closed
    arena.wait_log(f"disconnected from {arena.hostile.id[:10]}: {reason}", since=since)
    arena.assert_alive()


@pytest.mark.parametrize("case", list(AFTER_HELLO))
def test_message_out_of_order_after_hello_is_refused(arena: Arena, case: str) -> None:
    msgs, reason = AFTER_HELLO[case]

    async def script(w: Wire) -> tuple[list[m.Refused], str | None]:
        await w.send(arena.hello())
        await w.expect(m.DocVersions)  # the daemon's answer: we are syncing
        await w.send(*msgs)
        closed = await w.closed()
        return w.refusals(), closed

    since = arena.mark()
    refusals, closed = arena.hostile.session(script)
    assert refusals and refusals[0].code == 400 and reason in refusals[0].reason, refusals
    assert closed is not None and "400" in closed, closed
    arena.wait_log(f"disconnected from {arena.hostile.id[:10]}: {reason}", since=since)
    arena.assert_alive()


def test_blob_gets_on_a_blob_stream_answers_each_or_refuses_the_stream(arena: Arena) -> None:
    """BLOB_GETS for blobs the daemon lacks: one BLOB_HAVE(found 0) each, then the end; one
    asking for too many: that stream reset with one line in the log; the connection stays."""
    too_many = bytes([m.BlobGets.kind]) + struct.pack(">I", m.MAX_BLOB_GETS + 1) + bytes(32) * (m.MAX_BLOB_GETS + 1)

    async def script(w: Wire) -> tuple[bytes, str]:
        await w.send(arena.hello())
        await w.expect(m.DocVersions)
        bi = await w.conn.open_bi()
        send, recv = bi.send(), bi.recv()
        await send.write_all(frames(m.BlobGets((_BLOB_ID, b"\x01" * 32))))
        await send.finish()
        answer = await recv.read_to_end(4096)
        bi = await w.conn.open_bi()
        send, recv = bi.send(), bi.recv()
        await send.write_all(encode_frame(too_many))
        await send.finish()
        try:
            refused = repr(await recv.read_to_end(4096))
        except Exception as exc:  # noqa: BLE001 - the reset, as iroh reports it
            refused = f"reset: {exc}"
        await w.barrier()  # the connection itself is still up
        return answer, refused

    since = arena.mark()
    answer, refused = arena.hostile.session(script)
    assert answer == frames(m.BlobHave(False, 0), m.BlobHave(False, 0))
    assert refused.startswith("reset"), refused
    arena.wait_log(f"blob request from {arena.hostile.id[:10]} refused: BLOB_GETS of 65 blobs (1 to 64)", since=since)
    arena.assert_alive()


# ---------------------------------------------------------------------- 5. wrong vault, wrong version
def test_hello_for_another_vault_is_refused_404(arena: Arena) -> None:
    async def script(w: Wire) -> tuple[list[m.Message], str | None]:
        await w.send(arena.hello(vault_id=secrets.token_bytes(16)))
        closed = await w.closed()
        return w.got, closed

    since = arena.mark()
    got, closed = arena.hostile.session(script)
    refusals = [x for x in got if isinstance(x, m.Refused)]
    assert refusals and refusals[0].code == 404 and "different vault" in refusals[0].reason, got
    assert closed is not None and "404" in closed, closed
    # the daemon's own HELLO came first (it is sent on accept), but no vault data followed
    assert not [x for x in got if isinstance(x, (m.IndexUpdates, m.DocVersions, m.DocBatch, m.DocUpdates))], got
    arena.wait_log(f"disconnected from {arena.hostile.id[:10]}: this device belongs to a different vault", since=since)
    arena.assert_alive()


def test_hello_with_unsupported_version_is_refused_426(arena: Arena) -> None:
    async def script(w: Wire) -> tuple[list[m.Refused], str | None]:
        await w.send(arena.hello(version=1))
        closed = await w.closed()
        return w.refusals(), closed

    refusals, closed = arena.hostile.session(script)
    assert refusals and refusals[0].code == 426, refusals
    assert closed is not None and "426" in closed, closed
    arena.assert_alive()


def test_a_move_that_does_not_check_out_changes_no_pairing(arena: Arena) -> None:
    """ID_MOVED with a signature not by the sender's key, or naming another device of the
    vault as the sender's new id, is ignored: the pairings stay as they were."""
    before = sorted(p["id"] for p in arena.a.status()["peers"])
    other = netep.id_bytes(arena.b.status()["device_id"])
    me = netep.id_bytes(arena.hostile.id)
    fresh = netep.id_bytes(netep.endpoint_id_of(netep.new_secret_key()))
    forged = m.IdMoved(arena.vault_id, fresh, netep.sign(netep.new_secret_key(), m.moved_statement(arena.vault_id, me, fresh)))
    hijack = m.IdMoved(arena.vault_id, other, netep.sign(arena.hostile.key, m.moved_statement(arena.vault_id, me, other)))

    async def script(w: Wire) -> list[m.Message]:
        await w.send(arena.hello())
        await w.expect(m.DocVersions)
        await w.send(forged, hijack)
        await w.barrier()  # both were processed; neither was answered
        return w.got

    since = arena.mark()
    got = arena.hostile.session(script)
    assert not [x for x in got if isinstance(x, (m.IdMovedOk, m.Refused))], got
    arena.wait_log(f"device {arena.hostile.id[:10]} announced a move that does not check out: ignored", since=since)
    arena.wait_log("another device of this vault: ignored", since=since)
    assert sorted(p["id"] for p in arena.a.status()["peers"]) == before
    arena.assert_alive()


# ---------------------------------------------------------------------- 6. garbage CRDT data
def _real_update(text: str) -> bytes:
    doc = notes.new_note("", secrets.randbits(63))
    notes.set_text(doc, text)
    return notes.updates_since(doc, None)


def _flipped(blob: bytes) -> bytes:
    """A real update with one byte of its body changed (Loro's checksum catches it)."""
    b = bytearray(blob)
    b[-3] ^= 0x5A
    return bytes(b)


GARBAGE = ("random", "empty", "zeros", "truncated", "bit-flipped")


def _garbage(real: bytes) -> dict[str, bytes]:
    return {
        "random": secrets.token_bytes(200),
        "empty": b"",
        "zeros": bytes(64),
        "truncated": real[: len(real) // 2],
        "bit-flipped": _flipped(real),
    }


def test_garbage_index_updates_are_refused(arena: Arena) -> None:
    a, b = arena.a, arena.b
    before_a, before_b = tree(a.root), tree(b.root)
    in_index = a.status()["files"]["in_index"]
    closes: dict[str, str | None] = {}

    async def script(w: Wire, case: str) -> str | None:
        await w.send(arena.hello(version=3))  # a version-3 peer: INDEX_UPDATES, never INDEX_SNAPSHOT
        index = VaultIndex.empty(secrets.randbits(63))
        index.apply((await w.expect(m.IndexUpdates)).blob)  # type: ignore[union-attr]
        daemon_vv = index.vv()
        index.put(secrets.token_hex(16), "planted-by-garbage.md")
        real = index.updates_since(daemon_vv)
        assert real
        await w.send(m.IndexUpdates(_garbage(real)[case]))
        return await w.closed()

    for case in GARBAGE:
        since = arena.mark()
        closes[case] = arena.hostile.session(lambda w, case=case: script(w, case))
        arena.wait_log(f"an update from {arena.hostile.id[:10]}: import index update: ", since=since)
    assert all(c is not None for c in closes.values()), closes
    arena.assert_alive()
    assert a.status()["files"]["in_index"] == in_index
    assert tree(a.root) == before_a and tree(b.root) == before_b


def test_a_version_4_peer_with_no_index_gets_the_index_as_saved(arena: Arena) -> None:
    """INDEX_SNAPSHOT from a real daemon (once its index is saved whole: after a restart, or
    INDEX_UPDATES as before): its rows are the entries of the snapshot it carries."""

    async def script(w: Wire) -> m.Message:
        await w.send(arena.hello())
        return await w.expect((m.IndexSnapshot, m.IndexUpdates))

    got = arena.hostile.session(script)
    if isinstance(got, m.IndexSnapshot):
        decoded = VaultIndex.load(unpack_snapshot(got.snapshot), 1)
        sent = {e.file_id: e for e in map(row_entry, iter_rows(unpack_rows(got.rows, 2**26)))}
        assert sent == decoded.entries() and got.size == len(unpack_snapshot(got.snapshot))
        assert same_version(got.vv, decoded.vv())
    else:
        assert isinstance(got, m.IndexUpdates) and got.blob
    arena.assert_alive()


def test_garbage_note_updates_are_refused(arena: Arena) -> None:
    a, b = arena.a, arena.b
    before_a, before_b = tree(a.root), tree(b.root)
    note_id = bytes(16)
    new_id = secrets.token_bytes(16)

    async def script(w: Wire) -> None:
        nonlocal note_id
        await w.send(arena.hello(version=3))  # (a version-4 peer with no index gets INDEX_SNAPSHOT)
        index = VaultIndex.empty(secrets.randbits(63))
        index.apply((await w.expect(m.IndexUpdates)).blob)  # type: ignore[union-attr]
        note_id = bytes.fromhex(next(fid for fid, e in index.entries().items() if e.path == NOTE))
        # garbage version vectors: the daemon skips that note and carries on
        await w.send(m.DocVersions(bytes(range(256)), ((note_id, b"not a version vector"),)))
        while not isinstance(msg := await w.expect((m.DocBatch, m.Done)), m.Done):
            await w.send(m.BatchAck(msg.seq))  # type: ignore[union-attr]
        garbage = _garbage(_real_update("tampered by a hostile peer\n"))
        entries = [(note_id, blob) for blob in garbage.values()] + [(new_id, blob) for blob in garbage.values()]
        await w.send(m.DocUpdates(tuple(entries)), m.DocBatch(1, tuple(entries)))
        await w.expect(m.BatchAck)
        await w.barrier()

    arena.hostile.session(script)
    arena.wait_log(
        f"peer sent a bad version for note {note_id.hex()}",
        f"refused an update for note {note_id.hex()}",
        f"refused an update for note {new_id.hex()}",
    )
    arena.assert_alive()
    assert tree(a.root) == before_a and tree(b.root) == before_b
    assert a.read(NOTE) == NOTE_TEXT and b.read(NOTE) == NOTE_TEXT


def test_hello_with_garbage_index_version_is_closed(arena: Arena) -> None:
    async def script(w: Wire) -> str | None:
        await w.send(arena.hello(index_vv=b"\xff" * 40))
        return await w.closed()

    since = arena.mark()
    closed = arena.hostile.session(script)
    assert closed is not None, "the daemon kept the connection open"
    arena.wait_log("decode index version", since=since)
    arena.assert_alive()


# ---------------------------------------------------------------------- 7. unsafe paths
PLANTED: dict[str, str] = {}  # every path a hostile peer sent, as sent


def _plant(
    peer: HostilePeer, vault_id: bytes, paths: dict[str, str], blobs: Sequence[str] = (), moves: dict[str, str] | None = None
) -> None:
    """Send a real index update naming `paths` (path -> note text, each under a fresh file id),
    binary entries at `blobs` (their content never comes), and renames `moves` (existing path
    -> new path), with the notes' content as real Loro snapshots."""
    PLANTED.update({**paths, **dict.fromkeys(blobs, ""), **dict.fromkeys((moves or {}).values(), "")})

    async def script(w: Wire) -> None:
        await w.send(hello(vault_id, version=3))  # (a version-4 peer with no index gets INDEX_SNAPSHOT)
        author = secrets.randbits(63)
        index = VaultIndex.empty(author)
        index.apply((await w.expect(m.IndexUpdates)).blob)  # type: ignore[union-attr]
        daemon_vv = index.vv()
        docs = []
        for path, text in paths.items():
            raw = secrets.token_bytes(16)
            index.put(raw.hex(), path)
            docs.append((raw, notes.snapshot(notes.new_note(text, author))))
        for path in blobs:
            index.put_blob(secrets.token_hex(16), path, "ab" * 32, 12)
        by_path = {e.path: fid for fid, e in index.entries().items()}
        for old, new in (moves or {}).items():
            index.set_path(by_path[old], new)
        update = index.updates_since(daemon_vv)
        assert update
        await w.send(m.IndexUpdates(update), m.DocUpdates(tuple(docs)))
        await w.barrier()

    peer.session(script)


def _not_synced(dev: Device) -> dict[str, str]:
    """Keyed by the path as the peer sent it (status shows control characters escaped)."""
    listed = {x["path"]: x["reason"] for x in dev.status()["not_synced"]}
    return {raw: reason for raw in PLANTED if (reason := listed.get(printable_path(raw))) is not None} | listed


HOSTILE_PATHS = [
    "../x.md",
    "/etc/passwd",
    "a/../../x.md",
    ".peervault/state.db",
    ".peervault/config.toml",
    "tab\there.md",
    "bell\x07.md",
    "del\x7f.md",
    ".git/hooks/post-commit",
    "sub/.git/hooks/post-merge",
    "./dot.md",
    "a//b.md",
    "back\\slash.md",
]
THROUGH_LINKS = ["link/evil.md", "dangling/evil.md", "dangling/deeper/evil.md", "linked.md"]


def test_unsafe_paths_are_refused_and_nothing_outside_is_touched(arena: Arena) -> None:
    a, b, tmp, outside = arena.a, arena.b, arena.tmp, arena.outside
    absolute = str(outside / "absolute.md")
    blobs = ["../escape.bin", str(outside / "escape.bin")]
    refused = [*HOSTILE_PATHS, absolute, *blobs]
    marker = "planted by a hostile peer"
    before_top = sorted(p.name for p in tmp.iterdir())
    before_outside, before_a = tree(outside), tree(a.root)
    passwd = Path("/etc/passwd").read_bytes() if Path("/etc/passwd").exists() else None

    _plant(
        arena.hostile, arena.vault_id, {p: f"{marker}: {p!r}\n" for p in [*HOSTILE_PATHS, absolute, *THROUGH_LINKS]}, blobs=blobs
    )

    # A logs every one of them, with the reason
    arena.wait_log(*(f"not writing {p} from a peer" for p in refused))
    arena.wait_log(
        "could not write link/evil.md: 'link/evil.md' would be written through a link leaving the vault",
        "could not write linked.md: 'linked.md' is a symbolic link",
        "could not write dangling/evil.md: ",
        "could not write dangling/deeper/evil.md: ",
    )
    # nothing outside the vaults, nothing new in A's vault (the one with the links)
    assert sorted(p.name for p in tmp.iterdir()) == before_top
    assert tree(outside) == before_outside
    assert not (outside / "not-yet").exists() and not (outside / "evil.md").exists()
    assert tree(a.root) == before_a
    if passwd is not None:
        assert Path("/etc/passwd").read_bytes() == passwd
    # B got the entries forwarded and refuses the same paths; it has no links, so there the
    # link paths are ordinary folders inside its vault
    arena.wait_log(*(f"not writing {p} from a peer" for p in refused), dev=b)
    wait_until(lambda: b.read("link/evil.md") is not None, what="B to write link/evil.md inside its vault")
    assert sorted(p.name for p in tmp.iterdir()) == before_top
    for dev in (a, b):
        assert (dev.root / ".peervault" / "state.db").read_bytes()[:16] == SQLITE_MAGIC
        assert not (dev.root / ".git" / "hooks" / "post-commit").exists()
        assert not (dev.root / "sub").exists()
        leaked = [
            p
            for p, data in tree(dev.root / ".peervault", skip=()).items()
            if not p.startswith("state.db") and marker.encode() in data
        ]
        assert not leaked, leaked
    arena.assert_alive()


def test_refused_paths_stay_listed_after_a_local_change(arena: Arena) -> None:
    a, b = arena.a, arena.b
    paths = ["../listed.md", "tab\tlisted.md"]
    _plant(arena.hostile, arena.vault_id, {p: "refused\n" for p in paths})
    wait_until(lambda: set(paths) <= set(_not_synced(a)), what="A to list the refused paths", timeout=10)
    a.write("local-change.md", "an ordinary local change\n")
    wait_until(lambda: b.read("local-change.md") is not None, what="the local change to reach B")
    assert set(paths) <= set(_not_synced(a))


def test_rename_out_of_the_vault_is_refused(arena: Arena) -> None:
    """A peer moving an existing note to an unsafe path: the move is refused (logged, nothing
    written outside). The file leaves this vault folder, as it would for any path this device
    cannot hold (a name Windows refuses, say); the note itself stays in the index."""
    tmp = arena.tmp
    before_top = sorted(p.name for p in tmp.iterdir())
    _plant(arena.hostile, arena.vault_id, {}, moves={"rename-me.md": "../renamed.md"})
    arena.wait_log("not writing ../renamed.md from a peer")
    assert not (tmp / "renamed.md").exists()
    assert sorted(p.name for p in tmp.iterdir()) == before_top
    arena.assert_alive()


# ---------------------------------------------------------------------- 8. unpaired: the pairing deadline
async def _until_closed(w: Wire, each_second: Callable[[], Awaitable[None]]) -> tuple[float | None, str | None, list[m.Message]]:
    """Call `each_second` once a second for up to 8 s (past the deadline) until the daemon
    closes the connection: how long that took, why, and everything it sent."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for _ in range(8):
        with contextlib.suppress(Exception):  # writing to a connection the daemon already closed
            await each_second()
        if (closed := await w.closed(1.0)) is not None:
            return loop.time() - t0, closed, list(w.got)
    return None, None, list(w.got)


def test_unpaired_pinger_gets_no_pong_and_is_closed(arena: Arena) -> None:
    stranger = HostilePeer(arena.a, arena.hostile.device_id)

    async def script(w: Wire) -> tuple[float | None, str | None, list[m.Message]]:
        return await _until_closed(w, lambda: w.send(m.Ping()))

    since = arena.mark()
    elapsed, closed, got = stranger.session(script)
    assert elapsed is not None and closed is not None, f"8 s of PINGs kept an unpaired connection open: got {got}"
    assert elapsed <= PAIR_DEADLINE + 1.5, f"closed only after {elapsed:.1f} s"
    assert not any(isinstance(x, m.Pong) for x in got), got
    assert got and all(isinstance(x, m.Refused) and x.code == 403 for x in got), got
    assert "403" in closed, closed
    arena.wait_log(
        f"unknown device {stranger.id[:10]} connected",
        f"disconnected from {stranger.id[:10]}: unknown device: pair with a ticket first",
        since=since,
    )
    arena.assert_alive()


def test_unpaired_connection_is_closed_at_the_deadline_whatever_it_sends(arena: Arena) -> None:
    """A frame that never completes, a byte a second: no message ever reaches the session,
    and the connection is still closed when the pairing deadline passes."""
    stranger = HostilePeer(arena.a, arena.hostile.device_id)

    async def script(w: Wire) -> tuple[float | None, str | None, list[m.Message]]:
        await w.raw(struct.pack(">IB", 1000, 0))
        return await _until_closed(w, lambda: w.raw(b"x"))

    elapsed, closed, got = stranger.session(script)
    assert elapsed is not None and closed is not None, "a trickling stranger kept its connection past the deadline"
    assert PAIR_DEADLINE - 1.0 <= elapsed <= PAIR_DEADLINE + 1.5, f"closed after {elapsed:.1f} s"
    reason = f"unknown device: did not pair within {PAIR_DEADLINE:.0f} s"
    assert got == [m.Refused(403, reason)], got
    assert "403" in closed and reason in closed, closed
    arena.assert_alive()


def test_connection_that_opens_no_stream_is_closed_at_the_deadline(arena: Arena) -> None:
    stranger = HostilePeer(arena.a, arena.hostile.device_id)

    async def script(w: Wire) -> tuple[float | None, str | None, list[m.Message]]:
        return await _until_closed(w, lambda: asyncio.sleep(0))  # the stream is never written to

    since = arena.mark()
    elapsed, closed, got = stranger.session(script)
    assert elapsed is not None and closed is not None, "a silent connection was left open"
    assert elapsed <= PAIR_DEADLINE + 1.5, f"closed after {elapsed:.1f} s"
    assert got == [] and "408" in closed, (got, closed)
    arena.wait_log("incoming connection failed", since=since)
    arena.assert_alive()


def test_stranger_cannot_tell_a_device_it_was_removed(arena: Arena) -> None:
    """Only a device of the vault may say this one was removed (REFUSED 410)."""
    stranger = HostilePeer(arena.a, arena.hostile.device_id)

    async def script(w: Wire) -> str | None:
        await w.send(m.Refused(410, "this device was removed from the vault"))
        return await w.closed()

    since = arena.mark()
    assert stranger.session(script) is not None
    arena.wait_log(f"disconnected from {stranger.id[:10]}", since=since)
    assert arena.a.status()["removed"] is None
    assert "WARNING" not in arena.log()[since:]
    arena.assert_alive()


# ---------------------------------------------------------------------- 9. after all that
def test_daemon_survives_and_keeps_syncing_both_ways(arena: Arena) -> None:
    a, b = arena.a, arena.b
    arena.assert_alive()
    wait_until(lambda: b.runtime() and a.connected() >= 1 and b.connected() >= 1, what="A and B connected")
    a.write("after-attacks.md", "A still syncs\n")
    wait_until(lambda: b.read("after-attacks.md") == "A still syncs\n", what="A's edit on B")
    b.write(NOTE, NOTE_TEXT + "B still syncs\n")
    wait_until(lambda: a.read(NOTE) == NOTE_TEXT + "B still syncs\n", what="B's edit on A")
    b.write("from-b.md", "new on B\n")
    wait_until(lambda: a.read("from-b.md") == "new on B\n", what="B's new note on A")
    arena.assert_alive()
    st = a.status()
    assert st["daemon"]["running"]
    assert any(p["id"] != arena.hostile.id and p["connected"] for p in st["peers"])


# ---------------------------------------------------------------------- on fresh daemons
def _trio(make_device: Callable[[str], Device]) -> tuple[Device, Device, HostilePeer, bytes]:
    """A (running, with one note), a real peer B, and a hostile client paired with A."""
    a, b = make_device("A"), make_device("B")
    a.write(NOTE, NOTE_TEXT)
    a.start()
    pair_running(a, b)
    wait_until(lambda: b.read(NOTE) == NOTE_TEXT, what="B has A's note")
    st = a.status()
    peer = HostilePeer(a, st["device_id"])
    peer.pair(a.invite("--no-wait"))
    return a, b, peer, bytes.fromhex(st["vault_id"])


UNSTATTABLE = {
    "nul": "a\x00b.md",  # os.stat raises ValueError (embedded null byte)
    "long-name": "x" * 300 + ".md",  # ENAMETOOLONG: a name above 255 bytes
    "too-deep": "d/" * 2040 + "x.md",  # a valid path that the OS cannot hold under the vault root
}


def test_refused_path_the_os_cannot_stat_does_not_stop_local_sync(make_device: Callable[[str], Device]) -> None:
    a, b, peer, vault_id = _trio(make_device)
    for name, path in UNSTATTABLE.items():
        _plant(peer, vault_id, {path: f"planted: {name}\n"})
        wait_until(lambda path=path: path in _not_synced(a), what=f"A to list the {name} path as not synced")
        rel, text = f"after-{name}.md", f"A still records local edits after {name}\n"
        a.write(rel, text)
        wait_until(
            lambda rel=rel, text=text: b.read(rel) == text or "could not record local changes" in device_log(a),
            what=f"A's edit after {name} to reach B, or A to fail",
        )
        assert a.proc is not None and a.proc.poll() is None
        assert b.read(rel) == text, f"after a peer planted the {name} path, A stopped recording local changes"


def test_valid_then_garbage_update_for_one_note_keeps_it_editable(make_device: Callable[[str], Device]) -> None:
    a, b, peer, vault_id = _trio(make_device)
    hostile_line = "a line from the hostile peer\n"

    async def script(w: Wire) -> None:
        await w.send(hello(vault_id, version=3))  # (a version-4 peer with no index gets INDEX_SNAPSHOT)
        index = VaultIndex.empty(secrets.randbits(63))
        index.apply((await w.expect(m.IndexUpdates)).blob)  # type: ignore[union-attr]
        note_id = bytes.fromhex(next(fid for fid, e in index.entries().items() if e.path == NOTE))
        await w.send(m.DocVersions(bytes(range(256)), ()))  # "I have nothing": the daemon sends snapshots
        snapshots: dict[bytes, bytes] = {}
        while not isinstance(msg := await w.expect((m.DocBatch, m.Done)), m.Done):
            snapshots.update(msg.entries)  # type: ignore[union-attr]
            await w.send(m.BatchAck(msg.seq))  # type: ignore[union-attr]
        doc = notes.load_note(snapshots[note_id], secrets.randbits(63))
        before = notes.vv_bytes(doc)
        notes.set_text(doc, NOTE_TEXT + hostile_line)
        update = notes.updates_since(doc, before)
        await w.send(m.DocUpdates(((note_id, update), (note_id, b"garbage"))))
        await w.barrier()

    peer.session(script)
    # the valid update is applied, the garbage refused
    wait_until(lambda: a.read(NOTE) == NOTE_TEXT + hostile_line, what="A to show the valid update")
    wait_until(lambda: b.read(NOTE) == NOTE_TEXT + hostile_line, what="B to show the valid update")
    assert "refused an update for note" in device_log(a)
    # and the note is still a working note, both ways and after a restart
    for step, (dev, other) in enumerate([(a, b), (b, a)]):
        text = (dev.read(NOTE) or "") + f"edit {step} on {dev.root.name}\n"
        dev.write(NOTE, text)
        wait_until(
            lambda other=other, dev=dev, text=text: (
                other.read(NOTE) == text or "could not record local changes" in device_log(dev)
            ),
            what=f"{dev.root.name}'s edit to reach {other.root.name}, or {dev.root.name} to fail",
        )
        assert other.read(NOTE) == text, f"{dev.root.name} no longer records edits of {NOTE}: {device_log(dev)[-2000:]}"
    a.stop()
    a.start()
    wait_until(lambda: a.connected() >= 1, what="A back and connected")
    text = (a.read(NOTE) or "") + "edit after restart\n"
    a.write(NOTE, text)
    wait_until(lambda: b.read(NOTE) == text, what="A's edit after a restart to reach B")
