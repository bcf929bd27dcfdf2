"""Network faults between real daemons in separate network namespaces, joined only through a
user-space UDP proxy (this kernel has no netem): delay, loss, a partition that heals, and a
peer that vanishes mid-transfer. Every case converges once the fault ends, with no restart."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from peervault.bench import netns
from peervault.state import VaultState, read_runtime

from .conftest import ENV, read, shut_down, snapshot, wait_until

ok, why = netns.available()
pytestmark = pytest.mark.skipif(not ok, reason=why)


class NsDevice:
    def __init__(self, topo: netns.Topology, role: str, root: Path, bind: str) -> None:
        self.topo, self.role, self.root, self.bind = topo, role, root, bind
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = root.parent / f"{root.name}.log"

    def start(self) -> None:
        log = self._log = open(self.log, "ab")  # noqa: SIM115 - the daemon writes to it until stopped
        argv = [sys.executable, "-m", "peervault", "--log-level", "debug", "run", str(self.root), "--bind", self.bind]
        self.proc = self.topo.popen(self.role, argv, env=ENV, stdout=log, stderr=subprocess.STDOUT)
        proc = self.proc
        wait_until(
            lambda: (rt := read_runtime(self.root / ".peervault")).get("ready") and rt.get("pid") == proc.pid,
            what=f"{self.root.name} ready",
        )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None
        self._log.close()

    def stop(self) -> None:
        shut_down(self)  # type: ignore[arg-type]  # (same proc and _log as a conftest Device)

    def write(self, rel: str, text: str) -> None:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def _cli(*args: str) -> str:
    return subprocess.run([sys.executable, "-m", "peervault", *args], env=ENV, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def link(tmp_path: Path) -> Iterator[tuple[NsDevice, NsDevice, netns.ProxyHandle]]:
    """A and B paired (on loopback first), then run in namespaces A and B; A reaches B only
    through the proxy in P."""
    a_root, b_root = tmp_path / "A", tmp_path / "B"
    _cli("init", str(a_root))
    _cli("init", str(b_root))
    inviter = subprocess.Popen(
        [sys.executable, "-m", "peervault", "invite", str(a_root), "--bind", "127.0.0.1:0"],
        env=ENV,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert inviter.stdout is not None
    ticket = inviter.stdout.readline().strip()
    _cli("join", str(b_root), ticket, "--bind", "127.0.0.1:0")
    inviter.wait(30)
    inviter.stdout.close()
    sb = VaultState.open(b_root)
    b_id = sb.device_id
    sb.close()
    with netns.Topology() as topo:
        proxy = topo.start_proxy(7301, 7302, delay_ms=0)
        sa = VaultState.open(a_root)
        sa.store.update_peer(b_id, addrs=[proxy.address])
        sa.close()
        a = NsDevice(topo, "a", a_root, f"{topo.a_ip}:7300")
        b = NsDevice(topo, "b", b_root, f"{topo.b_ip}:7302")
        b.start()
        a.start()
        try:
            yield a, b, proxy
        finally:
            a.stop()
            b.stop()


def _in_sync(a: NsDevice, b: NsDevice) -> bool:
    return snapshot(a.root) == snapshot(b.root)


def test_delay_and_loss(link):
    a, b, proxy = link
    proxy.set_delay(200)  # each way
    proxy.set_loss(0.10)
    for i in range(10):
        # 20 KB of hex each (compression leaves ~10 KB): hundreds of packets, so some are lost
        a.write(f"a{i}.md", f"from A {i}\n{secrets.token_hex(10_000)}\n")
        b.write(f"b{i}.md", f"from B {i}\n{secrets.token_hex(10_000)}\n")
    wait_until(lambda: _in_sync(a, b) and len(snapshot(a.root)) == 20, timeout=90, what="converged through 200 ms and 10 % loss")
    counters = proxy.counters()
    assert counters["up"]["dropped_packets"] + counters["down"]["dropped_packets"] > 0, counters  # loss really happened


def test_partition_heals_after_edits_on_both_sides(link):
    a, b, proxy = link
    a.write("shared.md", "line one\n")
    wait_until(lambda: read(b.root / "shared.md") == "line one\n", timeout=60, what="first sync")
    proxy.cut()
    a.write("shared.md", "line one\nadded on A while apart\n")
    b.write("shared.md", "line zero from B\nline one\n")
    a.write("only-a.md", "A alone\n")
    b.write("only-b.md", "B alone\n")
    time.sleep(20)  # longer than the heartbeat's 15 s: both sides drop the link
    proxy.uncut()
    wait_until(lambda: _in_sync(a, b) and read(a.root / "only-b.md") == "B alone\n", timeout=90, what="healed")
    merged = read(a.root / "shared.md") or ""
    assert "added on A while apart" in merged and "line zero from B" in merged  # both edits kept


def test_peer_vanishes_mid_transfer(link):
    a, b, proxy = link
    proxy.set_delay(20)
    big = os.urandom(30 * 1024 * 1024)
    (a.root / "video.mov").write_bytes(big)
    partial = b.root / ".peervault" / "blobs" / "partial"
    wait_until(lambda: partial.exists() and any(p.stat().st_size for p in partial.iterdir()), timeout=60, what="under way")
    b.kill()
    assert not (b.root / "video.mov").exists()
    b.start()
    wait_until(
        lambda: (b.root / "video.mov").exists() and (b.root / "video.mov").read_bytes() == big, timeout=120, what="resumed"
    )
    shutil.rmtree(partial, ignore_errors=True)
