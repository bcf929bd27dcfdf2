"""This device's own ignore rules (`.peervault/ignore`) with real daemons: B ignores
`private/`, A does not; what B ignores is never read, written or deleted on B, and A
keeps it. A marker file written after each step and seen on the other side says the
step's changes (if any went out) have been exchanged."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path

import pytest

from .conftest import Device, pair_running, wait_until
from .test_shared_endpoint import run_host

SETTLE_S = 2.0  # (sync/settle.py) a vanished file is decided after this


def ignore_on(d: Device, rules: str) -> None:
    (d.root / ".peervault" / "ignore").write_text(rules)


def files(d: Device) -> dict[str, str | None]:
    res = json.loads(d.cli("files", str(d.root), "--json").stdout)
    return {f["path"]: f["reason"] for f in res["files"]}


def marker(src: Device, dst: Device, n: int) -> None:
    """Everything src did before now has reached dst (one connection, changes in order)."""
    src.write(f"marker-{n}.md", f"marker {n}\n")
    wait_until(lambda: dst.read(f"marker-{n}.md") == f"marker {n}\n", what=f"marker {n} on {dst.root.name}")


def test_notes_in_a_folder_ignored_here_go_neither_way(make_device):
    a, b = make_device("A"), make_device("B")
    ignore_on(b, "private/**\n")
    a.write("private/from-a.md", "A's private note\n")
    a.start()
    pair_running(a, b)
    marker(a, b, 1)
    assert not b.exists("private/from-a.md")
    wait_until(lambda: files(b).get("private/from-a.md") == "ignored on this device (.peervault/ignore)",
               what="B lists A's note as ignored here")  # fmt: skip
    a.write("private/new-on-a.md", "created after pairing\n")
    b.write("private/from-b.md", "B's private note\n")
    marker(a, b, 2)
    marker(b, a, 3)
    assert not a.exists("private/from-b.md") and not b.exists("private/new-on-a.md")
    assert b.read("private/from-b.md") == "B's private note\n"
    assert a.read("private/from-a.md") == "A's private note\n"
    assert b.status()["files"]["ignored_here"] == 2


def test_a_file_synced_before_then_ignored_and_deleted_here_stays_everywhere_else(make_device):
    a, b = make_device("A"), make_device("B")
    a.write("private/plan.md", "step one\nstep two\n")
    a.start()
    pair_running(a, b)
    wait_until(lambda: b.read("private/plan.md") == "step one\nstep two\n", what="the note on B")
    before = (a.root / "private" / "plan.md").read_bytes()
    ignore_on(b, "private/\n")  # while B runs
    wait_until(lambda: files(b).get("private/plan.md") == "ignored on this device (.peervault/ignore)",
               what="B applies its new rule")  # fmt: skip
    (b.root / "private" / "plan.md").unlink()
    time.sleep(SETTLE_S + 1)  # long enough for a delete to be decided, if it were one
    marker(b, a, 1)
    assert (a.root / "private" / "plan.md").read_bytes() == before
    a.write("private/plan.md", "step one\nstep two\nstep three\n")
    marker(a, b, 2)
    assert not b.exists("private/plan.md")
    assert a.read("private/plan.md") == "step one\nstep two\nstep three\n"
    ignore_on(b, "")  # the rule goes: the note comes back, as it is now
    wait_until(lambda: b.read("private/plan.md") == "step one\nstep two\nstep three\n", what="the note back on B")
    marker(b, a, 3)
    assert a.read("private/plan.md") == "step one\nstep two\nstep three\n"


def test_a_peers_edit_never_overwrites_a_file_ignored_here(make_device):
    a, b = make_device("A"), make_device("B")
    a.write("private/shared.md", "first\nsecond\nthird\n")
    a.start()
    pair_running(a, b)
    wait_until(lambda: b.read("private/shared.md") == "first\nsecond\nthird\n", what="the note on B")
    b.stop()
    ignore_on(b, "private/\n")  # this time while B is stopped
    b.write("private/shared.md", "FIRST\nsecond\nthird\n")  # B's own edit: stays here
    b.write("private/only-b.md", "B's own file\n")
    b.start()
    a.write("private/shared.md", "first\nsecond\nTHIRD\n")
    a.write("private/only-b.md", "A's file of the same name\n")
    wait_until(lambda: a.connected() >= 1 and b.connected() >= 1, what="devices connected again")
    marker(a, b, 1)
    marker(b, a, 2)
    assert b.read("private/shared.md") == "FIRST\nsecond\nthird\n"
    assert b.read("private/only-b.md") == "B's own file\n"
    assert a.read("private/shared.md") == "first\nsecond\nTHIRD\n"
    assert a.read("private/only-b.md") == "A's file of the same name\n"
    ignore_on(b, "")  # the rule goes: both edits of the synced note merge; nothing is lost
    wait_until(lambda: b.read("private/shared.md") == "FIRST\nsecond\nTHIRD\n", what="the merged note on B")
    wait_until(lambda: a.read("private/shared.md") == "FIRST\nsecond\nTHIRD\n", what="the merged note on A")
    only_b = b.read("private/only-b.md") or ""
    assert "B's own file\n" in only_b and "A's file of the same name\n" in only_b  # never synced: both texts kept
    wait_until(lambda: a.read("private/only-b.md") == only_b, what="the same on A")


def _inotify_instances(pid: int) -> int:
    fds = Path(f"/proc/{pid}/fd")
    n = 0
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):  # closed meanwhile
            n += os.readlink(fd) == "anon_inode:inotify"
    return n


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
def test_one_inotify_instance_per_vault_and_a_rules_edit_applies_at_once(make_device):
    """`.peervault/ignore` is watched on the vault watcher's own inotify instance: a daemon
    serving two vaults holds two (it held four: the per-user limit of 128 came twice as soon),
    and an edit of the rules is still applied within milliseconds, not at the next 2 s look."""
    v1, v2 = make_device("V1"), make_device("V2")
    v1.write("private/plan.md", "step one\n")
    proc = run_host([v1, v2], v1.env, "host")
    for d in (v1, v2):
        wait_until(lambda d=d: (d.runtime() or {}).get("scan_done"), what=f"{d.root.name} scanned")
    assert _inotify_instances(proc.pid) == 2
    log = v1.logs / "host.log"
    for i, rules in enumerate(["private/\n", "", "private/\n"], 1):
        ignore_on(v1, rules)
        t0 = time.monotonic()
        while log.read_text().count("ignore rules changed (.peervault/ignore)") < i:
            assert time.monotonic() - t0 < 1.0, f"edit {i} of the rules not applied within 1 s"
            time.sleep(0.01)
    wait_until(lambda: files(v1).get("private/plan.md") == "ignored on this device (.peervault/ignore)",
               what="the rule applied")  # fmt: skip
    assert _inotify_instances(proc.pid) == 2
