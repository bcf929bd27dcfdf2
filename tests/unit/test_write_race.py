"""A file made at a path an instant after this device found it free is never written over:
a peer's new note or attachment waits (its write fails, and is retried as meeting a file
already there), and the user's bytes stay (fsops.rename_new)."""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from peervault.crdt.index import file_id_for
from peervault.errors import Conflict
from peervault.service import history
from peervault.sync import blobwrite, writeback
from peervault.vault import fsops
from peervault.vault.blobio import hasher
from peervault.vault.fsops import rename_new
from twin_engines import Pair, deliver, engine_pair, fetch_blob, write


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    yield from engine_pair(tmp_path)


def _appearing_first(real: Callable[..., Any], path_arg: int, content: bytes) -> Callable[..., Any]:
    """`real`, after the user's file is made at the path it writes (its argument `path_arg`):
    the moment between this device's look at that path and its write."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        target = Path(args[path_arg])
        if not target.exists():
            target.write_bytes(content)
        return real(*args, **kwargs)

    return wrapped


def test_a_note_file_made_as_the_peers_note_is_written_is_kept_and_merged(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    write(pair.state_a.root / "race.md", "from the peer\n")
    pair.a.reconcile(time.time())
    monkeypatch.setattr(writeback, "atomic_write", _appearing_first(writeback.atomic_write, 1, b"typed here\n"))
    deliver(pair.a, pair.b)
    assert (pair.state_b.root / "race.md").read_text() == "typed here\n"  # not written over
    fid = file_id_for("race.md")
    assert fid in pair.b.failed_writes

    monkeypatch.undo()
    pair.b.retry_failed_writes(time.time())  # the daemon's retry: the file is met as an occupant
    merged = (pair.state_b.root / "race.md").read_text()
    assert "typed here" in merged and "from the peer" in merged
    assert pair.b.text(fid) == merged  # both texts in the note they were written to
    assert not pair.b.failed_writes


def test_an_attachment_made_as_the_peers_is_placed_is_kept(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    theirs, mine = os.urandom(3000), os.urandom(2000)
    write(pair.state_a.root / "pic.png", theirs)
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    ((h, size),) = pair.b.wanted_blobs().items()
    monkeypatch.setattr(blobwrite.blobswap, "replace", _appearing_first(blobwrite.blobswap.replace, 2, mine))
    assert fetch_blob(pair.a, pair.b, h, size)
    assert (pair.state_b.root / "pic.png").read_bytes() == mine  # not written over
    assert file_id_for("pic.png") in pair.b.failed_writes

    monkeypatch.undo()
    pair.b.retry_failed_writes(time.time())
    # the peer's version is placed, and the user's is kept as a version of that file
    assert (pair.state_b.root / "pic.png").read_bytes() == theirs
    digest = hasher()
    digest.update(mine)
    assert pair.b.blobs.has(digest.hexdigest())


def test_a_restore_of_a_deleted_note_does_not_write_over_a_file_made_meanwhile(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = pair.state_a.root
    write(root / "gone.md", "keep me\n")
    pair.a.reconcile(time.time())
    (root / "gone.md").unlink()
    pair.a.reconcile(time.time())
    monkeypatch.setattr(history, "atomic_write", _appearing_first(history.atomic_write, 1, b"new here\n"))
    with pytest.raises(Conflict, match="created while restoring"):
        history.restore(pair.state_a, "gone.md", None)
    assert (root / "gone.md").read_text() == "new here\n"


@pytest.mark.parametrize("how", ["renameat2", "link", "last look"])
def test_rename_new_moves_onto_a_free_path_and_never_over_a_file(
    how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if how != "renameat2":
        monkeypatch.setattr(fsops, "_renameat2", None)
    if how == "last look":

        def no_links(src: Any, dst: Any) -> None:
            raise OSError(errno.EPERM, "hard links not supported here (FAT)")

        monkeypatch.setattr(fsops.os, "link", no_links)
    src, dst = tmp_path / "tmp", tmp_path / "note.md"
    src.write_text("new")
    dst.write_text("the user's")
    with pytest.raises(FileExistsError):
        rename_new(src, dst)
    assert dst.read_text() == "the user's" and src.read_text() == "new"
    dst.unlink()
    rename_new(src, dst)
    assert dst.read_text() == "new" and not src.exists()
