"""The compact entry table (crdt/entries.EntryTable) gives back exactly the entries put in,
as a dict of them would, and holds no object of its own for the common ones."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peervault.crdt.entries import Entry, EntryTable, entry_row, row_entry

DIGEST = "6143672975177515345c99336dcd2b5fd2ab44e7cec376317e397ce452506374"
ENTRIES = [
    Entry("t1", "notes/a.md", "text", False, b""),  # a live note: kept as its path
    Entry("t2", "Bilder/Ünïcødé 日本.md", "text", True, b"\x01\x02"),  # deleted, with the version it deleted
    Entry("t3", "gone.md", "text", True, b""),
    Entry("t4", "odd/\udcff.md", "text", False, b""),  # a name that is not UTF-8 (surrogate escape)
    Entry("b1", "img/a.png", "blob", False, b"", DIGEST, 75_923, 1_748_651_958_010, 1_796_621_224_775),
    Entry("b2", "img/b.png", "blob", True, b"", DIGEST, 0, 0, 0),
    Entry("b3", "img/c.png", "blob", False, b"", DIGEST.upper(), 1, 2, 3),  # not lowercase: kept as it is
    Entry("b4", "img/d.png", "blob", False, b"", DIGEST[:-2], 1, 2, 3),  # too short: kept as it is
    Entry("b5", "img/e.png", "blob", False, b"", DIGEST, 9_999_999_999_999_999_999, 2**64 - 1, 0),
    Entry("b6", "img/f.png", "blob", False, b"", DIGEST, -1, 2, 3),  # does not fit the packing
    Entry("x1", "what.md", "folder", False, b""),  # a kind this version does not know
]


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.file_id)
def test_an_entry_comes_back_equal(entry: Entry) -> None:
    table = EntryTable()
    table[entry.file_id] = entry
    assert table[entry.file_id] == entry and table.get(entry.file_id) == entry
    assert row_entry(entry_row(table[entry.file_id])) == entry
    assert list(table.items()) == [(entry.file_id, entry)] and list(table.values()) == [entry]


def test_common_entries_hold_no_object_of_their_own() -> None:
    table = EntryTable({e.file_id: e for e in ENTRIES})
    rows = table._rows
    assert rows["t1"] is ENTRIES[0].path  # the entry's own string: shared with the path -> id map
    assert table["t1"].path is ENTRIES[0].path and isinstance(rows["b1"], tuple)
    assert all(rows[e.file_id] is e for e in ENTRIES if e.file_id in ("t2", "t3", "b3", "b4", "b6", "x1"))


def test_an_entry_under_another_id_is_kept_as_it_is() -> None:
    table = EntryTable()
    table["other"] = ENTRIES[0]
    assert table["other"] is ENTRIES[0]


def test_it_behaves_as_a_dict_of_entries() -> None:
    table, plain = EntryTable(), {}
    for e in ENTRIES:
        table[e.file_id] = plain[e.file_id] = e
    assert table == plain and plain == table and dict(table) == plain and not (table != plain)
    assert list(table) == list(plain) and len(table) == len(plain) and len(table.items()) == len(plain)
    assert ("t1", ENTRIES[0]) in table.items() and ENTRIES[4] in table.values()
    assert "t1" in table and "nope" not in table and table.get("nope") is None
    moved = Entry("t1", "elsewhere.md", "text", True, b"\x05")
    table["t1"] = moved
    assert table["t1"] == moved and table != plain
    assert table.pop("b1") == ENTRIES[4] and "b1" not in table
    del table["t3"]
    with pytest.raises(KeyError):
        table["t3"]
    table.clear()
    assert table == {} and len(table) == 0


_texts = st.text(min_size=1, max_size=30)
_ints = st.integers(min_value=-(2**65), max_value=2**65)
_entries = st.builds(
    Entry,
    file_id=st.text(alphabet="0123456789abcdef", min_size=1, max_size=32),
    path=_texts,
    kind=st.sampled_from(["text", "blob", "other"]),
    deleted=st.booleans(),
    dvv=st.sampled_from([b"", b"\x00", b"\x01\x02\x03"]),
    blob=st.one_of(st.just(""), st.just(DIGEST), st.text(alphabet="0123456789abcdefABCDEF", min_size=63, max_size=65)),
    size=st.one_of(st.just(0), _ints),
    mtime_ms=st.one_of(st.just(0), _ints),
    stamp=st.one_of(st.just(0), _ints),
)


@given(st.lists(_entries, max_size=20))
def test_any_entries_come_back_equal(entries: list[Entry]) -> None:
    table, plain = EntryTable(), {}
    for e in entries:
        table[e.file_id] = plain[e.file_id] = e
    assert dict(table.items()) == plain and list(table.values()) == list(plain.values())


def test_a_subset_shares_what_the_table_holds() -> None:
    table = EntryTable({e.file_id: e for e in ENTRIES})
    part = table.subset(["t1", "b1", "t2", "nope"])
    assert dict(part) == {"t1": ENTRIES[0], "b1": ENTRIES[4], "t2": ENTRIES[1]}
    assert all(part._rows[f] is table._rows[f] for f in part)  # no copy of a path or a packed value
    part["t1"] = Entry("t1", "changed.md", "text", False, b"")
    assert table["t1"] == ENTRIES[0]  # the table itself is untouched


@given(st.lists(_entries, max_size=12), st.lists(_entries, max_size=12))
def test_taking_and_comparing_as_held_is_as_with_entries(old: list[Entry], new: list[Entry]) -> None:
    """`differing` and `take` give what comparing and copying the entries themselves gives
    (`remote.apply_index`), for any entries, packed or not."""
    before, after = EntryTable(), EntryTable()
    for e in old:
        before[e.file_id] = e
    for e in new + old[:3]:  # some entries equal on both sides
        after[e.file_id] = e
    assert after.differing(before) == {f for f, e in after.items() if before.get(f) != e}
    touched = set(before) | set(after)
    table = EntryTable(dict(before))
    table.take(after, touched)
    assert dict(table) == dict(after)


@pytest.mark.parametrize("h", [DIGEST, DIGEST.upper(), "00" * 32, DIGEST[:-2]])
def test_names_blob_says_what_the_entry_says(h: str) -> None:
    """The status's count of awaited blobs reads the packed form (`names_blob`): for every
    kind of entry it answers as the entry itself does, or None for an entry held as an
    object (one with a deletion's version vector, say: then the caller reads it)."""
    table = EntryTable({e.file_id: e for e in ENTRIES})
    with_dvv = Entry("b7", "img/g.png", "blob", True, b"\x01", DIGEST, 1, 2, 3)
    table[with_dvv.file_id] = with_dvv
    assert table.names_blob("b1", bytes.fromhex(DIGEST)) is True and table.names_blob("b7", b"") is None
    digest = bytes.fromhex(h) if bytes.fromhex(h).hex() == h else b""  # as binaries.awaited asks
    for e in [*ENTRIES, with_dvv]:
        answer = table.names_blob(e.file_id, digest)
        if table._rows[e.file_id] is e:
            assert answer is None
        else:
            assert answer == (e.kind == "blob" and e.blob == h and not e.deleted), e.file_id
    assert table.names_blob("missing", digest) is False
