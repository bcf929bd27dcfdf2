"""Catch-up batches: what a peer lacks, recent notes first, computed as it acknowledges.

The spec's incremental sync: notes modified in the last hour go first, then the last
day, then the rest, so the notes a person works on arrive first even in a 10,000-file
vault; batches are computed one at a time, so memory stays flat whatever its size.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..crdt import CrdtError, notes

if TYPE_CHECKING:
    from .enginestate import EngineState

log = logging.getLogger(__name__)

# Catch-up batches: small enough that the first (most recent) notes land at once and a
# window of them stays within the spec's 20 MB of sync buffers.
BATCH_DOCS = 256
BATCH_BYTES = 1024 * 1024
HOUR_NS, DAY_NS = 3600 * 10**9, 86400 * 10**9


def priority_tier(age_ns: int) -> int:
    """0: modified in the last hour (sync at once), 1: last day (soon), 2: older (background)."""
    return 0 if age_ns < HOUR_NS else 1 if age_ns < DAY_NS else 2


def doc_batches(
    s: EngineState, buckets: bytes, peer_versions: dict[bytes, bytes], now_ns: int
) -> Iterator[list[tuple[bytes, bytes]]]:
    """What the peer lacks in these buckets, in priority order (ages taken at `now_ns`)."""
    plan = []
    for raw_id, vv in s.versions.in_buckets(buckets):
        theirs = peer_versions.get(raw_id)
        try:
            if theirs is not None and notes.includes(theirs, vv):
                continue
        except CrdtError as exc:
            log.warning("peer sent a bad version for note %s: %s", raw_id.hex(), exc)
            continue
        row = s.files.get(raw_id.hex())
        mtime = row.mtime_ns if row is not None else 0
        plan.append((priority_tier(now_ns - mtime), -mtime, raw_id, theirs))
    plan.sort()
    s.stats["sync_queued"] = len(plan)
    batch: list[tuple[bytes, bytes]] = []
    size, tier = 0, plan[0][0] if plan else 0
    for t, _, raw_id, theirs in plan:
        if batch and (t != tier or len(batch) >= BATCH_DOCS or size >= BATCH_BYTES):
            yield batch
            batch, size = [], 0
        tier = t
        s.stats["sync_queued"] -= 1
        fid = raw_id.hex()
        try:
            # A peer without the note gets it whole (`notes.whole`: a long history as a
            # snapshot, which imports in milliseconds where replaying a long history of big
            # rewrites can take Loro tens of seconds). The stored one goes as it is,
            # without loading the note at all.
            if theirs is None and not s.cache.is_dirty(fid):
                blob = s.store.load_doc(fid)
            else:
                doc = s.cache.get(fid, keep=False)
                blob = None if doc is None else notes.whole(doc) if theirs is None else notes.updates_since(doc, theirs)
            if blob is None:
                continue
        except CrdtError as exc:
            log.warning("peer sent a bad version for note %s: %s", raw_id.hex(), exc)
            continue
        batch.append((raw_id, blob))
        size += len(blob)
    if batch:
        yield batch
