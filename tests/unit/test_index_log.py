"""The vault index saved as a snapshot plus a log of updates (sync/documents.save_index):
each batch appends what it changed, the log is folded into a snapshot once it is as large,
and nothing is lost across a restart, a rolled-back transaction or a fold."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from peervault import config
from peervault.crdt.entries import row_entry
from peervault.crdt.index import VaultIndex, is_snapshot
from peervault.protocol.messages import BUCKETS
from peervault.state import VaultState
from peervault.sync import documents, remote
from peervault.sync.engine import Engine


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[VaultState]:
    state, _ = VaultState.init(tmp_path / "V")
    yield state
    state.close()


def _engine(state: VaultState) -> Engine:
    return Engine(state.root, state.store, config.load(state.dir), time.time)


def _add(state: VaultState, e: Engine, names: list[str]) -> None:
    for name in names:
        (state.root / name).write_text(f"# {name}\n\nwritten for the index log test\n")
    e.reconcile(time.time())


def _log_rows(state: VaultState) -> int:
    return int(state.store.db.execute("SELECT count(*) FROM index_log").fetchone()[0])


def _paths(e: Engine) -> dict[str, str]:
    return {fid: ent.path for fid, ent in e.entries.items() if e.is_live(ent)}


def test_a_batch_appends_its_changes_and_a_restart_reads_them(vault: VaultState) -> None:
    e = _engine(vault)
    _add(vault, e, [f"first {i}.md" for i in range(40)])
    snap_before, _ = vault.store.load_index()
    rows = _log_rows(vault)
    _add(vault, e, ["one more.md"])
    (vault.root / "first 3.md").rename(vault.root / "renamed.md")
    e.reconcile(time.time())
    snap_after, log = vault.store.load_index()
    assert snap_after == snap_before  # the snapshot was not written again
    assert _log_rows(vault) == rows + 2 and log
    again = _engine(vault)
    assert _paths(again) == _paths(e)
    assert "renamed.md" in _paths(again).values() and "first 3.md" not in _paths(again).values()


def test_the_log_is_folded_into_a_snapshot_once_it_is_as_large(vault: VaultState, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "LOG_FLOOR", 2_000)
    e = _engine(vault)
    folds = 0
    for step in range(12):
        snap_before, _ = vault.store.load_index()
        _add(vault, e, [f"step {step} note {i}.md" for i in range(10)])
        snap_after, log = vault.store.load_index()
        if snap_after != snap_before:
            folds += 1
            assert log == []  # folded: the log starts again
        assert sum(map(len, log)) <= max(2_000, len(snap_after or b""))
    assert 1 <= folds < 12
    assert len(_paths(_engine(vault))) == 120


def test_a_rolled_back_transaction_makes_the_next_save_a_whole_snapshot(vault: VaultState) -> None:
    e = _engine(vault)
    _add(vault, e, ["kept.md"])
    with pytest.raises(RuntimeError), vault.store.transaction():
        _add(vault, e, ["rolled back.md"])  # logged inside a transaction that is then undone
        raise RuntimeError("undone")
    assert "rolled back.md" in _paths(e).values()  # the engine still holds it in memory
    _add(vault, e, ["after.md"])
    _, log = vault.store.load_index()
    assert log == []  # written whole, with the change the rollback took
    assert set(_paths(_engine(vault)).values()) == {"kept.md", "rolled back.md", "after.md"}


def test_shedding_memory_saves_the_snapshot_in_place_of_the_log(vault: VaultState) -> None:
    e = _engine(vault)
    _add(vault, e, [f"n{i}.md" for i in range(30)])
    _add(vault, e, ["last.md"])
    assert _log_rows(vault) > 0
    assert e.shed_memory(churn=1)
    assert _log_rows(vault) == 0
    assert _paths(_engine(vault)) == _paths(e) and len(_paths(e)) == 31


def test_a_fold_gives_the_log_s_pages_back_to_the_file_system(vault: VaultState) -> None:
    e = _engine(vault)
    for step in range(6):  # big enough rows that their pages matter
        _add(vault, e, [f"a rather long name for note {i} of step {step} in the vault.md" for i in range(60)])
    assert _log_rows(vault) > 0
    assert e.shed_memory(churn=1)
    db = vault.store.db
    assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # INCREMENTAL, set when the database was made
    assert db.execute("PRAGMA freelist_count").fetchone()[0] == 0


def test_shedding_memory_empties_the_write_ahead_log(vault: VaultState) -> None:
    e = _engine(vault)
    _add(vault, e, [f"wal {i}.md" for i in range(80)])
    wal = vault.store.path.with_name(vault.store.path.name + "-wal")
    assert wal.stat().st_size > 0
    assert e.shed_memory(churn=1)
    assert wal.stat().st_size == 0
    assert len(_paths(_engine(vault))) == 80


def test_serving_a_whole_index_to_a_peer_sends_the_saved_snapshot_undecoded(vault: VaultState) -> None:
    """A joining peer gets the snapshot the database holds, as it is, while the index is
    unloaded and nothing was logged after it: no decoding, no export, nothing to shed."""
    e = _engine(vault)
    _add(vault, e, [f"served {i}.md" for i in range(40)])
    assert e.shed_memory(churn=1)  # loaded lazily from its snapshot, as at a warm start
    assert not e.shed_memory()  # nothing since: nothing to shed
    vv, entries = e.index_vv(), dict(e.entries)
    saved, _ = vault.store.load_index()
    out = e.index_updates_since(b"")  # a peer with nothing
    assert out == saved and is_snapshot(out)
    assert not e.index.loaded and not e.shed_memory()
    peer = VaultIndex.load(out, 2)
    assert peer.vv() == vv and peer.entries() == entries
    assert e.index_updates_since(vv) is None  # a peer already up to date: nothing exported,
    assert not e.index.loaded  # not even the document loaded to say so


def test_serving_a_whole_index_with_a_log_exports_it_and_sheds_it_afterwards(vault: VaultState) -> None:
    """Changes logged after the snapshot: the index is loaded and exported whole, which leaves
    Loro holding it decoded; the engine sheds it at its next chance, the index the same."""
    e = _engine(vault)
    _add(vault, e, [f"served {i}.md" for i in range(40)])
    assert e.shed_memory(churn=1)
    _add(vault, e, ["logged after.md"])
    assert _log_rows(vault) > 0 and e.shed_memory() and not e.index.loaded
    vv, entries = e.index_vv(), dict(e.entries)
    out = e.index_updates_since(b"")
    assert out is not None and is_snapshot(out) and e.index.loaded
    assert VaultIndex.load(out, 2).entries() == entries
    assert e.shed_memory()
    assert not e.index.loaded and _log_rows(vault) == 0  # folded: the next join is sent undecoded
    assert e.index_vv() == vv and e.index.entries() == entries == e.entries  # read back


def test_shedding_after_a_burst_writes_no_snapshot_when_the_saved_one_is_whole(vault: VaultState) -> None:
    """A burst with the index saved whole already (a join served, say): the shed drops what
    the burst left but folds nothing (an export of the whole index, for nothing)."""
    e = _engine(vault)
    _add(vault, e, [f"burst {i}.md" for i in range(40)])
    assert e.shed_memory(churn=1)
    saved = vault.store.load_index()
    assert e.index.entries() == e.entries and e.index.loaded  # decoded, as a join's export leaves it
    e.state.index_churn = 10**6
    writes = vault.store.db.total_changes
    assert e.shed_memory() and not e.index.loaded
    assert vault.store.load_index() == saved and vault.store.db.total_changes == writes


def _joined(tmp_path: Path, source: Engine) -> tuple[VaultState, Engine, bytes]:
    """A new device's engine that took `source`'s whole index, as a join does."""
    state, _ = VaultState.init(tmp_path / "B")
    b = _engine(state)
    blob = source.index_updates_since(b.index_vv())
    assert blob is not None
    assert b.apply_index(blob, time.time())
    return state, b, blob


def test_a_joining_device_gets_the_index_as_a_snapshot_and_keeps_it_as_its_own(vault: VaultState, tmp_path: Path) -> None:
    a = _engine(vault)
    _add(vault, a, [f"note {i}.md" for i in range(30)])
    state, b, blob = _joined(tmp_path, a)
    try:
        assert is_snapshot(blob)
        snap, log = state.store.load_index()
        assert snap == blob and not log  # saved as it came: no export of its own
        assert not b.index.loaded  # all of it saved: not held at all for the rest of the join
        assert _paths(b) == _paths(a)
        cached = state.store.cached_index()  # the entries beside it: read after the import, not before
        assert cached is not None
        assert {e.file_id: e for e in map(row_entry, cached.rows)} == VaultIndex.load(snap, 1).entries() == b.entries
        for docs in a.doc_batches(bytes(range(BUCKETS)), {}):
            b.apply_docs(tuple(docs), time.time())
        assert sorted(p.name for p in state.root.glob("*.md")) == sorted(f"note {i}.md" for i in range(30))
        assert (state.root / "note 7.md").read_bytes() == (vault.root / "note 7.md").read_bytes()
        (state.root / "after the join.md").write_text("# later\n")  # the next change goes to the log
        b.reconcile(time.time())
        assert _log_rows(state) == 1
        again = _engine(state)
        assert _paths(again) == _paths(b) and "after the join.md" in _paths(again).values()
    finally:
        state.close()


def test_a_joining_device_hands_the_decoded_index_back_before_saving_its_snapshot(
    vault: VaultState, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The heap is trimmed once every entry is read and Loro's decoded copy dropped, before
    the snapshot is deflated and saved: the save's buffers do not come on top of the freed
    pages (the peak of a join's index)."""
    a = _engine(vault)
    _add(vault, a, [f"note {i}.md" for i in range(5)])
    seen: list[tuple[bytes | None, int]] = []

    def trimmed() -> None:
        seen.append((state.store.load_index()[0], len(b.entries)))

    monkeypatch.setattr(remote, "trim_heap", trimmed)
    state, _ = VaultState.init(tmp_path / "B")
    try:
        b = _engine(state)
        blob = a.index_updates_since(b.index_vv())
        assert blob is not None and b.apply_index(blob, time.time())
        assert seen == [(None, 5)]  # once, with every entry read and nothing saved yet
        assert state.store.load_index()[0] == blob
    finally:
        state.close()


def test_a_device_with_an_index_of_its_own_gets_updates_and_merges_a_snapshot_too(vault: VaultState, tmp_path: Path) -> None:
    a = _engine(vault)
    _add(vault, a, ["shared.md"])
    state, _ = VaultState.init(tmp_path / "B")
    try:
        b = _engine(state)
        (state.root / "own.md").write_text("# mine\n")
        b.reconcile(time.time())
        assert not is_snapshot(a.index_updates_since(b.index_vv()) or b"")  # it has ops: only what it lacks
        assert b.apply_index(a.state.index.snapshot(), time.time())  # a snapshot (a forwarded join's) merges in
        assert set(_paths(b).values()) == {"shared.md", "own.md"}
        snap, log = state.store.load_index()
        assert snap != a.state.index.snapshot()  # not kept as this device's own: it lacks "own.md"
        assert set(_paths(_engine(state)).values()) == {"shared.md", "own.md"}
    finally:
        state.close()


def test_a_fold_reads_the_index_back_from_its_snapshot_and_it_writes_on_as_the_same_peer(vault: VaultState) -> None:
    """A fold (in the middle of a burst, say) reads the document back from the snapshot it
    saves, so what the burst decoded is not held: the same ops, the same writer, and a
    peer that had the version before the fold gets the changes after it as updates."""
    e = _engine(vault)
    _add(vault, e, [f"before {i}.md" for i in range(30)])
    peer = VaultIndex.load(e.state.index.snapshot(), 7)
    doc, writer, vv = e.state.index.doc, e.state.index.doc.peer_id, e.index_vv()
    with documents.batch(e.state):
        documents.fold_index(e.state)
    assert e.state.index.doc is not doc and e.state.index.doc.peer_id == writer
    assert e.index_vv() == vv and e.state.index.entries() == e.entries
    _add(vault, e, ["after the fold.md"])
    peer.apply(e.index_updates_since(vv) or b"")
    assert peer.entries() == e.state.index.entries() == e.entries
    assert "after the fold.md" in {x.path for x in peer.entries().values()}
