"""`peervault forget`: a removed device can no longer connect, and the others learn of it."""

from __future__ import annotations

import stat
import time

from .conftest import Device, pair_running, wait_until

QUIET_S = 10.0  # a device still dialling would try several times in this long (backoff 0.5 s … 8 s)


def log_of(dev: Device, last_run: bool = False) -> str:
    """The daemon's log: all its runs, or only the latest."""
    paths = sorted(dev.logs.glob(f"{dev.root.name}-*.log"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    return "".join(p.read_text(errors="replace") for p in (paths[-1:] if last_run else paths))


def lines_naming(text: str, *ids: str) -> list[str]:
    return [line for line in text.splitlines() if any(i[:10] in line for i in ids)]


def removed_by(dev: Device) -> set[str]:
    return set((dev.status()["removed"] or {}).get("peers", []))


def test_forget_removes_a_device_everywhere(make_device):
    a, b, c = make_device("A"), make_device("B"), make_device("C")
    a.start()
    pair_running(a, b)  # B joins A
    pair_running(a, c)  # C joins A
    a_id, b_id, c_id = a.status()["device_id"], b.status()["device_id"], c.status()["device_id"]
    c.stop()
    c.join(b.invite())  # C pairs with B as well
    c.start()
    wait_until(lambda: c.connected() >= 2, what="C connected to A and B")
    for slip in ("", "  ", c_id[:3]):  # a slip removes nothing, daemon or not
        res = a.cli("forget", str(a.root), slip, check=False)
        assert res.returncode == 1 and "at least 4 characters" in res.stderr, res.stderr
    assert c_id in {p["id"] for p in a.status()["peers"]}
    res = a.cli("forget", str(a.root), c_id[:12])
    assert "Removed device" in res.stderr
    assert c_id not in {p["id"] for p in a.status()["peers"]}
    # B hears of it from A and drops C too
    wait_until(lambda: c_id not in {p["id"] for p in b.status()["peers"]}, timeout=30, what="B dropped C")
    wait_until(lambda: c.connected() == 0, timeout=30, what="C disconnected from both")
    # C is told why (410), by each device that drops it, and records it
    wait_until(lambda: removed_by(c) == {a_id, b_id}, timeout=30, what="C to record its removal by A and B")
    warnings = [line for line in log_of(c).splitlines() if "WARNING" in line and "was removed from the vault" in line]
    assert len(warnings) == 2 and {a_id[:10], b_id[:10]} == {w.split("device ")[1][:10] for w in warnings}, warnings
    assert all("peervault invite" in w and "peervault join" in w for w in warnings), warnings
    st = c.status()
    assert st["removed"]["by"] in (a_id, b_id) and abs(st["removed"]["at"] - time.time()) < 60
    assert all(p["removed_this_device"] for p in st["peers"] if p["id"] in (a_id, b_id))
    table = c.cli("status", str(c.root)).stdout
    assert "this device was removed from the vault" in table and "peervault join" in table
    # ... and stops dialling them: nothing from C reaches A or B any more
    since = {d: len(log_of(d)) for d in (a, b, c)}
    quiet_from = time.monotonic()
    c.write("from-c.md", "C should not reach anyone now\n")
    a.write("from-a.md", "A and B still sync\n")
    wait_until(lambda: b.read("from-a.md") == "A and B still sync\n", what="A and B still in sync")
    time.sleep(max(0.0, QUIET_S - (time.monotonic() - quiet_from)))
    assert not a.exists("from-c.md") and not b.exists("from-c.md")
    assert c.connected() == 0
    assert not lines_naming(log_of(a)[since[a] :], c_id), "C still dials A"
    assert not lines_naming(log_of(b)[since[b] :], c_id), "C still dials B"
    assert not lines_naming(log_of(c)[since[c] :], a_id, b_id), "C still dials A or B"
    assert b_id in {p["id"] for p in a.status()["peers"]}
    # not even after a restart, while the record stands
    c.stop()
    since = {d: len(log_of(d)) for d in (a, b)}
    c.start()
    time.sleep(5)
    restarted = log_of(c, last_run=True)
    assert "WARNING" in restarted and "not dialling 2 device(s)" in restarted, restarted
    assert not lines_naming(restarted.split("not dialling", 1)[1], a_id, b_id), restarted
    assert not lines_naming(log_of(a)[since[a] :], c_id) and not lines_naming(log_of(b)[since[b] :], c_id)
    assert removed_by(c) == {a_id, b_id}
    # invited again, C is a member once more: the removal is lifted in the index everywhere
    c.stop()
    c.join(a.invite())
    assert not c.status()["removed"]
    c.start()
    wait_until(lambda: c.read("from-a.md") == "A and B still sync\n", what="C back in the vault")
    c.write("back.md", "C rejoined\n")
    wait_until(lambda: b.read("back.md") == "C rejoined\n", what="B hears from the readmitted C")
    assert c_id in {p["id"] for p in a.status()["peers"]}


def test_forget_of_an_unknown_device_is_one_clear_line(make_device):
    a = make_device("A")
    res = a.cli("forget", str(a.root), "abcdef", check=False)
    assert res.returncode == 1 and "no paired device 'abcdef'" in res.stderr
    res = a.cli("forget", str(a.root), "", check=False)
    assert res.returncode == 1 and "at least 4 characters" in res.stderr


def test_invite_with_a_bad_ttl_starts_nothing(make_device):
    a = make_device("A")
    res = a.cli("invite", str(a.root), "--ttl", "0", "--no-wait", check=False)
    assert res.returncode == 1 and "ttl must be between" in res.stderr and "Waiting" not in res.stderr
    assert not (a.root / ".peervault" / "control.sock").exists()
    assert not (a.root / ".peervault" / "daemon.json").exists()


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
