"""The files table and the unsynced table, as the engine's fast paths rely on them."""

from __future__ import annotations

import contextlib
from pathlib import Path

from peervault.store.db import FileRow, Store


def _row(file_id: str, path: str) -> FileRow:
    return FileRow(file_id, path, 3, 1, b"h" * 16, b"")


def test_a_row_at_a_path_another_file_held_replaces_that_files_row(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    store.put_file(_row("a", "note.md"))
    store.put_file(_row("b", "other.md"))
    store.put_file(_row("b", "note.md"))  # b renamed onto a's path: one row per path
    assert {f: r.path for f, r in store.files().items()} == {"b": "note.md"}


def test_clearing_an_unsynced_path_works_whatever_the_table_held_when_opened(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = Store(db)
    store.set_unsynced("big.bin", "larger than the limit")
    store.close()
    store = Store(db)  # opened with a row: clearing it must reach the table
    store.set_unsynced("big.bin", None)
    assert store.unsynced() == {}
    store.set_unsynced("x.md", "reason")  # empty before, then a row: cleared too
    store.set_unsynced("x.md", None)
    assert store.unsynced() == {}


def _clear_then_roll_back(store: Store, path: str) -> None:
    with contextlib.suppress(RuntimeError), store.transaction():
        store.set_unsynced(path, None)
        assert store.unsynced() == {}
        raise RuntimeError("rolled back")


def test_a_rolled_back_clear_leaves_the_row_to_clear_again(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    store.set_unsynced("a.md", "reason")
    _clear_then_roll_back(store, "a.md")
    store.set_unsynced("a.md", None)  # the row is back: this must reach the table
    assert store.unsynced() == {}
    store.set_unsynced("a.md", "reason")
    _clear_then_roll_back(store, "a.md")
    assert store.unsynced() == {"a.md": "reason"}
