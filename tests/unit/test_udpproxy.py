"""The WAN proxy in process on loopback: an echo server behind it, clients in front."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import cast

from peervault.bench.udpproxy import UdpProxy, parse_addr, serve_control

LOCAL = ("127.0.0.1", 0)


class Peer(asyncio.DatagramProtocol):
    """A UDP socket that queues what it receives with the arrival time; `echo` sends each datagram back."""

    def __init__(self, echo: bool = False) -> None:
        self.echo = echo
        self.got: asyncio.Queue[tuple[bytes, float]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # the selector transport is not a subclass

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.got.put_nowait((data, time.monotonic()))
        if self.echo:
            assert self.transport is not None
            self.transport.sendto(data, addr)

    @property
    def addr(self) -> tuple[str, int]:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return host, port

    def send(self, data: bytes, to: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(data, to)

    async def recv(self, timeout: float = 2.0) -> tuple[bytes, float]:
        return await asyncio.wait_for(self.got.get(), timeout)

    async def silent(self, period: float = 0.2) -> bool:
        await asyncio.sleep(period)
        return self.got.empty()


class Rig:
    """A started proxy in front of an echo server; clients are closed with the rig."""

    def __init__(self, proxy: UdpProxy, echo: Peer) -> None:
        self.proxy = proxy
        self.echo = echo
        self.address = proxy.start()
        self.transports: list[asyncio.BaseTransport] = []

    async def client(self) -> Peer:
        transport, peer = await asyncio.get_running_loop().create_datagram_endpoint(Peer, local_addr=LOCAL)
        self.transports.append(transport)
        return peer


@asynccontextmanager
async def rig(delay_ms: float = 0.0, loss: float = 0.0, seed: int = 0) -> AsyncIterator[Rig]:
    echo_t, echo = await asyncio.get_running_loop().create_datagram_endpoint(lambda: Peer(echo=True), local_addr=LOCAL)
    r = Rig(UdpProxy(LOCAL, echo.addr, delay_ms=delay_ms, loss=loss, seed=seed), echo)
    try:
        yield r
    finally:
        r.proxy.close()
        for t in [echo_t, *r.transports]:
            t.close()


async def wait_for(cond: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out waiting for the proxy"
        await asyncio.sleep(0.01)


def test_parse_addr() -> None:
    assert parse_addr("10.99.1.1:4000") == ("10.99.1.1", 4000)
    assert parse_addr("[::1]:53") == ("::1", 53)


async def test_forwards_both_ways_and_counts() -> None:
    async with rig() as r:
        c = await r.client()
        for i in range(5):
            c.send(b"ping%d" % i, r.address)
            assert (await c.recv())[0] == b"ping%d" % i
        s = r.proxy.stats()
        for way in ("up", "down"):
            assert s[way]["forwarded_packets"] == 5
            assert s[way]["forwarded_bytes"] == 25
            assert s[way]["dropped_packets"] == 0
        assert s["clients"] == 1


async def test_replies_reach_the_right_client() -> None:
    async with rig(delay_ms=5) as r:
        c1, c2 = await r.client(), await r.client()
        for i in range(3):
            c1.send(b"one%d" % i, r.address)
            c2.send(b"two%d" % i, r.address)
        assert [(await c1.recv())[0] for _ in range(3)] == [b"one0", b"one1", b"one2"]
        assert [(await c2.recv())[0] for _ in range(3)] == [b"two0", b"two1", b"two2"]
        assert await c1.silent(0.05) and await c2.silent(0.0)
        assert r.proxy.stats()["clients"] == 2


async def test_total_loss_drops_everything() -> None:
    async with rig(loss=1.0) as r:
        c = await r.client()
        for _ in range(20):
            c.send(b"x" * 10, r.address)
        await wait_for(lambda: r.proxy.up.dropped_packets == 20)
        assert await c.silent() and r.echo.got.empty()
        assert r.proxy.up.dropped_bytes == 200
        assert r.proxy.up.forwarded_packets == 0


async def _drops_with_seed(seed: int, n: int = 200) -> tuple[int, int]:
    async with rig(loss=0.3, seed=seed) as r:
        c = await r.client()
        for i in range(n):
            c.send(b"%d" % i, r.address)
            await asyncio.sleep(0)  # keep the socket buffers from overflowing
        up, down = r.proxy.up, r.proxy.down
        await wait_for(lambda: up.forwarded_packets + up.dropped_packets == n)
        await wait_for(lambda: down.forwarded_packets + down.dropped_packets == up.forwarded_packets)
        return up.dropped_packets, down.dropped_packets


async def test_seeded_loss_is_reproducible() -> None:
    first = await _drops_with_seed(7)
    assert first == await _drops_with_seed(7)
    assert 30 <= first[0] <= 90  # about 30 % of 200


async def test_cut_and_uncut() -> None:
    async with rig() as r:
        c = await r.client()
        r.proxy.configure(cut=True)
        c.send(b"lost", r.address)
        assert await c.silent() and r.echo.got.empty()
        assert r.proxy.up.dropped_packets == 1
        r.proxy.configure(cut=False)
        c.send(b"back", r.address)
        assert (await c.recv())[0] == b"back"


async def test_cut_one_direction() -> None:
    async with rig() as r:
        c = await r.client()
        r.proxy.configure("down", cut=True)
        c.send(b"half", r.address)
        assert (await r.echo.recv())[0] == b"half"
        assert await c.silent()
        assert (r.proxy.up.forwarded_packets, r.proxy.down.dropped_packets) == (1, 1)


async def test_cut_swallows_packets_in_flight() -> None:
    async with rig(delay_ms=200) as r:
        c = await r.client()
        c.send(b"in flight", r.address)
        await wait_for(lambda: r.proxy.stats()["clients"] == 1)
        r.proxy.configure(cut=True)
        assert await r.echo.silent(0.4)
        assert r.proxy.up.dropped_packets == 1


async def test_delay_is_a_lower_bound() -> None:
    async with rig(delay_ms=100) as r:
        c = await r.client()
        sent = time.monotonic()
        c.send(b"slow", r.address)
        _, at_echo = await r.echo.recv()
        _, back = await c.recv()
        assert at_echo - sent >= 0.099
        assert back - sent >= 0.199


async def test_shorter_delay_does_not_reorder() -> None:
    async with rig(delay_ms=150) as r:
        c = await r.client()
        c.send(b"first", r.address)
        await wait_for(lambda: r.proxy.stats()["clients"] == 1)
        r.proxy.configure("up", delay_ms=0)
        c.send(b"second", r.address)
        assert [(await r.echo.recv())[0] for _ in range(2)] == [b"first", b"second"]


async def test_control_socket(tmp_path: Path) -> None:
    async with rig() as r:
        server = await serve_control(r.proxy, str(tmp_path / "ctl"))
        reader, writer = await asyncio.open_unix_connection(str(tmp_path / "ctl"))
        try:
            replies = []
            for line in ("cut on up", "delay 25 down", "loss 0.5", "stats", "loss 2", "cut maybe", "delay 5 sideways"):
                writer.write(line.encode() + b"\n")
                replies.append(json.loads(await asyncio.wait_for(reader.readline(), 2)))
        finally:
            writer.close()
            server.close()
        stats = replies[3]
        assert stats["up"]["cut"] is True and stats["down"]["cut"] is False
        assert (stats["up"]["delay_ms"], stats["down"]["delay_ms"]) == (0.0, 25.0)
        assert stats["up"]["loss"] == stats["down"]["loss"] == 0.5
        assert all("error" in reply for reply in replies[4:])
        assert r.proxy.up.loss == 0.5  # the failed commands changed nothing


def test_command_line_ready_and_sigterm(tmp_path: Path) -> None:
    ctl = tmp_path / "ctl"
    argv = [sys.executable, "-m", "peervault.bench.udpproxy", "--listen", "127.0.0.1:0", "--to", "127.0.0.1:9"]
    proc = subprocess.Popen([*argv, "--delay-ms", "50", "--control", str(ctl)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        assert ctl.is_socket()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
        assert not ctl.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
