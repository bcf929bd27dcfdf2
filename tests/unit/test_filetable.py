"""The packed file table (store/filetable.py) gives back exactly the rows put in, as a dict would."""

from __future__ import annotations

import pytest

from peervault.store.filetable import FileRow, FileTable, pack

ROWS = [
    FileRow(
        "f1", "notes/a.md", 12, 1_796_531_415_317_361_116, b"\x01" * 16, b"\x02" * 9, 3_261_393, 1_796_577_040_592_681_271, 65024
    ),
    FileRow("f2", "Bilder/Ünïcødé 日本.png", 5 * 2**30, -1, b"\xaa" * 32, b"", 0, 0, 0),  # forced re-read: mtime -1
    FileRow("f3", "odd/\udcff.md", 1, 2, b"h", b"b"),  # a name that is not UTF-8 (surrogate escape): kept as it is
    FileRow("f4", "big.md", 1, 2, b"h", b"x" * 70_000),  # a base too long for the packing: kept as it is
    FileRow("f5", "ino.md", 1, 2, b"h", b"b", 2**64 - 1, 3, 2**64 - 2),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.file_id)
def test_a_row_comes_back_equal(row: FileRow) -> None:
    table = FileTable()
    table[row.file_id] = row
    assert table[row.file_id] == row
    assert table.get(row.file_id) == row
    assert table[row.file_id].stat == row.stat


def test_rows_are_packed_unless_they_do_not_fit() -> None:
    assert isinstance(pack(ROWS[0]), bytes) and isinstance(pack(ROWS[1]), bytes)
    assert pack(ROWS[2]) is ROWS[2] and pack(ROWS[3]) is ROWS[3]


def test_it_behaves_as_a_dict_of_rows() -> None:
    table, plain = FileTable(), {}
    for row in ROWS:
        table[row.file_id] = plain[row.file_id] = row
    assert dict(table.items()) == plain and list(table) == list(plain) and len(table) == len(plain)
    assert "f1" in table and "nope" not in table and table.get("nope") is None
    moved = FileRow("f1", "elsewhere.md", 1, 1, b"", b"")
    table["f1"] = moved
    assert table["f1"] == moved
    assert table.pop("f2") == ROWS[1] and "f2" not in table
    del table["f3"]
    assert sorted(table) == ["f1", "f4", "f5"]
    with pytest.raises(KeyError):
        table["f3"]
