"""A user-space UDP proxy that adds delay, loss and cuts, because this kernel has no `tc netem`.

Each client source address gets its own connected upstream socket to the target, so
replies find their way back to the right client. Every direction ("up" = client to
target, "down" = target to client) has a fixed delay, a loss probability drawn from a
seeded RNG (reproducible runs) and a `cut` switch for partitions. Delayed packets wait
in one FIFO per direction, so a delay change never reorders them.

Run as `python -m peervault.bench.udpproxy --listen H:P --to H:P --delay-ms 50
[--loss P] [--seed N] [--control PATH]`. It prints `ready` once listening and exits 0
on SIGTERM. The control path is a UNIX socket taking one command per line, each
answered by one JSON line (the counters after the command, or {"error": ...}):
`stats`, `cut on|off [DIR]`, `delay MS [DIR]`, `loss P [DIR]`; DIR is up, down or both.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import socket
from collections import deque
from pathlib import Path
from typing import Any

Addr = tuple[str, int]
DIRECTIONS = ("up", "down")
_BATCH = 256  # datagrams read per wake-up, so a flood cannot starve the timers


def parse_addr(text: str) -> Addr:
    """'host:port' or '[v6]:port' to a tuple."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def _resolve(addr: Addr) -> tuple[socket.AddressFamily, Any]:
    family, _, _, _, sockaddr = socket.getaddrinfo(addr[0], addr[1], type=socket.SOCK_DGRAM)[0]
    return family, sockaddr


class Link:
    """One direction: its impairments, its counters and the FIFO of packets still in flight."""

    def __init__(self, delay_ms: float, loss: float, rng: random.Random) -> None:
        self.delay_ms = delay_ms
        self.loss = loss
        self.cut = False
        self.forwarded_packets = self.forwarded_bytes = 0
        self.dropped_packets = self.dropped_bytes = 0
        self._rng = rng
        self._queue: deque[tuple[float, bytes, socket.socket, Any]] = deque()
        self._last_due = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def submit(self, data: bytes, sock: socket.socket, dest: Any) -> None:
        """Drop the packet now (cut, loss) or queue it for sending after the delay."""
        if self.cut or self._rng.random() < self.loss:
            self._drop(data)
            return
        loop = asyncio.get_running_loop()
        # never earlier than the packet ahead: a shortened delay must not reorder
        due = self._last_due = max(loop.time() + self.delay_ms / 1000, self._last_due)
        self._queue.append((due, data, sock, dest))
        if self._timer is None:
            self._timer = loop.call_at(due, self._flush)

    def _flush(self) -> None:
        self._timer = None
        now = asyncio.get_running_loop().time()
        while self._queue and self._queue[0][0] <= now:
            _, data, sock, dest = self._queue.popleft()
            self._send(data, sock, dest)
        if self._queue:
            self._timer = asyncio.get_running_loop().call_at(self._queue[0][0], self._flush)

    def _send(self, data: bytes, sock: socket.socket, dest: Any) -> None:
        if self.cut:  # a partition also swallows what was already in flight
            self._drop(data)
            return
        try:
            if dest is None:
                sock.send(data)
            else:
                sock.sendto(data, dest)
        except OSError:  # full buffer, ICMP refusal, unreachable: the network lost it
            self._drop(data)
            return
        self.forwarded_packets += 1
        self.forwarded_bytes += len(data)

    def _drop(self, data: bytes) -> None:
        self.dropped_packets += 1
        self.dropped_bytes += len(data)

    def stats(self) -> dict[str, Any]:
        return {
            "delay_ms": self.delay_ms,
            "loss": self.loss,
            "cut": self.cut,
            "forwarded_packets": self.forwarded_packets,
            "forwarded_bytes": self.forwarded_bytes,
            "dropped_packets": self.dropped_packets,
            "dropped_bytes": self.dropped_bytes,
        }

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._queue.clear()


class UdpProxy:
    """Forwards datagrams between clients of `listen` and `target`; start() inside a running loop."""

    def __init__(self, listen: Addr, target: Addr, *, delay_ms: float = 0.0, loss: float = 0.0, seed: int = 0) -> None:
        self.listen = listen
        self.target = target
        # one RNG per direction: the drops in one direction do not depend on traffic in the other
        self.up = Link(delay_ms, loss, random.Random(f"{seed}/up"))
        self.down = Link(delay_ms, loss, random.Random(f"{seed}/down"))
        self._sock: socket.socket | None = None
        self._target: tuple[socket.AddressFamily, Any] | None = None
        self._upstream: dict[Any, socket.socket] = {}

    def start(self) -> Addr:
        """Bind and start forwarding; returns the bound address (useful with port 0)."""
        self._target = _resolve(self.target)
        family, sockaddr = _resolve(self.listen)
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._sock.bind(sockaddr)
        asyncio.get_running_loop().add_reader(self._sock, self._on_client_data)
        host, port = self._sock.getsockname()[:2]
        return host, port

    def close(self) -> None:
        loop = asyncio.get_running_loop()
        for link in (self.up, self.down):
            link.close()
        for sock in [*self._upstream.values(), *([self._sock] if self._sock else [])]:
            loop.remove_reader(sock)
            sock.close()
        self._upstream.clear()
        self._sock = None

    def configure(
        self, direction: str = "both", *, delay_ms: float | None = None, loss: float | None = None, cut: bool | None = None
    ) -> None:
        if delay_ms is not None and delay_ms < 0:
            raise ValueError("delay must be >= 0")
        if loss is not None and not 0.0 <= loss <= 1.0:
            raise ValueError("loss must be within [0, 1]")
        for link in self._links(direction):
            if delay_ms is not None:
                link.delay_ms = delay_ms
            if loss is not None:
                link.loss = loss
            if cut is not None:
                link.cut = cut

    def stats(self) -> dict[str, Any]:
        return {"up": self.up.stats(), "down": self.down.stats(), "clients": len(self._upstream)}

    def command(self, line: str) -> dict[str, Any]:
        """Apply one control-protocol line; returns the counters afterwards or an error."""
        words = line.split()
        try:
            match words:
                case ["stats"]:
                    pass
                case ["cut", ("on" | "off") as state, *rest] if len(rest) <= 1:
                    self.configure(*rest, cut=state == "on")
                case ["delay", ms, *rest] if len(rest) <= 1:
                    self.configure(*rest, delay_ms=float(ms))
                case ["loss", p, *rest] if len(rest) <= 1:
                    self.configure(*rest, loss=float(p))
                case _:
                    raise ValueError(f"unknown command {line.strip()!r}")
        except ValueError as exc:
            return {"error": str(exc)}
        return self.stats()

    def _links(self, direction: str) -> tuple[Link, ...]:
        match direction:
            case "up":
                return (self.up,)
            case "down":
                return (self.down,)
            case "both":
                return (self.up, self.down)
        raise ValueError(f"direction must be up, down or both, not {direction!r}")

    def _on_client_data(self) -> None:
        assert self._sock is not None
        for _ in range(_BATCH):
            try:
                data, client = self._sock.recvfrom(65535)
            except BlockingIOError:
                return
            except OSError:
                continue
            self.up.submit(data, self._upstream_for(client), None)

    def _upstream_for(self, client: Any) -> socket.socket:
        sock = self._upstream.get(client)
        if sock is None:
            assert self._target is not None
            family, sockaddr = self._target
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.setblocking(False)
            sock.connect(sockaddr)  # only the target's replies reach this socket
            asyncio.get_running_loop().add_reader(sock, self._on_target_data, sock, client)
            self._upstream[client] = sock
        return sock

    def _on_target_data(self, sock: socket.socket, client: Any) -> None:
        assert self._sock is not None
        for _ in range(_BATCH):
            try:
                data = sock.recv(65535)
            except BlockingIOError:
                return
            except OSError:  # ICMP port unreachable reported on the connected socket
                continue
            self.down.submit(data, self._sock, client)


async def serve_control(proxy: UdpProxy, path: str) -> asyncio.AbstractServer:
    """Line protocol on a UNIX socket: pathname sockets work across network namespaces."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.closing(writer):
            while line := await reader.readline():
                writer.write(json.dumps(proxy.command(line.decode())).encode() + b"\n")
                await writer.drain()

    return await asyncio.start_unix_server(handle, path)


async def run(args: argparse.Namespace) -> None:
    proxy = UdpProxy(args.listen, args.to, delay_ms=args.delay_ms, loss=args.loss, seed=args.seed)
    proxy.start()
    server = await serve_control(proxy, args.control) if args.control else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    try:
        await stop.wait()
    finally:
        if server is not None:
            server.close()
        proxy.close()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m peervault.bench.udpproxy", description="UDP proxy with delay, loss and cuts")
    ap.add_argument("--listen", type=parse_addr, required=True, help="HOST:PORT clients send to")
    ap.add_argument("--to", type=parse_addr, required=True, help="HOST:PORT to forward to")
    ap.add_argument("--delay-ms", type=float, default=0.0, help="added delay in each direction")
    ap.add_argument("--loss", type=float, default=0.0, help="drop probability in each direction")
    ap.add_argument("--seed", type=int, default=0, help="seed for the loss RNG")
    ap.add_argument("--control", help="UNIX socket path for runtime commands")
    args = ap.parse_args(argv)
    if not 0.0 <= args.loss <= 1.0 or args.delay_ms < 0:
        ap.error("need --delay-ms >= 0 and 0 <= --loss <= 1")
    try:
        asyncio.run(run(args))
    finally:
        if args.control:  # asyncio before 3.13 leaves the socket file behind
            Path(args.control).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
