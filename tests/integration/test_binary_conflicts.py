"""Two devices change the same binary file while apart: one version wins everywhere, and
the other stays reachable through history and restore."""

from __future__ import annotations

import json

from .conftest import pair_running, wait_until


def test_concurrent_binary_edits_keep_both_versions_reachable(make_device):
    a, b = make_device("A"), make_device("B")
    a.start()
    pair_running(a, b)
    (a.root / "diagram.png").write_bytes(b"\x89PNG base \xff")
    wait_until(lambda: (b.root / "diagram.png").exists(), what="base on B")
    b.stop()
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
