"""A take-back by one device's mass-deletion guard undoes that device's delete, never a
delete another device made without having heard of it (crdt/afterimport.keep_own_deletes),
and never a restore a person makes later. Index documents only, exchanged as the engine does."""

from __future__ import annotations

import pytest

from peervault.crdt import afterimport
from peervault.crdt.index import VaultIndex

_DIGEST = "ab" * 32


def _receive(dst: VaultIndex, src: VaultIndex) -> bool:
    """Import `src`'s news as sync/remote.apply_index does, with both repairs."""
    blob = src.updates_since(dst.vv())
    if blob is None:
        return False
    before = dst.entries()
    dst.apply(blob)
    after = dst.entries()
    afterimport.keep_later_blobs(dst, before, after)
    afterimport.keep_own_deletes(dst, before, after)
    return True


def _until_quiet(*devices: VaultIndex) -> None:
    for _ in range(10):
        if not any(_receive(d, s) for d in devices for s in devices if d is not s):
            return


def _pair(kind: str, a_peer: int, b_peer: int) -> tuple[VaultIndex, VaultIndex]:
    a = VaultIndex.empty(a_peer)
    if kind == "blob":
        a.put_blob("f", "pic.png", _DIGEST, 10, 1, at_ms=1_000)
    else:
        a.put("f", "note.md")
    return a, VaultIndex.load(a.snapshot(), b_peer)


def _take_back(a: VaultIndex) -> None:
    """A's guard: its own delete of "f", then undone, marked with the version before."""
    a.mark_deleted("f", b"\x01")
    a.undelete("f", 0 if a.entries()["f"].kind == "blob" else None, taken_back=a.vv())


PEERS = [(1, 2), (2, 1)]  # Loro's order of concurrent values: each way


@pytest.mark.parametrize("kind", ["text", "blob"])
@pytest.mark.parametrize(("a_peer", "b_peer"), PEERS)
def test_a_delete_made_meanwhile_elsewhere_stays(kind: str, a_peer: int, b_peer: int) -> None:
    a, b = _pair(kind, a_peer, b_peer)
    b.mark_deleted("f", b"\x02")  # B deletes it, A not having heard
    _take_back(a)
    _until_quiet(a, b)
    assert a.entries() == b.entries() and a.entries()["f"].deleted


@pytest.mark.parametrize("kind", ["text", "blob"])
@pytest.mark.parametrize(("a_peer", "b_peer"), PEERS)
def test_a_take_back_brings_the_file_back_where_only_its_own_delete_was_seen(kind: str, a_peer: int, b_peer: int) -> None:
    a, b = _pair(kind, a_peer, b_peer)
    a.mark_deleted("f", b"\x01")
    _receive(b, a)  # B deleted it because A did
    a.undelete("f", 0 if kind == "blob" else None, taken_back=a.vv())
    _until_quiet(a, b)
    assert a.entries() == b.entries() and not b.entries()["f"].deleted


@pytest.mark.parametrize("kind", ["text", "blob"])
def test_a_later_restore_by_a_person_is_not_taken_for_a_take_back(kind: str) -> None:
    a, b = _pair(kind, 1, 2)
    _take_back(a)
    _until_quiet(a, b)  # nobody deleted it meanwhile: live everywhere, the marker still set
    assert not b.entries()["f"].deleted
    b.mark_deleted("f", b"\x02")  # then B deletes it, having seen the take-back ...
    _until_quiet(a, b)
    a.undelete("f")  # ... and a person on A restores it, having seen B's delete
    _until_quiet(a, b)
    assert a.entries() == b.entries() and not b.entries()["f"].deleted


def test_a_restore_on_a_third_device_that_b_has_seen_stands() -> None:
    """C restores the file (a person, having seen B's delete) while A's guard takes its own
    delete back: B, having heard of C's restore first, leaves the file live. (Had B heard
    of the take-back first, its delete written again would be concurrent with C's restore,
    and may win it: docs/KNOWN-ISSUES.md.)"""
    for peers in ((1, 2, 3), (3, 2, 1), (2, 3, 1)):
        a = VaultIndex.empty(peers[0])
        a.put("f", "note.md")
        b, c = VaultIndex.load(a.snapshot(), peers[1]), VaultIndex.load(a.snapshot(), peers[2])
        b.mark_deleted("f", b"\x02")
        _receive(c, b)
        c.undelete("f")  # C saw B's delete and restored it
        _take_back(a)  # A saw neither
        _receive(b, c)
        _until_quiet(a, b, c)
        assert a.entries() == b.entries() == c.entries() and not a.entries()["f"].deleted


def test_every_write_of_the_state_clears_the_marker() -> None:
    a, _ = _pair("text", 1, 2)
    _take_back(a)
    entry = a.entry_map("f")
    assert entry.get(afterimport.TAKEN_BACK) is not None and entry.get(afterimport.TAKEN_BACK).value
    a.mark_deleted("f", b"\x03")
    assert entry.get(afterimport.TAKEN_BACK).value == b""
    fresh, _ = _pair("text", 1, 2)
    fresh.mark_deleted("f", b"\x03")
    fresh.undelete("f")
    assert fresh.entry_map("f").get(afterimport.TAKEN_BACK) is None  # never taken back: no marker at all
