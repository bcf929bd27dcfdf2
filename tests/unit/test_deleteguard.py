"""The mass-deletion guard: its rule (pure) and the engine holding, applying and restoring."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from peervault.errors import VaultGone
from peervault.sync.deleteguard import MIN_FOR_SHARE, WINDOW_S, DeleteGuard, run_deletions_action
from twin_engines import Pair, deliver, engine, engine_pair, fetch_blob, hello_sync


def test_count_limit() -> None:
    g = DeleteGuard(0, 200)
    assert g.trips(200, 10_000, 0.0) is None
    assert "200" in (g.trips(201, 10_000, 0.0) or "")


def test_share_limit_needs_more_than_a_handful() -> None:
    g = DeleteGuard(50, 0)
    assert g.trips(2, 3, 0.0) is None  # tidying a tiny vault
    assert g.trips(MIN_FOR_SHARE, MIN_FOR_SHARE, 0.0) is None
    assert g.trips(MIN_FOR_SHARE + 1, 2 * MIN_FOR_SHARE + 1, 0.0) is not None
    assert g.trips(MIN_FOR_SHARE + 1, 2 * MIN_FOR_SHARE + 2, 0.0) is None  # exactly half is not more


def test_the_window_adds_up_a_slow_wipe() -> None:
    g = DeleteGuard(0, 200)
    for t in range(150):
        assert g.trips(1, 10_000, float(t) * 0.1) is None
        g.published([(f"f{t}", None)], float(t) * 0.1)
    assert g.trips(60, 10_000, 20.0) is not None  # 150 + 60 within a minute
    assert g.trips(60, 10_000, 20.0 + WINDOW_S) is None  # a minute later they no longer count


def test_zero_turns_it_off() -> None:
    assert DeleteGuard(0, 0).trips(10_000, 10_000, 0.0) is None


def test_take_hands_back_what_the_window_published() -> None:
    g: DeleteGuard[str] = DeleteGuard(0, 3)
    g.published([("old", "undo old")], 0.0)
    g.published([("a", "undo a"), ("b", "undo b")], WINDOW_S - 1)
    g.published([("applied", None)], WINDOW_S)  # `deletions apply`: meant, never taken back
    g.published([("a", "undo a again")], WINDOW_S + 0.5)  # the same id deleted again: the latest
    assert g.trips(1, 10_000, WINDOW_S + 1) is not None  # 4 in the window, "old" expired
    assert g.take(WINDOW_S + 1) == {"a": "undo a again", "b": "undo b"}
    assert g.take(WINDOW_S + 1) == {}  # taken once
    assert g.trips(2, 10_000, WINDOW_S + 1) is None  # what was taken no longer counts ...
    assert g.trips(3, 10_000, WINDOW_S + 1) is not None  # ... the applied one still does
    assert g.take(3 * WINDOW_S) == {}
    g.published([("c", "undo c")], 4 * WINDOW_S)
    g.published([("c", None)], 4 * WINDOW_S)  # deleted again, on purpose
    assert g.take(4 * WINDOW_S) == {}
    off: DeleteGuard[str] = DeleteGuard(0, 0)
    off.published([("a", "undo a")], 0.0)
    assert off.take(0.0) == {}  # a guard turned off keeps nothing


# ------------------------------------------------------------------ the engine
@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    yield from engine_pair(tmp_path)


def fill(root: Path, n: int) -> dict[str, bytes]:
    files = {}
    for i in range(n):
        rel = f"d{i % 3}/note{i}.md"
        data = f"note {i}\r\nline\n".encode() if i % 5 else b""  # CRLF and empty notes too
        files[rel] = data
    files["img/pic.png"] = bytes(range(256)) * 40
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return files


def disk(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file() and ".peervault" not in p.parts
    }


def synced(pair: Pair, n: int = 30) -> dict[str, bytes]:
    files = fill(pair.a.root, n)
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    for h, size in pair.b.wanted_blobs().items():  # (the daemon fetches it; here by hand)
        assert fetch_blob(pair.a, pair.b, h, size)
    assert disk(pair.b.root) == files
    return files


def wipe(root: Path, keep: int) -> None:
    for i, p in enumerate(sorted(q for q in root.rglob("*") if q.is_file() and ".peervault" not in q.parts)):
        if i >= keep:
            p.unlink()


def test_a_wipe_is_held_and_the_peer_keeps_everything(pair: Pair) -> None:
    files = synced(pair)
    wipe(pair.a.root, keep=5)
    pair.a.reconcile(time.time())
    assert len(pair.a.held) == len(files) - 5
    deliver(pair.a, pair.b)
    assert disk(pair.b.root) == files
    assert all(pair.a.is_live(pair.a.entries[f]) for f in pair.a.held)
    assert pair.a.recover(time.time()) is None and len(disk(pair.a.root)) == 5  # held files are not written back
    again = engine(pair.state_a)  # held across a restart
    assert set(again.held) == set(pair.a.held)


def test_restore_puts_every_file_back_byte_for_byte(pair: Pair) -> None:
    files = synced(pair)
    wipe(pair.a.root, keep=0)
    pair.a.reconcile(time.time())
    result = run_deletions_action(pair.a, "restore", 0.0)
    assert result["done"] == result["held"] == len(files)
    # The picture's only copy here was the file just deleted (the store keeps no second copy of
    # a current version): it is wanted again, and comes back from the peer, which kept it.
    assert "img/pic.png" not in disk(pair.a.root)
    wanted = pair.a.wanted_blobs()
    assert len(wanted) == 1
    assert not pair.a.held and not pair.a.store.held_deletions()
    again = engine(pair.state_a)  # a restart before it arrives does not lose the wish
    again.recover(time.time())
    assert again.wanted_blobs() == wanted
    for h, size in wanted.items():
        assert fetch_blob(pair.b, again, h, size)
    assert disk(pair.a.root) == files == disk(pair.b.root)
    again.reconcile(time.time())
    assert not again.take_pending()  # nothing to tell the peer


def test_apply_publishes_the_deletions(pair: Pair) -> None:
    files = synced(pair)
    wipe(pair.a.root, keep=3)
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    result = run_deletions_action(pair.a, "apply", 0.0)
    assert result["done"] == len(files) - 3
    deliver(pair.a, pair.b)
    assert disk(pair.b.root) == disk(pair.a.root) and len(disk(pair.b.root)) == 3


def test_deletions_join_a_hold_and_a_file_put_back_leaves_it(pair: Pair) -> None:
    files = synced(pair)
    wipe(pair.a.root, keep=10)
    pair.a.reconcile(time.time())
    held = len(pair.a.held)
    kept = sorted(disk(pair.a.root))
    (pair.a.root / kept[0]).unlink()
    pair.a.reconcile(time.time())
    assert len(pair.a.held) == held + 1  # a later deletion waits with them
    back = next(iter(pair.a.held.values()))
    (pair.a.root / back).parent.mkdir(parents=True, exist_ok=True)
    (pair.a.root / back).write_bytes(files[back])
    pair.a.reconcile(time.time())
    assert back not in pair.a.held.values()


def test_remote_edit_of_a_held_note_is_restored(pair: Pair) -> None:
    synced(pair)
    wipe(pair.a.root, keep=0)
    pair.a.reconcile(time.time())
    (pair.b.root / "d1/note1.md").write_text("note 1 edited on B\n")
    pair.b.reconcile(time.time())
    deliver(pair.b, pair.a)
    assert not (pair.a.root / "d1/note1.md").exists()  # held: not written back yet
    pair.a.restore_held(time.time())
    assert (pair.a.root / "d1/note1.md").read_text() == "note 1 edited on B\n"


def test_peer_mass_deletion_is_recorded(pair: Pair) -> None:
    synced(pair)
    pair.a.guard = DeleteGuard(0, 0)  # A's user turned the guard off and deleted most
    wipe(pair.a.root, keep=2)
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    assert pair.b.store.get_meta("peer_mass_deletion") is not None
    assert len(disk(pair.b.root)) == 2  # applied as always


def test_a_vanished_vault_folder_deletes_nothing(pair: Pair, tmp_path: Path) -> None:
    synced(pair)
    shutil.move(pair.a.root, tmp_path / "elsewhere")
    os.mkdir(pair.a.root)  # an empty folder (or mount point) where the vault was
    with pytest.raises(VaultGone):
        pair.a.reconcile(time.time())
    assert not pair.a.take_pending()


# ------------------------------------------------------------------ a slow wipe
def slow_wipe(pair: Pair, paths: list[str], t0: float) -> float:
    """Delete `paths` one at a time, each seen by its own reconcile 0.5 s after the last
    (a script slower than the watcher's batching), each batch sent to B. Returns the time."""
    t = t0
    for rel in paths:
        (pair.a.root / rel).unlink()
        t += 0.5
        pair.a.reconcile(t)
        deliver(pair.a, pair.b)
    return t


def victims(files: dict[str, bytes]) -> list[str]:
    """Twelve files, the picture first: published before the guard trips."""
    return ["img/pic.png", *sorted(f for f in files if f.endswith(".md"))[:11]]


def guarded(pair: Pair, files: int) -> None:
    pair.a.guard = DeleteGuard(0, files)  # a small count limit: the wipe trips it quickly


def test_a_slow_wipe_takes_back_what_it_published(pair: Pair) -> None:
    files = synced(pair)
    guarded(pair, 5)
    gone = victims(files)
    slow_wipe(pair, gone, time.time())
    assert set(pair.a.held.values()) == set(gone)  # the first 5 published too, then taken back
    assert pair.a.store.held_deletions().keys() == pair.a.held.keys()
    assert all(pair.a.is_live(pair.a.entries[f]) for f in pair.a.held)
    assert sorted(disk(pair.a.root)) == sorted(set(files) - set(gone))  # still gone here
    assert pair.a.recover(time.time()) is None and sorted(disk(pair.a.root)) == sorted(set(files) - set(gone))
    again = engine(pair.state_a)  # what was taken back is saved as held: a restart keeps it so
    assert set(again.held) == set(pair.a.held) and all(again.is_live(again.entries[f]) for f in again.held)
    again.recover(time.time())
    assert sorted(disk(pair.a.root)) == sorted(set(files) - set(gone))
    # B deleted the first five (the picture among them: moved into its store) and writes them again
    for h, size in pair.b.wanted_blobs().items():
        assert fetch_blob(pair.a, pair.b, h, size)
    assert disk(pair.b.root) == files
    result = run_deletions_action(pair.a, "restore", time.time())
    assert result["done"] == result["held"] == len(gone)
    for h, size in pair.a.wanted_blobs().items():  # the picture's bytes, from B's store
        assert fetch_blob(pair.b, pair.a, h, size)
    assert disk(pair.a.root) == files
    deliver(pair.a, pair.b)
    assert disk(pair.b.root) == files


def test_apply_after_a_slow_wipe_deletes_all_of_them_everywhere(pair: Pair) -> None:
    files = synced(pair)
    guarded(pair, 5)
    gone = victims(files)
    t = slow_wipe(pair, gone, time.time())
    assert run_deletions_action(pair.a, "apply", t)["done"] == len(gone)
    deliver(pair.a, pair.b)
    assert disk(pair.b.root) == disk(pair.a.root) == {k: v for k, v in files.items() if k not in gone}
    # applied deletions are meant: a later trip within the minute never takes them back
    rest = sorted(disk(pair.a.root))[:8]
    slow_wipe(pair, rest, t)
    assert set(pair.a.held.values()) == set(rest)
    assert not set(gone) & set(disk(pair.b.root))


@pytest.mark.parametrize("first", [0, 1], ids=["picture", "note"])
def test_a_file_the_peer_deleted_too_is_not_taken_back(pair: Pair, first: int) -> None:
    files = synced(pair)
    guarded(pair, 5)
    gone = victims(files)
    gone.insert(0, gone.pop(first))
    t = time.time()
    (pair.a.root / gone[0]).unlink()  # deleted on both devices at once: both meant it
    (pair.b.root / gone[0]).unlink()
    pair.a.reconcile(t)
    pair.b.reconcile(t)
    deliver(pair.b, pair.a)  # B's delete arrives after A's (it lost to it, or won: either way)
    deliver(pair.a, pair.b)
    slow_wipe(pair, gone[1:], t)
    assert set(pair.a.held.values()) == set(gone[1:])
    deliver(pair.a, pair.b)
    for h, size in pair.b.wanted_blobs().items():
        assert fetch_blob(pair.a, pair.b, h, size)
    assert disk(pair.b.root) == {k: v for k, v in files.items() if k != gone[0]}


def test_a_note_edited_since_its_delete_is_left_as_it_is(pair: Pair) -> None:
    files = synced(pair)
    guarded(pair, 5)
    gone = sorted(f for f in files if f.endswith(".md"))[:12]
    t = time.time()
    (pair.a.root / gone[0]).unlink()
    pair.a.reconcile(t)
    (pair.b.root / gone[0]).write_text("edited on B before A's delete arrived\n")
    pair.b.reconcile(t)
    deliver(pair.a, pair.b)
    deliver(pair.b, pair.a)  # the edit wins over the delete: the note is back on A
    assert (pair.a.root / gone[0]).read_text() == "edited on B before A's delete arrived\n"
    slow_wipe(pair, gone[1:], t)
    assert set(pair.a.held.values()) == set(gone[1:])
    assert (pair.a.root / gone[0]).exists() and (pair.b.root / gone[0]).exists()


@pytest.mark.parametrize("first", [0, 1], ids=["picture", "note"])
def test_a_take_back_leaves_a_delete_made_elsewhere_meanwhile(pair: Pair, first: int) -> None:
    """B deletes a file and A, not having heard of it, deletes the same file among a wipe
    its guard then takes back: the take-back undoes A's delete, never B's."""
    files = synced(pair)
    guarded(pair, 5)
    gone = victims(files)
    gone.insert(0, gone.pop(first))
    t = time.time()
    (pair.b.root / gone[0]).unlink()
    pair.b.reconcile(t)  # B's delete is published on B, not yet heard of on A
    slow_wipe(pair, gone, t)  # A deletes it too, and the guard takes A's deletes back
    assert set(pair.a.held.values()) == set(gone)
    deliver(pair.b, pair.a)
    deliver(pair.a, pair.b)
    deliver(pair.b, pair.a)
    for h, size in pair.b.wanted_blobs().items():
        assert fetch_blob(pair.a, pair.b, h, size)
    assert disk(pair.b.root) == {k: v for k, v in files.items() if k != gone[0]}  # the rest written again
    fid = next(f for f, e in pair.a.entries.items() if e.path == gone[0])
    assert not pair.a.is_live(pair.a.entries[fid]) and not pair.b.is_live(pair.b.entries[fid])
    assert set(pair.a.held.values()) == set(gone[1:])  # B's delete is not A's to hold any more
    run_deletions_action(pair.a, "restore", time.time())  # A's own deletes come back on A; B's stays
    for h, size in pair.a.wanted_blobs().items():
        assert fetch_blob(pair.b, pair.a, h, size)
    assert disk(pair.a.root) == {k: v for k, v in files.items() if k != gone[0]}


def test_a_take_back_leaves_a_delete_made_before_a_restart(pair: Pair) -> None:
    """As above, B's delete made in an earlier session of its engine (its index wrote as
    another Loro peer then: documents.OWN_PEERS keeps them all)."""
    files = synced(pair)
    guarded(pair, 5)
    gone = victims(files)
    mine = gone[1]  # a note, among the deletions A publishes before its guard trips
    t = time.time()
    (pair.b.root / mine).unlink()
    pair.b.reconcile(t)
    pair.b.take_pending()  # B stops before sending it
    pair.b = engine(pair.state_b)  # ... and starts again: a new session peer
    assert len(pair.b.state.own_peers) == 1 and pair.b.state.session_peer not in pair.b.state.own_peers
    slow_wipe(pair, gone, t)  # each of A's reconciles reaches B: the take-back too
    hello_sync(pair.b, pair.a, time.time())  # B's delete reaches A
    deliver(pair.a, pair.b)
    for h, size in pair.b.wanted_blobs().items():
        assert fetch_blob(pair.a, pair.b, h, size)
    assert disk(pair.b.root) == {k: v for k, v in files.items() if k != mine}
    fid = next(f for f, e in pair.a.entries.items() if e.path == mine)
    assert not pair.a.is_live(pair.a.entries[fid]) and not pair.b.is_live(pair.b.entries[fid])
