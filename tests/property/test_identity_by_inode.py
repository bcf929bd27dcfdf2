"""Renames nobody saw (the daemon was stopped) are told by inode first (issue 9): a file
found under a new name with the inode, size and mtime the engine recorded for a note is
that note, even when another file now sits at the note's old name.

The property tests leave these cases unchecked (`identity_model.py` marks them uncertain),
so they are here, one by one: an empty `Untitled.md` renamed and a new empty `Untitled.md`
made (what Obsidian does on "new note"), and two notes with one text swapping names. Until
the reconcile looks for a changed inode at a tracked path, the old name keeps the note and
the edit made elsewhere lands in the new file."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from peervault.sync.engine import SETTLE_S, Engine
from twin_engines import deliver, engine, tree, twin_vaults
from twin_engines import write as _write


def _at(e: Engine) -> dict[str, str]:
    """path -> file id, as the engine lays the notes out."""
    return {path: fid for fid, path in e.layout().items()}


def _exchange(a: Engine, b: Engine) -> None:
    for _ in range(4):
        for e in (a, b):
            e.settle(time.time() + 10 * SETTLE_S)
            e.reconcile(time.time())
        deliver(a, b)
        deliver(b, a)
        if not (a.pending() or b.pending()):
            return
    raise AssertionError("exchange did not go quiet")


@pytest.mark.parametrize("text", ["", "# Title\n\n## Tasks\n- [ ] \n"])
def test_note_renamed_while_stopped_and_a_new_one_made_at_its_old_name(tmp_path: Path, text: str) -> None:
    sa, sb = twin_vaults(tmp_path)
    try:
        a, b = engine(sa), engine(sb)
        _write(sa.root / "Untitled.md", text)
        a.reconcile(time.time())
        deliver(a, b)
        note = _at(a)["Untitled.md"]
        # A's daemon is stopped: the note is renamed, and a new note made at its old name
        os.rename(sa.root / "Untitled.md", sa.root / "Ideas.md")
        _write(sa.root / "Untitled.md", text)
        # B edits the note meanwhile
        _write(sb.root / "Untitled.md", text + "B's idea\n")
        b.reconcile(time.time())
        a = engine(sa)  # A starts
        a.reconcile(time.time())
        assert _at(a).get("Ideas.md") == note, "the renamed file (same inode, size, mtime) is not the note"
        assert _at(a).get("Untitled.md") not in (None, note)
        _exchange(a, b)
        for root in (sa.root, sb.root):
            assert tree(root) == {"Ideas.md": text + "B's idea\n", "Untitled.md": text}
    finally:
        sa.close()
        sb.close()


def test_two_notes_of_one_text_swap_names_while_stopped(tmp_path: Path) -> None:
    sa, sb = twin_vaults(tmp_path)
    try:
        a, b = engine(sa), engine(sb)
        _write(sa.root / "one.md", "")
        _write(sa.root / "two.md", "")
        a.reconcile(time.time())
        deliver(a, b)
        one, two = _at(a)["one.md"], _at(a)["two.md"]
        # A's daemon is stopped: the two swap names (through a third)
        os.rename(sa.root / "one.md", sa.root / "t.md")
        os.rename(sa.root / "two.md", sa.root / "one.md")
        os.rename(sa.root / "t.md", sa.root / "two.md")
        _write(sb.root / "one.md", "edited on B\n")  # B edits the note that was one.md
        b.reconcile(time.time())
        a = engine(sa)
        a.reconcile(time.time())
        assert (_at(a).get("two.md"), _at(a).get("one.md")) == (one, two), "the notes did not follow their inodes"
        _exchange(a, b)
        for root in (sa.root, sb.root):
            assert tree(root) == {"one.md": "", "two.md": "edited on B\n"}
    finally:
        sa.close()
        sb.close()
