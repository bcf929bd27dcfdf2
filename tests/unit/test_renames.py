"""Note identity through renames: the pairing rules (pure) and the engine on real folders,
with notes that share their content (the case hash pairing used to get wrong)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from peervault.store.filetable import FileRow
from peervault.sync.renames import pair_renames
from peervault.vault.fsops import Stat
from twin_engines import Pair, deliver, engine, engine_pair, tree

TEMPLATE = "# Title\n\ntags: #daily\n\n- [ ] todo\n"


def row(fid: str, path: str, h: bytes = b"h", ino: int = 0, size: int = 3, mtime: int = 1) -> FileRow:
    return FileRow(fid, path, size, mtime, h, b"", ino, 0)


def st(ino: int = 0, size: int = 3, mtime: int = 2) -> Stat:
    return Stat(size, mtime, ino, 5)


def digests(table: dict[str, bytes]):  # type: ignore[no-untyped-def]
    return lambda rel, blob: table.get(rel)


# ------------------------------------------------------------------ pure rules
def test_inode_pairs_an_untouched_file_whatever_its_content_twins() -> None:
    gone = {"a": row("a", "x/a.md", ino=7, mtime=1), "b": row("b", "x/b.md", ino=8, mtime=1)}
    pairs = pair_renames(gone, {"y/b.md": st(ino=8, mtime=1)}, digests({}), set())
    assert pairs == {"y/b.md": "b"}


def test_the_inode_counts_only_on_its_own_device() -> None:
    gone = {"a": FileRow("a", "a.md", 3, 1, b"h", b"", 7, 0, 1)}
    assert pair_renames(gone, {"b.md": Stat(3, 1, 7, 5, 2)}, digests({}), set()) == {}  # another file system
    assert pair_renames(gone, {"b.md": Stat(3, 1, 7, 5, 1)}, digests({}), set()) == {"b.md": "a"}


def test_a_reused_inode_with_other_content_is_no_rename() -> None:
    gone = {"a": row("a", "a.md", h=b"old", ino=7)}
    assert pair_renames(gone, {"new.md": st(ino=7, mtime=9)}, digests({"new.md": b"new"}), set()) == {}


def test_a_reused_inode_with_equal_unique_content_pairs_by_content() -> None:
    gone = {"a": row("a", "a.md", h=b"same", ino=7)}
    assert pair_renames(gone, {"b.md": st(ino=7, mtime=9)}, digests({"b.md": b"same"}), set()) == {"b.md": "a"}


def test_hash_pairs_only_when_unique() -> None:
    gone = {"a": row("a", "a.md", h=b"t"), "b": row("b", "b.md", h=b"t")}
    # two candidates, no closeness: ambiguous, so a delete plus a create
    assert pair_renames(gone, {"c.md": st()}, digests({"c.md": b"t"}), set()) == {}
    one = {"a": row("a", "a.md", h=b"t")}
    assert pair_renames(one, {"c.md": st()}, digests({"c.md": b"t"}), set()) == {"c.md": "a"}
    # one candidate, two new files with its content: ambiguous too
    assert pair_renames(one, {"c.md": st(), "d.md": st()}, digests({"c.md": b"t", "d.md": b"t"}), set()) == {}


def test_tie_breaks_same_folder_then_same_name() -> None:
    gone = {"a": row("a", "x/Untitled.md", h=b""), "b": row("b", "y/Untitled.md", h=b"")}
    new = {"x/Renamed.md": st(), "z/Untitled.md": st()}
    pairs = pair_renames(gone, new, digests({"x/Renamed.md": b"", "z/Untitled.md": b""}), set())
    # x/Renamed.md: same folder as a; z/Untitled.md: same name as both a and b -> ambiguous
    assert pairs == {"x/Renamed.md": "a"}


def test_sizes_filter_what_is_read() -> None:
    read: list[str] = []

    def digest(rel: str, blob: bool) -> bytes | None:
        read.append(rel)
        return b"t"

    gone = {"a": row("a", "a.md", h=b"t", size=3)}
    pair_renames(gone, {"big.md": st(size=999), "c.md": st(size=3)}, digest, set())
    assert read == ["c.md"]


def test_blob_candidates_are_hashed_as_blobs() -> None:
    seen: list[bool] = []

    def digest(rel: str, blob: bool) -> bytes | None:
        seen.append(blob)
        return b"B" if blob else b"T"

    gone = {"p": row("p", "img.png", h=b"B")}
    assert pair_renames(gone, {"pic.png": st()}, digest, {"p"}) == {"pic.png": "p"}
    assert seen == [True]


# ------------------------------------------------------------------ the engine
@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    yield from engine_pair(tmp_path)


def put(root: Path, rel: str, text: str) -> None:
    p = root.joinpath(*rel.split("/"))
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


def fid_at(e, rel: str) -> str:  # type: ignore[no-untyped-def]
    return next(f for f, ent in e.entries.items() if ent.path == rel and e.is_live(ent))


def test_watched_rename_among_twins_keeps_each_identity(pair: Pair) -> None:
    a, b = pair.a, pair.b
    for name in ("gone.md", "editdel.md", "renedit.md"):
        put(a.root, name, TEMPLATE)
    a.reconcile(time.time())
    deliver(a, b)
    ids = {name: fid_at(a, name) for name in ("gone.md", "editdel.md", "renedit.md")}
    os.remove(a.root / "gone.md")
    os.remove(a.root / "editdel.md")
    os.rename(a.root / "renedit.md", a.root / "renedit-new.md")
    a.local_paths({"gone.md", "editdel.md"}, time.time(), moves=[("renedit.md", "renedit-new.md")])
    assert fid_at(a, "renedit-new.md") == ids["renedit.md"]
    a.settle(now=10**10)
    assert not any(a.is_live(a.entries[ids[n]]) for n in ("gone.md", "editdel.md"))


def test_stopped_rename_among_twins_pairs_by_inode(pair: Pair) -> None:
    a = pair.a
    for name in ("one.md", "two.md", "three.md"):
        put(a.root, name, "")
    a.reconcile(time.time())
    ids = {name: fid_at(a, name) for name in ("one.md", "two.md", "three.md")}
    os.rename(a.root / "two.md", a.root / "sub-two.md")
    os.remove(a.root / "one.md")
    a.reconcile(time.time())
    assert fid_at(a, "sub-two.md") == ids["two.md"]
    assert not a.is_live(a.entries[ids["one.md"]])


def test_ambiguous_twins_without_inode_are_delete_plus_create(pair: Pair) -> None:
    a = pair.a
    put(a.root, "x.md", TEMPLATE)
    put(a.root, "y.md", TEMPLATE)
    a.reconcile(time.time())
    ids = {fid_at(a, "x.md"), fid_at(a, "y.md")}
    (a.root / "x.md").unlink()
    (a.root / "y.md").unlink()
    put(a.root, "z.md", TEMPLATE)  # a new inode with the content both had: no guess
    a.reconcile(time.time())
    assert fid_at(a, "z.md") not in ids


def test_folder_move_carries_every_note(pair: Pair) -> None:
    a, b = pair.a, pair.b
    for i in range(3):
        put(a.root, f"f/n{i}.md", "")
    a.reconcile(time.time())
    deliver(a, b)
    ids = {i: fid_at(a, f"f/n{i}.md") for i in range(3)}
    os.rename(a.root / "f", a.root / "g")
    a.local_paths({"g"}, time.time(), moves=[("f", "g")])
    assert {i: fid_at(a, f"g/n{i}.md") for i in range(3)} == ids
    deliver(a, b)
    assert tree(b.root) == {f"g/n{i}.md": "" for i in range(3)}


def test_temp_file_renamed_over_a_note_is_an_edit_of_it(pair: Pair) -> None:
    a = pair.a
    put(a.root, "note.md", "one\n")
    put(a.root, "note.md.tmp", "two\n")  # an editor's temp file, tracked by a scan meanwhile
    a.reconcile(time.time())
    note = fid_at(a, "note.md")
    os.replace(a.root / "note.md.tmp", a.root / "note.md")
    a.local_paths(set(), time.time(), moves=[("note.md.tmp", "note.md")])
    a.settle(now=10**10)
    assert fid_at(a, "note.md") == note
    assert a.text(note) == "two\n"
    assert {e.path for e in a.entries.values() if a.is_live(e)} == {"note.md"}


def test_rename_with_an_edit_is_read_again(pair: Pair) -> None:
    a = pair.a
    put(a.root, "a.md", "x\n")
    a.reconcile(time.time())
    fid = fid_at(a, "a.md")
    os.rename(a.root / "a.md", a.root / "b.md")
    with open(a.root / "b.md", "a") as f:
        f.write("edit\n")
    a.local_paths({"b.md"}, time.time(), moves=[("a.md", "b.md")])
    assert fid_at(a, "b.md") == fid and a.text(fid) == "x\nedit\n"


def test_swap_through_a_temp_name(pair: Pair) -> None:
    a = pair.a
    put(a.root, "a.md", "")
    put(a.root, "b.md", "")
    a.reconcile(time.time())
    fa, fb = fid_at(a, "a.md"), fid_at(a, "b.md")
    os.rename(a.root / "a.md", a.root / "t.md")
    os.rename(a.root / "b.md", a.root / "a.md")
    os.rename(a.root / "t.md", a.root / "b.md")
    a.local_paths(set(), time.time(), moves=[("a.md", "t.md"), ("b.md", "a.md"), ("t.md", "b.md")])
    assert (fid_at(a, "a.md"), fid_at(a, "b.md")) == (fb, fa)


def test_restart_engine_keeps_renamed_identity(pair: Pair) -> None:
    a = pair.a
    put(a.root, "a.md", "")
    put(a.root, "b.md", "")
    a.reconcile(time.time())
    fb = fid_at(a, "b.md")
    os.rename(a.root / "b.md", a.root / "c.md")
    again = engine(pair.state_a)
    again.reconcile(time.time())
    assert fid_at(again, "c.md") == fb


def test_a_new_file_where_a_note_was_renamed_away_unseen_is_not_that_notes_edit(pair: Pair) -> None:
    """Found by the three-device property test: A renames a.md and makes a new note at a.md;
    B, which made the same rename and a new a.md of its own that no look has seen yet, once
    read its new a.md as the renamed note's edit when A's note needed the name (`_vacate`):
    the note's text became B's new file and its renamed copy was written over."""
    a, b = pair.a, pair.b
    put(a.root, "a.md", "x\n")
    a.reconcile(time.time())
    deliver(a, b)
    note = fid_at(b, "a.md")
    os.rename(b.root / "a.md", b.root / "u.md")  # unseen on B: its watcher has not reported it
    put(b.root, "a.md", "new here\n")
    os.rename(a.root / "a.md", a.root / "u.md")
    put(a.root, "a.md", "new there\n")
    a.reconcile(time.time())
    other = fid_at(a, "a.md")
    assert other < note  # A's new note is written first on B, while a.md still holds B's unseen file
    deliver(a, b)
    b.settle(now=time.time() + 10)  # the held-back writes are tried again: still no look at a.md
    assert b.text(note) == "x\n" and (b.root / "u.md").read_text() == "x\n"
    b.reconcile(time.time())  # the look: u.md is the note (by inode), a.md a new file
    deliver(b, a)
    deliver(a, b)
    b.settle(now=time.time() + 20)
    a.settle(now=time.time() + 20)
    assert tree(a.root) == tree(b.root)
    assert a.text(note) == "x\n" and tree(a.root)["u.md"] == "x\n"
    assert {"new here", "new there"} <= set(tree(a.root)["a.md"].splitlines())


def test_a_folder_move_after_an_unseen_rename_onto_a_deleted_notes_name(pair: Pair) -> None:
    """Found by the two-device property test: d/e/f.md deleted, d/c.md renamed onto its name
    (unseen), then the folder d moved to g (seen): g/e/f.md is d/c.md's note by its inode,
    not the deleted note whose old path the move would carry there."""
    a = pair.a
    put(a.root, "d/c.md", "two\n")
    put(a.root, "d/e/f.md", "three\n")
    a.reconcile(time.time())
    two, three = fid_at(a, "d/c.md"), fid_at(a, "d/e/f.md")
    (a.root / "d/e/f.md").unlink()
    os.rename(a.root / "d/c.md", a.root / "d/e/f.md")
    os.rename(a.root / "d", a.root / "g")
    a.local_paths({"d", "g"}, time.time(), moves=[("d", "g")])
    a.settle(now=time.time() + 10)
    assert fid_at(a, "g/e/f.md") == two
    assert a.text(two) == "two\n"
    assert not a.is_live(a.entries[three])
