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


def test_moved_into_an_ignored_folder_and_out_again_in_one_burst_stays_tracked(pair: Pair) -> None:
    rb = pair.state_b.root
    ignore_on(rb, "private/\n")
    write(rb / "x.md", "text\n")
    pair.b.reconcile(time.time())
    (rb / "private").mkdir()
    os.rename(rb / "x.md", rb / "y.md")
    moves = [("x.md", "private/x.md"), ("private/x.md", "y.md")]
    pair.b.local_paths({"x.md", "private/x.md", "y.md"}, time.time(), moves=moves)
    assert pair.b.file_id_at == {"y.md": file_id_for("x.md")}
    assert live(pair.b) == {file_id_for("x.md"): "y.md"}


def test_a_rule_added_while_an_emptied_file_settles_leaves_it_alone(pair: Pair) -> None:
    ra, rb = pair.state_a.root, pair.state_b.root
    write(rb / "private" / "x.md", "text\n")
    pair.b.reconcile(time.time())
    deliver(pair.b, pair.a)
    write(rb / "private" / "x.md", "")  # mid-save, perhaps: waits out its settle
    pair.b.local_paths({"private/x.md"}, time.time())
    ignore_on(rb, "private/\n")
    pair.b.reconcile(time.time())
    pair.b.settle(time.time() + 60)
    pair.b.reconcile(time.time())
    assert "private/x.md" not in pair.b.file_id_at
    assert not pair.b.take_pending()
    assert tree(ra) == {"private/x.md": "text\n"} and tree(rb) == {"private/x.md": ""}


def test_a_file_hashed_in_the_background_is_dropped_if_ignored_here_meanwhile(pair: Pair) -> None:
    rb = pair.state_b.root
    pair.b.hash_in_background(lambda: None)
    write(rb / "private" / "video.mp4", b"\x00" * (6 * 2**20))  # above text_max_bytes: a worker hashes it
    assert pair.b.reconcile(time.time()) == 0
    jobs = pair.b.take_hash_jobs()
    assert list(jobs) == ["private/video.mp4"]
    ignore_on(rb, "private/\n")
    pair.b.reconcile(time.time())
    digest, size = hash_file(rb / "private" / "video.mp4")
    assert pair.b.blob_hashed("private/video.mp4", jobs["private/video.mp4"], digest, size, time.time()) == 0
    assert pair.b.entries == {} and pair.b.file_id_at == {} and not pair.b.take_pending()


def test_a_path_ignored_here_cannot_be_opened_in_a_live_editor(pair: Pair) -> None:
    """The plugin's live editing binds an editor to a note: never to a file ignored here."""
    from peervault.errors import Conflict, NotFound
    from peervault.service.events import EventBus
    from peervault.service.live import LiveNotes

    ra, rb = pair.state_a.root, pair.state_b.root
    ignore_on(rb, "private/\n")
    pair.b.reconcile(time.time())
    write(ra / "private" / "x.md", "A's\n")
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    live_notes = LiveNotes(pair.b, None, EventBus(), time.time, "b")  # type: ignore[arg-type]
    with pytest.raises(Conflict, match="ignored on this device"):
        live_notes.open("private/x.md", "editor-1")
    with pytest.raises(NotFound):
        live_notes.open("elsewhere.md", "editor-1")


def test_restoring_a_version_never_writes_over_a_file_ignored_here(pair: Pair) -> None:
    from peervault.config import Config
    from peervault.errors import Conflict
    from peervault.service.vault import VaultService

    ra, rb = pair.state_a.root, pair.state_b.root
    for text in ("v1\n", "v2\n"):
        write(ra / "private" / "x.md", text)
        pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    ignore_on(rb, "private/\n")
    pair.b.reconcile(time.time())
    write(rb / "private" / "x.md", "B's own, never synced\n")
    service = VaultService(pair.state_b, Config(), time.time, engine=pair.b)
    with pytest.raises(Conflict, match="ignored on this device"):
        service.restore("private/x.md", 1)
    assert tree(rb) == {"private/x.md": "B's own, never synced\n"}


def test_the_list_of_notes_ignored_here_follows_renames_and_rules(pair: Pair) -> None:
    ra, rb = pair.state_a.root, pair.state_b.root
    ignore_on(rb, "private/\n")
    pair.b.reconcile(time.time())
    write(ra / "private" / "a.md", "a\n")
    write(ra / "private" / "b.md", "b\n")
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    assert unsynced(pair.b) == {"private/a.md": IGNORED_HERE, "private/b.md": IGNORED_HERE}
    # a swap of names: each path is still a note ignored here
    os.rename(ra / "private" / "a.md", ra / "private" / "tmp.md")
    os.rename(ra / "private" / "b.md", ra / "private" / "a.md")
    os.rename(ra / "private" / "tmp.md", ra / "private" / "b.md")
    moves = [("private/a.md", "private/tmp.md"), ("private/b.md", "private/a.md"), ("private/tmp.md", "private/b.md")]
    pair.a.local_paths({"private/a.md", "private/b.md", "private/tmp.md"}, time.time(), moves=moves)
    deliver(pair.a, pair.b)
    pair.b.layout()
    assert unsynced(pair.b) == {"private/a.md": IGNORED_HERE, "private/b.md": IGNORED_HERE}
    os.rename(ra / "private" / "a.md", ra / "a.md")
    pair.a.local_paths({"private/a.md", "a.md"}, time.time(), moves=[("private/a.md", "a.md")])
    deliver(pair.a, pair.b)
    assert unsynced(pair.b) == {"private/b.md": IGNORED_HERE} and tree(rb) == {"a.md": "b\n"}
    ignore_on(rb, "")
    pair.b.reconcile(time.time())
    pair.b.recover(time.time())
    assert unsynced(pair.b) == {} and tree(rb) == {"a.md": "b\n", "private/b.md": "a\n"}


def test_a_file_imported_before_pairing_and_then_ignored_here_is_never_published(tmp_path: Path) -> None:
    from peervault.state import VaultState

    sb, _ = VaultState.init(tmp_path / "B")
    try:
        write(sb.root / "private" / "x.md", "mine\n")
        write(sb.root / "public.md", "public\n")
        sb.store.reset_for_join("01" * 16)  # joining a vault: notes imported now wait for the first sync
        eb = engine(sb)
        eb.reconcile(time.time())
        assert not eb.published
        ufid = eb.file_id_at["private/x.md"]
        assert ufid.startswith("u")
        ignore_on(sb.root, "private/\n")
        eb.reconcile(time.time())
        assert "private/x.md" not in eb.file_id_at and sb.store.load_doc(ufid) is None  # no orphan kept
        eb.publish_pending(time.time())
        assert sorted(live(eb).values()) == ["public.md"]
        assert tree(sb.root) == {"private/x.md": "mine\n", "public.md": "public\n"}
    finally:
        sb.close()
