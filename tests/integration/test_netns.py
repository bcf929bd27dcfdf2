"""The A — P — B topology: the delaying proxy in P is the only way from A to B."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from peervault.bench import netns

ok, why = netns.available()
pytestmark = pytest.mark.skipif(not ok, reason=why)

ECHO = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
while True:
    data, addr = s.recvfrom(65535)
    s.sendto(data, addr)
"""

# prints a JSON list: the RTT of each ping in seconds, or the errno name / "timeout" when none came back
PING = """
import errno, json, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
out = []
for i in range(int(sys.argv[3])):
    t = time.monotonic()
    try:
        s.sendto(b"ping %d" % i, (sys.argv[1], int(sys.argv[2])))
        while s.recv(65535) != b"ping %d" % i:
            pass
        out.append(time.monotonic() - t)
    except socket.timeout:
        out.append("timeout")
    except OSError as e:
        out.append(errno.errorcode[e.errno])
print(json.dumps(out))
"""


def ping(topo: netns.Topology, ns: str, host: str, port: int, count: int) -> list[float | str]:
    res = subprocess.run(
        topo.exec_args(ns, [sys.executable, "-c", PING, host, str(port), str(count)]),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    rtts: list[float | str] = json.loads(res.stdout)
    return rtts


def existing_namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout


def test_proxy_is_the_only_route_and_adds_delay() -> None:
    with netns.Topology() as topo:
        echo = topo.popen("b", [sys.executable, "-c", ECHO, topo.b_ip, "5000"], stdout=subprocess.PIPE, text=True)
        assert echo.stdout is not None and echo.stdout.readline() == "ready\n"
        echo.stdout.close()
        proxy = topo.start_proxy(4000, 5000, delay_ms=50)

        rtts = ping(topo, "a", proxy.host, proxy.port, 5)
        assert all(isinstance(rtt, float) and rtt >= 0.099 for rtt in rtts), rtts  # 50 ms each way
        counters = proxy.counters()
        assert counters["up"]["forwarded_packets"] == counters["down"]["forwarded_packets"] == 5

        # no route from A to B, or from B to A: nothing can bypass the proxy
        assert ping(topo, "a", topo.b_ip, 5000, 1) == ["ENETUNREACH"]
        assert ping(topo, "b", topo.a_ip, 5000, 1) == ["ENETUNREACH"]

        proxy.cut()
        assert ping(topo, "a", proxy.host, proxy.port, 1) == ["timeout"]
        proxy.uncut()
        proxy.set_delay(0)
        assert isinstance(ping(topo, "a", proxy.host, proxy.port, 1)[0], float)

        # even with routes through P, P does not forward
        subprocess.run(["ip", "-n", topo.names["a"], "route", "add", f"{topo.b_ip}/32", "via", topo.p_a_ip], check=True)
        subprocess.run(["ip", "-n", topo.names["b"], "route", "add", f"{topo.a_ip}/32", "via", topo.p_b_ip], check=True)
        assert ping(topo, "a", topo.b_ip, 5000, 1) == ["timeout"]
        assert proxy.stop() == 0
        names = list(topo.names.values())
        assert all(name in existing_namespaces() for name in names)
    assert not any(name in existing_namespaces() for name in names)
    assert echo.poll() is not None
