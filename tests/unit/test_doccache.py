"""The lazy document cache: bounds by count and bytes, write-back of dirty notes, hit rate."""

from __future__ import annotations

from peervault.sync.doccache import DocCache


class Disk:
    """A stand-in for the database: docs are strings, their size is their length."""

    def __init__(self, docs: dict[str, str]) -> None:
        self.docs = dict(docs)
        self.loads: list[str] = []
        self.writes: list[str] = []

    def load(self, doc_id: str) -> tuple[str, int] | None:
        self.loads.append(doc_id)
        doc = self.docs.get(doc_id)
        return None if doc is None else (doc, len(doc))

    def persist(self, doc_id: str, doc: str) -> int:
        self.writes.append(doc_id)
        self.docs[doc_id] = doc
        return len(doc)


def cache(disk: Disk, max_docs: int = 3, max_bytes: int = 1000) -> DocCache[str]:
    return DocCache(max_docs, max_bytes, disk.load, disk.persist)


def test_loads_lazily_and_counts_hits() -> None:
    disk = Disk({"a": "x" * 10, "b": "y" * 10})
    c = cache(disk)
    assert len(c) == 0 and disk.loads == []
    assert c.get("a") == "x" * 10
    assert c.get("a") == "x" * 10
    assert c.get("missing") is None
    assert disk.loads == ["a", "missing"]
    assert (c.hits, c.misses) == (1, 2) and c.hit_rate == 1 / 3


def test_bounded_by_count_least_recently_used_first() -> None:
    disk = Disk({k: k for k in "abcd"})
    c = cache(disk, max_docs=3)
    for k in "abc":
        c.get(k)
    c.get("a")  # b is now the least recently used
    c.get("d")
    assert "b" not in c and {"a", "c", "d"} <= {k for k in "abcd" if k in c}
    assert len(c) == 3 and c.evictions == 1


def test_bounded_by_bytes() -> None:
    disk = Disk({"a": "x" * 400, "b": "y" * 400, "c": "z" * 400})
    c = cache(disk, max_docs=100, max_bytes=1000)
    for k in "abc":
        c.get(k)
    assert "a" not in c and len(c) == 2 and c.bytes == 800


def test_dirty_note_is_written_before_eviction_and_once_per_flush() -> None:
    disk = Disk({"a": "a", "b": "b", "c": "c"})
    c = cache(disk, max_docs=2)
    c.put_dirty("a", "a2")
    c.put_dirty("a", "a3")  # changed twice in one batch
    assert disk.writes == []
    c.get("b")
    c.get("c")  # evicts a, which is dirty
    assert disk.writes == ["a"] and disk.docs["a"] == "a3"
    c.put_dirty("b", "b2")
    assert c.flush() == 1 and disk.docs["b"] == "b2" and not c.is_dirty("b")
    assert c.flush() == 0


def test_one_off_reads_do_not_displace_the_working_set() -> None:
    disk = Disk({k: k for k in "abcdef"})
    c = cache(disk, max_docs=2)
    c.get("a")
    c.get("b")
    for k in "cdef":
        assert c.get(k, keep=False) == k
    assert "a" in c and "b" in c and len(c) == 2


def test_discarded_and_rolled_back_copies_are_never_written() -> None:
    disk = Disk({"a": "a", "b": "b"})
    c = cache(disk)
    c.put_dirty("a", "half-applied")
    c.discard("a")
    c.put_dirty("b", "rolled back")
    c.discard_dirty()
    assert c.flush() == 0 and disk.writes == [] and len(c) == 0 and c.bytes == 0
    assert c.get("b") == "b"  # reloaded from the database


def test_a_single_note_larger_than_the_byte_bound_stays_usable() -> None:
    disk = Disk({"big": "x" * 5000})
    c = cache(disk, max_bytes=1000)
    assert c.get("big") == "x" * 5000 and "big" in c


def test_shedding_after_a_burst_keeps_unsaved_notes_and_those_asked_to_stay() -> None:
    disk = Disk({k: k * 10 for k in "abcd"})
    c = cache(disk, max_docs=10)
    for k in "abc":
        c.get(k)
    c.put_dirty("d", "d2")  # not written yet: must not be lost
    assert c.shed(keep={"b"}) == 2
    assert "a" not in c and "c" not in c and "b" in c and c.is_dirty("d")
    assert c.bytes == 10 and disk.writes == []  # (an unsaved new note counts once written)
    assert c.flush() == 1 and disk.docs["d"] == "d2"
    assert c.get("a") == "a" * 10  # loaded again when asked


def test_drop_saved_leaves_dirty_and_kept_notes() -> None:
    saved: dict[str, str] = {}
    c: DocCache[str] = DocCache(10, 10**6, lambda i: None, lambda i, d: saved.setdefault(i, d) and len(d))
    for i in ("a", "b", "c"):
        c.put_dirty(i, i * 3)
    c.flush()
    c.put_dirty("d", "ddd")
    c.drop_saved(["a", "b", "d", "missing"], keep={"b"})
    assert c.get("a") is None  # dropped (the loader has nothing: it was not kept)
    assert c.get("b") == "bbb" and c.get("c") == "ccc" and c.is_dirty("d")
