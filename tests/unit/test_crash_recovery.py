"""A kill -9 between writing a note's file and committing that it is written, then updates for
that note arriving before the restarted daemon's background scan has looked at the file: the
file shows a version this device wrote itself, and must not be taken for an edit or a foreign
copy (either put the note's text in twice, on every device)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from peervault.store.filetable import FileRow
from twin_engines import Pair, deliver, engine, engine_pair, tree, write

BODY = "".join(f"line {i}\n" for i in range(20))


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    yield from engine_pair(tmp_path)


@pytest.mark.parametrize("recorded_before", [False, True], ids=["new file", "file recorded at an older version"])
def test_file_written_just_before_a_crash_is_not_merged_in_twice(
    pair: Pair, monkeypatch: pytest.MonkeyPatch, recorded_before: bool
) -> None:
    a, b = pair.a, pair.b
    write(a.root / "a.md", "other\n")
    write(a.root / "n.md", "")  # the watcher saw it created, before its text was written
    a.reconcile(time.time())
    if recorded_before:
        deliver(a, b)  # b writes and records n.md empty
    write(a.root / "n.md", BODY)
    a.reconcile(time.time())

    real_put = pair.state_b.store.put_file

    def killed(row: FileRow) -> None:
        if row.path == "n.md":
            raise RuntimeError("kill -9")  # after the rename into place, before the commit
        real_put(row)

    monkeypatch.setattr(pair.state_b.store, "put_file", killed)
    with pytest.raises(RuntimeError):
        deliver(a, b)
    monkeypatch.undo()
    assert (b.root / "n.md").read_text() == BODY  # on disk, never recorded

    write(a.root / "n.md", BODY + "edit\n")
    a.reconcile(time.time())
    b2 = engine(pair.state_b)  # the restarted daemon
    scan = b2.reconcile_steps(time.time(), chunk=1)
    next(scan)  # its background scan has looked at a.md only...
    deliver(a, b2)  # ...when the next update of n.md arrives
    for _ in scan:
        pass
    b2.recover(time.time())
    b2.settle(time.time() + 10)
    deliver(b2, a)
    a.settle(time.time() + 10)
    assert tree(b.root) == tree(a.root) == {"a.md": "other\n", "n.md": BODY + "edit\n"}
