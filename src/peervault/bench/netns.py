"""Three network namespaces A — P — B where the UDP proxy in P is the only route from A to B.

Why this shape: the kernel has no `tc netem`, and iroh switches to a better direct path
on its own (TECHNOTES 2.11), so a delaying proxy only works if no direct path exists.
A and B sit on separate veth links to P, P does not forward, and nobody has a default
route: A reaches only P's A-side address, B only P's B-side address.

iroh through the proxy needs nothing special beyond addressing: bind B on a fixed
`b_ip:PORT` (the proxy must know the port), start the proxy to that port, and dial from
A with B's endpoint id and the proxy address as the only direct address, e.g.
`endpoint.connect(ep, b_id, [handle.address], timeout)`; a no-relay endpoint has no
discovery, so that address is all it gets. Measured with 50 ms each way: connect 105 ms,
1 KiB request/response median 103-104 ms, `conn.paths()` shows only the proxy path.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import json
import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

ROLES = ("a", "p", "b")
_counter = itertools.count()


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=10)


def available() -> tuple[bool, str]:
    """Whether namespaces can be made here, and if not why (for pytest.skip)."""
    if os.geteuid() != 0:
        return False, "network namespaces need root"
    if shutil.which("ip") is None:
        return False, "the `ip` command (iproute2) is not installed"
    name = f"pvcheck-{os.getpid()}-{secrets.token_hex(3)}"
    res = _ip("netns", "add", name, check=False)
    if res.returncode != 0:
        return False, f"`ip netns add` failed: {res.stderr.strip()}"
    _ip("netns", "del", name, check=False)
    return True, ""


class ProxyHandle:
    """A running udpproxy inside P, steered through its control socket."""

    def __init__(self, proc: subprocess.Popen[bytes], control: Path, host: str, port: int) -> None:
        self.proc = proc
        self.control = control
        self.host = host  # what A dials
        self.port = port

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def cut(self, direction: str = "both") -> dict[str, Any]:
        return self._call(f"cut on {direction}")

    def uncut(self, direction: str = "both") -> dict[str, Any]:
        return self._call(f"cut off {direction}")

    def set_delay(self, delay_ms: float, direction: str = "both") -> dict[str, Any]:
        return self._call(f"delay {delay_ms} {direction}")

    def set_loss(self, loss: float, direction: str = "both") -> dict[str, Any]:
        return self._call(f"loss {loss} {direction}")

    def counters(self) -> dict[str, Any]:
        """{"up": {...}, "down": {...}, "clients": n}; up is A to B."""
        return self._call("stats")

    def stop(self, timeout: float = 5.0) -> int:
        """SIGTERM, then SIGKILL if it does not exit in time; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def _call(self, line: str) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5.0)
            s.connect(str(self.control))
            s.sendall(line.encode() + b"\n")
            reply = s.makefile("rb").readline()
        result: dict[str, Any] = json.loads(reply)
        if "error" in result:
            raise ValueError(result["error"])
        return result


class Topology:
    """Context manager building A — P — B; everything is torn down on exit, also after errors.

    `ns` arguments are the roles "a", "p" or "b"; `names[role]` is the real namespace name.
    """

    def __init__(self, a_subnet: str = "10.99.1.0/24", b_subnet: str = "10.99.2.0/24") -> None:
        tag = f"pv{os.getpid()}-{next(_counter)}{secrets.token_hex(2)}"  # pid: parallel runs do not clash
        self.names = {role: f"{tag}-{role}" for role in ROLES}
        a_net, b_net = ipaddress.ip_network(a_subnet), ipaddress.ip_network(b_subnet)
        a_hosts, b_hosts = a_net.hosts(), b_net.hosts()
        self.p_a_ip, self.a_ip = str(next(a_hosts)), str(next(a_hosts))
        self.p_b_ip, self.b_ip = str(next(b_hosts)), str(next(b_hosts))
        self._prefix = {"a": a_net.prefixlen, "b": b_net.prefixlen}
        self._procs: list[subprocess.Popen[Any]] = []
        self._tmp: Path | None = None

    def __enter__(self) -> Topology:
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def exec_args(self, ns: str, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.names[ns.lower()], *argv]

    def popen(self, ns: str, argv: list[str], **kw: Any) -> subprocess.Popen[Any]:
        """Start a process inside `ns`; it is killed when the topology closes."""
        proc: subprocess.Popen[Any] = subprocess.Popen(self.exec_args(ns, argv), **kw)
        self._procs.append(proc)
        return proc

    def start_proxy(
        self, listen_port: int, target_port: int, delay_ms: float, loss: float = 0.0, seed: int = 0, timeout: float = 10.0
    ) -> ProxyHandle:
        """Run the proxy in P on p_a_ip:listen_port, forwarding to b_ip:target_port; waits for `ready`."""
        assert self._tmp is not None, "use the Topology as a context manager"
        control = self._tmp / f"proxy-{listen_port}.sock"
        stderr = self._tmp / f"proxy-{listen_port}.err"
        argv = [sys.executable, "-m", "peervault.bench.udpproxy", "--listen", f"{self.p_a_ip}:{listen_port}"]
        argv += ["--to", f"{self.b_ip}:{target_port}", "--delay-ms", str(delay_ms), "--loss", str(loss)]
        argv += ["--seed", str(seed), "--control", str(control)]
        with stderr.open("wb") as err:
            proc = self.popen("p", argv, stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        while proc.poll() is None and time.monotonic() < deadline:
            if select.select([proc.stdout], [], [], 0.1)[0]:
                if proc.stdout.readline().strip() == b"ready":
                    proc.stdout.close()
                    return ProxyHandle(proc, control, self.p_a_ip, listen_port)
                break
        proc.kill()
        proc.wait()
        raise RuntimeError(f"udpproxy did not start (exit {proc.returncode}): {stderr.read_text().strip()}")

    def close(self) -> None:
        """Kill every process in our namespaces, then delete them; safe to call twice."""
        for proc in self._procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self._procs:
            try:
                proc.wait(3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs.clear()
        for name in self.names.values():
            # children of our processes may still hold the namespace alive
            for pid in _ip("netns", "pids", name, check=False).stdout.split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            _ip("netns", "del", name, check=False)
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def _build(self) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix=f"{self.names['p']}-"))
        n = self.names
        for name in n.values():
            _ip("netns", "add", name)
            _ip("-n", name, "link", "set", "lo", "up")
        # veth ends are created directly inside their namespaces, so short fixed names cannot clash
        _ip("-n", n["a"], "link", "add", "to-p", "type", "veth", "peer", "name", "to-a", "netns", n["p"])
        _ip("-n", n["b"], "link", "add", "to-p", "type", "veth", "peer", "name", "to-b", "netns", n["p"])
        for ns, dev, addr, side in (
            ("a", "to-p", self.a_ip, "a"),
            ("p", "to-a", self.p_a_ip, "a"),
            ("p", "to-b", self.p_b_ip, "b"),
            ("b", "to-p", self.b_ip, "b"),
        ):
            _ip("-n", n[ns], "addr", "add", f"{addr}/{self._prefix[side]}", "dev", dev)
            _ip("-n", n[ns], "link", "set", dev, "up")
        # new namespaces start with forwarding off; set it anyway so the isolation never depends on defaults
        v6 = "/proc/sys/net/ipv6/conf/all/forwarding"
        off = f"echo 0 > /proc/sys/net/ipv4/ip_forward && if [ -e {v6} ]; then echo 0 > {v6}; fi"
        subprocess.run(self.exec_args("p", ["sh", "-c", off]), check=True, capture_output=True, timeout=10)


class Segment(Topology):
    """Hosts on one Ethernet segment: a bridge in its own namespace ("sw"), one veth per host.

    Unlike A — P — B, multicast reaches every host (LAN discovery's tests); `move` changes a
    host's address while its processes run, as DHCP does.
    """

    def __init__(self, hosts: tuple[str, ...] = ("a", "b", "c"), subnet: str = "10.98.0.0/24") -> None:
        super().__init__()
        tag = self.names["p"].rsplit("-", 1)[0]
        self.hosts = hosts
        self.names = {role: f"{tag}-{role}" for role in (*hosts, "sw")}
        net = ipaddress.ip_network(subnet)
        self._free = net.hosts()
        self._prefixlen = net.prefixlen
        self.ips = {h: str(next(self._free)) for h in hosts}

    def move(self, host: str, new_ip: str | None = None) -> str:
        """Give `host` another address (the next free one unless given); the old one goes away."""
        new_ip = new_ip or str(next(self._free))
        ns = self.names[host]
        # in this order: deleting a primary address also deletes the secondaries of its subnet
        _ip("-n", ns, "addr", "del", f"{self.ips[host]}/{self._prefixlen}", "dev", "eth0")
        _ip("-n", ns, "addr", "add", f"{new_ip}/{self._prefixlen}", "dev", "eth0")
        self.ips[host] = new_ip
        return new_ip

    def _build(self) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix=f"{self.names['sw']}-"))
        sw = self.names["sw"]
        for name in self.names.values():
            _ip("netns", "add", name)
            _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", sw, "link", "add", "br0", "type", "bridge")
        _ip("-n", sw, "link", "set", "br0", "up")
        for h in self.hosts:
            _ip("-n", self.names[h], "link", "add", "eth0", "type", "veth", "peer", "name", f"to-{h}", "netns", sw)
            _ip("-n", sw, "link", "set", f"to-{h}", "master", "br0")
            _ip("-n", sw, "link", "set", f"to-{h}", "up")
            _ip("-n", self.names[h], "addr", "add", f"{self.ips[h]}/{self._prefixlen}", "dev", "eth0")
            _ip("-n", self.names[h], "link", "set", "eth0", "up")
