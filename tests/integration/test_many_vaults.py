"""One `peervault run A C` process serving two vaults, each paired with its own peer: both
sync, each answers on its own control socket, and what goes wrong in one (its folder
vanishes, its database is damaged while it runs) stays in that vault."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ENV, Device, pair_running, wait_until
from .test_disk_full import fill, ok, small_disk, why  # noqa: F401 - the fixture: a 4 MB tmpfs (needs root)


def run_together(*devices: Device) -> subprocess.Popen[bytes]:
    """One daemon process for all `devices` (each Device then shares it)."""
    first = devices[0]
    log = open(first.logs / "together.log", "wb")  # noqa: SIM115 - closed by shut_down through the devices
    roots = [str(d.root) for d in devices]
    proc = subprocess.Popen(
        [sys.executable, "-m", "peervault", "--log-level", "debug", "run", *roots, "--bind", "127.0.0.1:0"],
        env=ENV,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    for d in devices:
        d.proc, d._log = proc, log
        wait_until(lambda: (d.runtime() or {}).get("pid") == proc.pid, what=f"{d.root.name} served")
    return proc


def test_two_vaults_in_one_process_sync_apart_and_one_vanishing_leaves_the_other(make_device, tmp_path: Path):
    a, b, c, d = (make_device(n) for n in ("A", "B", "C", "D"))
    proc = run_together(a, c)
    pair_running(a, b)
    pair_running(c, d)
    a.write("a.md", "from A\n")
    d.write("d.md", "from D\n")
    wait_until(lambda: b.read("a.md") == "from A\n", what="A's note on B")
    wait_until(lambda: c.read("d.md") == "from D\n", what="D's note on C")
    assert not b.exists("d.md") and not d.exists("a.md") and not c.exists("a.md") and not a.exists("d.md")
    assert {p["id"] for p in a.status()["peers"]} == {b.status()["device_id"]}  # each vault knows only its own peer
    assert a.status()["device_id"] != c.status()["device_id"]  # and has its own identity
    shutil.move(a.root, tmp_path / "moved-away")
    a.root.mkdir()  # an empty folder where the vault was, as an unmounted drive leaves
    log = first_log(a)
    wait_until(lambda: "has disappeared or was replaced" in log.read_text(), what="A stops")
    assert proc.poll() is None  # the process serves C still
    c.write("c.md", "C after A stopped\n")
    d.write("d2.md", "D after A stopped\n")
    wait_until(lambda: d.read("c.md") == "C after A stopped\n", what="C's note on D")
    wait_until(lambda: c.read("d2.md") == "D after A stopped\n", what="D's note on C")
    assert (tmp_path / "moved-away" / "a.md").read_text() == "from A\n" and b.read("a.md") == "from A\n"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    text = log.read_text()
    assert "[A] " in text and "[C] " in text  # each line names its vault
    assert "stopping 1 vault(s)" in text and text.count("stopping ") == 1


def first_log(d: Device) -> Path:
    return d.logs / "together.log"


@pytest.mark.skipif(not ok, reason=why)
def test_a_full_disk_in_one_vault_leaves_the_other_syncing(make_device, small_disk: Path, tmp_path: Path):  # noqa: F811
    a, b, d = make_device("A"), make_device("B"), make_device("D")
    c = Device(small_disk / "C", tmp_path / "logs")  # C's folder (and database) on a 4 MB disk
    c.init()
    proc = run_together(a, c)
    pair_running(a, b)
    pair_running(c, d)
    d.write("keep.md", "the previous content\n")
    wait_until(lambda: c.read("keep.md") == "the previous content\n", what="D's note on C")
    filler = fill(small_disk)  # C's disk, to the last block
    d.write("keep.md", "the next content\n" * 3000)  # ~50 KB: cannot fit on C now
    d.write("new.md", "a new note\n" * 3000)
    wait_until(lambda: "No space left" in first_log(a).read_text(errors="replace"), what="C says its disk is full")
    a.write("a.md", "A while C's disk is full\n")
    b.write("b.md", "B while C's disk is full\n")
    wait_until(lambda: b.read("a.md") == "A while C's disk is full\n", what="A's note on B")
    wait_until(lambda: a.read("b.md") == "B while C's disk is full\n", what="B's note on A")
    assert c.read("keep.md") == "the previous content\n" and proc.poll() is None
    filler.unlink()  # space comes back: C catches up on its own
    wait_until(lambda: c.read("new.md") == "a new note\n" * 3000, timeout=60, what="C resumed")
    wait_until(lambda: c.read("keep.md") == "the next content\n" * 3000, timeout=60, what="C has the edit too")
