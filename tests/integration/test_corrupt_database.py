"""A database damaged anyway is detected at start-up, set aside and rebuilt from the folder
and the peers, without touching a byte of the notes."""

from __future__ import annotations

from .conftest import in_sync, pair_running, wait_until


def test_damaged_database_is_rebuilt_and_sync_resumes(make_device):
    a, b = make_device("A"), make_device("B")
    a.start()
    pair_running(a, b)
    for i in range(20):
        a.write(f"notes/n{i}.md", f"note {i}\n")
    (a.root / "pic.png").write_bytes(b"\x89PNG \xff" * 100)
    wait_until(in_sync(a, b), what="B has everything")
    b.stop()
    before = b.files()
    db = b.root / ".peervault" / "state.db"
    raw = bytearray(db.read_bytes())
    raw[100:4096] = b"\xde\xad\xbe\xef" * ((4096 - 100) // 4)  # header and first page smashed
    db.write_bytes(bytes(raw))
    for leftover in (db.with_name("state.db-wal"), db.with_name("state.db-shm")):
        leftover.unlink(missing_ok=True)
    status = b.cli("status", str(b.root), "--json")
    assert "state.db.damaged-" in status.stderr and "rebuilt" in status.stderr
    assert len([line for line in status.stderr.splitlines() if line.strip()]) == 1
    assert b.files() == before  # not a byte of the notes changed
    assert list((b.root / ".peervault").glob("state.db.damaged-*"))
    b.start()
    a.write("after.md", "written after the rebuild\n")
    wait_until(lambda: b.read("after.md") == "written after the rebuild\n", timeout=30, what="A's edit on B")
    b.write("from-b.md", "and B's edit on A\n")
    wait_until(lambda: a.read("from-b.md") == "and B's edit on A\n", timeout=30, what="B's edit on A")
    wait_until(in_sync(a, b), what="the same folders again")
    assert b.read("notes/n7.md") == "note 7\n"  # adopted, not duplicated
    assert not any("(" in p for p in b.files())  # no duplicate-named copies
