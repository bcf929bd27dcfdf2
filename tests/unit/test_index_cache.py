"""The index's entries saved beside its snapshot (store/indexentries.py) and the index's
document loaded only while needed (sync/savedindex.py): a warm start uses the saved entries
only when they are those of the index as saved, and a dropped document comes back exactly
as it was, writing as the same session peer."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from peervault.crdt.index import VaultIndex
from peervault.errors import StoreUnavailable
from peervault.state import VaultState
from peervault.store.db import SCHEMA_FILES
from peervault.sync import savedindex
from peervault.sync.engine import Engine
from twin_engines import Pair, deliver, engine, engine_pair, tree, write


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[VaultState]:
    state, _ = VaultState.init(tmp_path / "V")
    yield state
    state.close()


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    yield from engine_pair(tmp_path)


def _add(state: VaultState, e: Engine, names: list[str]) -> None:
    for name in names:
        (state.root / name).write_text(f"# {name}\n\nwritten for the index cache test\n")
    e.reconcile(time.time())


def _whole(state: VaultState) -> VaultIndex:
    """The index read whole from the database, as before the saved entries."""
    snap, log = state.store.load_index()
    return VaultIndex.load(snap, 1, log)


def _log_rows(state: VaultState) -> int:
    return int(state.store.db.execute("SELECT count(*) FROM index_log").fetchone()[0])


def test_a_warm_start_after_a_fold_reads_the_saved_entries_not_the_index(vault: VaultState) -> None:
    e = engine(vault)
    _add(vault, e, [f"n{i}.md" for i in range(30)])
    (vault.root / "n1.md").unlink()
    (vault.root / "n2.md").rename(vault.root / "moved.md")
    e.reconcile(time.time() + 60)  # past settling: the delete is recorded
    e.save_for_restart()  # the clean stop's fold
    assert _log_rows(vault) == 0 and not e.index.loaded
    again = engine(vault)
    assert not again.index.loaded  # nothing decoded
    assert again.entries == _whole(vault).entries() == e.entries
    assert again.index_vv() == _whole(vault).vv()
    assert not again.index.loaded  # the version needs no document
    assert sum(1 for ent in again.entries.values() if ent.deleted) == 1


def test_a_log_appended_after_the_saved_entries_forces_the_whole_read(vault: VaultState) -> None:
    e = engine(vault)
    _add(vault, e, [f"n{i}.md" for i in range(10)])
    e.save_for_restart()
    assert _log_rows(vault) == 0
    _add(vault, e, ["after the fold.md"])  # logged, not folded: the saved entries are behind
    assert _log_rows(vault) == 1
    again = engine(vault)
    assert again.index.loaded  # read whole
    whole = _whole(vault).entries()
    assert again.entries == whole == e.entries
    assert "after the fold.md" in {ent.path for ent in again.entries.values()}


def test_entries_tagged_with_another_version_than_the_snapshot_are_not_used(vault: VaultState) -> None:
    e = engine(vault)
    _add(vault, e, [f"n{i}.md" for i in range(5)])
    e.save_for_restart()
    vault.store.set_meta("index_entries_vv", b"\x01\x02")  # as if written for another snapshot
    vault.store.db.execute("DELETE FROM index_entries WHERE path='n3.md'")
    again = engine(vault)
    assert again.index.loaded and again.entries == _whole(vault).entries() == e.entries


def test_a_vault_joining_another_forgets_the_saved_entries(vault: VaultState) -> None:
    e = engine(vault)
    _add(vault, e, ["mine.md"])
    e.save_for_restart()
    vault.store.reset_for_join("ab" * 16)
    assert vault.store.cached_index() is None
    assert vault.store.db.execute("SELECT count(*) FROM index_entries").fetchone()[0] == 0


def test_a_database_from_before_the_saved_entries_upgrades_in_place(tmp_path: Path) -> None:
    """Schema 8 (no saved entries): opened, upgraded, read whole once, saved at the clean stop."""
    state, _ = VaultState.init(tmp_path / "V")
    e = engine(state)
    _add(state, e, [f"old {i}.md" for i in range(12)])
    e.save_for_restart()
    expected = dict(e.entries)
    db = state.dir / "state.db"
    state.close()
    con = sqlite3.connect(db)  # back to what version 8 wrote: no table, no tags
    con.execute("DROP TABLE index_entries")
    con.execute("DELETE FROM meta WHERE key LIKE 'index_%' AND key != 'index_snapshot'")
    con.execute("PRAGMA user_version=8")
    con.commit()
    con.close()
    state = VaultState.open(tmp_path / "V")
    try:
        assert state.store.db.execute("PRAGMA user_version").fetchone()[0] == len(SCHEMA_FILES) == 9
        first = engine(state)
        assert first.index.loaded and first.entries == expected  # read whole
        first.save_for_restart()
        second = engine(state)
        assert not second.index.loaded and second.entries == expected
        assert tree(state.root) == {f"old {i}.md": f"# old {i}.md\n\nwritten for the index cache test\n" for i in range(12)}
    finally:
        state.close()


def test_status_and_history_read_the_saved_entries_where_they_match(vault: VaultState) -> None:
    e = engine(vault)
    _add(vault, e, [f"n{i}.md" for i in range(8)])
    e.save_for_restart()
    assert vault.store.cached_index() is not None
    assert savedindex.read_entries(vault.store) == _whole(vault).entries() == e.entries
    _add(vault, e, ["logged.md"])
    assert vault.store.cached_index() is None  # behind the log: the index is read whole
    assert savedindex.read_entries(vault.store) == _whole(vault).entries() == e.entries


def test_removed_devices_are_known_without_the_document(vault: VaultState) -> None:
    e = engine(vault)
    _add(vault, e, ["n.md"])
    e.forget_device("c" * 64)
    e.save_for_restart()
    again = engine(vault)
    assert again.index.forgotten() == {"c" * 64} and not again.index.loaded


def test_a_dropped_index_comes_back_as_saved_and_writes_as_the_same_peer(pair: Pair) -> None:
    for i in range(20):
        write(pair.state_a.root / f"n{i}.md", f"note {i}\n")
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    before, vv = dict(pair.a.entries), pair.a.index_vv()
    assert pair.a.shed_memory() and not pair.a.index.loaded
    # a text edit needs no index
    write(pair.state_a.root / "n3.md", "note 3, edited\n")
    pair.a.reconcile(time.time())
    assert not pair.a.index.loaded and pair.a.index_vv() == vv
    deliver(pair.a, pair.b)
    assert not pair.a.index.loaded
    # a rename does: read back, and its ops are this session's
    (pair.state_a.root / "n4.md").rename(pair.state_a.root / "renamed.md")
    pair.a.reconcile(time.time())
    assert pair.a.index.loaded and pair.a.index.doc.peer_id == pair.a.session_peer
    assert {k: v for k, v in pair.a.entries.items() if v.path != "renamed.md"} == {
        k: v for k, v in before.items() if v.path != "n4.md"
    }
    deliver(pair.a, pair.b)
    got = tree(pair.state_b.root)
    assert got["n3.md"] == "note 3, edited\n" and got["renamed.md"] == "note 4\n" and "n4.md" not in got
    assert pair.a.shed_memory() and not pair.a.index.loaded
    assert pair.a.index.entries() == pair.a.entries == pair.b.entries  # read back again: the rename kept


def test_the_document_is_never_dropped_with_a_change_the_database_may_lack(vault: VaultState) -> None:
    e = engine(vault)
    _add(vault, e, ["a.md"])
    s = e.state
    s.index_unsaved = True  # a change not yet saved
    assert not e.shed_memory(churn=10**9) and s.index.loaded
    s.index_unsaved = False
    with s.store.transaction():  # a batch under way
        assert not e.shed_memory(churn=10**9) and s.index.loaded
    s.index_rollbacks -= 1  # a transaction rolled back since the last save
    assert not e.shed_memory(churn=10**9) and s.index.loaded
    s.index_rollbacks += 1
    assert e.shed_memory(churn=10**9) and not s.index.loaded


def test_a_failed_fold_keeps_the_document(vault: VaultState, monkeypatch: pytest.MonkeyPatch) -> None:
    e = engine(vault)
    _add(vault, e, [f"n{i}.md" for i in range(5)])

    def full(*_: object) -> None:
        raise StoreUnavailable("disk full")

    monkeypatch.setattr(vault.store, "save_index", full)
    e.shed_memory(churn=1)
    assert e.index.loaded  # what is saved may lack what the failed transaction took
    monkeypatch.undo()
    _add(vault, e, ["after.md"])  # the next save writes it whole
    assert engine(vault).entries == e.entries


def test_a_database_changed_under_a_dropped_index_is_read_again_whole(vault: VaultState) -> None:
    """Never by the engine: if what is read back is not the version dropped, it is taken as
    the saved truth, its entries read whole, and the next save writes them beside it."""
    e = engine(vault)
    _add(vault, e, ["a.md", "b.md"])
    assert e.shed_memory(churn=1) and not e.index.loaded
    other = _whole(vault)
    other.put("f" * 32, "sneaked in.md")
    vault.store.save_index(other.snapshot(), other.vv(), [], [])  # behind the engine's back
    assert "sneaked in.md" in {ent.path for ent in e.index.entries().values()}  # reads the document back
    assert e.entries == other.entries()
    assert e.state.index_rollbacks == -1  # the next save writes a snapshot with its entries
    assert e.index.doc.peer_id != e.session_peer  # what was read may lack this session's ops
    _add(vault, e, ["c.md"])
    assert engine(vault).entries == e.entries and _log_rows(vault) == 0  # folded, whole


def test_a_saved_snapshot_is_sent_as_it_is_only_when_it_is_the_version_unloaded() -> None:
    """A joining peer gets the saved snapshot undecoded only if it is all of the unloaded
    index: an older one (or one with updates logged after it) is never sent in its place."""
    index = VaultIndex.empty(1)
    index.put("a" * 32, "old.md")
    old, old_vv = index.snapshot(), index.vv()
    index.put("b" * 32, "new.md")
    new, vv = index.snapshot(), index.vv()
    others: list[bool] = []

    def unloaded(snapshot: bytes, log: list[bytes], saved_vv: bytes | None) -> VaultIndex:
        """As saved: the snapshot, the log after it, the version written with the snapshot."""
        return VaultIndex.unloaded(lambda: (snapshot, log), 1, vv, [], lambda: others.append(True), lambda: saved_vv)

    whole = unloaded(new, [], vv)
    assert whole.catch_up(b"") == new and not whole.loaded
    for saved_vv in (None, b"not a version"):  # (a database older than the entries; damaged)
        unknown = unloaded(new, [], saved_vv)
        assert unknown.catch_up(b"") is not None and unknown.loaded and others == []
    stale = unloaded(old, [], old_vv)  # (a database changed under the engine: never by the engine)
    stale.catch_up(b"")
    assert stale.loaded and others == [True]  # read back and checked, as any load is
    logged = unloaded(old, [index.updates_since(bytes(VaultIndex.load(old, 3).vv())) or b""], old_vv)
    sent = logged.catch_up(b"")
    assert logged.loaded and sent is not None and VaultIndex.load(sent, 3).entries() == index.entries()
