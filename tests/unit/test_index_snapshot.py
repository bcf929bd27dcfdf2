"""A join's index as saved (protocol version 4, INDEX_SNAPSHOT: sync/wholeindex.py): the
serving device sends its stored snapshot and the entries beside it only when that is what
it would trust itself; the joining device saves both without decoding the index, and
refuses, saving nothing, what does not check out."""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard
from loro import ExportMode, LoroDoc, VersionVector

from peervault import config
from peervault.crdt.entries import row_entry
from peervault.crdt.index import VaultIndex
from peervault.daemon import routing
from peervault.errors import ProtocolError
from peervault.protocol import entryrows
from peervault.protocol import messages as m
from peervault.state import VaultState
from peervault.store.db import INDEX_SNAPSHOT
from peervault.store.packing import PACKED, PACKED_ZSTD, pack_rows, unpack_rows, unpack_snapshot
from peervault.sync import wholeindex
from peervault.sync.engine import Engine
from twin_engines import fetch_blob, write

ALL = bytes(range(m.BUCKETS))
PNG = b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x01" * 100


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[VaultState]:
    state, _ = VaultState.init(tmp_path / "A")
    yield state
    state.close()


@pytest.fixture
def joiner(tmp_path: Path) -> Iterator[VaultState]:
    state, _ = VaultState.init(tmp_path / "B")
    yield state
    state.close()


def _engine(state: VaultState) -> Engine:
    return Engine(state.root, state.store, config.load(state.dir), time.time)


def _source(state: VaultState) -> Engine:
    """A device with notes, a rename, a delete, binary files (one deleted) and a removed
    device, its index saved whole and dropped, as after a clean restart."""
    a = _engine(state)
    for i in range(12):
        write(state.root / "dir" / f"n{i}.md", f"# note {i}\n\ntext {i}\n")
    write(state.root / "img" / "pic.png", PNG)
    write(state.root / "img" / "gone.png", PNG + b"x")
    a.reconcile(time.time())
    (state.root / "dir" / "n1.md").unlink()
    (state.root / "dir" / "n2.md").rename(state.root / "moved.md")
    (state.root / "img" / "gone.png").unlink()
    a.reconcile(time.time() + 60)  # past settling: the deletes are recorded
    a.forget_device("c" * 64)
    a.save_for_restart()
    assert not a.index.loaded
    return a


def _offer(a: Engine, b: Engine) -> m.IndexSnapshot:
    msg = a.index_saved_whole(b.index_vv())
    assert isinstance(msg, m.IndexSnapshot)
    decoded = m.decode(m.encode(msg))  # through the wire codec
    assert isinstance(decoded, m.IndexSnapshot)
    return decoded


def _decoded_entries(msg: m.IndexSnapshot) -> dict[str, object]:
    """What the receiver would read from the snapshot itself."""
    return dict(VaultIndex.load(unpack_snapshot(msg.snapshot), 1).entries())


def _nothing_saved(state: VaultState, b: Engine) -> None:
    assert state.store.load_index() == (None, []) and state.store.cached_index() is None
    assert len(b.entries) == 0 and state.store.pending_writes() == set()


def test_a_join_takes_the_index_as_saved_without_decoding_it(vault: VaultState, joiner: VaultState) -> None:
    a = _source(vault)
    b = _engine(joiner)
    msg = _offer(a, b)
    assert not a.index.loaded  # served without decoding either
    assert msg.snapshot == vault.store.get_meta(INDEX_SNAPSHOT) and msg.snapshot.startswith(PACKED_ZSTD)
    assert msg.forgotten == ("c" * 64,)
    assert b.adopt_index(msg, time.time())
    assert not b.index.loaded
    assert dict(b.entries) == _decoded_entries(msg) == dict(a.entries)
    assert b.index.forgotten() == {"c" * 64} and not b.index.loaded
    assert joiner.store.get_meta(INDEX_SNAPSHOT) == msg.snapshot  # saved as stored
    cached = joiner.store.cached_index()
    assert cached is not None and cached.adopted and cached.snapshot_size == msg.size
    assert {e.file_id: e for e in map(row_entry, cached.rows)} == dict(a.entries)
    # the notes and blobs phase, as after INDEX_UPDATES
    for docs in a.doc_batches(ALL, {}):
        b.apply_docs(tuple(docs), time.time())
    for h, size in b.wanted_blobs().items():
        assert fetch_blob(a, b, h, size)
    assert not b.index.loaded
    here = {p.relative_to(joiner.root).as_posix(): p.read_bytes() for p in joiner.root.rglob("*") if p.is_file()}
    there = {p.relative_to(vault.root).as_posix(): p.read_bytes() for p in vault.root.rglob("*") if p.is_file()}
    assert {k: v for k, v in here.items() if not k.startswith(".peervault")} == {
        k: v for k, v in there.items() if not k.startswith(".peervault")
    }
    assert "moved.md" in here and "dir/n1.md" not in here and "img/gone.png" not in here


def test_a_warm_start_after_the_join_trusts_the_entries_and_checks_them_at_first_load(
    vault: VaultState, joiner: VaultState, caplog: pytest.LogCaptureFixture
) -> None:
    a = _source(vault)
    b = _engine(joiner)
    assert b.adopt_index(_offer(a, b), time.time())
    again = _engine(joiner)
    assert not again.index.loaded and dict(again.entries) == dict(a.entries)
    with caplog.at_level(logging.ERROR):
        assert again.index.doc is not None  # loaded: compared with the entries, which agree
    assert not caplog.records and dict(again.entries) == dict(a.entries)
    # a change saved by this device writes entries of its own: no longer the peer's
    write(joiner.root / "after.md", "# mine\n")
    again.reconcile(time.time())
    again.save_for_restart()
    cached = joiner.store.cached_index()
    assert cached is not None and not cached.adopted


def _with_raw_rows(msg: m.IndexSnapshot, raw: bytes) -> m.IndexSnapshot:
    return m.IndexSnapshot(msg.vv, msg.snapshot, msg.size, msg.forgotten, pack_rows(raw))


def _with_rows(msg: m.IndexSnapshot, rows: list[tuple[object, ...]]) -> m.IndexSnapshot:
    return _with_raw_rows(msg, entryrows.encode_rows(rows))


def _rows(msg: m.IndexSnapshot) -> list[tuple[object, ...]]:
    return list(entryrows.iter_rows(unpack_rows(msg.rows, 2**26)))


def test_entries_that_disagree_with_the_document_give_way_to_it_at_first_load(
    vault: VaultState, joiner: VaultState, caplog: pytest.LogCaptureFixture
) -> None:
    """A peer's entries are trusted, as its index is; if they were not its snapshot's (never
    from this code), the document wins as soon as it is loaded, and the next save writes
    entries read from it."""
    a = _source(vault)
    b = _engine(joiner)
    msg = _offer(a, b)
    rows = _rows(msg)
    fid, path = next((r[0], r[1]) for r in rows if r[1] == "moved.md")
    lying = [(r[0], "elsewhere.md", *r[2:]) if r[0] == fid else r for r in rows]
    assert b.adopt_index(_with_rows(msg, lying), time.time())
    assert b.entries[str(fid)].path == "elsewhere.md"
    with caplog.at_level(logging.ERROR):
        b.index.doc  # noqa: B018 - loading it is the point
    assert "differ" in caplog.text
    assert b.entries[str(fid)].path == path and dict(b.entries) == dict(b.index.entries())
    b.reconcile(time.time())
    b.save_for_restart()
    cached = joiner.store.cached_index()
    assert cached is not None and not cached.adopted
    assert {e.file_id: e for e in map(row_entry, cached.rows)} == dict(a.entries)


def _other_vv() -> bytes:
    doc = LoroDoc()
    doc.get_map("files").insert("x", 1)
    doc.commit()
    return bytes(doc.oplog_vv.encode())


def _updates_form(msg: m.IndexSnapshot) -> tuple[bytes, int]:
    doc = LoroDoc()
    doc.import_(unpack_snapshot(msg.snapshot))
    blob = bytes(doc.export(ExportMode.Updates(VersionVector())))
    return blob, len(blob)


def _bad(msg: m.IndexSnapshot, how: str) -> m.IndexSnapshot:
    rows = _rows(msg)
    raw = unpack_snapshot(msg.snapshot)
    if how == "another version":
        return m.IndexSnapshot(_other_vv(), msg.snapshot, msg.size, msg.forgotten, msg.rows)
    if how == "no version":
        return m.IndexSnapshot(b"", msg.snapshot, msg.size, msg.forgotten, msg.rows)
    if how == "truncated snapshot":
        return m.IndexSnapshot(msg.vv, msg.snapshot[:-20], msg.size, msg.forgotten, msg.rows)
    if how == "garbage snapshot":
        return m.IndexSnapshot(msg.vv, PACKED_ZSTD + b"\x00" * 300, msg.size, msg.forgotten, msg.rows)
    if how == "damaged snapshot":
        bad = bytearray(raw)
        bad[len(bad) // 2] ^= 0xFF
        return m.IndexSnapshot(msg.vv, bytes(bad), msg.size, msg.forgotten, msg.rows)
    if how == "another size":
        return m.IndexSnapshot(msg.vv, msg.snapshot, msg.size + 1, msg.forgotten, msg.rows)
    if how == "zlib form":
        return m.IndexSnapshot(msg.vv, PACKED + zlib.compress(raw), msg.size, msg.forgotten, msg.rows)
    if how == "updates, not a snapshot":
        blob, size = _updates_form(msg)
        return m.IndexSnapshot(msg.vv, blob, size, msg.forgotten, msg.rows)
    if how == "zip bomb":
        bomb = PACKED_ZSTD + zstandard.ZstdCompressor().compress(b"\x00" * 2**17)
        return m.IndexSnapshot(msg.vv, bomb, 2**17, msg.forgotten, msg.rows)
    if how == "a blob row without a digest":
        blob_row = next(r for r in rows if r[2] == "blob")
        return _with_rows(msg, [(*r[:5], "zz", *r[6:]) if r is blob_row else r for r in rows])
    if how == "a text row with a size":
        text_row = next(r for r in rows if r[2] == "text")
        return _with_rows(msg, [(*r[:6], 5, *r[7:]) if r is text_row else r for r in rows])
    if how == "a row twice":
        return _with_rows(msg, [*rows, rows[0]])
    raw_rows = unpack_rows(msg.rows, 2**26)
    if how == "trailing bytes":
        return _with_raw_rows(msg, raw_rows + b"\x00")
    if how == "rows announced, not there":
        return _with_raw_rows(msg, b"\x00\x01\x00\x00" + raw_rows[4:])
    if how == "a string not UTF-8":
        first = raw_rows.index(b"moved.md")
        return _with_raw_rows(msg, raw_rows[:first] + b"\xff" + raw_rows[first + 1 :])
    if how == "rows not compressed":
        return m.IndexSnapshot(msg.vv, msg.snapshot, msg.size, msg.forgotten, raw_rows)
    if how == "a rows bomb":
        return _with_raw_rows(msg, b"\x00" * (2**16 + 1))
    raise AssertionError(how)


HOSTILE = [
    "another version",
    "no version",
    "truncated snapshot",
    "garbage snapshot",
    "damaged snapshot",
    "another size",
    "zlib form",
    "updates, not a snapshot",
    "zip bomb",
    "a blob row without a digest",
    "a text row with a size",
    "a row twice",
    "trailing bytes",
    "rows announced, not there",
    "a string not UTF-8",
    "rows not compressed",
    "a rows bomb",
]


@pytest.mark.parametrize("how", HOSTILE)
def test_a_malformed_or_hostile_index_snapshot_is_refused_and_nothing_saved(
    vault: VaultState, joiner: VaultState, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = _source(vault)
    b = _engine(joiner)
    bad = _bad(_offer(a, b), how)
    monkeypatch.setattr(wholeindex, "MAX_BODY", 2**16)  # (a bomb of 64 MB would take its time)
    with pytest.raises(ProtocolError):
        b.adopt_index(m.decode(m.encode(bad)), time.time())  # type: ignore[arg-type]
    _nothing_saved(joiner, b)
    monkeypatch.undo()
    assert b.adopt_index(_offer(a, b), time.time())  # the real one still goes in afterwards


def test_the_server_sends_it_only_when_its_database_holds_the_index_whole(vault: VaultState, joiner: VaultState) -> None:
    a = _source(vault)
    b = _engine(joiner)
    assert a.index_saved_whole(a.index_vv()) is None  # a peer with an index: updates, as before
    write(vault.root / "later.md", "# logged, not folded\n")
    a.reconcile(time.time())
    assert int(vault.store.db.execute("SELECT count(*) FROM index_log").fetchone()[0]) == 1
    assert a.index_saved_whole(b.index_vv()) is None  # the snapshot is not all of it
    assert a.index_updates_since(b.index_vv()) is not None  # INDEX_UPDATES instead
    a.save_for_restart()
    assert a.index_saved_whole(b.index_vv()) is not None
    vault.store.set_meta(INDEX_SNAPSHOT, PACKED + zlib.compress(unpack_snapshot(vault.store.get_meta(INDEX_SNAPSHOT))))  # type: ignore[arg-type]
    assert a.index_saved_whole(b.index_vv()) is None  # an older stored form: inflated and sent as updates


def test_a_device_that_took_entries_on_trust_does_not_pass_them_on_unchecked(
    vault: VaultState, joiner: VaultState, tmp_path: Path
) -> None:
    a = _source(vault)
    b = _engine(joiner)
    assert b.adopt_index(_offer(a, b), time.time())
    third, _ = VaultState.init(tmp_path / "C")
    try:
        c = _engine(third)
        assert b.index_saved_whole(c.index_vv()) is None
        blob = b.index_updates_since(c.index_vv())  # the saved snapshot, as INDEX_UPDATES
        assert blob is not None and c.apply_index(blob, time.time())
        assert dict(c.entries) == dict(a.entries)
    finally:
        third.close()


def test_a_device_that_made_an_index_of_its_own_meanwhile_imports_the_snapshot(vault: VaultState, joiner: VaultState) -> None:
    a = _source(vault)
    b = _engine(joiner)
    msg = _offer(a, b)
    write(joiner.root / "own.md", "# made before the snapshot arrived\n")
    b.reconcile(time.time())
    assert b.adopt_index(msg, time.time())
    assert {e.path for e in b.entries.values()} == {e.path for e in a.entries.values()} | {"own.md"}
    assert dict(b.entries) == dict(b.index.entries())


def test_a_rolled_back_adoption_leaves_the_document_the_truth(
    vault: VaultState, joiner: VaultState, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = _source(vault)
    b = _engine(joiner)
    msg = _offer(a, b)

    def failing(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(wholeindex, "note_peer_deletions", failing)
    with pytest.raises(OSError):
        b.adopt_index(msg, time.time())
    monkeypatch.undo()
    assert joiner.store.load_index() == (None, [])  # rolled back
    # the engine's index claims the version it never saved: read back, the empty one wins
    assert len(b.index.entries()) == 0 and len(b.entries) == 0
    assert b.adopt_index(msg, time.time())  # sent again (the next connection): taken whole
    assert dict(b.entries) == dict(_engine(joiner).entries) == dict(a.entries)


def test_removed_devices_that_disagree_with_the_document_give_way_to_it_at_first_load(
    vault: VaultState, joiner: VaultState, caplog: pytest.LogCaptureFixture
) -> None:
    a = _source(vault)
    b = _engine(joiner)
    msg = _offer(a, b)
    lying = m.IndexSnapshot(msg.vv, msg.snapshot, msg.size, ("d" * 64,), msg.rows)
    assert b.adopt_index(lying, time.time())
    assert b.index.forgotten() == {"d" * 64} and not b.index.loaded  # taken on trust until loaded
    with caplog.at_level(logging.ERROR):
        b.index.doc  # noqa: B018 - loading it is the point
    assert "differ" in caplog.text
    assert b.index.forgotten() == {"c" * 64}  # the document's
    b.save_for_restart()
    assert _engine(joiner).index.forgotten() == {"c" * 64}


def test_a_join_s_index_goes_on_to_other_links_as_index_updates(vault: VaultState, joiner: VaultState) -> None:
    """routing.receive: INDEX_SNAPSHOT is forwarded as INDEX_UPDATES carrying its snapshot
    (any version reads it), inflated only when there is another link to send it to."""
    a = _source(vault)
    b = _engine(joiner)
    msg = _offer(a, b)
    assert routing.receive(b, msg, "a" * 64, "link-a", ["link-a", "link-c"], time.time()) == [
        ("link-c", m.IndexUpdates(unpack_snapshot(msg.snapshot)))
    ]
    assert routing.receive(b, msg, "a" * 64, "link-a", ["link-a", "link-c"], time.time()) == []  # nothing new


def test_a_join_s_index_with_no_other_link_is_not_inflated(
    vault: VaultState, joiner: VaultState, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = _source(vault)
    b = _engine(joiner)
    msg = _offer(a, b)
    monkeypatch.setattr(Engine, "index_snapshot_updates", lambda *_: pytest.fail("inflated for nobody"))
    assert routing.receive(b, msg, "a" * 64, "link-a", ["link-a"], time.time()) == []
    assert dict(b.entries) == dict(a.entries)
