"""The spec's lazy document cache: loaded notes in an LRU bounded by count and by bytes.

Notes are loaded on first use, never all at start-up, so memory does not grow with
the vault beyond the index. A changed note is marked dirty and written back once
per batch (the engine calls `flush` before committing) or when it is evicted, so a
note edited several times in one batch is serialised once. The size of a note is
its snapshot's size, as in the spec (`sizeCalculation: save(doc).length`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Container, Iterable
from typing import Generic, TypeVar

D = TypeVar("D")


class DocCache(Generic[D]):
    def __init__(
        self,
        max_docs: int,
        max_bytes: int,
        load: Callable[[str], tuple[D, int] | None],
        persist: Callable[[str, D], int],
    ) -> None:
        """`load(id)` gives (doc, size) or None; `persist(id, doc)` writes it and returns its size."""
        self.max_docs = max_docs
        self.max_bytes = max_bytes
        self._load = load
        self._persist = persist
        self._docs: OrderedDict[str, tuple[D, int]] = OrderedDict()
        self._dirty: set[str] = set()
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def get(self, doc_id: str, keep: bool = True) -> D | None:
        """The note, loading it if needed; `keep=False` for one-off reads (serving a peer's
        catch-up) that must not push the notes in use out of the cache."""
        entry = self._docs.get(doc_id)
        if entry is not None:
            self.hits += 1
            self._docs.move_to_end(doc_id)
            return entry[0]
        self.misses += 1
        loaded = self._load(doc_id)
        if loaded is None:
            return None
        if keep:
            self._insert(doc_id, *loaded)
        return loaded[0]

    def put_dirty(self, doc_id: str, doc: D) -> None:
        """`doc` changed: keep it (its size is re-measured when it is written back)."""
        old = self._docs.get(doc_id)
        self._dirty.add(doc_id)
        self._insert(doc_id, doc, old[1] if old is not None else 0)

    def discard(self, doc_id: str) -> None:
        """Forget an in-memory copy without writing it (deleted, or possibly half-applied)."""
        entry = self._docs.pop(doc_id, None)
        if entry is not None:
            self.bytes -= entry[1]
        self._dirty.discard(doc_id)

    def discard_dirty(self) -> None:
        """The batch that changed them was rolled back: drop the unsaved copies."""
        for doc_id in list(self._dirty):
            self.discard(doc_id)

    def flush(self) -> int:
        """Write back every dirty note; returns how many."""
        n = 0
        for doc_id in list(self._dirty):
            doc, old = self._docs[doc_id]
            size = self._persist(doc_id, doc)
            self._docs[doc_id] = (doc, size)
            self.bytes += size - old
            n += 1
        self._dirty.clear()
        self._evict()
        return n

    def shed(self, keep: Container[str] = ()) -> int:
        """Drop the saved notes not in `keep`, as eviction would: after a burst (a first import,
        an initial sync) the cache holds the last notes of the burst, not the ones in use, and a
        loaded note costs far more RSS than its snapshot's size (100 notes of the `real` bench
        tier: 5.4 MB). Returns how many were dropped."""
        drop = [d for d in self._docs if d not in self._dirty and d not in keep]
        for doc_id in drop:
            self.bytes -= self._docs.pop(doc_id)[1]
        self.evictions += len(drop)
        return len(drop)

    def drop_saved(self, doc_ids: Iterable[str], keep: Container[str] = ()) -> None:
        """Drop these notes if saved and not in `keep`: a peer's catch-up batch passes through
        once, and kept it would push the notes in use out for notes nobody opens."""
        for doc_id in doc_ids:
            if doc_id not in self._dirty and doc_id not in keep and (entry := self._docs.pop(doc_id, None)) is not None:
                self.bytes -= entry[1]
                self.evictions += 1

    def is_dirty(self, doc_id: str) -> bool:
        return doc_id in self._dirty

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, doc_id: str) -> bool:
        return doc_id in self._docs

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def _insert(self, doc_id: str, doc: D, size: int) -> None:
        old = self._docs.pop(doc_id, None)
        if old is not None:
            self.bytes -= old[1]
        self._docs[doc_id] = (doc, size)
        self.bytes += size
        self._evict()

    def shrink(self) -> None:
        """The bounds were lowered (a profile switched live): drop the oldest notes now."""
        self._evict()

    def _evict(self) -> None:
        # The newest entry always stays, even if it alone exceeds the byte bound.
        while len(self._docs) > 1 and (len(self._docs) > self.max_docs or self.bytes > self.max_bytes):
            doc_id, (doc, size) = self._docs.popitem(last=False)
            if doc_id in self._dirty:
                self._dirty.discard(doc_id)
                self._persist(doc_id, doc)  # dirty: saved before it leaves memory
            self.bytes -= size
            self.evictions += 1
