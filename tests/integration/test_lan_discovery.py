"""LAN discovery (mDNS) between real daemons in network namespaces on one bridge.

Three hosts on one segment: A and B are paired (run with --no-relay, so only direct
addresses work), C is a device of another vault. A's address changes while both run (as
DHCP does); later both move to new addresses at once, so that neither can reach the other
at any address it knew: only the announcements can bring them back together.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from peervault.bench import netns
from peervault.state import VaultState

from .conftest import ENV, Device, shut_down, wait_until

ok, why = netns.available()
pytestmark = [pytest.mark.skipif(not ok, reason=why), pytest.mark.timeout(240)]

MDNS_ENV = {k: v for k, v in ENV.items() if k != "PEERVAULT_NO_MDNS"}
BACK_S = 45.0  # generous: measured a few seconds (poll 3 s, then one dial)


class NsDevice(Device):
    """A device whose commands and daemon run inside one host's namespace, with mDNS on."""

    def __init__(self, root: Path, logs: Path, topo: netns.Segment, host: str) -> None:
        super().__init__(root, logs)
        self.topo = topo
        self.host = host

    def cli(self, *args: str, check: bool = True, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        argv = self.topo.exec_args(self.host, [sys.executable, "-m", "peervault", *args])
        res = subprocess.run(argv, env=MDNS_ENV, capture_output=True, text=True, timeout=timeout)
        if check and res.returncode != 0:
            raise AssertionError(f"peervault {' '.join(args)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
        return res

    def start(self, *extra: str, env: dict[str, str] | None = None) -> None:
        assert self.proc is None
        self._log_n += 1
        log = self._log = open(self.logs / f"{self.root.name}-{self._log_n}.log", "wb")  # noqa: SIM115
        argv = [sys.executable, "-m", "peervault", "--log-level", "debug", "run", str(self.root), "--no-relay", *extra]
        self.proc = subprocess.Popen(self.topo.exec_args(self.host, argv), env=MDNS_ENV, stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: (self.runtime() or {}).get("pid") == self.proc.pid, what=f"{self.root.name} daemon ready")  # type: ignore[union-attr]

    def join(self, ticket: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.cli("join", str(self.root), ticket, "--no-relay", check=check)

    def lan(self) -> dict:
        return (self.runtime() or {}).get("lan", {})

    def peer_addrs(self, peer: str) -> list[str]:
        return next((p["addrs"] for p in self.status()["peers"] if p["id"] == peer), [])

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logs.glob(f"{self.root.name}-*.log")))


def _has_a_device(d: NsDevice) -> None:
    """A device of d's vault, paired once and away now (no daemon runs for it): a vault with
    no paired device does not take part in LAN discovery at all (daemon/root._discover)."""
    state = VaultState.open(d.root)
    try:
        state.store.add_peer("0" * 64, ["192.0.2.1:9"])
    finally:
        state.close()


def linked_at(d: NsDevice, peer: str, ip: str) -> bool:
    """d is connected to `peer`, over a link made after `peer` got `ip` (its HELLO said so)."""
    return peer in (d.runtime() or {}).get("connected", {}) and any(a.startswith(f"{ip}:") for a in d.peer_addrs(peer)[:2])


def edit_arrives(src: NsDevice, dst: NsDevice, rel: str, text: str) -> None:
    src.write(rel, text)
    wait_until(lambda: dst.read(rel) == text, timeout=BACK_S, what=f"{rel} edited on {src.host} arriving on {dst.host}")


def test_paired_devices_find_each_other_after_moving(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    with netns.Segment(("a", "b", "c")) as topo:
        a, b, c = (NsDevice(tmp_path / h, logs, topo, h) for h in ("a", "b", "c"))
        ids = {d.host: d.init() for d in (a, b, c)}
        _has_a_device(c)  # C's vault has a device of its own (offline): only then does C announce
        try:
            a.start()
            b.join(a.invite())
            b.start()
            c.start()  # another vault's device on the same segment
            wait_until(lambda: a.connected() >= 1 and b.connected() >= 1, what="a and b connected")
            # multicast crosses the bridge: each sees the others' announcements, and C's are ignored
            wait_until(lambda: a.lan().get("accepted", 0) >= 1 and b.lan().get("accepted", 0) >= 1, what="a, b announced")
            wait_until(lambda: a.lan().get("ignored", 0) >= 1 and b.lan().get("ignored", 0) >= 1, what="c's ignored")
            wait_until(lambda: c.lan().get("ignored", 0) >= 2, what="c ignoring a and b")
            assert ids["c"] not in a.lan()["peers"] and ids["c"] not in b.lan()["peers"]

            edit_arrives(a, b, "before.md", "# before the move\n")

            # 1. A's address changes while both run
            t0 = time.monotonic()
            new_a = topo.move("a")
            wait_until(lambda: linked_at(b, ids["a"], new_a), timeout=BACK_S, what=f"b linked to a at {new_a}")
            back_one = time.monotonic() - t0
            # B heard A's new announcement (the old address may linger with it until A's next one)
            wait_until(lambda: any(x.startswith(f"{new_a}:") for x in b.lan()["peers"][ids["a"]]), what="a's announcement")
            edit_arrives(a, b, "after-a-moved.md", "# written on a at its new address\n")
            edit_arrives(b, a, "after-a-moved.md", "# answered on b\n")

            # 2. both move at once: no address either knew works any more; only mDNS can help
            t0 = time.monotonic()
            new_a, new_b = topo.move("a"), topo.move("b")
            wait_until(
                lambda: linked_at(b, ids["a"], new_a) and linked_at(a, ids["b"], new_b),
                timeout=BACK_S,
                what="a and b linked at their new addresses",
            )
            back_both = time.monotonic() - t0
            edit_arrives(b, a, "after-both-moved.md", "# both moved\n")
            assert a.read("after-a-moved.md") == b.read("after-a-moved.md") == "# answered on b\n"

            # neither daemon restarted, and C was never dialled nor recorded
            assert a.proc is not None and a.proc.poll() is None and b.proc is not None and b.proc.poll() is None
            for d in (a, b):
                assert ids["c"] not in {p["id"] for p in d.status()["peers"]}
                assert ids["c"] not in d.lan()["peers"]
            assert "connected: it must present a pairing ticket" not in c.log_text()
            assert c.connected() == 0 and {p["id"] for p in c.status()["peers"]} == {"0" * 64}  # only its own
            print(f"\nreconnected after A moved: {back_one:.1f} s; after both moved: {back_both:.1f} s")
        finally:
            for d in (a, b, c):
                shut_down(d)


def test_no_mdns_flag_announces_nothing(tmp_path: Path) -> None:
    """--no-mdns, or `mdns = false` in config.toml: no LAN discovery at all, though each
    vault has a device to find; and none for a vault with no device yet, whatever the flags."""
    logs = tmp_path / "logs"
    logs.mkdir()
    with netns.Segment(("a", "b", "c")) as topo:
        a, b, c = (NsDevice(tmp_path / h, logs, topo, h) for h in ("a", "b", "c"))
        for d in (a, b, c):
            d.init()
        _has_a_device(a)
        _has_a_device(b)
        (b.root / ".peervault" / "config.toml").write_text("mdns = false\n")
        try:
            a.start("--no-mdns")
            b.start()
            c.start()
            time.sleep(5)  # several announcement rounds, had there been any
            assert a.lan() == b.lan() == c.lan() == {"enabled": False}
            assert "LAN discovery on" not in a.log_text() + b.log_text() + c.log_text()
        finally:
            for d in (a, b, c):
                shut_down(d)
