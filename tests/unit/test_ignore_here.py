"""This device's own ignore rules (`.peervault/ignore`): the rules, and two engines in-process.

B ignores a folder; A does not. What B ignores is never read, written or deleted on B,
and A keeps it and goes on syncing it."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from peervault.crdt.index import file_id_for
from peervault.sync.engine import Engine
from peervault.sync.layout import IGNORED_HERE
from peervault.vault.blobstore import hash_file
from peervault.vault.ignore import DEVICE_IGNORE_FILE, IGNORE_FILE, IgnoreRules
from peervault.vault.scanner import scan
from twin_engines import Pair, deliver, engine, engine_pair, fetch_blob, tree, write


# ------------------------------------------------------------------------------- the rules
def test_device_rules_add_to_the_synced_ones() -> None:
    rules = IgnoreRules("drafts/\n", "private/**\n*.key\nsecret/\n")
    assert rules.ignored_here("private/a.md") and rules.ignored_here("private/deep/b.md")
    assert rules.ignored_here("x.key") and rules.ignored_here("a/secret/b.md")
    assert not rules.ignored_here("drafts/a.md") and rules.ignores("drafts/a.md")  # the synced rule
    assert rules.ignores("private/a.md") and not rules.ignores_synced("private/a.md")
    assert not rules.ignores("privateer.md") and not rules.ignores("notes/a.md")
    assert rules.ignores_dir("private") and rules.ignores_dir("secret") and not rules.ignores_dir("notes")


def test_a_device_rule_cannot_take_back_what_the_synced_rules_keep_out() -> None:
    rules = IgnoreRules("drafts/\n", "!drafts/\n!*.tmp\n")
    assert rules.ignores("drafts/a.md") and rules.ignores("x.tmp")
    assert not rules.ignored_here("drafts/a.md")


def test_negation_within_the_device_rules() -> None:
    rules = IgnoreRules("", "*.log\n!keep.log\nbig/\n!big/small.md\n")
    assert rules.ignored_here("a.log") and not rules.ignored_here("keep.log")
    assert rules.ignored_here("big/small.md")  # as in git: a file in an excluded folder stays out


def test_without_device_rules_nothing_is_ignored_here() -> None:
    assert not IgnoreRules().ignored_here("anything.md") and not IgnoreRules("x/\n").ignored_here("x/a.md")


def test_load_reads_both_files_and_tolerates_bad_ones(tmp_path: Path) -> None:
    (tmp_path / ".peervault").mkdir()
    (tmp_path / IGNORE_FILE).write_text("drafts/\n")
    (tmp_path / DEVICE_IGNORE_FILE).write_text("private/\n")
    rules = IgnoreRules.load(tmp_path)
    assert rules.ignores("drafts/a.md") and not rules.ignored_here("drafts/a.md")
    assert rules.ignored_here("private/a.md")
    assert not rules.same_as(IgnoreRules("drafts/\n")) and rules.same_as(IgnoreRules("drafts/\n", "private/\n"))
    (tmp_path / DEVICE_IGNORE_FILE).write_bytes(b"\xff not utf-8")
    assert IgnoreRules.load(tmp_path).device_rules == ""


def test_the_scanner_follows_the_device_rules(tmp_path: Path) -> None:
    for rel in ("a.md", "private/b.md", "private/c/d.md", "e.key"):
        write(tmp_path.joinpath(*rel.split("/")), "x")
    files, ignored = scan(tmp_path, IgnoreRules("", "private/\n*.key\n"))
    assert set(files) == {"a.md"} and ignored == 2  # the folder counts once


# ------------------------------------------------------------------------------- two engines
@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    yield from engine_pair(tmp_path)


def ignore_on(root: Path, rules: str) -> None:
    write(root / DEVICE_IGNORE_FILE, rules)


def live(e: Engine) -> dict[str, str]:
    return {fid: ent.path for fid, ent in e.entries.items() if e.is_live(ent)}


def unsynced(e: Engine) -> dict[str, str]:
    return e.store.unsynced()


def test_notes_in_an_ignored_folder_go_neither_way(pair: Pair) -> None:
    ra, rb = pair.state_a.root, pair.state_b.root
    ignore_on(rb, "private/**\n")
    pair.b.reconcile(time.time())
    write(ra / "private" / "from-a.md", "A's secret\n")
    write(ra / "shared.md", "shared\n")
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    assert tree(rb) == {"shared.md": "shared\n"}
    assert unsynced(pair.b) == {"private/from-a.md": IGNORED_HERE}  # listed, not written
    write(rb / "private" / "from-b.md", "B's secret\n")
    assert pair.b.reconcile(time.time()) == 0
    assert not pair.b.take_pending()
    assert "private/from-b.md" not in live(pair.b).values()
    write(ra / "private" / "from-a.md", "A's secret, edited\n")
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    assert tree(rb) == {"shared.md": "shared\n", "private/from-b.md": "B's secret\n"}


def _synced_then_ignored(pair: Pair) -> str:
    """private/x.md synced to both, then B ignores private/ (B's engine sees the new rule)."""
    ra, rb = pair.state_a.root, pair.state_b.root
    write(ra / "private" / "x.md", "one\ntwo\nthree\n")
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    assert tree(rb) == {"private/x.md": "one\ntwo\nthree\n"}
    ignore_on(rb, "private/\n")
    assert pair.b.reconcile(time.time()) == 0
    assert "private/x.md" not in pair.b.file_id_at
    return file_id_for("private/x.md")


def test_a_synced_file_ignored_then_deleted_here_is_no_delete(pair: Pair) -> None:
    ra, rb = pair.state_a.root, pair.state_b.root
    fid = _synced_then_ignored(pair)
    (rb / "private" / "x.md").unlink()
    pair.b.local_paths({"private/x.md"}, time.time())
    pair.b.settle(time.time() + 60)
    pair.b.reconcile(time.time())
    assert not pair.b.take_pending()  # nothing at all goes out
    assert pair.b.is_live(pair.b.entries[fid])
    assert tree(ra) == {"private/x.md": "one\ntwo\nthree\n"}
    write(ra / "private" / "x.md", "one\ntwo\nthree\nfour\n")  # A goes on editing it
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    assert not (rb / "private" / "x.md").exists()  # and B does not write it


def test_an_ignored_file_here_is_never_overwritten(pair: Pair) -> None:
    ra, rb = pair.state_a.root, pair.state_b.root
    _synced_then_ignored(pair)
    write(rb / "private" / "x.md", "B's own text\n")
    pair.b.reconcile(time.time())
    write(ra / "private" / "x.md", "A's new text\n")
    write(ra / "private" / "new.md", "A's other note\n")
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    pair.b.recover(time.time())
    pair.b.reconcile(time.time())
    assert tree(rb) == {"private/x.md": "B's own text\n"}
    assert not pair.b.take_pending()
    assert tree(ra)["private/x.md"] == "A's new text\n"


def test_removing_the_rule_merges_both_sides_edits(pair: Pair) -> None:
    ra, rb = pair.state_a.root, pair.state_b.root
    _synced_then_ignored(pair)
    write(rb / "private" / "x.md", "ONE\ntwo\nthree\n")  # B, while ignoring it
    pair.b.reconcile(time.time())
    write(ra / "private" / "x.md", "one\ntwo\nTHREE\n")  # A, meanwhile
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    assert tree(rb) == {"private/x.md": "ONE\ntwo\nthree\n"}
    ignore_on(rb, "")
    pair.b.reconcile(time.time())
    pair.b.recover(time.time())
    deliver(pair.b, pair.a)
    assert tree(rb) == tree(ra) == {"private/x.md": "ONE\ntwo\nTHREE\n"}  # one merged text, no copy


def test_removing_the_rule_brings_in_the_peers_version_of_an_untouched_file(pair: Pair) -> None:
    ra, rb = pair.state_a.root, pair.state_b.root
    _synced_then_ignored(pair)
    for i in range(20):  # more versions than a recent-versions lookup would cover
        write(ra / "private" / "x.md", f"one\ntwo\nthree\n{i}\n")
        pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    ignore_on(rb, "")
    pair.b.reconcile(time.time())
    pair.b.recover(time.time())
    assert not pair.b.take_pending()
    assert tree(rb) == tree(ra) == {"private/x.md": "one\ntwo\nthree\n19\n"}


def test_a_restart_with_a_new_rule_sets_the_file_aside_before_anything_is_written(pair: Pair) -> None:
    ra, rb = pair.state_a.root, pair.state_b.root
    fid = _synced_then_ignored(pair)
    ignore_on(rb, "")
    pair.b.reconcile(time.time())
    ignore_on(rb, "private/\n")  # written while B is stopped
    (rb / "private" / "x.md").unlink()
    b = engine(pair.state_b)
    write(ra / "private" / "x.md", "A's edit\n")
    pair.a.reconcile(time.time())
    deliver(pair.a, b)
    b.recover(time.time())
    b.reconcile(time.time())
    assert not b.take_pending() and b.is_live(b.entries[fid])
    assert tree(rb) == {}


def test_a_peer_moving_a_note_into_an_ignored_folder_deletes_nothing(pair: Pair) -> None:
    ra, rb = pair.state_a.root, pair.state_b.root
    ignore_on(rb, "private/\n")
    pair.b.reconcile(time.time())
    write(ra / "notes" / "x.md", "text\n")
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    assert tree(rb) == {"notes/x.md": "text\n"}
    (ra / "private").mkdir()
    os.rename(ra / "notes" / "x.md", ra / "private" / "x.md")
    pair.a.local_paths({"notes/x.md", "private/x.md"}, time.time(), moves=[("notes/x.md", "private/x.md")])
    deliver(pair.a, pair.b)
    assert tree(rb) == {}  # moved out of B's view, as a move does
    pair.b.reconcile(time.time())
    assert not pair.b.take_pending()  # and nothing goes back
    assert live(pair.a) == {file_id_for("notes/x.md"): "private/x.md"}
    assert tree(ra) == {"private/x.md": "text\n"}


def test_moving_a_note_into_an_ignored_folder_here_moves_it_everywhere(pair: Pair) -> None:
    ra, rb = pair.state_a.root, pair.state_b.root
    ignore_on(rb, "private/\n")
    pair.b.reconcile(time.time())
    write(rb / "notes" / "x.md", "text\n")
    pair.b.reconcile(time.time())
    deliver(pair.b, pair.a)
    (rb / "private").mkdir()
    os.rename(rb / "notes" / "x.md", rb / "private" / "x.md")
    pair.b.local_paths({"notes/x.md", "private/x.md"}, time.time(), moves=[("notes/x.md", "private/x.md")])
    pair.b.settle(time.time() + 60)
    deliver(pair.b, pair.a)
    assert tree(ra) == {"private/x.md": "text\n"}  # the same note, moved: nothing deleted
    assert live(pair.a) == {file_id_for("notes/x.md"): "private/x.md"}
    write(rb / "private" / "x.md", "edited on B only\n")
    pair.b.reconcile(time.time())
    assert not pair.b.take_pending()
    assert tree(rb) == {"private/x.md": "edited on B only\n"}


def test_moving_a_file_out_of_an_ignored_folder_here_is_a_new_note(pair: Pair) -> None:
    ra, rb = pair.state_a.root, pair.state_b.root
    ignore_on(rb, "private/\n")
    pair.b.reconcile(time.time())
    write(rb / "private" / "x.md", "kept private until now\n")
    pair.b.reconcile(time.time())
    os.rename(rb / "private" / "x.md", rb / "public.md")
    pair.b.local_paths({"private/x.md", "public.md"}, time.time(), moves=[("private/x.md", "public.md")])
    deliver(pair.b, pair.a)
    assert tree(ra) == {"public.md": "kept private until now\n"}


@pytest.mark.parametrize("how", ["reconcile", "watcher without moves"])
def test_a_move_into_an_ignored_folder_that_no_watcher_saw_is_a_move(pair: Pair, how: str) -> None:
    """PeerVault was stopped (a reconcile finds it), or the watcher reports no moves (the
    portable one: a path gone, a path new): the file is found by its inode, not deleted."""
    ra, rb = pair.state_a.root, pair.state_b.root
    ignore_on(rb, "private/\n")
    write(rb / "notes" / "x.md", "text\n")
    pair.b.reconcile(time.time())
    deliver(pair.b, pair.a)
    (rb / "private").mkdir()
    os.rename(rb / "notes" / "x.md", rb / "private" / "x.md")
    if how == "reconcile":
        pair.b.reconcile(time.time())
    else:
        pair.b.local_paths({"notes/x.md", "private/x.md"}, time.time())
        pair.b.settle(time.time() + 60)
    deliver(pair.b, pair.a)
    assert tree(ra) == {"private/x.md": "text\n"}
    assert live(pair.a) == {file_id_for("notes/x.md"): "private/x.md"}
    assert not pair.b.store.held_deletions() and tree(rb) == {"private/x.md": "text\n"}


def carry_blobs(src: Engine, dst: Engine) -> None:
    for h, size in dst.wanted_blobs().items():
        assert fetch_blob(src, dst, h, size)


def files_bytes(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file() and ".peervault" not in p.parts
    }


@pytest.mark.parametrize("edited_here", [False, True])
def test_a_binary_file_ignored_here_then_taken_back(pair: Pair, edited_here: bool) -> None:
    """Never fetched nor overwritten while ignored; when the rule goes, an untouched file
    gets the peers' version; one changed here meanwhile is the newer version, and the
    peers' is kept in its history (as for any concurrent binary edits)."""
    ra, rb = pair.state_a.root, pair.state_b.root
    write(ra / "private" / "pic.png", b"\x89PNG v1" * 50)
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    carry_blobs(pair.a, pair.b)
    assert (rb / "private" / "pic.png").read_bytes() == b"\x89PNG v1" * 50
    ignore_on(rb, "private/\n")
    pair.b.reconcile(time.time())
    if edited_here:
        write(rb / "private" / "pic.png", b"\x89PNG B's" * 50)
    write(ra / "private" / "pic.png", b"\x89PNG A's v2" * 50)
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    assert pair.b.wanted_blobs() == {}  # not even fetched
    here = b"\x89PNG B's" * 50 if edited_here else b"\x89PNG v1" * 50
    assert (rb / "private" / "pic.png").read_bytes() == here
    ignore_on(rb, "")
    pair.b.reconcile(time.time())
    pair.b.recover(time.time())
    carry_blobs(pair.a, pair.b)
    deliver(pair.b, pair.a)
    carry_blobs(pair.b, pair.a)
    want = here if edited_here else b"\x89PNG A's v2" * 50
    assert files_bytes(rb) == files_bytes(ra) == {"private/pic.png": want}
    fid = file_id_for("private/pic.png")
    kept = {v[0] for v in pair.a.store.blob_versions(fid)} | {v[0] for v in pair.b.store.blob_versions(fid)}
    (ra / "probe").write_bytes(b"\x89PNG A's v2" * 50)
    assert hash_file(ra / "probe")[0] in kept  # A's version is never lost
