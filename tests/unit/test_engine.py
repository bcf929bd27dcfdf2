"""The vault engine on real folders and real SQLite, two engines exchanging in-process."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from peervault.config import Config
from peervault.crdt import notes
from peervault.crdt.index import VaultIndex, file_id_for
from peervault.protocol import messages as m
from peervault.protocol.session import Received, Session, Synced
from peervault.state import VaultState
from peervault.sync import documents, writeback
from peervault.sync.engine import SETTLE_S, Engine
from peervault.vault.ignore import IgnoreRules
from twin_engines import Pair, deliver, engine, engine_pair, fetch_blob, tree, write

ALL_BUCKETS = bytes(range(256))


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file() and ".peervault" not in p.parts
    }


def live_paths(e: Engine) -> dict[str, str]:
    return {fid: ent.path for fid, ent in e.entries.items() if e.is_live(ent)}


@pytest.fixture
def vault_a(tmp_path: Path) -> Iterator[VaultState]:
    state, created = VaultState.init(tmp_path / "A")
    assert created
    yield state
    state.close()


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    yield from engine_pair(tmp_path)


def full_sync(src: Engine, dst: Engine) -> None:
    """What a HELLO exchange sends from src to dst."""
    blob = src.index_updates_since(dst.index_vv())
    if blob:
        dst.apply_index(blob, time.time())
    for batch in src.doc_batches(ALL_BUCKETS, dict(dst.doc_versions(ALL_BUCKETS))):
        dst.apply_docs(tuple(batch), time.time())


def exchange(p: Pair) -> None:
    deliver(p.a, p.b)
    deliver(p.b, p.a)
    deliver(p.a, p.b)  # anything A merged while applying B's changes


# ------------------------------------------------------------------------------- local side
def test_reconcile_create_edit_rename_delete(vault_a: VaultState) -> None:
    e = engine(vault_a)
    root = vault_a.root
    write(root / "a.md", "hello\n")
    assert e.reconcile(time.time()) == 1
    fid = file_id_for("a.md")
    assert live_paths(e) == {fid: "a.md"}
    assert e.text(fid) == "hello\n"
    assert e.reconcile(time.time()) == 0  # unchanged: nothing to do

    write(root / "a.md", "hello world\n")
    assert e.reconcile(time.time()) == 1
    assert e.text(fid) == "hello world\n"
    assert live_paths(e) == {fid: "a.md"}

    (root / "sub").mkdir()
    os.rename(root / "a.md", root / "sub" / "renamed.md")
    assert e.reconcile(time.time()) == 1
    assert live_paths(e) == {fid: "sub/renamed.md"}  # same file id, new path
    assert e.files[fid].path == "sub/renamed.md"
    assert e.text(fid) == "hello world\n"

    (root / "sub" / "renamed.md").unlink()
    assert e.reconcile(time.time()) == 1
    assert live_paths(e) == {}
    assert e.entries[fid].deleted
    assert fid not in e.files and vault_a.store.files() == {}
    assert e.counts() == {"tracked": 0, "deleted": 1}


def test_reconcile_in_steps_keeps_renames_and_defers_deletes(vault_a: VaultState) -> None:
    e = engine(vault_a)
    root = vault_a.root
    for name in ("a.md", "b.md", "gone.md"):
        write(root / name, f"{name} text\n")
    e.reconcile(time.time())
    os.rename(root / "a.md", root / "z.md")  # sorts last: its new path is in the last step
    (root / "gone.md").unlink()
    for i in range(5):
        write(root / f"n{i}.md", f"new {i}\n")
    steps = e.reconcile_steps(time.time(), chunk=2)
    assert next(steps) == 1  # renames are paired over the whole pass and carried out first
    assert next(steps) == 2
    assert not e.entries[file_id_for("gone.md")].deleted  # deletes wait for the last step
    assert sum(steps) == 4  # 3 more creates, and the delete
    assert live_paths(e)[file_id_for("a.md")] == "z.md"  # the same note, renamed
    assert e.entries[file_id_for("gone.md")].deleted
    assert e.reconcile(time.time()) == 0


def test_import_steps_are_cut_in_id_order_and_store_what_one_pass_stores(tmp_path: Path) -> None:
    """Steps take the files by note id (their rows' keys: each step's inserts land in one
    narrow range of the indexes), and end with the same notes as a pass in one step."""
    stepped, whole = (VaultState.init(tmp_path / name)[0] for name in ("stepped", "whole"))
    names = [f"d{i % 3}/note {i}.md" for i in range(9)]
    for state in (stepped, whole):
        for name in names:
            write(state.root / name, f"{name} text\n")
    e = engine(stepped)
    steps = e.reconcile_steps(time.time(), chunk=3)
    assert next(steps) == 0  # no renames
    assert next(steps) == 3
    by_id = sorted(names, key=file_id_for)
    assert sorted(row.path for row in e.files.values()) == sorted(by_id[:3])
    assert sum(steps) == 6
    one = engine(whole)
    assert one.reconcile(time.time()) == 9
    assert live_paths(e) == live_paths(one) == {file_id_for(n): n for n in names}
    assert {f: e.text(f) for f in e.files} == {f: one.text(f) for f in one.files}
    assert set(stepped.store.files()) == set(whole.store.files())
    stepped.close()
    whole.close()


def test_a_first_import_stores_each_text_as_it_is_and_leaves_the_files_alone(vault_a: VaultState) -> None:
    """A note made from a file's text is not read back to compare (local_create): Loro must
    hold exactly those characters, whatever they are, and the file is never written."""
    texts = {
        "crlf.md": "line one\r\nline two\r\n",
        "lone cr.md": "a\rb\r",
        "bom.md": "\ufeff# Title\n",
        "emoji.md": "🙂 👩‍💻 \U0001f600 surrogate pairs in UTF-16\n",
        "scripts/Ελληνικά.md": "Καλημέρα κόσμε — Привет, мир — 日本語のテキスト\n",
        "combining.md": "e\u0301 a\u0308 \u200b zero width\n",
        "nul.md": "before\x00after\n",
        "empty.md": "",
    }
    for name, text in texts.items():
        write(vault_a.root / name, text)
    before = {name: os.stat(vault_a.root / name).st_mtime_ns for name in texts}
    e = engine(vault_a)
    assert sum(e.reconcile_steps(time.time(), chunk=3)) == len(texts)
    for name, text in texts.items():
        assert e.text(file_id_for(name)) == text, name
        assert (vault_a.root / name).read_bytes() == text.encode("utf-8")
        assert os.stat(vault_a.root / name).st_mtime_ns == before[name], f"{name} was written"
    assert e.reconcile(time.time()) == 0


def test_local_paths_sees_the_same_changes(vault_a: VaultState) -> None:
    e = engine(vault_a)
    write(vault_a.root / "d" / "x.md", "x")
    write(vault_a.root / "d" / "y.md", "y")
    assert e.local_paths({"d"}, time.time()) == 2
    assert sorted(live_paths(e).values()) == ["d/x.md", "d/y.md"]
    (vault_a.root / "d" / "x.md").unlink()
    now = time.time()
    assert e.local_paths({"d/x.md"}, now) == 0  # may be an editor's save: waits to settle
    assert sorted(live_paths(e).values()) == ["d/x.md", "d/y.md"]
    assert e.next_settle() == pytest.approx(now + SETTLE_S)
    assert e.settle(now + SETTLE_S) == 1
    assert sorted(live_paths(e).values()) == ["d/y.md"]
    assert e.next_settle() is None


def test_vim_style_save_is_an_edit_not_a_delete(vault_a: VaultState) -> None:
    e = engine(vault_a)
    write(vault_a.root / "v.md", "one\ntwo\n")
    e.reconcile(time.time())
    fid = e.file_id_at["v.md"]
    (vault_a.root / "v.md").rename(vault_a.root / "v.md~")
    now = time.time()
    assert e.local_paths({"v.md", "v.md~"}, now) == 0
    write(vault_a.root / "v.md", "one\ntwo edited\n")
    (vault_a.root / "v.md~").unlink()
    assert e.local_paths({"v.md", "v.md~"}, now + 1.5) == 1
    assert e.file_id_at["v.md"] == fid and not e.entries[fid].deleted
    assert e.settle(now + 10) == 0
    assert e.text(fid) == "one\ntwo edited\n"


def test_rename_detected_across_batches(vault_a: VaultState) -> None:
    e = engine(vault_a)
    write(vault_a.root / "a.md", "content\n")
    e.reconcile(time.time())
    fid = e.file_id_at["a.md"]
    (vault_a.root / "a.md").rename(vault_a.root / "b.md")
    now = time.time()
    e.local_paths({"a.md"}, now)  # the watcher reported the two halves separately
    e.local_paths({"b.md"}, now + 0.2)
    assert e.entries[fid].path == "b.md" and not e.entries[fid].deleted
    assert e.next_settle() is None


def test_truncate_then_write_is_not_synced_as_empty(vault_a: VaultState) -> None:
    e = engine(vault_a)
    write(vault_a.root / "t.md", "precious text\n")
    e.reconcile(time.time())
    e.clear_pending()
    fid = e.file_id_at["t.md"]
    (vault_a.root / "t.md").write_text("")  # an editor truncated the file and has not written yet
    now = time.time()
    assert e.local_paths({"t.md"}, now) == 0
    assert e.text(fid) == "precious text\n" and not e.pending()
    write(vault_a.root / "t.md", "precious text, saved\n")
    assert e.local_paths({"t.md"}, now + 0.5) == 1
    assert e.text(fid) == "precious text, saved\n"
    # emptied on purpose: it syncs once the file stays empty
    (vault_a.root / "t.md").write_text("")
    e.local_paths({"t.md"}, now + 1)
    assert e.settle(now + 1 + SETTLE_S) == 1
    assert e.text(fid) == ""


def test_a_new_file_seen_before_its_first_write_is_not_published_empty(vault_a: VaultState) -> None:
    e = engine(vault_a)
    e.reconcile(time.time())
    (vault_a.root / "n.md").write_text("")  # created (O_TRUNC); the writer not scheduled yet
    now = time.time()
    assert e.local_paths({"n.md"}, now) == 0
    assert "n.md" not in e.file_id_at and not e.pending()
    write(vault_a.root / "n.md", "the first words\n")
    assert e.local_paths({"n.md"}, now + 0.5) == 1
    fid = e.file_id_at["n.md"]
    assert e.text(fid) == "the first words\n"
    assert e.settle(now + SETTLE_S) == 0 and e.text(fid) == "the first words\n"
    # a file meant to be empty (a new note not written yet) is published once it stays so
    (vault_a.root / "empty.md").write_text("")
    assert e.local_paths({"empty.md"}, now + 1) == 0
    assert e.settle(now + 1 + SETTLE_S) == 1
    assert e.text(e.file_id_at["empty.md"]) == ""


def test_swapped_names_of_same_size_files_are_seen(vault_a: VaultState) -> None:
    e = engine(vault_a)
    a, b = vault_a.root / "a.md", vault_a.root / "b.md"
    write(a, "AAA\n")
    write(b, "BBB\n")
    st = a.stat()
    os.utime(b, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime
    e.reconcile(time.time())
    a.rename(vault_a.root / "tmp.md")
    b.rename(a)
    (vault_a.root / "tmp.md").rename(b)
    e.reconcile(time.time())
    texts = {e.entries[f].path: e.text(f) for f in e.file_id_at.values()}
    assert texts == {"a.md": "BBB\n", "b.md": "AAA\n"}


def test_ignored_files_are_not_tracked(vault_a: VaultState) -> None:
    e = engine(vault_a)
    write(vault_a.root / "note.md", "n")
    write(vault_a.root / "note.md~", "backup")
    write(vault_a.root / ".obsidian" / "app.json", "{}")  # settings sync...
    write(vault_a.root / ".obsidian" / "workspace.json", "{}")  # ...except per-device state
    write(vault_a.root / "x.swp", "swap")
    assert e.reconcile(time.time()) == 2
    assert sorted(live_paths(e).values()) == [".obsidian/app.json", "note.md"]
    assert e.ignored == 3


def test_changed_ignore_rules_apply_at_once_and_keep_synced_files(vault_a: VaultState) -> None:
    e = engine(vault_a)
    write(vault_a.root / "drafts" / "old.md", "synced before the rule\n")
    e.reconcile(time.time())
    write(vault_a.root / ".peervaultignore", "drafts/\n")
    write(vault_a.root / "drafts" / "new.md", "never synced\n")
    e.local_paths({".peervaultignore", "drafts/new.md"}, time.time())
    paths = set(live_paths(e).values())
    assert ".peervaultignore" in paths  # the rules themselves sync
    assert "drafts/new.md" not in paths
    assert "drafts/old.md" in paths  # already synced: stays synced (as in git)
    write(vault_a.root / ".peervaultignore", "")
    e.local_paths({".peervaultignore"}, time.time())  # the rule is gone: the file is picked up now
    assert "drafts/new.md" in set(live_paths(e).values())


def test_a_warm_pass_still_reads_a_synced_file_a_rule_now_matches(vault_a: VaultState, monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk skips what the rules match; the files tracked there are looked at apart from
    it (`ignorehere.walk`), while the files the walk met are not asked about the rules again."""
    write(vault_a.root / "drafts" / "old.md", "synced before the rule\n")
    write(vault_a.root / "kept.md", "k\n")
    engine(vault_a).reconcile(time.time())
    write(vault_a.root / ".peervaultignore", "drafts/\n")
    e = engine(vault_a)  # a warm start, with the rule
    asked: list[str] = []
    ignores = IgnoreRules.ignores
    monkeypatch.setattr(IgnoreRules, "ignores", lambda self, rel: asked.append(rel) or ignores(self, rel))
    assert e.reconcile(time.time()) == 1  # the rules file itself
    assert sorted(asked) == [".peervaultignore", "drafts/old.md", "kept.md"]  # once each
    write(vault_a.root / "drafts" / "old.md", "edited under the rule\n")
    write(vault_a.root / "kept.md", "k2\n")
    assert e.reconcile(time.time()) == 2
    assert e.text(file_id_for("drafts/old.md")) == "edited under the rule\n"
    assert e.text(file_id_for("kept.md")) == "k2\n"


def test_notes_from_peers_never_land_in_state_or_git_folders(pair: Pair) -> None:
    write(pair.state_a.root / "x.md", "x\n")
    pair.a.reconcile(time.time())
    fid = live_paths(pair.a).popitem()[0]
    pair.a.index.set_path(fid, ".git/hooks/post-commit")
    documents.index_changed(pair.a.state, fid, None)
    full_sync(pair.a, pair.b)
    assert not (pair.state_b.root / ".git").exists()
    assert tree(pair.state_b.root) == {}


def carry_blobs(src: Engine, dst: Engine) -> None:
    """What the daemon's blob transfers do: copy each wanted blob over, verified, then tell dst."""
    for h, size in dst.wanted_blobs().items():
        assert fetch_blob(src, dst, h, size), f"{h[:12]} is not on the other device"


PNG = b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x01" * 100


def test_binary_files_sync_as_blobs_byte_for_byte(pair: Pair) -> None:
    write(pair.state_a.root / "img" / "pic.png", PNG)
    write(pair.state_a.root / "ok.md", "fine")
    assert pair.a.reconcile(time.time()) == 2
    assert pair.state_a.store.unsynced() == {}
    deliver(pair.a, pair.b)
    assert not (pair.state_b.root / "img" / "pic.png").exists()  # not before its bytes are here
    assert len(pair.b.wanted_blobs()) == 1
    carry_blobs(pair.a, pair.b)
    assert (pair.state_b.root / "img" / "pic.png").read_bytes() == PNG
    made = (pair.state_a.root / "img" / "pic.png").stat().st_mtime_ns // 1_000_000
    assert (pair.state_b.root / "img" / "pic.png").stat().st_mtime_ns // 1_000_000 == made  # its time travels too
    assert pair.b.wanted_blobs() == {}
    assert pair.b.reconcile(time.time()) == 0  # its own write is not a change


def test_binary_edit_rename_and_delete(pair: Pair) -> None:
    root_a, root_b = pair.state_a.root, pair.state_b.root
    write(root_a / "a.pdf", b"%PDF-1.4\xff\x00v1")
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    carry_blobs(pair.a, pair.b)
    write(root_a / "a.pdf", b"%PDF-1.4\xff\x00v2")
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    carry_blobs(pair.a, pair.b)
    assert (root_b / "a.pdf").read_bytes() == b"%PDF-1.4\xff\x00v2"
    os.rename(root_a / "a.pdf", root_a / "b.pdf")
    assert pair.a.reconcile(time.time()) == 1  # a rename, recognised by the blob's hash
    deliver(pair.a, pair.b)
    assert tree_bytes(root_b) == {"b.pdf": b"%PDF-1.4\xff\x00v2"}
    (root_a / "b.pdf").unlink()
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    assert tree_bytes(root_b) == {}
    # every version stays recoverable on both devices
    fid = next(iter(pair.b.entries))
    assert {v[0] for v in pair.state_b.store.blob_versions(fid)} <= set(pair.b.blobs.all_hashes())
    assert len(pair.state_a.store.blob_versions(fid)) == 2


def test_concurrent_binary_edits_last_writer_wins_and_both_stay(pair: Pair) -> None:
    root_a, root_b = pair.state_a.root, pair.state_b.root
    write(root_a / "x.bin", b"\xffbase")
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    carry_blobs(pair.a, pair.b)
    write(root_a / "x.bin", b"\xfffrom A")
    write(root_b / "x.bin", b"\xfffrom B")
    pair.a.reconcile(time.time())
    pair.b.reconcile(time.time())
    deliver(pair.a, pair.b)
    deliver(pair.b, pair.a)
    carry_blobs(pair.a, pair.b)
    carry_blobs(pair.b, pair.a)
    assert (root_a / "x.bin").read_bytes() == (root_b / "x.bin").read_bytes()  # one winner
    fid = next(iter(pair.a.entries))
    kept = {v[0] for v in pair.state_a.store.blob_versions(fid)} | {v[0] for v in pair.state_b.store.blob_versions(fid)}
    from peervault.vault.blobstore import hash_file

    for data in (b"\xfffrom A", b"\xfffrom B"):
        (root_a / "probe").write_bytes(data)
        assert hash_file(root_a / "probe")[0] in kept  # the loser is still recoverable
        (root_a / "probe").unlink()


def _until_quiet(p: Pair) -> None:
    """Deliver both ways, and the blobs each one wants, until nothing more moves."""
    for _ in range(6):
        moved = deliver(p.a, p.b) + deliver(p.b, p.a)
        carry_blobs(p.a, p.b)
        carry_blobs(p.b, p.a)
        if not moved:
            return
    raise AssertionError("the exchange never went quiet")


@pytest.mark.parametrize("later", ["edit", "delete"])
@pytest.mark.parametrize("heard_first", ["A", "B"])
def test_binary_edit_against_a_concurrent_delete_the_later_wins(pair: Pair, later: str, heard_first: str) -> None:
    """A saves a new version of a picture while B deletes it, neither hearing of the other; B
    records its delete only afterwards (as a device that was off), yet the delete keeps the
    time it was made. Whichever of the two came later wins on both, in either delivery order."""
    root_a, root_b = pair.state_a.root, pair.state_b.root
    write(root_a / "pic.png", PNG)
    pair.a.reconcile(time.time())
    _until_quiet(pair)
    assert (root_b / "pic.png").read_bytes() == PNG
    edited = PNG + b"edited on A"

    def edit() -> None:
        write(root_a / "pic.png", edited)
        assert pair.a.reconcile(time.time()) == 1

    def delete() -> None:
        (root_b / "pic.png").unlink()

    for action in (delete, edit) if later == "edit" else (edit, delete):
        action()
        time.sleep(0.05)  # coarse file system clocks: the two are clearly apart
    assert pair.b.reconcile(time.time()) == 1  # the delete, recorded after both happened
    if heard_first == "A":
        deliver(pair.b, pair.a)
    else:
        deliver(pair.a, pair.b)
    _until_quiet(pair)
    fid = file_id_for("pic.png")
    assert pair.a.entries[fid] == pair.b.entries[fid]
    if later == "edit":  # the save brings the picture back on B, with A's bytes
        assert tree_bytes(root_a) == tree_bytes(root_b) == {"pic.png": edited}
        from peervault.vault.blobstore import hash_file

        assert pair.b.is_live(pair.b.entries[fid]) and pair.b.entries[fid].blob == hash_file(root_b / "pic.png")[0]
    else:  # the later delete removes it from A, whose edit stays in history
        assert tree_bytes(root_a) == tree_bytes(root_b) == {}
        assert not pair.a.is_live(pair.a.entries[fid])
        assert len(pair.state_a.store.blob_versions(fid)) == 2
    assert pair.a.reconcile(time.time()) == 0 and pair.b.reconcile(time.time()) == 0  # nothing left to record
    assert pair.a.pending() == set() and pair.b.pending() == set()


def test_files_above_the_size_limit_are_listed_not_synced(vault_a: VaultState) -> None:
    from dataclasses import replace

    e = Engine(vault_a.root, vault_a.store, replace(Config(), max_file_bytes=100_000), time.time)
    write(vault_a.root / "big.bin", b"\x00" * 100_001)
    assert e.reconcile(time.time()) == 0
    assert vault_a.store.unsynced()["big.bin"] == "larger than the 97.7 KB limit (max_file_bytes)"


def test_text_above_the_threshold_is_a_blob_and_odd_text_survives(pair: Pair) -> None:
    from dataclasses import replace

    big = Engine(pair.state_a.root, pair.state_a.store, replace(Config(), text_max_bytes=1000), time.time)
    odd = "\ufeffBOM line\r\nCRLF line\r\nNUL \x00 inside\n"
    write(pair.state_a.root / "big.md", "x" * 2000)
    write(pair.state_a.root / "odd.md", odd)
    big.reconcile(time.time())
    kinds = {e.path: e.kind for e in big.entries.values()}
    assert kinds == {"big.md": "blob", "odd.md": "text"}
    deliver(big, pair.b)
    carry_blobs(big, pair.b)
    assert (pair.state_b.root / "odd.md").read_bytes() == odd.encode("utf-8")
    assert (pair.state_b.root / "big.md").read_bytes() == b"x" * 2000


def test_a_binary_file_stays_a_blob_when_its_content_becomes_text(pair: Pair) -> None:
    write(pair.state_a.root / "f.md", b"\xff\xff")
    pair.a.reconcile(time.time())
    write(pair.state_a.root / "f.md", "now text")
    assert pair.a.reconcile(time.time()) == 1
    assert pair.state_a.store.unsynced() == {}
    assert pair.a.entries[file_id_for("f.md")].kind == "blob"  # one kind per file: no flip-flopping
    deliver(pair.a, pair.b)
    carry_blobs(pair.a, pair.b)
    assert (pair.state_b.root / "f.md").read_text() == "now text"


def test_state_survives_a_restart(vault_a: VaultState) -> None:
    e = engine(vault_a)
    write(vault_a.root / "a.md", "one")
    write(vault_a.root / "b" / "c.md", "two")
    e.reconcile(time.time())
    before = (e.entries, e.bucket_digests(), e.index_vv())
    e2 = engine(vault_a)
    assert (e2.entries, e2.bucket_digests(), e2.index_vv()) == before
    assert e2.session_peer != e.session_peer
    assert e2.reconcile(time.time()) == 0
    assert e2.text(file_id_for("b/c.md")) == "two"


def test_take_pending_is_empty_after_taking(vault_a: VaultState) -> None:
    e = engine(vault_a)
    assert not e.pending() and e.take_pending() == []
    write(vault_a.root / "a.md", "x")
    e.reconcile(time.time())
    assert e.pending()
    msgs = e.take_pending()
    assert [type(x) for x in msgs] == [m.IndexUpdates, m.DocUpdates]
    assert not e.pending() and e.take_pending() == []


# ------------------------------------------------------------------------------- two engines
def test_two_engines_converge_on_disk(pair: Pair) -> None:
    ra, rb = pair.state_a.root, pair.state_b.root
    write(ra / "a.md", "alpha\n")
    write(ra / "dir" / "sub" / "ünï 📝.md", "unicode ✓\n")
    write(ra / "empty.md", "")
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    assert tree(rb) == tree(ra) == {"a.md": "alpha\n", "dir/sub/ünï 📝.md": "unicode ✓\n", "empty.md": ""}
    assert pair.b.bucket_digests() == pair.a.bucket_digests()
    assert pair.b.reconcile(time.time()) == 0  # what the engine wrote is not an edit

    write(rb / "a.md", "alpha edited on B\n")
    write(rb / "new-on-b.md", "b\n")
    (rb / "empty.md").unlink()
    pair.b.reconcile(time.time())
    deliver(pair.b, pair.a)
    assert tree(ra) == tree(rb) == {"a.md": "alpha edited on B\n", "dir/sub/ünï 📝.md": "unicode ✓\n", "new-on-b.md": "b\n"}
    assert pair.a.entries == pair.b.entries
    assert pair.a.bucket_digests() == pair.b.bucket_digests()
    assert pair.a.reconcile(time.time()) == 0


def test_full_sync_via_replica_methods(pair: Pair) -> None:
    write(pair.state_a.root / "x.md", "x")
    write(pair.state_a.root / "y.md", "y")
    pair.a.reconcile(time.time())
    pair.a.take_pending()  # lost: the peer was offline
    full_sync(pair.a, pair.b)
    assert tree(pair.state_b.root) == {"x.md": "x", "y.md": "y"}
    # nothing left to send either way
    assert pair.a.index_updates_since(pair.b.index_vv()) is None
    assert list(pair.a.doc_batches(ALL_BUCKETS, dict(pair.b.doc_versions(ALL_BUCKETS)))) == []
    assert list(pair.b.doc_batches(ALL_BUCKETS, dict(pair.a.doc_versions(ALL_BUCKETS)))) == []


def test_rename_travels_and_keeps_the_file_id(pair: Pair) -> None:
    ra, rb = pair.state_a.root, pair.state_b.root
    write(ra / "old.md", "content\n")
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    (ra / "new").mkdir()
    os.rename(ra / "old.md", ra / "new" / "place.md")
    assert pair.a.reconcile(time.time()) == 1
    msgs = deliver(pair.a, pair.b)
    assert [type(x) for x in msgs] == [m.IndexUpdates]  # a rename sends no note content
    assert tree(rb) == {"new/place.md": "content\n"}
    assert not (rb / "old.md").exists()
    assert live_paths(pair.b) == {file_id_for("old.md"): "new/place.md"}


def test_concurrent_edits_to_different_lines_both_survive(pair: Pair) -> None:
    ra, rb = pair.state_a.root, pair.state_b.root
    write(ra / "n.md", "line 1\nline 2\nline 3\nline 4\n")
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    write(ra / "n.md", "line 1 edited on A\nline 2\nline 3\nline 4\n")
    write(rb / "n.md", "line 1\nline 2\nline 3\nline 4 edited on B\n")
    pair.a.reconcile(time.time())
    pair.b.reconcile(time.time())
    exchange(pair)
    expected = "line 1 edited on A\nline 2\nline 3\nline 4 edited on B\n"
    assert tree(ra) == tree(rb) == {"n.md": expected}


def test_unsaved_local_edit_is_read_before_a_remote_write(pair: Pair) -> None:
    """The disk changed on B but B has not reconciled yet when A's edit arrives: nothing is lost."""
    ra, rb = pair.state_a.root, pair.state_b.root
    write(ra / "n.md", "top\nmiddle\nbottom\n")
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    write(rb / "n.md", "top\nmiddle\nbottom edited on B\n")  # not reconciled
    write(ra / "n.md", "top edited on A\nmiddle\nbottom\n")
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    # B's file was written just now by someone else: the merge waits until it is quiet
    assert (rb / "n.md").read_text() == "top\nmiddle\nbottom edited on B\n"
    assert pair.b.pending()  # B's absorbed edit goes out
    pair.b.settle(time.time() + SETTLE_S)
    assert (rb / "n.md").read_text() == "top edited on A\nmiddle\nbottom edited on B\n"
    deliver(pair.b, pair.a)
    assert tree(ra) == tree(rb)


def test_edit_wins_over_concurrent_delete(pair: Pair) -> None:
    ra, rb = pair.state_a.root, pair.state_b.root
    write(ra / "n.md", "original\n")
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    (ra / "n.md").unlink()
    pair.a.reconcile(time.time())
    write(rb / "n.md", "edited on B\n")
    pair.b.reconcile(time.time())
    exchange(pair)
    assert tree(ra) == tree(rb) == {"n.md": "edited on B\n"}  # the file came back on A
    fid = file_id_for("n.md")
    assert pair.a.is_live(pair.a.entries[fid]) and pair.b.is_live(pair.b.entries[fid])
    assert pair.a.reconcile(time.time()) == 0 and pair.b.reconcile(time.time()) == 0


def test_delete_when_the_other_side_is_stale_stays_deleted(pair: Pair) -> None:
    ra, rb = pair.state_a.root, pair.state_b.root
    write(ra / "n.md", "to be deleted\n")
    write(ra / "keep.md", "keep\n")
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    (ra / "n.md").unlink()
    pair.a.reconcile(time.time())
    # B reconnects with its old copy: a full exchange both ways
    full_sync(pair.b, pair.a)
    full_sync(pair.a, pair.b)
    deliver(pair.a, pair.b)
    deliver(pair.b, pair.a)
    assert tree(ra) == tree(rb) == {"keep.md": "keep\n"}
    assert pair.b.reconcile(time.time()) == 0 and pair.a.reconcile(time.time()) == 0
    assert tree(ra) == {"keep.md": "keep\n"}
    fid = file_id_for("n.md")
    assert not pair.a.is_live(pair.a.entries[fid]) and not pair.b.is_live(pair.b.entries[fid])


def test_same_path_identical_content_created_independently(pair: Pair) -> None:
    ra, rb = pair.state_a.root, pair.state_b.root
    text = "# 2024-01-01\n\n- standup\n"
    write(ra / "daily" / "2024-01-01.md", text)
    write(rb / "daily" / "2024-01-01.md", text)
    pair.a.reconcile(time.time())
    pair.b.reconcile(time.time())
    exchange(pair)
    assert tree(ra) == tree(rb) == {"daily/2024-01-01.md": text}
    assert len(live_paths(pair.a)) == 1 and live_paths(pair.a) == live_paths(pair.b)


def test_same_path_different_content_keeps_both_in_one_file(pair: Pair) -> None:
    ra, rb = pair.state_a.root, pair.state_b.root
    write(ra / "todo.md", "from A\n")
    write(rb / "todo.md", "from B\n")
    pair.a.reconcile(time.time())
    pair.b.reconcile(time.time())
    exchange(pair)
    ta, tb = tree(ra), tree(rb)
    assert ta == tb
    assert list(ta) == ["todo.md"]  # one file, no conflict copy
    merged = ta["todo.md"]
    assert "from A\n" in merged and "from B\n" in merged and len(merged) == len("from A\nfrom B\n")
    assert pair.a.reconcile(time.time()) == 0 and pair.b.reconcile(time.time()) == 0
    # equal notes summarise equally, so the next HELLO finds no differing bucket
    assert pair.a.bucket_digests() == pair.b.bucket_digests()


def test_remote_note_arriving_on_an_untracked_local_file_merges_into_it(pair: Pair) -> None:
    """B created daily.md but has not reconciled it when A's daily.md arrives: one file, both texts."""
    ra, rb = pair.state_a.root, pair.state_b.root
    write(ra / "daily.md", "A's day\n")
    pair.a.reconcile(time.time())
    write(rb / "daily.md", "B's day\n")  # not yet seen by B's engine
    deliver(pair.a, pair.b)
    deliver(pair.b, pair.a)
    ta, tb = tree(ra), tree(rb)
    assert ta == tb and list(ta) == ["daily.md"]
    assert "A's day\n" in ta["daily.md"] and "B's day\n" in ta["daily.md"]
    assert len(ta["daily.md"]) == len("A's day\n") + len("B's day\n")
    assert pair.a.reconcile(time.time()) == 0 and pair.b.reconcile(time.time()) == 0


def test_remote_note_arriving_on_identical_untracked_local_file_is_adopted(pair: Pair) -> None:
    ra, rb = pair.state_a.root, pair.state_b.root
    write(ra / "same.md", "identical\n")
    pair.a.reconcile(time.time())
    write(rb / "same.md", "identical\n")
    deliver(pair.a, pair.b)
    assert not pair.b.pending()  # nothing new to tell A
    assert tree(rb) == {"same.md": "identical\n"}
    assert pair.b.reconcile(time.time()) == 0


# ------------------------------------------------------------------------------- renames onto taken names
def _twins_on_both(pair: Pair) -> tuple[str, str]:
    """x.md and y.md renamed onto n.md on A and B at once: the smaller id keeps n.md, the other
    is laid out as `n (id6).md`. Returns (the keeper's id, the twin's)."""
    ra, rb = pair.state_a.root, pair.state_b.root
    write(ra / "x.md", "xxx\n")
    write(ra / "y.md", "yyy\n")
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    os.rename(ra / "x.md", ra / "n.md")
    pair.a.reconcile(time.time())
    os.rename(rb / "y.md", rb / "n.md")
    pair.b.reconcile(time.time())
    exchange(pair)
    deliver(pair.b, pair.a)
    fx, fy = file_id_for("x.md"), file_id_for("y.md")
    return min(fx, fy), max(fx, fy)


def test_concurrent_renames_onto_one_name_keep_both_notes_apart(pair: Pair) -> None:
    """Regression: the note that kept the name used to absorb the other's text."""
    winner, _ = _twins_on_both(pair)
    ra, rb = pair.state_a.root, pair.state_b.root
    ta, tb = tree(ra), tree(rb)
    assert ta == tb
    assert sorted(ta.values()) == ["xxx\n", "yyy\n"]  # each text once, nothing merged
    assert "n.md" in ta and len(ta) == 2
    fx, fy = file_id_for("x.md"), file_id_for("y.md")
    assert pair.a.text(fx) == pair.b.text(fx) == "xxx\n"
    assert pair.a.text(fy) == pair.b.text(fy) == "yyy\n"
    assert ta["n.md"] == pair.a.text(winner)  # the smallest id keeps the name
    assert pair.a.reconcile(time.time()) == 0 and pair.b.reconcile(time.time()) == 0


def test_a_local_delete_of_a_twins_name_writes_the_twin_there(pair: Pair) -> None:
    """writeback.write_into: the watcher reports n.md deleted; the twin laid out beside it
    under a suffixed name takes n.md, as on every other device."""
    keeper, twin = _twins_on_both(pair)
    rb = pair.state_b.root
    (rb / "n.md").unlink()
    now = time.time()
    pair.b.local_paths({"n.md"}, now)
    pair.b.settle(now + SETTLE_S)  # a vanished file is a delete once it stayed gone (an editor's save)
    assert tree(rb) == {"n.md": pair.b.text(twin)}
    deliver(pair.b, pair.a)
    assert tree(pair.state_a.root) == tree(rb)


def test_an_edit_in_place_does_not_walk_every_note(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pass over every note's place (9 ms of each one-character edit on 11,004 files) runs
    only for paths whose file is not the note placed there."""
    keeper, twin = _twins_on_both(pair)
    rb = pair.state_b.root
    walked: list[int] = []

    class Places(dict[str, str]):
        def items(self):  # type: ignore[override]
            walked.append(len(self))
            return super().items()

    real = writeback.layout
    monkeypatch.setattr(writeback, "layout", lambda s: Places(real(s)))
    write(rb / "n.md", pair.b.text(keeper) + "one more line\n")
    assert pair.b.local_paths({"n.md"}, time.time()) == 1
    assert walked == []
    (rb / "n.md").unlink()
    now = time.time()
    pair.b.local_paths({"n.md"}, now)
    pair.b.settle(now + SETTLE_S)
    assert walked and tree(rb) == {"n.md": pair.b.text(twin)}  # a freed name: walked, and the twin moved in


def _names_around(anchor: str) -> tuple[str, str]:
    """A file name whose id sorts before `anchor`'s and one whose id sorts after."""
    ref = file_id_for(anchor)
    names = [f"other{i}.md" for i in range(50)]
    before = next(n for n in names if file_id_for(n) < ref)
    after = next(n for n in names if file_id_for(n) > ref)
    return before, after


def _delete_n_and_rename_onto_it(pair: Pair, order: str) -> tuple[Path, Path, str]:
    """On A: n.md is deleted and another note (its id sorting before or after) renamed onto n.md."""
    before, after = _names_around("n.md")
    other = before if order == "renamed-id-first" else after
    ra, rb = pair.state_a.root, pair.state_b.root
    write(ra / "n.md", "old n\n")
    write(ra / other, "replacement\n")
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    (ra / "n.md").unlink()
    pair.a.reconcile(time.time())
    os.rename(ra / other, ra / "n.md")
    pair.a.reconcile(time.time())
    return ra, rb, other


@pytest.mark.parametrize("order", ["renamed-id-first", "renamed-id-last"])
def test_delete_then_rename_onto_the_name_does_not_resurrect_the_deleted_text(pair: Pair, order: str) -> None:
    """Regression: when the renamed note's id sorted first, it merged the deleted note's file."""
    ra, rb, other = _delete_n_and_rename_onto_it(pair, order)
    deliver(pair.a, pair.b)  # delete and rename arrive together
    assert tree(rb) == tree(ra) == {"n.md": "replacement\n"}
    assert not pair.b.pending()
    assert pair.b.text(file_id_for(other)) == "replacement\n"


def test_rotating_note_names_moves_files_without_merging(pair: Pair) -> None:
    """Regression: p1 -> tmp, p2 -> p1, p3 -> p2, tmp -> p3 arrives as a cycle of renames."""
    ra, rb = pair.state_a.root, pair.state_b.root
    for name, text in (("p1.md", "one\n"), ("p2.md", "two\n"), ("p3.md", "three\n")):
        write(ra / name, text)
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    for src, dst in (("p1.md", "tmp.md"), ("p2.md", "p1.md"), ("p3.md", "p2.md"), ("tmp.md", "p3.md")):
        os.rename(ra / src, ra / dst)
        assert pair.a.reconcile(time.time()) == 1
    deliver(pair.a, pair.b)
    expected = {"p1.md": "two\n", "p2.md": "three\n", "p3.md": "one\n"}
    assert tree(ra) == expected
    assert tree(rb) == expected
    assert not pair.b.pending()
    assert pair.b.reconcile(time.time()) == 0


@pytest.mark.parametrize("incoming_first", [True, False])
def test_rename_onto_a_name_whose_note_was_edited_here_keeps_the_edit(pair: Pair, incoming_first: bool) -> None:
    """A renames x -> n and y -> x. On B, x's file has an unreconciled edit and must move to n
    with the edit, whichever note the engine handles first."""
    names = [f"note{i}.md" for i in range(50)]
    x = names[0]
    y = next(n for n in names[1:] if (file_id_for(n) < file_id_for(x)) == incoming_first)
    ra, rb = pair.state_a.root, pair.state_b.root
    write(ra / x, "xxx\n")
    write(ra / y, "yyy\n")
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    os.rename(ra / x, ra / "n.md")
    pair.a.reconcile(time.time())
    os.rename(ra / y, ra / x)
    pair.a.reconcile(time.time())
    write(rb / x, "xxx edited on B\n")  # B has not reconciled this edit
    deliver(pair.a, pair.b)
    pair.b.settle(time.time() + SETTLE_S)  # B's file was written just now: B moves it once quiet
    deliver(pair.b, pair.a)
    assert tree(rb) == tree(ra) == {"n.md": "xxx edited on B\n", x: "yyy\n"}
    assert pair.a.text(file_id_for(x)) == "xxx edited on B\n"
    assert pair.a.text(file_id_for(y)) == "yyy\n"


@pytest.mark.parametrize("order", ["renamed-id-first", "renamed-id-last"])
def test_local_edit_reviving_a_note_while_another_is_renamed_onto_its_name(pair: Pair, order: str) -> None:
    """A deletes n.md and renames another note onto n.md; B has an unreconciled edit to n.md.
    The edit wins (n.md's note lives on), and the two notes stay apart, each once on disk."""
    ra, rb, other = _delete_n_and_rename_onto_it(pair, order)
    write(rb / "n.md", "old n edited on B\n")
    deliver(pair.a, pair.b)
    tb = tree(rb)
    assert sorted(tb.values()) == ["old n edited on B\n", "replacement\n"]
    exchange(pair)
    assert tree(ra) == tree(rb) == tb
    assert pair.a.text(file_id_for("n.md")) == "old n edited on B\n"
    assert pair.a.text(file_id_for(other)) == "replacement\n"
    assert pair.a.reconcile(time.time()) == 0 and pair.b.reconcile(time.time()) == 0


@pytest.mark.parametrize("incoming_first", [True, False])
def test_displaced_note_whose_new_place_is_refused_stays_put(pair: Pair, tmp_path: Path, incoming_first: bool) -> None:
    """x moves into link/ (a symlink leaving the vault on B) and y takes x's name: B refuses the
    move and must neither lose x's file nor merge it into y."""
    names = [f"note{i}.md" for i in range(50)]
    x = names[0]
    y = next(n for n in names[1:] if (file_id_for(n) < file_id_for(x)) == incoming_first)
    ra, rb = pair.state_a.root, pair.state_b.root
    outside = tmp_path / "outside"
    outside.mkdir()
    (rb / "link").symlink_to(outside, target_is_directory=True)
    write(ra / x, "xxx\n")
    write(ra / y, "yyy\n")
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    (ra / "link").mkdir()
    os.rename(ra / x, ra / "link" / x)
    pair.a.reconcile(time.time())
    os.rename(ra / y, ra / x)
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    assert list(outside.iterdir()) == []
    assert pair.b.stats["sync_errors"] >= 1
    assert (rb / x).read_text() == "xxx\n"  # still there, not merged
    assert pair.b.text(file_id_for(x)) == "xxx\n" and pair.b.text(file_id_for(y)) == "yyy\n"
    assert not pair.b.pending()


def test_digest_of_equal_versions_is_equal_whatever_their_encoding() -> None:
    from peervault.sync.versions import _digest

    a, b = notes.new_note("delta\n", 11), notes.new_note("alpha\nalpha\n", 22)
    notes.apply(b, notes.updates_since(a, None))
    notes.apply(a, notes.updates_since(b, None))
    va, vb = notes.vv_bytes(a), notes.vv_bytes(b)
    assert va != vb  # loro encodes this same version differently on the two devices
    fid = file_id_for("x.md")
    assert _digest(fid, va) == _digest(fid, vb)
    assert _digest(fid, va) != _digest(file_id_for("y.md"), va)
    assert _digest(fid, va) != _digest(fid, notes.vv_bytes(notes.new_note("delta\n", 11)))


def test_hello_after_convergence_finds_no_differing_bucket(pair: Pair) -> None:
    """Regression: bucket digests hashed loro's version encoding, which is not canonical, so
    notes edited on both devices looked different on every reconnect."""
    ra, rb = pair.state_a.root, pair.state_b.root
    for i in range(40):
        write(ra / f"n{i}.md", f"note {i}\nline\n")
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    for i in range(40):
        write(rb / f"n{i}.md", f"note {i} edited on B\nline\n")
        write(ra / f"n{i}.md", f"note {i}\nline edited on A\n")
    pair.a.reconcile(time.time())
    pair.b.reconcile(time.time())
    exchange(pair)
    assert tree(ra) == tree(rb)
    d = Session(pair.b, peer="A", dialer=True, paired=True, now=0.0)
    acc = Session(pair.a, peer="B", dialer=False, paired=True, now=0.0)
    hello = d.start(0.0)[0]
    acc.start(0.0)
    out, _ = acc.receive(0.1, hello)
    versions = [x for x in out if isinstance(x, m.DocVersions)]
    assert versions == [m.DocVersions(b"", ())]
    assert not any(isinstance(x, m.IndexUpdates) for x in out)


# ------------------------------------------------------------------------------- hostile peer
def _hostile_rename(src: Engine, fid: str, path: str) -> bytes:
    """An index update from a peer that renames `fid` to `path`."""
    hostile = VaultIndex.load(src.index.snapshot(), 424242)
    hostile.set_path(fid, path)
    blob = hostile.updates_since(src.index_vv())
    assert blob is not None
    return blob


@pytest.mark.parametrize(
    "evil",
    [
        "../evil.md",
        "../../evil.md",
        "/tmp/evil-abs.md",
        ".peervault/state.db",
        "a/../../evil.md",
    ],  # (C:/x is an ordinary folder here; Windows refuses it: test_paths)
)
def test_remote_unsafe_path_is_not_written_outside_the_vault(pair: Pair, tmp_path: Path, evil: str) -> None:
    ra, rb = pair.state_a.root, pair.state_b.root
    write(ra / "x.md", "payload\n")
    pair.a.reconcile(time.time())
    pair.a.take_pending()
    fid = file_id_for("x.md")
    blob = _hostile_rename(pair.a, fid, evil)
    # a fresh device learns of the note only under the hostile path
    pair.b.apply_index(blob, time.time())
    full_sync(pair.a, pair.b)
    assert not (tmp_path / "evil.md").exists()
    assert not Path("/tmp/evil-abs.md").exists()
    assert tree(rb) == {}
    assert pair.b.layout() == {}
    # the database was not overwritten
    assert pair.state_b.store.get_meta("vault_id") == pair.state_a.vault_id
    assert (rb / ".peervault" / "state.db").read_bytes()[:15] == b"SQLite format 3"


def test_remote_write_through_symlink_leaving_vault_is_refused(pair: Pair, tmp_path: Path) -> None:
    ra, rb = pair.state_a.root, pair.state_b.root
    outside = tmp_path / "outside"
    outside.mkdir()
    (rb / "link").symlink_to(outside, target_is_directory=True)
    write(ra / "link" / "x.md", "payload\n")
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    assert list(outside.iterdir()) == []
    assert pair.b.stats["sync_errors"] >= 1


def test_garbage_doc_update_is_refused_and_counted(pair: Pair) -> None:
    write(pair.state_a.root / "x.md", "x\n")
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    fid = file_id_for("x.md")
    pair.b.apply_docs(((bytes.fromhex(fid), b"loro garbage"),), time.time())
    assert pair.b.stats["sync_errors"] == 1
    assert pair.b.text(fid) == "x\n"
    assert tree(pair.state_b.root) == {"x.md": "x\n"}


def test_bad_peer_version_in_doc_versions_is_ignored(pair: Pair) -> None:
    write(pair.state_a.root / "x.md", "x\n")
    pair.a.reconcile(time.time())
    fid = bytes.fromhex(file_id_for("x.md"))
    assert list(pair.a.doc_batches(ALL_BUCKETS, {fid: b"\xff\xff"})) == []


# ------------------------------------------------------------------------------- joining
def _pump(d: Session, a: Session, ed: Engine, ea: Engine) -> list[str]:
    """Run two sessions over two engines until quiet, applying updates as the daemon does."""
    events: list[str] = []
    q: dict[int, list[m.Message]] = {id(d): [], id(a): []}
    q[id(a)] += d.start(0.0)
    q[id(d)] += a.start(0.0)
    pairs = ((d, a, ed), (a, d, ea))
    for _ in range(100):
        if not q[id(d)] and not q[id(a)]:
            break
        for me, other, eng in pairs:
            if not q[id(me)]:
                continue
            msg = m.decode(m.encode(q[id(me)].pop(0)))
            out, evs = me.receive(1.0, msg)
            q[id(other)] += out
            for ev in evs:
                events.append(f"{'dialer' if me is d else 'acceptor'}:{type(ev).__name__}")
                if isinstance(ev, Received):
                    if isinstance(ev.message, m.IndexUpdates):
                        eng.apply_index(ev.message.blob, time.time())
                    else:
                        eng.apply_docs(ev.message.entries, time.time())
                elif isinstance(ev, Synced):
                    eng.publish_pending(time.time())
                    for pushed in eng.take_pending():
                        q[id(other)] += me.push(1.0, pushed)
    else:
        raise AssertionError("sessions did not go quiet")
    return events


def _join_through_sessions(eb: Engine, ea: Engine) -> list[str]:
    """B (joining, the dialer) and A (its peer) run their sessions until quiet."""
    d = Session(eb, peer="A", dialer=True, paired=True, now=0.0)
    return _pump(d, Session(ea, peer="B", dialer=False, paired=True, now=0.0), eb, ea)


def test_joining_device_with_its_own_notes_converges_through_sessions(tmp_path: Path) -> None:
    sa, _ = VaultState.init(tmp_path / "A")
    sb, _ = VaultState.init(tmp_path / "B")
    try:
        write(sa.root / "shared.md", "same on both\n")
        write(sa.root / "only-a.md", "a\n")
        write(sa.root / "differs.md", "A version\n")
        ea = engine(sa)
        ea.reconcile(time.time())
        ea.take_pending()
        # B had a vault of its own before joining
        write(sb.root / "shared.md", "same on both\n")
        write(sb.root / "only-b.md", "b\n")
        write(sb.root / "differs.md", "B version\n")
        eb0 = engine(sb)
        eb0.reconcile(time.time())
        sb.store.reset_for_join(sa.vault_id)
        eb = engine(sb)
        assert not eb.published
        assert eb.bucket_digests() == bytes(m.BUCKETS * 8)  # nothing announced before the first sync

        events = _join_through_sessions(eb, ea)
        assert "dialer:Synced" in events and "acceptor:Synced" in events
        assert eb.published and sb.store.get_meta("published") == 1

        ta, tb = tree(sa.root), tree(sb.root)
        assert ta == tb
        assert set(ta) == {"shared.md", "only-a.md", "only-b.md", "differs.md"}
        assert ta["shared.md"] == "same on both\n"  # once, not twice
        assert "A version\n" in ta["differs.md"] and "B version\n" in ta["differs.md"]
        assert not any(f.startswith("u") for f in eb.files)  # nothing left unpublished
        assert ea.bucket_digests() == eb.bucket_digests()
        assert ea.reconcile(time.time()) == 0 and eb.reconcile(time.time()) == 0
    finally:
        sa.close()
        sb.close()


def test_a_joining_devices_stale_copy_of_a_note_deleted_elsewhere_is_dropped(tmp_path: Path) -> None:
    """The first publish compares a provisional note with the notes deleted on the vault it
    joins (the tombstones, gathered only when there is a provisional note): a stale copy of a
    deleted note is dropped, not announced again; a note of its own is published."""
    sa, _ = VaultState.init(tmp_path / "A")
    sb, _ = VaultState.init(tmp_path / "B")
    try:
        write(sa.root / "gone.md", "deleted on A\n")
        write(sa.root / "kept.md", "kept on A\n")
        ea = engine(sa)
        ea.reconcile(time.time())
        (sa.root / "gone.md").unlink()
        ea.reconcile(time.time())
        ea.take_pending()
        write(sb.root / "gone.md", "deleted on A\n")  # an old copy, from a backup
        write(sb.root / "mine.md", "B's own\n")
        eb0 = engine(sb)
        eb0.reconcile(time.time())
        sb.store.reset_for_join(sa.vault_id)
        eb = engine(sb)
        events = _join_through_sessions(eb, ea)
        assert "dialer:Synced" in events and eb.published
        assert tree(sb.root) == tree(sa.root) == {"kept.md": "kept on A\n", "mine.md": "B's own\n"}
        assert not any(f.startswith("u") for f in eb.files)
    finally:
        sa.close()
        sb.close()


def test_the_first_publish_reads_only_the_provisional_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A joining device's first publish after its sync reads the rows of its own notes from
    before pairing, not every file's (a join of 11,004 files: +4 MB of Python's arenas that
    stayed through the blob phase)."""
    sa, _ = VaultState.init(tmp_path / "A")
    sb, _ = VaultState.init(tmp_path / "B")
    try:
        for i in range(20):
            write(sa.root / f"a{i}.md", f"note {i} of A\n")
        ea = engine(sa)
        ea.reconcile(time.time())
        ea.take_pending()
        write(sb.root / "only-b.md", "b\n")
        eb0 = engine(sb)
        eb0.reconcile(time.time())
        sb.store.reset_for_join(sa.vault_id)
        eb = engine(sb)
        read: list[str] = []
        files = eb.state.files
        real_unpack = files._unpack

        def counting(file_id: str, stored: object) -> object:
            read.append(file_id)
            return real_unpack(file_id, stored)  # type: ignore[arg-type]

        real_publish = eb.publish_pending

        def publish(now: float) -> int:
            monkeypatch.setattr(files, "_unpack", counting)
            try:
                return real_publish(now)
            finally:
                monkeypatch.undo()

        monkeypatch.setattr(eb, "publish_pending", publish)
        events = _join_through_sessions(eb, ea)
        assert "dialer:Synced" in events and eb.published
        assert len(eb.files) == 21 and not any(f.startswith("u") for f in eb.files)
        assert read and all(f.startswith("u") for f in read), read  # B's own note only
        assert tree(sa.root) == tree(sb.root)
    finally:
        sa.close()
        sb.close()


def _restart(state: VaultState) -> Engine:
    """A new process on the same vault: start-up reconcile, then recovery."""
    e = engine(state)
    e.reconcile(time.time())
    e.recover(time.time())
    return e


def test_crash_before_disk_write_is_finished_at_restart(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    write(pair.a.root / "n.md", "first\n")
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    write(pair.a.root / "n.md", "first\nsecond\n")
    pair.a.reconcile(time.time())
    monkeypatch.setattr(writeback, "write_out", lambda s, fids: None)  # "crash" after the commit
    deliver(pair.a, pair.b)
    monkeypatch.undo()
    assert tree(pair.b.root) == {"n.md": "first\n"}  # the disk is behind the committed note
    b2 = _restart(pair.state_b)
    assert tree(pair.b.root) == {"n.md": "first\nsecond\n"}
    assert not pair.state_b.store.pending_writes() and not b2.pending()


def test_crash_after_disk_write_before_commit_does_not_duplicate(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(3):
        write(pair.a.root / f"n{i}.md", f"note {i}\n")
    pair.a.reconcile(time.time())
    for i in range(3):
        write(pair.a.root / f"n{i}.md", f"note {i} EDITED\nbody\n")
    pair.a.reconcile(time.time())
    real_put = pair.state_b.store.put_file
    calls = []

    def put_then_crash(row: object) -> None:
        calls.append(row)
        real_put(row)  # type: ignore[arg-type]
        if len(calls) == 2:
            raise RuntimeError("power cut")

    monkeypatch.setattr(pair.state_b.store, "put_file", put_then_crash)
    with pytest.raises(RuntimeError):
        deliver(pair.a, pair.b)
    monkeypatch.undo()
    b2 = _restart(pair.state_b)
    expected = {f"n{i}.md": f"note {i} EDITED\nbody\n" for i in range(3)}
    assert tree(pair.b.root) == expected  # files written before the crash adopted, not merged twice
    assert {b2.entries[f].path: b2.text(f) for f in b2.file_id_at.values()} == expected
    assert not b2.pending()


def test_remote_change_waits_while_a_local_save_is_half_done(pair: Pair) -> None:
    write(pair.a.root / "r.md", "line1\nline2\nline3\n")
    pair.a.reconcile(time.time())
    exchange(pair)
    (pair.b.root / "r.md").write_text("")  # B's editor truncated the file; its write is still to come
    write(pair.a.root / "r.md", "line1 from A\nline2\nline3\n")
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)  # arrives before B's watcher has even reported the truncation
    fid = pair.b.file_id_at["r.md"]
    assert "line2" in pair.b.text(fid)  # the empty read was not taken as "delete everything"
    assert (pair.b.root / "r.md").read_text() == ""  # and the half-saved file was not replaced
    write(pair.b.root / "r.md", "line1\nline2\nline3 from B\n")  # the editor finishes its save
    pair.b.local_paths({"r.md"}, time.time())
    pair.b.settle(time.time() + SETTLE_S)
    assert (pair.b.root / "r.md").read_text() == "line1 from A\nline2\nline3 from B\n"
    exchange(pair)
    assert tree(pair.a.root) == tree(pair.b.root)


def test_remote_change_is_not_written_into_a_path_an_editor_just_renamed_away(pair: Pair) -> None:
    write(pair.a.root / "v.md", "v1\nv2\nv3\n")
    pair.a.reconcile(time.time())
    exchange(pair)
    t0 = time.time()
    (pair.a.root / "v.md").rename(pair.a.root / "v.md~")  # vim: move the original aside…
    pair.a.local_paths({"v.md", "v.md~"}, t0)
    write(pair.b.root / "v.md", "v1\nv2\nv3 B-EDIT\n")
    pair.b.reconcile(time.time())
    deliver(pair.b, pair.a)  # …B's edit arrives meanwhile…
    assert not (pair.a.root / "v.md").exists()
    write(pair.a.root / "v.md", "v1 A-EDIT\nv2\nv3\n")  # …then vim writes its buffer
    (pair.a.root / "v.md~").unlink()
    pair.a.local_paths({"v.md", "v.md~"}, t0 + 0.5)
    pair.a.settle(t0 + 0.5 + 2 * SETTLE_S)
    assert (pair.a.root / "v.md").read_text() == "v1 A-EDIT\nv2\nv3 B-EDIT\n"


def test_remote_change_waits_for_a_file_being_written_to_go_quiet(pair: Pair) -> None:
    write(pair.a.root / "log.md", "start\n")
    pair.a.reconcile(time.time())
    exchange(pair)
    path = pair.b.root / "log.md"
    with open(path, "a") as writer:  # a program on B holds the note open, appending
        writer.write("more from B\n")
        writer.flush()
        t0 = time.time()
        pair.b.local_paths({"log.md"}, t0)
        write(pair.a.root / "log.md", "A's heading\nstart\n")
        pair.a.reconcile(time.time())
        deliver(pair.a, pair.b)
        assert path.read_text() == "start\nmore from B\n"  # not replaced under the writer
        writer.write("end from B\n")
    pair.b.local_paths({"log.md"}, t0 + 0.5)
    pair.b.settle(t0 + 0.5 + SETTLE_S)
    assert path.read_text() == "A's heading\nstart\nmore from B\nend from B\n"


def test_note_blocked_by_a_folder_is_written_once_the_folder_moves(pair: Pair) -> None:
    write(pair.b.root / "x.md" / "inner.md", "inside\n")
    write(pair.a.root / "x.md", "a file\n")
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    assert pair.state_b.store.unsynced()  # listed with the reason, not only logged
    (pair.b.root / "x.md").rename(pair.b.root / "xdir")
    pair.b.local_paths({"x.md", "xdir"}, time.time() + 10)
    assert (pair.b.root / "x.md").read_text() == "a file\n"


def test_edit_with_its_mtime_put_back_is_still_seen(vault_a: VaultState) -> None:
    e = engine(vault_a)
    p = vault_a.root / "m.md"
    write(p, "m1\nm2\n")
    e.reconcile(time.time())
    st = p.stat()
    p.write_text("M1\nM2\n")  # same size…
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))  # …and the old mtime (cp -p, rsync -t)
    assert e.reconcile(time.time()) == 1
    assert e.text(e.file_id_at["m.md"]) == "M1\nM2\n"


def test_delete_decided_after_a_remote_edit_arrived_still_loses_to_it(pair: Pair) -> None:
    write(pair.a.root / "c.md", "base\n")
    pair.a.reconcile(time.time())
    exchange(pair)
    t0 = time.time()
    (pair.a.root / "c.md").unlink()
    pair.a.local_paths({"c.md"}, t0)  # waits out the settle period…
    write(pair.b.root / "c.md", "base\nedited on B meanwhile\n")
    pair.b.reconcile(time.time())
    deliver(pair.b, pair.a)  # …while B's edit arrives
    pair.a.settle(t0 + SETTLE_S)  # the delete is decided after the edit was imported
    pair.a.settle(t0 + 3 * SETTLE_S)
    exchange(pair)
    for d in (pair.a, pair.b):
        assert (d.root / "c.md").read_text() == "base\nedited on B meanwhile\n"


def test_saving_again_while_a_remote_change_waits_applies_each_edit_once(pair: Pair) -> None:
    write(pair.a.root / "n.md", "L0\nL1\nL2\nL3\n")
    pair.a.reconcile(time.time())
    exchange(pair)
    t0 = time.time()
    write(pair.a.root / "n.md", "L0 A-1\nL1\nL2\nL3\n")
    pair.a.local_paths({"n.md"}, t0)
    write(pair.b.root / "n.md", "L0\nL1\nL2\nL3 B-1\n")
    pair.b.reconcile(time.time())
    deliver(pair.b, pair.a)  # A's file is busy (just saved): the merge waits
    assert (pair.a.root / "n.md").read_text() == "L0 A-1\nL1\nL2\nL3\n"
    write(pair.a.root / "n.md", "L0 A-1\nL1 foo\nL2\nL3\n")  # A's editor saves its buffer again…
    pair.a.local_paths({"n.md"}, t0 + 1)
    write(pair.a.root / "n.md", "L0 A-1\nL1 bar\nL2 A-3\nL3\n")  # …and again
    pair.a.local_paths({"n.md"}, t0 + 2)
    pair.a.settle(t0 + 2 + SETTLE_S)
    expected = "L0 A-1\nL1 bar\nL2 A-3\nL3 B-1\n"
    assert (pair.a.root / "n.md").read_text() == expected
    exchange(pair)
    assert (pair.b.root / "n.md").read_text() == expected


def test_names_differing_only_in_case_on_a_case_blind_file_system(pair: Pair) -> None:
    assert pair.b.case_insensitive is False  # this machine's file system tells case apart
    pair.b.case_insensitive = True  # ... so act as macOS or Windows would
    pair.b.state.layout_version += 1
    write(pair.state_b.root / "Note.md", "B's own file\n")
    pair.b.reconcile(time.time())
    write(pair.state_a.root / "note.md", "A's file\n")
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    assert (pair.state_b.root / "Note.md").read_text() == "B's own file\n"  # kept, never overwritten
    assert not (pair.state_b.root / "note.md").exists()
    reason = pair.state_b.store.unsynced()["note.md"]
    assert "differs only in case from Note.md" in reason
    deliver(pair.b, pair.a)
    assert tree(pair.state_a.root) == {"note.md": "A's file\n", "Note.md": "B's own file\n"}  # A holds both


def test_index_reloaded_after_a_burst_keeps_every_entry_and_syncs_on(pair: Pair) -> None:
    """shed_memory swaps the index for one loaded from its own snapshot: nothing a peer
    sees or this device knows may change, and changes made after it still reach the peer."""
    for i in range(30):
        write(pair.state_a.root / f"n{i}.md", f"note {i}\n")
    pair.a.reconcile(time.time())
    log_rows = pair.state_a.store.db.execute("SELECT count(*) FROM index_log").fetchone()[0]
    assert pair.a.shed_memory(churn=1000)  # not enough churn to fold: the document only dropped
    assert not pair.a.index.loaded and log_rows > 0
    assert pair.state_a.store.db.execute("SELECT count(*) FROM index_log").fetchone()[0] == log_rows
    before, vv = dict(pair.a.entries), pair.a.index_vv()
    assert pair.a.index.entries() == before  # read back from the snapshot and its log
    assert pair.a.shed_memory(churn=10)  # folded, then dropped
    assert pair.state_a.store.db.execute("SELECT count(*) FROM index_log").fetchone()[0] == 0
    assert pair.a.index.entries() == before == pair.a.entries and pair.a.index_vv() == vv
    write(pair.state_a.root / "n3.md", "note 3, edited\n")
    (pair.state_a.root / "n4.md").rename(pair.state_a.root / "renamed.md")
    pair.a.reconcile(time.time())
    full_sync(pair.a, pair.b)
    deliver(pair.a, pair.b)
    got = tree(pair.state_b.root)
    assert got["n3.md"] == "note 3, edited\n" and got["renamed.md"] == "note 4\n" and "n4.md" not in got
    assert len(got) == 30
