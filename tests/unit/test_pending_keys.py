"""Pending changes by note (sync/publishing.pending_keys, take_pending) under the daemon's
Debouncer: a note's first change goes at once with its index entry, however recently
another note's entry went; repeated saves of one note still wait for its window."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from peervault.crdt.index import file_id_for
from peervault.protocol import messages as m
from peervault.sync.debounce import Debouncer
from peervault.sync.documents import INDEX
from peervault.sync.engine import Engine
from twin_engines import Pair, engine_pair, tree, write

WINDOW_S = 1.0


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    yield from engine_pair(tmp_path)


def push(src: Engine, dst: Engine, keys: set[str]) -> list[m.IndexUpdates | m.DocUpdates]:
    """What the daemon's flush does with the keys the debouncer let go: take, encode, apply."""
    msgs = src.take_pending(keys)
    for msg in msgs:
        decoded = m.decode(m.encode(msg))
        if isinstance(decoded, m.IndexUpdates):
            dst.apply_index(decoded.blob, time.time())
        else:
            assert isinstance(decoded, m.DocUpdates)
            dst.apply_docs(decoded.entries, time.time())
    return msgs


def kinds(msgs: list[m.IndexUpdates | m.DocUpdates]) -> list[type]:
    return [type(x) for x in msgs]


def doc_ids(msgs: list[m.IndexUpdates | m.DocUpdates]) -> set[str]:
    return {raw.hex() for x in msgs if isinstance(x, m.DocUpdates) for raw, _ in x.entries}


def test_a_new_note_is_one_key_with_its_entry(pair: Pair) -> None:
    write(pair.state_a.root / "a.md", "alpha\n")
    pair.a.local_paths({"a.md"}, time.time())
    fid = file_id_for("a.md")
    assert pair.a.pending() == {fid}  # not {fid, INDEX}: the entry goes with the note
    msgs = push(pair.a, pair.b, {fid})
    assert kinds(msgs) == [m.IndexUpdates, m.DocUpdates]
    assert pair.a.pending() == set()
    assert tree(pair.state_b.root) == {"a.md": "alpha\n"}


def test_new_notes_0_3_s_apart_each_go_at_once(pair: Pair) -> None:
    """The issue's pattern: before, the second note's entry waited for the index's window."""
    deb = Debouncer(WINDOW_S)
    t0 = time.time()
    for i in range(5):
        t = i * 0.3
        rel = f"n{i}.md"
        write(pair.state_a.root / rel, f"note {i}\n")
        pair.a.local_paths({rel}, t0 + t)
        ready, wake = deb.due(pair.a.pending(), t)
        assert ready == {file_id_for(rel)} and wake is None
        msgs = push(pair.a, pair.b, ready)
        assert kinds(msgs) == [m.IndexUpdates, m.DocUpdates]
        assert (pair.state_b.root / rel).read_text() == f"note {i}\n"  # on B's disk now, in its own file
    assert pair.a.pending() == set()


def test_rapid_saves_of_one_note_wait_for_its_window(pair: Pair) -> None:
    deb = Debouncer(WINDOW_S)
    t0 = time.time()
    root = pair.state_a.root
    fid = file_id_for("a.md")
    write(root / "a.md", "v0\n")
    pair.a.local_paths({"a.md"}, t0)
    ready, _ = deb.due(pair.a.pending(), 0.0)
    push(pair.a, pair.b, ready)
    for k, t in enumerate((0.1, 0.2, 0.4), start=1):
        write(root / "a.md", f"v{k}\n")
        pair.a.local_paths({"a.md"}, t0 + t)
        ready, wake = deb.due(pair.a.pending(), t)
        assert ready == set() and wake == pytest.approx(WINDOW_S)  # batched
    assert (pair.state_b.root / "a.md").read_text() == "v0\n"
    ready, wake = deb.due(pair.a.pending(), WINDOW_S)
    assert ready == {fid} and wake is None
    msgs = push(pair.a, pair.b, ready)
    assert kinds(msgs) == [m.DocUpdates]  # one batch, no index change (same path)
    assert (pair.state_b.root / "a.md").read_text() == "v3\n"


def test_a_new_note_is_not_held_back_by_another_notes_held_change(pair: Pair) -> None:
    """X was pushed, then renamed and edited within its window (held); Y is created: Y goes at
    once, and the index update it needs carries X's rename, so X's text goes with it."""
    deb = Debouncer(WINDOW_S)
    t0 = time.time()
    ra, rb = pair.state_a.root, pair.state_b.root
    x, y = file_id_for("x.md"), file_id_for("y.md")
    write(ra / "x.md", "x0\n")
    pair.a.local_paths({"x.md"}, t0)
    push(pair.a, pair.b, deb.due(pair.a.pending(), 0.0)[0])
    os.rename(ra / "x.md", ra / "x2.md")
    pair.a.local_paths({"x.md", "x2.md"}, t0 + 0.1, moves=[("x.md", "x2.md")])
    write(ra / "x2.md", "x1\n")
    pair.a.local_paths({"x2.md"}, t0 + 0.2)
    assert deb.due(pair.a.pending(), 0.2) == (set(), WINDOW_S)  # X's burst waits
    write(ra / "y.md", "y0\n")
    pair.a.local_paths({"y.md"}, t0 + 0.3)
    assert pair.a.pending() == {x, y}
    ready, wake = deb.due(pair.a.pending(), 0.3)
    assert ready == {y} and wake == pytest.approx(WINDOW_S)
    msgs = push(pair.a, pair.b, ready)
    assert kinds(msgs) == [m.IndexUpdates, m.DocUpdates] and doc_ids(msgs) == {x, y}
    assert pair.a.pending() == set()  # nothing left for X's window: it went with the index
    assert tree(rb) == {"x2.md": "x1\n", "y.md": "y0\n"}  # X renamed with its new text, not misplaced


def test_a_rename_alone_is_its_notes_key(pair: Pair) -> None:
    ra = pair.state_a.root
    write(ra / "a.md", "alpha\n")
    pair.a.local_paths({"a.md"}, time.time())
    push(pair.a, pair.b, pair.a.pending())
    os.rename(ra / "a.md", ra / "b.md")
    pair.a.local_paths({"a.md", "b.md"}, time.time(), moves=[("a.md", "b.md")])
    fid = file_id_for("a.md")
    assert pair.a.pending() == {fid}
    assert kinds(push(pair.a, pair.b, {fid})) == [m.IndexUpdates]
    assert tree(pair.state_b.root) == {"b.md": "alpha\n"}


def test_an_index_change_of_no_note_is_its_own_key(pair: Pair) -> None:
    pair.a.forget_device("ab" * 32)
    assert pair.a.pending() == {INDEX}
    assert kinds(pair.a.take_pending({INDEX})) == [m.IndexUpdates]
    assert pair.a.pending() == set()


def test_another_notes_key_leaves_the_index_pending_under_its_own(pair: Pair) -> None:
    ra = pair.state_a.root
    write(ra / "a.md", "alpha\n")
    pair.a.local_paths({"a.md"}, time.time())
    push(pair.a, pair.b, pair.a.pending())
    write(ra / "a.md", "alpha beta\n")  # an edit of A: no index change
    write(ra / "n.md", "new\n")  # a new note: an index change under N
    pair.a.local_paths({"a.md", "n.md"}, time.time())
    a, n = file_id_for("a.md"), file_id_for("n.md")
    assert pair.a.pending() == {a, n}
    msgs = push(pair.a, pair.b, {a})
    assert kinds(msgs) == [m.DocUpdates] and doc_ids(msgs) == {a}
    assert pair.a.pending() == {n}
    assert kinds(push(pair.a, pair.b, {n})) == [m.IndexUpdates, m.DocUpdates]
    assert tree(pair.state_b.root) == {"a.md": "alpha beta\n", "n.md": "new\n"}


def test_clear_pending_forgets_the_index_keys_too(pair: Pair) -> None:
    write(pair.state_a.root / "a.md", "alpha\n")
    pair.a.local_paths({"a.md"}, time.time())
    pair.a.clear_pending()
    assert pair.a.pending() == set() and pair.a.take_pending() == []
