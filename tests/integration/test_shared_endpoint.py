"""One `peervault run V0 V1 V2` process where V1 and V2 hold the per-user device key and so
share one Iroh endpoint (daemon/router.py), while V0, paired before the key existed, keeps
its own key and endpoint. Each vault is paired with a peer daemon of its own; all are
separate processes over loopback Iroh."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from peervault.net.endpoint import endpoint_id_of

from .conftest import Device, pair_running, wait_until

PROBE = Path(__file__).with_name("probe_vault.py")


def run_host(devices: list[Device], env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
    """One daemon for all `devices`, seeing the per-user data dir of `env`."""
    first = devices[0]
    log = open(first.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed by shut_down through the devices
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "peervault",
            "--log-level",
            "debug",
            "run",
            *(str(d.root) for d in devices),
            "--bind",
            "127.0.0.1:0",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    for d in devices:
        d.proc, d._log = proc, log
        wait_until(lambda: (d.runtime() or {}).get("pid") == proc.pid, what=f"{d.root.name} served")
    return proc


def probe(key_file: Path, ticket: str, *cases: str) -> dict[str, dict]:
    res = subprocess.run([sys.executable, str(PROBE), str(key_file), ticket, *cases], capture_output=True, text=True, timeout=90)
    assert res.returncode == 0, res.stderr
    return {row.pop("case"): row for row in map(json.loads, res.stdout.splitlines())}


@pytest.mark.timeout(300)  # seven daemons' worth of starts, two rounds of edits
def test_two_vaults_share_one_endpoint_beside_a_vault_with_its_own(make_device, tmp_path: Path):
    v0, p0, p1, p2 = (make_device(n) for n in ("V0", "P0", "P1", "P2"))
    v0.start()  # V0 pairs before any per-user key exists: its peer knows V0's own id
    pair_running(v0, p0)
    v0.stop()
    own_id = v0.status()["device_id"]

    data = tmp_path / "host-data"  # the host's per-user data dir: its device key
    v1, v2 = Device(tmp_path / "V1", v0.logs, data), Device(tmp_path / "V2", v0.logs, data)
    for d in (v0, v1, v2):
        d.env = {**d.env, "PEERVAULT_DATA_DIR": str(data), "PEERVAULT_CONFIG": str(tmp_path / "config.toml")}
    v1.init()  # before the key: a key of its own, but no device knows it yet
    res = v1.cli("vaults", "add", str(v1.root))
    assert "now shares this device's id" in res.stderr
    shared_id = v1.status()["device_id"]
    assert (data / "device.key").read_bytes() == (v1.root / ".peervault" / "secret.key").read_bytes()
    res = v2.cli("init", str(v2.root))  # made while the key exists: it takes it
    assert res.stdout.strip() == shared_id and "shares this device's id" in res.stderr
    # a copy that must be a device of its own (the demo's second vault, a test copy)
    own = v2.cli("init", "--own-id", str(tmp_path / "own-copy")).stdout.strip()
    assert own and own != shared_id and "shares" not in v2.cli("init", str(tmp_path / "own-copy")).stderr
    key0 = (v0.root / ".peervault" / "secret.key").read_bytes()
    res = v0.cli("vaults", "add", str(v0.root))  # paired: its id is what P0 knows, so it stays
    assert "keeps its own device id: it is paired with 1 device(s)" in res.stderr
    assert (v0.root / ".peervault" / "secret.key").read_bytes() == key0 and v0.status()["device_id"] == own_id != shared_id

    proc = run_host([v0, v1, v2], v1.env, "host")
    pair_running(v1, p1)
    pair_running(v2, p2)
    wait_until(lambda: v0.connected() >= 1, what="V0 and its old peer connected again")
    assert p1.status()["peers"][0]["id"] == p2.status()["peers"][0]["id"] == shared_id
    assert p0.status()["peers"][0]["id"] == own_id

    def edits_land(round_: int) -> None:
        """Each vault gets its own peer's edit, and its peer gets its edit; nothing strays."""
        p0.write(f"zero-{round_}.md", f"P0 {round_}\n")
        p1.write(f"one-{round_}.md", f"P1 {round_}\n")
        p2.write(f"two-{round_}.md", f"P2 {round_}\n")
        v1.write(f"host-one-{round_}.md", f"V1 {round_}\n")
        v2.write(f"host-two-{round_}.md", f"V2 {round_}\n")
        v0.write(f"host-zero-{round_}.md", f"V0 {round_}\n")
        wait_until(lambda: v0.read(f"zero-{round_}.md") == f"P0 {round_}\n", what="P0's edit on V0")
        wait_until(lambda: v1.read(f"one-{round_}.md") == f"P1 {round_}\n", what="P1's edit on V1")
        wait_until(lambda: v2.read(f"two-{round_}.md") == f"P2 {round_}\n", what="P2's edit on V2")
        wait_until(lambda: p0.read(f"host-zero-{round_}.md") == f"V0 {round_}\n", what="V0's edit on P0")
        wait_until(lambda: p1.read(f"host-one-{round_}.md") == f"V1 {round_}\n", what="V1's edit on P1")
        wait_until(lambda: p2.read(f"host-two-{round_}.md") == f"V2 {round_}\n", what="V2's edit on P2")
        groups = [{v0, p0}, {v1, p1}, {v2, p2}]
        for group in groups:
            names = set().union(*(d.files() for d in group))
            for other in groups:
                if other is not group:
                    for d in other:
                        assert not names & set(d.files()), f"a note of {group} reached {d.root.name}"

    edits_land(1)

    # P1, paired for V1 only, asks the shared endpoint for V2 and for a vault nobody serves:
    # the same answers, so it cannot tell that V2 is served here
    unknown = "ab" * 16
    ticket = v1.runtime()["endpoint_ticket"]
    answers = probe(
        p1.root / ".peervault" / "secret.key",
        ticket,
        f"hello:{v2.status()['vault_id']}",
        f"hello:{unknown}",
        f"pair:{v2.status()['vault_id']}",
        f"pair:{unknown}",
        f"hello:{v1.status()['vault_id']}",
    )
    assert answers[f"hello:{v2.status()['vault_id']}"] == answers[f"hello:{unknown}"]
    assert answers[f"hello:{unknown}"] == {"refused": [403, "unknown device: pair with a ticket first"]}
    assert answers[f"pair:{v2.status()['vault_id']}"] == answers[f"pair:{unknown}"]
    assert answers[f"pair:{unknown}"] == {"refused": [403, "pairing ticket is invalid, used or expired"]}
    assert answers[f"hello:{v1.status()['vault_id']}"] == {"answer": "Hello"}  # the vault it is paired for answers
    assert {p["id"] for p in v2.status()["peers"]} == {p2.status()["device_id"]}  # the probe paired nothing
    v2.cli("pause", str(v2.root))  # paused, V2 still answers a stranger as a vault not served here does
    paused = probe(p1.root / ".peervault" / "secret.key", ticket, f"hello:{v2.status()['vault_id']}", f"hello:{unknown}")
    assert paused[f"hello:{v2.status()['vault_id']}"] == paused[f"hello:{unknown}"] == answers[f"hello:{unknown}"]
    v2.cli("resume", str(v2.root))

    proc.send_signal(signal.SIGTERM)  # a restart keeps every pairing, shared or not
    assert proc.wait(30) == 0
    v0._log.close()
    for d in (v0, v1, v2):
        d.proc = None
    proc = run_host([v0, v1, v2], v1.env, "host-again")
    wait_until(lambda: all(d.connected() >= 1 for d in (v0, v1, v2)), what="all three vaults connected again")
    assert v1.status()["device_id"] == v2.status()["device_id"] == shared_id and v0.status()["device_id"] == own_id
    edits_land(2)
    text = (v0.logs / "host-again.log").read_text()
    assert "one endpoint for the vaults with the per-user key" in text
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0


def test_a_paired_vault_moves_to_the_device_key_once_its_peer_confirmed(make_device, tmp_path: Path):
    v0, p0 = make_device("V0"), make_device("P0")
    v0.start()
    pair_running(v0, p0)
    v0.write("before.md", "before the move\n")
    wait_until(lambda: p0.read("before.md") == "before the move\n", what="V0's note on P0")
    v0.stop()
    old_id = v0.status()["device_id"]
    data = tmp_path / "host-data"
    v0.env = {**v0.env, "PEERVAULT_DATA_DIR": str(data), "PEERVAULT_CONFIG": str(tmp_path / "config.toml")}
    res = v0.cli("vaults", "add", "--migrate", str(v0.root))
    assert "moves to this device's id" in res.stderr and v0.status()["device_id"] == old_id  # not yet: P0 must confirm
    new_id = endpoint_id_of((data / "device.key").read_bytes())

    proc = run_host([v0], v0.env, "host")
    wait_until(lambda: v0.status()["device_id"] == new_id, what="V0 moved once P0 confirmed")
    wait_until(lambda: [p["id"] for p in p0.status()["peers"]] == [new_id], timeout=60, what="P0 knows only the new id")
    assert (v0.root / ".peervault" / "secret.key").read_bytes() == (data / "device.key").read_bytes()
    v0.write("after.md", "after the move\n")
    p0.write("from-p0.md", "P0 after the move\n")
    wait_until(lambda: p0.read("after.md") == "after the move\n", what="V0's note on P0 after the move")
    wait_until(lambda: v0.read("from-p0.md") == "P0 after the move\n", what="P0's note on V0 after the move")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    v0._log.close()
    v0.proc = None
    text = (v0.logs / "host.log").read_text()
    assert "device " + p0.status()["device_id"][:10] + " confirmed the move (1 of 1)" in text

    proc = run_host([v0], v0.env, "host-again")  # a restart: the new id, the same pairing
    wait_until(lambda: v0.connected() >= 1, what="V0 and P0 connected again")
    p0.write("again.md", "after the restart\n")
    wait_until(lambda: v0.read("again.md") == "after the restart\n", what="P0's note on V0 after the restart")
    assert v0.status()["device_id"] == new_id and [p["id"] for p in p0.status()["peers"]] == [new_id]


def test_two_devices_sharing_two_vaults_hold_a_link_per_vault(make_device, tmp_path: Path):
    """Both sides share one endpoint for two vaults: two links between the same two device
    ids, one per vault, each carrying only its vault's notes, across a restart of either."""
    devices = {}
    for side in ("H", "Q"):
        data = tmp_path / f"{side}-data"
        for n in (1, 2):
            d = devices[f"{side}{n}"] = Device(tmp_path / f"{side}{n}", tmp_path / "logs", data)
            d.env = {**d.env, "PEERVAULT_CONFIG": str(tmp_path / f"{side}-config.toml")}
            d.init()
            d.cli("vaults", "add", str(d.root))
    h1, h2, q1, q2 = (devices[n] for n in ("H1", "H2", "Q1", "Q2"))
    h = run_host([h1, h2], h1.env, "H")
    try:
        q1.join(h1.invite())
        q2.join(h2.invite())
        q = run_host([q1, q2], q1.env, "Q")
        try:
            assert h1.status()["device_id"] == h2.status()["device_id"] != q1.status()["device_id"] == q2.status()["device_id"]
            wait_until(lambda: all(d.connected() >= 1 for d in (h1, h2, q1, q2)), what="a link per vault")
            for round_ in (1, 2):
                h1.write(f"h1-{round_}.md", f"H1 {round_}\n")
                q2.write(f"q2-{round_}.md", f"Q2 {round_}\n")
                wait_until(lambda: q1.read(f"h1-{round_}.md") == f"H1 {round_}\n", what="H1's note on Q1")
                wait_until(lambda: h2.read(f"q2-{round_}.md") == f"Q2 {round_}\n", what="Q2's note on H2")
                assert not q2.exists(f"h1-{round_}.md") and not h2.exists(f"h1-{round_}.md")
                assert not q1.exists(f"q2-{round_}.md") and not h1.exists(f"q2-{round_}.md")
                if round_ == 1:  # restart Q: both its links come back, each to its own vault
                    q.send_signal(signal.SIGTERM)
                    assert q.wait(30) == 0
                    q1._log.close()
                    q1.proc = q2.proc = None
                    q = run_host([q1, q2], q1.env, "Q-again")
                    wait_until(lambda: all(d.connected() >= 1 for d in (h1, h2, q1, q2)), what="both links again")
        finally:
            q.send_signal(signal.SIGTERM)
            q.wait(30)
            q1._log.close()
    finally:
        h.send_signal(signal.SIGTERM)
        h.wait(30)
        h1._log.close()


def test_a_second_daemon_cannot_serve_the_shared_id_too(make_device, tmp_path: Path):
    """Two endpoints with one id would each refuse the other's vaults: one daemon holds it."""
    data = tmp_path / "data"
    v1, v2 = Device(tmp_path / "V1", tmp_path / "logs", data), Device(tmp_path / "V2", tmp_path / "logs", data)
    for d in (v1, v2):
        d.env = {**d.env, "PEERVAULT_CONFIG": str(tmp_path / "config.toml")}
        d.init()
        d.cli("vaults", "add", str(d.root))
    proc = run_host([v1], v1.env, "first")
    try:
        res = subprocess.run(
            [sys.executable, "-m", "peervault", "run", str(v2.root), "--bind", "127.0.0.1:0"],
            env=v2.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert res.returncode == 3 and "another PeerVault daemon serves the vaults with this device's shared id" in res.stderr
        assert proc.poll() is None and v1.status()["daemon"]["running"]  # the first one serves on
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        v1._log.close()
    proc = run_host([v2], v2.env, "second")  # once the first has stopped, the lock is free
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    v2._log.close()
