"""`peervault forget`: a removed device can no longer connect, and the others learn of it."""

from __future__ import annotations

import stat

from .conftest import pair_running, wait_until


def test_forget_removes_a_device_everywhere(make_device):
    a, b, c = make_device("A"), make_device("B"), make_device("C")
    a.start()
    pair_running(a, b)  # B joins A
    pair_running(a, c)  # C joins A
    b_id, c_id = b.status()["device_id"], c.status()["device_id"]
    c.stop()
    c.join(b.invite())  # C pairs with B as well
    c.start()
    wait_until(lambda: c.connected() >= 2, what="C connected to A and B")
    res = a.cli("forget", str(a.root), c_id[:12])
    assert "Removed device" in res.stderr
    assert c_id not in {p["id"] for p in a.status()["peers"]}
    # B hears of it from A and drops C too
    wait_until(lambda: c_id not in {p["id"] for p in b.status()["peers"]}, timeout=30, what="B dropped C")
    wait_until(lambda: c.connected() == 0, timeout=30, what="C disconnected from both")
    c.write("from-c.md", "C should not reach anyone now\n")
    a.write("from-a.md", "A and B still sync\n")
    wait_until(lambda: b.read("from-a.md") == "A and B still sync\n", what="A and B still in sync")
    assert not a.exists("from-c.md") and not b.exists("from-c.md")
    assert c.connected() == 0
    assert b_id in {p["id"] for p in a.status()["peers"]}


def test_forget_of_an_unknown_device_is_one_clear_line(make_device):
    a = make_device("A")
    res = a.cli("forget", str(a.root), "abcdef", check=False)
    assert res.returncode == 1 and "no paired device 'abcdef'" in res.stderr


def test_state_folder_and_key_are_the_owners_alone(make_device):
    a = make_device("A")
    assert stat.S_IMODE((a.root / ".peervault").stat().st_mode) == 0o700
    assert stat.S_IMODE((a.root / ".peervault" / "secret.key").stat().st_mode) == 0o600


def test_daemon_refuses_to_start_with_a_key_others_can_read(make_device):
    a = make_device("A")
    key = a.root / ".peervault" / "secret.key"
    key.chmod(0o644)
    res = a.cli("run", str(a.root), check=False)
    assert res.returncode == 1 and "readable by other users" in res.stderr and "chmod 600" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
