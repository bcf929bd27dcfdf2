"""The version summary's bucket digests follow every set and drop (sync/versions.py)."""

from __future__ import annotations

from peervault.crdt import notes
from peervault.sync.versions import VersionSummary


def _vv(text: str, peer: int) -> bytes:
    return notes.vv_bytes(notes.new_note(text, peer))


def test_dropping_a_note_gives_back_the_digests_of_the_notes_left() -> None:
    a, b = "0a" + "1" * 30, "0a" + "2" * 30  # one bucket
    held = VersionSummary({a: _vv("a", 1)})
    before = held.digests()
    held.set(b, _vv("b", 2))
    assert held.digests() != before
    held.drop(b)
    assert held.digests() == before and b not in held.vvs
    held.drop(b)  # not held: nothing changes
    assert held.digests() == before


def test_setting_a_note_back_to_its_stored_version_gives_back_its_digest() -> None:
    a = "ff" + "3" * 30
    stored, newer = _vv("stored", 1), _vv("newer text", 2)
    held = VersionSummary({a: stored})
    before = held.digests()
    held.set(a, newer)
    held.set(a, stored)  # a rolled-back save (documents._rolled_back)
    assert held.digests() == before == VersionSummary({a: stored}).digests()
