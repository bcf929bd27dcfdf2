"""A peer's note that could not be written here (a folder in its place) is written as soon as
the watcher sees the place freed, well before the backstop rescan (60 s and more): the daemon
sends a local change first and only then looks for notes waiting under the changed paths
(`Engine.write_into`, daemon/local.py)."""

from __future__ import annotations

import json

from .conftest import pair_running, wait_until


def test_a_note_blocked_by_a_folder_is_written_once_the_folder_goes(make_device):
    a, b = make_device("A"), make_device("B")
    a.start()
    pair_running(a, b)
    (b.root / "plans.md").mkdir()  # an empty folder: nothing of it is synced
    a.write("plans.md", "the plan from A\n")
    a.write("after.md", "written after the plan\n")
    wait_until(lambda: b.read("after.md") == "written after the plan\n", what="A's second note on B")

    def reason() -> str | None:
        listed = json.loads(b.cli("files", str(b.root), "--json").stdout)["files"]
        return next((f["reason"] for f in listed if f["path"] == "plans.md"), None)

    wait_until(lambda: "cannot be written here" in (reason() or ""), what="B reports the note it cannot write")
    assert (b.root / "plans.md").is_dir()

    (b.root / "plans.md").rmdir()
    # within moments; the retry of failed writes (daemon/timers.py) would come 10 s after the failure
    wait_until(lambda: b.read("plans.md") == "the plan from A\n", timeout=6, what="the note written into its freed place")
    b.write("plans.md", "the plan from A\nand B's line\n")  # the note B got is the one A edits
    wait_until(lambda: a.read("plans.md") == "the plan from A\nand B's line\n", what="B's edit back on A")
    assert a.read("after.md") == b.read("after.md") == "written after the plan\n"
