"""A device joining over Iroh takes the index as the serving device saved it (protocol
version 4, INDEX_SNAPSHOT: sync/wholeindex.py): every note and binary file lands in its
place, the joiner never decodes the index, and a kill -9 of the joiner while or just after
it saves that index leaves a database the next start reads correctly."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys

import pytest

from .conftest import Device, in_sync, wait_until

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def _adopted(dev: Device) -> bool:
    """The entries beside the index's snapshot are those the serving device sent."""
    con = sqlite3.connect(dev.root / ".peervault" / "state.db")
    try:
        return con.execute("SELECT value FROM meta WHERE key='index_entries_adopted'").fetchone() is not None
    finally:
        con.close()


def _serving(a: Device) -> dict[str, bytes]:
    """A with notes in folders, binary files, a rename and a delete, its index saved whole
    (a clean stop folds it) and its daemon running again; returns its files."""
    for i in range(40):
        a.write(f"notes/d{i % 4}/n{i}.md", f"# note {i}\n\nbody of note {i}\n")
    (a.root / "img").mkdir()
    (a.root / "img" / "pic.png").write_bytes(PNG)
    (a.root / "img" / "old.png").write_bytes(PNG[::-1])
    a.start()
    wait_until(lambda: a.status()["files"]["in_index"] == 42, what="A's files imported")
    (a.root / "notes/d1/n1.md").rename(a.root / "renamed.md")
    (a.root / "notes/d2/n2.md").unlink()
    (a.root / "img" / "old.png").unlink()
    wait_until(lambda: a.status()["files"]["deleted"] == 2, timeout=60, what="A's deletes recorded")
    a.stop()
    a.start()
    return a.files()


def test_a_joining_device_takes_the_index_as_saved_and_places_every_file(make_device):
    a, b = make_device("A"), make_device("B")
    files = _serving(a)
    b.join(a.invite())
    assert b.files() == files  # every note's text and place, every binary file's bytes
    assert "renamed.md" in files and "notes/d1/n1.md" not in files and "img/old.png" not in files
    assert _adopted(b)  # the index was taken as A saved it, never decoded to read its entries
    b.start()
    wait_until(lambda: b.connected() >= 1, what="B's daemon connected")
    st = b.status()
    assert not st["metrics"]["index_loaded"] and st["files"]["in_index"] == 40
    b.write("from b.md", "B's own note\n")  # B's first index change: the index loads, is checked
    wait_until(lambda: a.read("from b.md") == "B's own note\n", what="B's note on A")
    wait_until(in_sync(a, b), what="A and B in sync")


@pytest.mark.parametrize("step", ["index-adopt-saved", "index-adopt-committed"])
def test_a_kill_nine_while_or_after_the_joiner_saves_the_index_loses_nothing(make_device, step):
    a, b = make_device("A"), make_device("B")
    files = _serving(a)
    join = subprocess.run(
        [sys.executable, "-m", "peervault", "join", str(b.root), a.invite(), "--bind", "127.0.0.1:0"],
        env={**b.env, "PEERVAULT_CRASH_AT": step},
        capture_output=True,
        timeout=120,
    )
    assert join.returncode == -signal.SIGKILL
    assert _adopted(b) == (step == "index-adopt-committed")  # one transaction: all of it or nothing
    b.start()  # the saved pairing lets the daemon finish the join
    wait_until(lambda: b.files() == files, timeout=90, what="B complete after the kill")
    st = b.status()
    assert st["files"]["in_index"] == 40 and st["files"]["deleted"] == 2
    b.stop()
    b.start()  # and read correctly once more
    wait_until(lambda: b.connected() >= 1, what="B back")
    assert b.status()["files"]["in_index"] == 40
    wait_until(in_sync(a, b), what="A and B in sync")
