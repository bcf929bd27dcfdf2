"""kill -9 of a receiving daemon while it moves the version a peer's version replaces (or a
file a peer deleted) into its blob store: both versions stay on disk, the next start
finishes the job, both devices end byte-identical, and every version either history lists
can be restored on that device (from its store, or fetched from the other's)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .conftest import Device, pair_running, wait_until

V1 = b"\x89PNG\r\n\x1a\n version one " + os.urandom(300_000)
V2 = b"\x89PNG\r\n\x1a\n version two, longer " + os.urandom(400_000)


def _bytes(p: Path) -> bytes | None:
    try:
        return p.read_bytes()
    except OSError:
        return None


def _everywhere(d: Device) -> list[bytes]:
    """Every copy of a file's bytes on the device: the vault, the store, downloads, moves."""
    out = [p.read_bytes() for p in (d.root / ".peervault" / "blobs").rglob("*") if p.is_file() and p.suffix != ".json"]
    return out + [p.read_bytes() for p in d.root.rglob("*.png") if ".peervault" not in p.parts]


def _killed(d: Device) -> None:
    assert d.proc is not None
    assert d.proc.wait(60) == -9  # it SIGKILLed itself at the step
    d.proc = None
    d._log.close()


def _history(d: Device) -> list[dict]:
    return json.loads(d.cli("history", str(d.root), "pic.png", "--json").stdout)


@pytest.mark.parametrize("step", ["swap:staged", "swap:replaced", "keep:staged"])
def test_kill_while_a_replaced_version_moves_into_the_store(make_device, step: str) -> None:
    a, b = make_device("A"), make_device("B")
    a.start()
    pair_running(a, b)
    (a.root / "pic.png").write_bytes(V1)
    wait_until(lambda: _bytes(b.root / "pic.png") == V1, what="V1 on B")
    b.stop()
    b.start(env={"PEERVAULT_CRASH_AT": step})
    wait_until(lambda: a.connected() >= 1, what="B back")
    if step == "keep:staged":
        (a.root / "pic.png").unlink()  # B moves its copy into its store as it applies the delete
    else:
        (a.root / "pic.png").write_bytes(V2)  # overwritten in place on A: V1 lives on at B only
    _killed(b)
    on_b = _everywhere(b)
    assert V1 in on_b and (step == "keep:staged" or V2 in on_b)  # nothing lost at the kill
    assert _bytes(b.root / "pic.png") in ((None, V1) if step == "keep:staged" else (V1, V2))

    b.start()  # the next start finishes the job
    want = None if step == "keep:staged" else V2
    wait_until(lambda: _bytes(b.root / "pic.png") == want == _bytes(a.root / "pic.png"), what="B finished")
    moving = b.root / ".peervault" / "blobs" / "moving"
    wait_until(lambda: not any(moving.iterdir()), what="nothing left half-moved")
    assert V1 in _everywhere(b)  # kept in B's store

    # Every version each history lists comes back, on both devices, byte for byte.
    versions = {len(V1): V1, len(V2): V2}
    for d in (b, a):
        for k in _history(d):
            data = versions[k["size"]]
            d.cli("restore", str(d.root), "pic.png", "--at", str(k["version"]))
            wait_until(
                lambda data=data: _bytes(a.root / "pic.png") == data == _bytes(b.root / "pic.png"),
                timeout=60,
                what=f"version {k['version']} of {d.root.name} restored on both",
            )
    for d in (a, b):
        assert d.status()["binary_transfers"]["wanted"] == 0
