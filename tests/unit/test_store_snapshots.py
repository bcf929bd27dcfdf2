"""Note and index snapshots are stored compressed (zstd), and rows written before that (deflated, or
Loro's bytes as they are) still read."""

from __future__ import annotations

import sqlite3
import zlib
from pathlib import Path

import pytest

from peervault.crdt import notes
from peervault.store.db import Store
from peervault.store.packing import PACKED, PACKED_ZSTD


def _note(text: str) -> bytes:
    d = notes.new_note(text, 7)
    return notes.snapshot(d)


def test_a_snapshot_comes_back_byte_for_byte_and_takes_less_room(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    words = ["sync", "vault", "note", "device", "merge", "history", "peer", "daily", "review", "link"]
    lines = (f"- {words[i % 10]} {words[i * 7 % 10]} {i * 7919 % 104729} {words[i * 3 % 10]}\n" for i in range(400))
    snap = _note("# Weekly review\n\n" + "".join(lines))
    store.save_doc("a", snap, b"vv")
    (stored,) = store.db.execute("SELECT snapshot FROM docs WHERE doc_id='a'").fetchone()
    assert bytes(stored).startswith(PACKED_ZSTD) and len(stored) < len(snap) * 0.8
    assert store.load_doc("a") == snap
    assert notes.text_of(notes.load_note(store.load_doc("a") or b"", 8)) == notes.text_of(notes.load_note(snap, 9))


def test_rows_of_an_older_version_and_tiny_snapshots_are_read_as_they_are(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    old = _note("written by an older PeerVault\n" * 50)
    store.db.execute("INSERT INTO docs(doc_id, snapshot, vv, published) VALUES ('old', ?, x'00', 1)", (old,))
    assert store.load_doc("old") == old
    tiny = _note("")
    store.save_doc("tiny", tiny, b"vv")
    assert store.load_doc("tiny") == tiny


def test_a_note_stored_deflated_by_an_earlier_version_still_reads(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    snap = _note("stored deflated before notes were stored with zstd\n" * 40)
    store.db.execute(
        "INSERT INTO docs(doc_id, snapshot, vv, published) VALUES ('z', ?, x'00', 1)", (PACKED + zlib.compress(snap, 1),)
    )
    assert store.load_doc("z") == snap


def test_the_index_snapshot_is_stored_with_zstd(tmp_path: Path) -> None:
    """A first import folds the index several times: zstd, as notes (a tenth of zlib's time)."""
    store = Store(tmp_path / "state.db")
    snap = _note("the index is folded into a snapshot several times per import\n" * 40)
    store.save_index(snap, b"vv", [], [])
    stored = bytes(store.get_meta("index_snapshot"))  # type: ignore[arg-type]
    assert stored.startswith(PACKED_ZSTD) and len(stored) < len(snap) * 0.8
    assert store.load_index() == (snap, [])


def test_an_index_snapshot_deflated_by_an_earlier_version_still_reads(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    snap = _note("the index of an earlier version, deflated\n" * 40)
    store.save_index(snap, b"vv", [], [])
    store.set_meta("index_snapshot", PACKED + zlib.compress(snap, 1))
    assert store.load_index() == (snap, [])


def test_a_damaged_deflated_row_is_handed_on_unchanged_for_loro_to_refuse(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    store.db.execute("INSERT INTO docs(doc_id, snapshot, vv, published) VALUES ('bad', ?, x'00', 1)", (PACKED + b"garbage",))
    assert store.load_doc("bad") == PACKED + b"garbage"
    store.db.execute(
        "INSERT INTO docs(doc_id, snapshot, vv, published) VALUES ('bad2', ?, x'00', 1)", (PACKED_ZSTD + b"garbage",)
    )
    assert store.load_doc("bad2") == PACKED_ZSTD + b"garbage"


def test_a_database_of_a_newer_version_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    """An older PeerVault would read a newer version's note rows as damaged notes: it says
    to upgrade, and neither sets the database aside nor rebuilds it."""
    from peervault.errors import StoreTooNew
    from peervault.state import VaultState
    from peervault.store.db import SCHEMA_FILES

    state, _ = VaultState.init(tmp_path / "v")
    db = state.dir / "state.db"
    state.close()
    con = sqlite3.connect(db)
    con.execute(f"PRAGMA user_version={len(SCHEMA_FILES) + 1}")
    con.close()
    before = sorted(p.name for p in db.parent.iterdir())
    with pytest.raises(StoreTooNew, match="newer PeerVault.*upgrade"):
        VaultState.open(tmp_path / "v")
    assert sorted(p.name for p in db.parent.iterdir()) == before


def test_the_stored_index_is_sent_as_saved_and_only_in_a_sendable_form(tmp_path: Path) -> None:
    """Read by blob I/O (no copy of SQLite's): the bytes saved, zstd's or Loro's own; a deflated
    (`pvz1`) row, an integer or nothing at all is not sent as it is."""
    store = Store(tmp_path / "state.db")
    assert store.stored_index() is None
    packed = PACKED_ZSTD + bytes(range(256)) * 4000
    store.set_meta("index_snapshot", packed)
    assert store.stored_index() == packed
    store.set_meta("index_snapshot", b"loro" + b"x" * 10)
    assert store.stored_index() == b"loro" + b"x" * 10
    for unsendable in (PACKED + zlib.compress(b"x" * 1000), b"lo", 7):
        store.set_meta("index_snapshot", unsendable)
        assert store.stored_index() is None


def test_a_small_cache_holds_inside_its_block_and_is_put_back_even_on_an_error(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    store.limit_cache(1500)  # a limit set before (a join's) is the one put back

    def size() -> int:
        return int(store.db.execute("PRAGMA cache_size").fetchone()[0])

    with store.small_cache(256):
        assert size() == -256
    assert size() == -1500
    with pytest.raises(RuntimeError), store.small_cache(64):
        assert size() == -64
        raise RuntimeError("the peer left")
    assert size() == -1500
