"""Catch-up in priority order: notes modified in the last hour, then the last day, then the rest,
in batches that never mix tiers, computed lazily, on real engines over real folders and SQLite."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from peervault import memory
from peervault.crdt.index import file_id_for
from peervault.sync import catchup
from peervault.sync.catchup import DAY_NS, HOUR_NS, priority_tier
from twin_engines import Pair, engine_pair, tree

ALL_BUCKETS = bytes(range(256))
MINUTE_NS = 60 * 10**9

# path -> age of its mtime when the test starts; listed most recent first within each tier
RECENT = {"recent/a.md": 10 * MINUTE_NS, "recent/b.md": 20 * MINUTE_NS, "recent/c.md": 30 * MINUTE_NS}
TODAY = {"today/a.md": 5 * HOUR_NS, "today/b.md": 6 * HOUR_NS}
OLD = {"old/a.md": 30 * DAY_NS, "old/b.md": 40 * DAY_NS}
NOTES = RECENT | TODAY | OLD


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    yield from engine_pair(tmp_path)


def rid(path: str) -> bytes:
    return bytes.fromhex(file_id_for(path))


def make_notes(root: Path, ages: dict[str, int]) -> None:
    """Write the notes in an order unrelated to their ages, then date them with os.utime."""
    now = time.time_ns()
    for rel in sorted(ages, reverse=True):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"# {rel}\n\ncontent of {rel}\n", encoding="utf-8")
        t = now - ages[rel]
        os.utime(p, ns=(t, t))


@pytest.fixture
def a_with_notes(pair: Pair) -> Pair:
    make_notes(pair.state_a.root, NOTES)
    assert pair.a.reconcile(time.time()) == len(NOTES)
    return pair


def ids(batches: list[list[tuple[bytes, bytes]]]) -> list[list[bytes]]:
    return [[raw_id for raw_id, _ in batch] for batch in batches]


# ------------------------------------------------------------------------------- tiers
def test_priority_tier_boundaries() -> None:
    assert priority_tier(0) == 0
    assert priority_tier(HOUR_NS - 1) == 0
    assert priority_tier(HOUR_NS) == 1
    assert priority_tier(DAY_NS - 1) == 1
    assert priority_tier(DAY_NS) == 2
    assert priority_tier(365 * DAY_NS) == 2
    assert priority_tier(-MINUTE_NS) == 0  # mtime in the future (clock skew): treated as recent


def test_mtimes_are_recorded_from_disk(a_with_notes: Pair) -> None:
    a = a_with_notes.a
    for rel in NOTES:
        assert a.files[file_id_for(rel)].mtime_ns == (a_with_notes.state_a.root / rel).stat().st_mtime_ns


# ------------------------------------------------------------------------------- ordering
def test_batches_come_most_recent_tier_first(a_with_notes: Pair) -> None:
    batches = list(a_with_notes.a.doc_batches(ALL_BUCKETS, {}))
    # one batch per tier (all fit in BATCH_DOCS), most recent first inside each
    assert ids(batches) == [[rid(p) for p in RECENT], [rid(p) for p in TODAY], [rid(p) for p in OLD]]
    assert all(blob for batch in batches for _, blob in batch)


def test_batches_respect_batch_docs_and_never_mix_tiers(a_with_notes: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catchup, "BATCH_DOCS", 2)
    batches = ids(list(a_with_notes.a.doc_batches(ALL_BUCKETS, {})))
    assert batches == [
        [rid("recent/a.md"), rid("recent/b.md")],
        [rid("recent/c.md")],  # the tier ends: a short batch rather than mixing in older notes
        [rid("today/a.md"), rid("today/b.md")],
        [rid("old/a.md"), rid("old/b.md")],
    ]
    tier_of = {rid(p): n for n, group in enumerate((RECENT, TODAY, OLD)) for p in group}
    for batch in batches:
        assert 0 < len(batch) <= 2
        assert len({tier_of[r] for r in batch}) == 1


def test_only_the_requested_buckets_are_sent(a_with_notes: Pair) -> None:
    wanted = rid("old/b.md")[0]
    batches = ids(list(a_with_notes.a.doc_batches(bytes([wanted]), {})))
    expected = [r for r in (rid(p) for p in NOTES) if r[0] == wanted]
    assert [r for batch in batches for r in batch] == expected


# ------------------------------------------------------------------------------- what the peer lacks
def test_peer_that_has_everything_gets_no_batches(a_with_notes: Pair) -> None:
    a = a_with_notes.a
    assert list(a.doc_batches(ALL_BUCKETS, dict(a.doc_versions(ALL_BUCKETS)))) == []


def test_peer_with_some_notes_gets_only_the_rest_in_order(a_with_notes: Pair) -> None:
    a = a_with_notes.a
    mine = dict(a.doc_versions(ALL_BUCKETS))
    has = {r: mine[r] for r in (rid("recent/b.md"), rid("old/a.md"))}
    batches = ids(list(a.doc_batches(ALL_BUCKETS, has)))
    assert batches == [
        [rid("recent/a.md"), rid("recent/c.md")],
        [rid("today/a.md"), rid("today/b.md")],
        [rid("old/b.md")],
    ]


@pytest.mark.parametrize("index_first", [True, False], ids=["index-first", "docs-first"])
def test_applying_all_batches_gives_the_peer_identical_files(
    a_with_notes: Pair, monkeypatch: pytest.MonkeyPatch, index_first: bool
) -> None:
    p = a_with_notes
    monkeypatch.setattr(catchup, "BATCH_DOCS", 2)
    index = p.a.index_updates_since(p.b.index_vv())
    assert index is not None
    if index_first:
        p.b.apply_index(index, time.time())
    for batch in p.a.doc_batches(ALL_BUCKETS, dict(p.b.doc_versions(ALL_BUCKETS))):
        p.b.apply_docs(tuple(batch), time.time())
    if not index_first:
        p.b.apply_index(index, time.time())
    assert tree(p.state_b.root) == tree(p.state_a.root)
    assert len(tree(p.state_b.root)) == len(NOTES)
    assert p.b.bucket_digests() == p.a.bucket_digests()
    # and now B lacks nothing
    assert list(p.a.doc_batches(ALL_BUCKETS, dict(p.b.doc_versions(ALL_BUCKETS)))) == []


# ------------------------------------------------------------------------------- laziness
def test_doc_batches_is_lazy(a_with_notes: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    a = a_with_notes.a
    monkeypatch.setattr(catchup, "BATCH_DOCS", 2)
    batches = a.doc_batches(ALL_BUCKETS, {})
    assert "sync_queued" not in a.stats  # nothing planned, nothing computed yet
    first = next(batches)
    assert len(first) == 2
    assert a.stats["sync_queued"] == len(NOTES) - 2  # only the first batch was produced
    second = next(batches)
    assert len(second) == 1
    assert a.stats["sync_queued"] == len(NOTES) - 3
    rest = list(batches)
    assert a.stats["sync_queued"] == 0
    assert sum(len(b) for b in (first, second, *rest)) == len(NOTES)


# ------------------------------------------------------------------------------- memory
def test_a_catch_up_served_trims_the_heap_after_each_batch_a_tenth_of_a_second_apart(
    a_with_notes: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At once a second the freed buffers of ten batches stayed resident between trims."""
    a = a_with_notes.a
    trims: list[None] = []
    monkeypatch.setattr(memory, "trim_heap", lambda: trims.append(None))
    monkeypatch.setattr(catchup, "BATCH_DOCS", 1)
    ticks = iter(1000.0 + 0.125 * n for n in range(100))  # 0.125 s between batches: exact in binary
    monkeypatch.setattr(a.state, "clock", lambda: next(ticks))
    batches = list(a.doc_batches(ALL_BUCKETS, {}))
    assert len(batches) == len(NOTES)
    assert len(trims) == len(NOTES)  # at the old once a second: 2


def _cache_size(pair: Pair) -> int:
    return int(pair.state_a.store.db.execute("PRAGMA cache_size").fetchone()[0])


def test_a_catch_up_reads_its_notes_with_a_small_page_cache_held_only_while_reading(
    a_with_notes: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The notes are read once: cached, they were up to 2 MB of A's peak. The limit is the
    connection's (the daemon's only one), so it is back as it was between batches, and after
    a peer that left mid-catch-up (the generator closed at a yield)."""
    a = a_with_notes.a
    before = _cache_size(a_with_notes)
    seen: list[int] = []
    load = a.state.store.load_doc
    monkeypatch.setattr(a.state.store, "load_doc", lambda fid: seen.append(_cache_size(a_with_notes)) or load(fid))
    monkeypatch.setattr(catchup, "BATCH_DOCS", 2)
    batches = a.doc_batches(ALL_BUCKETS, {})
    next(batches)
    assert seen and set(seen) == {-memory.SERVING_CACHE_KIB}
    assert _cache_size(a_with_notes) == before  # between batches (across the yield)
    batches.close()  # the peer left
    assert _cache_size(a_with_notes) == before
    assert len(list(a.doc_batches(ALL_BUCKETS, {}))) == 4 and _cache_size(a_with_notes) == before
