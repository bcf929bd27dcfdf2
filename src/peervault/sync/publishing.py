"""Publishing: what this device's changes become for its peers.

Notes imported before the first pairing carry provisional ids ("u..."), so a vault
joined later does not get a second copy of every note: after the first sync they are
announced under their deterministic ids, unless the peer's vault already held them
(merged) or deleted them (dropped). After that, local changes wait as pending keys
until the daemon takes them as messages.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from ..crdt import notes
from ..protocol import messages as m
from ..vault.fsops import Stat, prune_empty_dirs
from .documents import INDEX, batch, doc, index_changed, is_live, mark_pending, save, text
from .tracked import alloc_id, forget, local_changed, record

if TYPE_CHECKING:
    from .enginestate import EngineState


def publish_pending(s: EngineState) -> int:
    """After the first sync with a peer: announce notes imported before pairing that the
    peer's vault did not already hold. Stale copies of notes deleted elsewhere are dropped."""
    if s.published:
        return 0
    n = 0
    with batch(s):
        tombstoned = defaultdict(list)
        for e in s.entries.values():
            if not is_live(s, e):
                tombstoned[e.path].append(e.file_id)
        for ufid, row in list(s.files.items()):
            if not ufid.startswith("u"):
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
            record(s, fid, row.path, Stat(*row.stat), row.hash, notes.frontiers(d))
            n += 1
        s.published = True
        s.store.set_meta("published", 1)
    return n


def _drop_unpublished(s: EngineState, file_id: str) -> None:
    forget(s, file_id)
    s.store.delete_doc(file_id)
    s.cache.discard(file_id)


def take_pending(s: EngineState, keys: set[str] | None = None) -> list[m.IndexUpdates | m.DocUpdates]:
    """Local changes since they were last taken (all, or just `keys`), as messages for peers."""
    keys = set(s.pending) if keys is None else keys & set(s.pending)
    out: list[m.IndexUpdates | m.DocUpdates] = []
    if INDEX in keys:
        blob = s.index.updates_since(s.pending[INDEX] or b"")
        if blob:
            out.append(m.IndexUpdates(blob))
    docs = []
    for fid in sorted(keys - {INDEX}):
        d = doc(s, fid)
        if d is not None:
            docs.append((bytes.fromhex(fid), notes.updates_since(d, s.pending[fid])))
    out.extend(m.DocUpdates(tuple(part)) for part in m.batch_updates(docs))
    for k in keys:
        del s.pending[k]
    return out
