"""The vault index at rest (sync/savedindex.py): a clean stop saves the index's entries
beside its snapshot, a warm start reads them instead of decoding the index, an idle daemon
drops the index's document, and edits, renames and a peer's changes made after that still
sync; a crash after a rename (changes logged after the saved entries) reads the index whole."""

from __future__ import annotations

import signal
import sqlite3

from peervault.daemon.timers import SHED_IDLE_S

from .conftest import Device, in_sync, pair_running, wait_until

NOTES = 30


def _db_counts(dev: Device) -> tuple[int, int]:
    """(rows of the index's log, entries saved beside its snapshot), read while it is stopped."""
    con = sqlite3.connect(dev.root / ".peervault" / "state.db")
    try:
        log = con.execute("SELECT count(*) FROM index_log").fetchone()[0]
        entries = con.execute("SELECT count(*) FROM index_entries").fetchone()[0]
        return int(log), int(entries)
    finally:
        con.close()


def _index_loaded(dev: Device) -> bool:
    return bool(dev.status()["metrics"]["index_loaded"])


def test_an_idle_daemon_holds_no_index_and_changes_after_still_sync(make_device):
    a, b = make_device("A"), make_device("B")
    for i in range(NOTES):
        a.write(f"notes/n{i}.md", f"note {i}\n")
    a.start()
    pair_running(a, b)
    wait_until(in_sync(a, b), what="B to get A's notes")
    a.stop()
    assert _db_counts(a) == (0, NOTES)  # folded at the clean stop, entries beside the snapshot

    a.start()
    wait_until(lambda: a.connected() >= 1 and b.connected() >= 1, what="A back")
    wait_until(lambda: not _index_loaded(a), timeout=SHED_IDLE_S + 30, what="A idle, its index dropped")
    st = a.status()
    assert st["files"]["in_index"] == NOTES and st["files"]["deleted"] == 0

    a.write("notes/n3.md", "note 3, edited after idle\n")  # a text edit needs no index
    wait_until(lambda: b.read("notes/n3.md") == "note 3, edited after idle\n", what="the edit on B")
    assert not _index_loaded(a)
    (a.root / "notes/n4.md").rename(a.root / "notes/renamed.md")  # a rename does
    wait_until(lambda: b.exists("notes/renamed.md") and not b.exists("notes/n4.md"), what="the rename on B")
    b.write("notes/from b.md", "B's new note\n")  # a peer's index change, imported by A
    wait_until(lambda: a.read("notes/from b.md") == "B's new note\n", what="B's note on A")
    wait_until(in_sync(a, b), what="A and B in sync")
    wait_until(lambda: not _index_loaded(a), timeout=SHED_IDLE_S + 30, what="A idle again")

    a.stop(signal.SIGKILL)  # the rename and B's note are in the log, after the saved entries
    assert _db_counts(a)[0] > 0
    a.start()
    wait_until(lambda: a.connected() >= 1, what="A back after the crash")
    st = a.status()
    assert st["files"]["in_index"] == NOTES + 1 and st["files"]["deleted"] == 0
    a.write("notes/after crash.md", "written after the crash\n")
    wait_until(lambda: b.read("notes/after crash.md") == "written after the crash\n", what="A's new note on B")
    wait_until(in_sync(a, b), what="A and B in sync after the crash")
    a.stop()
    assert _db_counts(a) == (0, NOTES + 2)
    a.start()  # the saved entries again, all of them
    wait_until(lambda: a.connected() >= 1, what="A back once more")
    st = a.status()
    assert st["files"]["in_index"] == NOTES + 2
    assert a.read("notes/renamed.md") == "note 4\n" and not a.exists("notes/n4.md")


def test_a_daemon_with_no_peer_drops_its_index_after_a_rename(make_device):
    """Nothing is pushed with no peer connected: the quiet after a local change still sheds."""
    a = make_device("A")
    a.write("one.md", "one\n")
    a.write("two.md", "two\n")
    a.start()
    wait_until(lambda: not _index_loaded(a), timeout=SHED_IDLE_S + 30, what="A's index dropped after its scan")
    (a.root / "two.md").rename(a.root / "three.md")
    wait_until(lambda: _index_loaded(a), what="the rename to load the index")
    wait_until(lambda: not _index_loaded(a), timeout=SHED_IDLE_S + 30, what="A idle after the rename, its index dropped")
    a.stop()
    a.start()
    st = a.status()
    assert st["files"]["in_index"] == 2 and a.read("three.md") == "two\n" and not a.exists("two.md")
