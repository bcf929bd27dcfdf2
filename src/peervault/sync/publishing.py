"""Publishing: what this device's changes become for its peers.

Notes imported before the first pairing carry provisional ids ("u..."), so a vault
joined later does not get a second copy of every note: after the first sync they are
announced under their deterministic ids, unless the peer's vault already held them
(merged) or deleted them (dropped). After that, local changes wait as pending keys, one
per note (its text and its index entry), until the daemon takes them as messages.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from ..crdt import notes
from ..protocol import messages as m
from ..vault.fsops import prune_empty_dirs
from .documents import INDEX, batch, doc, index_changed, is_live, mark_pending, save, text
from .tracked import alloc_id, forget, local_changed, record, recorded_stat

if TYPE_CHECKING:
    from .enginestate import EngineState


def publish_pending(s: EngineState) -> int:
    """After the first sync with a peer: announce notes imported before pairing that the
    peer's vault did not already hold. Stale copies of notes deleted elsewhere are dropped."""
    if s.published:
        return 0
    n = 0
    with batch(s):
        # The ids first, each row read only if it is one: reading every row (11,004 for the
        # `real` tier, none of them provisional on a joining device) made them all at once,
        # +4 MB of Python's arenas which stayed resident through the blob phase after a join
        # (docs/PERFORMANCE.md, "The joining device's blob phase: what Python's arenas keep")
        unpublished = [fid for fid in s.files if fid.startswith("u")]
        tombstoned = defaultdict(list)
        for e in s.entries.values() if unpublished else ():
            if not is_live(s, e):
                tombstoned[e.path].append(e.file_id)
        for ufid in unpublished:
            row = s.files.get(ufid)
            if row is None:
                continue
            d = doc(s, ufid)
            if d is None:
                continue
            content = notes.text_of(d)
            if any(text(s, t) == content for t in tombstoned.get(row.path, [])):
                path = s.root.joinpath(*row.path.split("/"))
                if not local_changed(s, row) and path.exists():
                    path.unlink()
                    prune_empty_dirs(s.root, path.parent)
                _drop_unpublished(s, ufid)
                continue
            fid = alloc_id(s, row.path)
            existing = doc(s, fid)
            if existing is not None:
                notes.apply(existing, notes.updates_since(d, None))
                d = existing
            save(s, fid, d)
            mark_pending(s, fid, None)
            before = s.index.vv()
            s.index.put(fid, row.path)
            index_changed(s, fid, before)
            _drop_unpublished(s, ufid)
            record(s, fid, row.path, recorded_stat(row), row.hash, notes.frontiers(d))
            n += 1
        s.published = True
        s.store.set_meta("published", 1)
    return n


def _drop_unpublished(s: EngineState, file_id: str) -> None:
    forget(s, file_id)
    s.store.delete_doc(file_id)
    s.cache.discard(file_id)


def pending_keys(s: EngineState) -> set[str]:
    """What is waiting to be pushed, by note: each note id with a change to its text or to its
    index entry, and INDEX for an index change that belongs to no note (a device forgotten).
    The daemon debounces these keys, so a new note's entry goes with its first change at once
    instead of waiting out the window of another note's entry (the index is one document)."""
    return (set(s.pending) - {INDEX}) | _index_keys(s)


def _index_keys(s: EngineState) -> set[str]:
    """The keys the pending index change goes under (none if there is none)."""
    if INDEX not in s.pending:
        return set()
    return set(s.index_keys) or {INDEX}


def clear_pending(s: EngineState) -> None:
    s.pending.clear()
    s.index_keys.clear()


def take_pending(s: EngineState, keys: set[str] | None = None) -> list[m.IndexUpdates | m.DocUpdates]:
    """Local changes since they were last taken (all, or those of `keys`), as messages for peers.

    The index's changes are one update (its document holds every entry): they go when any
    key they are under goes, and with them the text of every note whose entry they carry.
    So a peer gets a note's entry and its text in one push, never one of them a window
    before the other. (Either order would be safe there, remote.py: a note is laid out only
    once it has both; but a lone entry or lone text is a change the peer cannot show yet.)"""
    pending = pending_keys(s)
    take = pending if keys is None else keys & pending
    under = _index_keys(s)
    out: list[m.IndexUpdates | m.DocUpdates] = []
    if take & under:
        take |= under
        blob = s.index.updates_since(s.pending.pop(INDEX) or b"")
        s.index_keys.clear()
        if blob:
            out.append(m.IndexUpdates(blob))
    docs = []
    for fid in sorted(take - {INDEX}):
        if fid not in s.pending:
            continue  # only its index entry changed: in the index update above
        before = s.pending.pop(fid)
        d = doc(s, fid)
        if d is not None:
            docs.append((bytes.fromhex(fid), notes.updates_since(d, before)))
    out.extend(m.DocUpdates(tuple(part)) for part in m.batch_updates(docs))
    return out
