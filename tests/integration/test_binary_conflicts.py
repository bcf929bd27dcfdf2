"""Two devices change the same binary file while apart: one version wins everywhere, and
the other stays reachable through history and restore."""

from __future__ import annotations

import json
import time

from .conftest import pair_running, wait_until


def test_concurrent_binary_edits_keep_both_versions_reachable(make_device):
    a, b = _synced_picture(make_device)
    from_a, from_b = b"\x89PNG edited on A \xff", b"\x89PNG edited on B, longer \xff"  # sizes tell them apart
    (a.root / "diagram.png").write_bytes(from_a)
    wait_until(lambda: (a.runtime() or {}).get("pending", 1) == 0, what="A recorded its edit")
    (b.root / "diagram.png").write_bytes(from_b)  # while B's daemon is down
    b.start()
    wait_until(
        lambda: (a.root / "diagram.png").read_bytes() == (b.root / "diagram.png").read_bytes(),
        timeout=30,
        what="one winner on both devices",
    )
    winner = (a.root / "diagram.png").read_bytes()
    assert winner in (from_a, from_b)
    loser = from_b if winner == from_a else from_a
    holder = b if loser == from_b else a  # the device that made the losing version keeps it
    kept = json.loads(holder.cli("history", str(holder.root), "diagram.png", "--json").stdout)
    sizes = [k["size"] for k in kept]
    assert len(loser) in sizes and len(winner) in sizes
    version = next(k["version"] for k in kept if k["size"] == len(loser) and k["device"] == "local")
    holder.cli("restore", str(holder.root), "diagram.png", "--at", str(version))
    wait_until(
        lambda: (a.root / "diagram.png").read_bytes() == loser == (b.root / "diagram.png").read_bytes(),
        timeout=30,
        what="the other version restored everywhere",
    )


def _recorded(d, rel: str, size: int) -> bool:
    """`d` holds a version of `rel` of this size in its history (its daemon recorded it)."""
    res = d.cli("history", str(d.root), rel, "--json", check=False)
    return res.returncode == 0 and any(k["size"] == size for k in json.loads(res.stdout))


def _quiet(*devices) -> bool:
    return all((d.runtime() or {}).get("pending", 1) == 0 for d in devices)


def _synced_picture(make_device):
    a, b = make_device("A"), make_device("B")
    a.start()
    pair_running(a, b)
    (a.root / "diagram.png").write_bytes(b"\x89PNG base \xff")
    wait_until(lambda: (b.root / "diagram.png").exists(), what="base on B")
    b.stop()
    return a, b


def test_a_save_made_after_a_delete_while_apart_brings_the_file_back(make_device):
    """B's daemon is down when its user deletes a picture; later, A saves a new version of
    it. When B comes back, the save is the later change: the picture is on both, A's bytes."""
    a, b = _synced_picture(make_device)
    (b.root / "diagram.png").unlink()  # while B's daemon is down
    time.sleep(0.2)
    from_a = b"\x89PNG saved on A after the delete \xff"
    (a.root / "diagram.png").write_bytes(from_a)
    wait_until(lambda: _recorded(a, "diagram.png", len(from_a)), what="A recorded its new version")
    b.start()
    wait_until(
        lambda: (b.root / "diagram.png").exists() and (b.root / "diagram.png").read_bytes() == from_a,
        timeout=30,
        what="the picture back on B with A's bytes",
    )
    wait_until(lambda: _quiet(a, b), what="both quiet")
    time.sleep(1.0)  # nothing undoes it afterwards
    assert (a.root / "diagram.png").read_bytes() == from_a == (b.root / "diagram.png").read_bytes()
    for d in (a, b):
        assert json.loads(d.cli("deleted", str(d.root), "--json").stdout) == []
        assert d.status()["files"]["deleted"] == 0


def test_a_delete_made_after_a_save_while_apart_removes_the_file(make_device):
    """The reverse: A saves a new version while B is down, then B's user deletes the picture.
    The delete is the later change: the picture is gone from both, A's version kept in history."""
    a, b = _synced_picture(make_device)
    from_a = b"\x89PNG saved on A before the delete \xff"
    (a.root / "diagram.png").write_bytes(from_a)
    wait_until(lambda: _recorded(a, "diagram.png", len(from_a)), what="A recorded its new version")
    time.sleep(0.2)
    (b.root / "diagram.png").unlink()  # while B's daemon is down, after A's save
    b.start()
    wait_until(lambda: not (a.root / "diagram.png").exists(), timeout=30, what="the picture deleted on A")
    wait_until(lambda: _quiet(a, b), what="both quiet")
    time.sleep(1.0)  # nothing brings it back afterwards
    assert not (a.root / "diagram.png").exists() and not (b.root / "diagram.png").exists()
    for d in (a, b):
        assert [r["path"] for r in json.loads(d.cli("deleted", str(d.root), "--json").stdout)] == ["diagram.png"]
    assert _recorded(a, "diagram.png", len(from_a))  # A's version can still be restored
