"""sync/awaiting.py: the blobs files wait for, a lone file id held as itself, behaving as
the dict of sets it replaced (a hash whose files were all discarded stays until dropped)."""

from __future__ import annotations

import sys

from peervault.sync.awaiting import Awaiting


def test_it_behaves_as_a_dict_of_sets() -> None:
    a = Awaiting()
    model: dict[str, set[str]] = {}
    steps = [
        ("add", "h1", "f1"), ("add", "h1", "f1"), ("add", "h2", "f2"), ("add", "h1", "f3"),
        ("discard", "h2", "f9"), ("discard", "h2", "f2"), ("add", "h2", "f4"), ("discard", "h1", "f1"),
        ("discard", "h1", "f3"), ("add", "h1", "f5"), ("discard", "h3", "f1"), ("add", "h3", "f2"),
    ]  # fmt: skip
    for op, h, fid in steps:
        if op == "add":
            a.add(h, fid)
            model.setdefault(h, set()).add(fid)
        else:
            a.discard(h, fid)
            model.get(h, set()).discard(fid)
        assert {k: set(v) for k, v in a.items()} == model
        assert a.files() == set().union(*model.values())
        assert len(a) == len(model) and all(k in a for k in model) and "nope" not in a
    assert a.pop("h1") == model.pop("h1") == {"f5"}
    assert a.pop("h1") == set() and "h1" not in a
    del a["h2"]
    assert {k: set(v) for k, v in a.items()} == {"h3": {"f2"}}


def test_a_hash_whose_files_were_discarded_stays_awaited_with_none() -> None:
    a = Awaiting()
    a.add("h", "f")
    a.discard("h", "f")
    assert "h" in a and dict(a.items()) == {"h": set()} and a.files() == set()
    a.add("h", "g")
    assert dict(a.items()) == {"h": {"g"}}


def test_a_lone_file_costs_no_set() -> None:
    a = Awaiting()
    fid = "ab" * 16
    before = sys.getallocatedblocks()
    for i in range(1000):
        a.add(f"{i:064x}", fid)
    made = sys.getallocatedblocks() - before
    assert made < 1100, made  # the 1,000 hashes (and the table): a set each would be 1,000 more
