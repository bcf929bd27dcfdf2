"""Two real daemons over loopback Iroh: everyday operations arrive on the other disk."""

from __future__ import annotations

import shutil
import signal
import time

from .conftest import in_sync, pair_running, wait_until


def test_create_edit_rename_move_delete_and_folders(make_device):
    a, b = make_device("A"), make_device("B")
    a.write("notes/first.md", "# First\n\nhello\n")
    a.start()
    pair_running(a, b)
    assert b.read("notes/first.md") == "# First\n\nhello\n"

    b.write("from-b.md", "written on B\n")
    wait_until(lambda: a.read("from-b.md") == "written on B\n", what="create B->A")

    a.write("notes/first.md", "# First\n\nhello, edited on A\n")
    wait_until(lambda: b.read("notes/first.md") == "# First\n\nhello, edited on A\n", what="edit A->B")

    (b.root / "from-b.md").rename(b.root / "renamed-on-b.md")
    wait_until(lambda: a.exists("renamed-on-b.md") and not a.exists("from-b.md"), what="rename B->A")

    (a.root / "deep" / "er").mkdir(parents=True)
    a.write("deep/er/nested.md", "nested\n")
    wait_until(lambda: b.read("deep/er/nested.md") == "nested\n", what="nested folders A->B")

    (a.root / "notes" / "first.md").rename(a.root / "deep" / "first.md")
    wait_until(lambda: b.exists("deep/first.md") and not b.exists("notes/first.md"), what="move A->B")
    wait_until(lambda: not (b.root / "notes").exists(), what="emptied folder removed on B")

    (b.root / "renamed-on-b.md").unlink()
    wait_until(lambda: not a.exists("renamed-on-b.md"), what="delete B->A")

    shutil.rmtree(a.root / "deep")
    wait_until(lambda: not (b.root / "deep").exists(), what="folder removal A->B")

    # A directory rename reports no per-file events: the engine rescans the subtree.
    b.write("dir1/x.md", "x\n")
    b.write("dir1/y.md", "y\n")
    wait_until(lambda: a.exists("dir1/y.md"), what="dir1 on A")
    (b.root / "dir1").rename(b.root / "dir2")
    wait_until(lambda: a.read("dir2/x.md") == "x\n" and a.read("dir2/y.md") == "y\n" and not a.exists("dir1"), what="dir rename")
    wait_until(in_sync(a, b), what="folders identical")
    assert a.stop() == 0 and b.stop() == 0


def test_restart_keeps_state_and_catches_up(make_device):
    a, b = make_device("A"), make_device("B")
    a.write("keep.md", "kept\n")
    a.start()
    pair_running(a, b)
    assert b.stop() == 0
    a.write("while-b-was-down.md", "news\n")
    a.write("keep.md", "kept and edited\n")
    b.start()
    wait_until(in_sync(a, b), what="B caught up after restart")
    assert b.read("while-b-was-down.md") == "news\n"
    assert b.read("keep.md") == "kept and edited\n"
    st = b.status()
    assert st["files"]["tracked"] == 2 and st["files"]["deleted"] == 0
    assert all(p["paired"] for p in st["peers"])


def test_sigterm_exits_zero_and_peer_notices_at_once(make_device):
    a, b = make_device("A"), make_device("B")
    a.start()
    pair_running(a, b)
    assert b.stop(signal.SIGTERM) == 0
    wait_until(lambda: a.connected() == 0, timeout=5, what="A sees B gone after a clean stop")


def test_vanished_peer_noticed_by_heartbeat(make_device):
    a, b = make_device("A"), make_device("B")
    a.start()
    pair_running(a, b)
    b.proc.kill()  # no goodbye: only our heartbeat can tell (iroh itself waits ~30 s)
    b.proc.wait()
    b.proc = None
    b._log.close()
    wait_until(lambda: a.connected() == 0, timeout=30, what="A notices B vanished")


def test_own_writes_are_not_reimported(make_device):
    a, b = make_device("A"), make_device("B")
    a.start()
    pair_running(a, b)
    for i in range(5):
        a.write("echo.md", f"version {i}\n")
        wait_until(lambda: b.read("echo.md") == f"version {i}\n", what=f"version {i} on B")
    wait_until(lambda: (b.runtime() or {}).get("metrics", {}).get("files_written", 0) >= 5, what="B wrote 5 times")
    b_metrics = b.runtime()["metrics"]
    assert b_metrics["local_changes"] == 0  # B's own writes never came back as local edits
    assert a.runtime()["metrics"]["sync_error_count"] == 0


def test_killed_and_restarted_peer_resumes_without_waiting_for_timeouts(make_device):
    a, b = make_device("A"), make_device("B")
    a.start()
    pair_running(a, b)
    for _ in range(2):  # either side may hold the smaller id; restart twice to vary timing
        b.proc.kill()
        b.proc.wait()
        b.proc = None
        b._log.close()
        b.start()
        marker = f"after restart {time.monotonic()}\n"
        b.write("resumed.md", marker)
        # A still holds the dead link (its heartbeat needs 15 s); B's new dial must replace it.
        wait_until(lambda: a.read("resumed.md") == marker, timeout=8, what="sync resumed after kill -9")
