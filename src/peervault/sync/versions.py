"""The version summary: each published note's version, and 256 bucket digests over them.

Two devices compare digests first and exchange note versions only for the buckets
that differ (see docs/PROTOCOL.md), so a sync of a vault that barely changed costs a
few kilobytes whatever its size. Kept up to date on every save, never recomputed.
"""

from __future__ import annotations

import hashlib

from ..crdt import CrdtError, notes
from ..protocol import messages as m


def _digest(doc_id: str, vv: bytes) -> int:
    try:
        key = notes.vv_canonical(vv)  # equal versions must digest equally on every device
    except CrdtError:
        key = vv
    return int.from_bytes(hashlib.blake2b(doc_id.encode() + key, digest_size=8).digest(), "big")


class VersionSummary:
    def __init__(self, vvs: dict[str, bytes]) -> None:
        self.vvs = vvs  # published note id -> its version vector
        self.buckets = [0] * m.BUCKETS
        for doc_id, vv in vvs.items():
            self.buckets[int(doc_id[:2], 16)] ^= _digest(doc_id, vv)

    def set(self, file_id: str, vv: bytes) -> None:
        """The note is now at version `vv`."""
        bucket = int(file_id[:2], 16)
        old = self.vvs.get(file_id)
        if old is not None:
            self.buckets[bucket] ^= _digest(file_id, old)
        self.buckets[bucket] ^= _digest(file_id, vv)
        self.vvs[file_id] = vv

    def drop(self, file_id: str) -> None:
        """The note is not held here (after all)."""
        old = self.vvs.pop(file_id, None)
        if old is not None:
            self.buckets[int(file_id[:2], 16)] ^= _digest(file_id, old)

    def digests(self) -> bytes:
        return b"".join(d.to_bytes(8, "big") for d in self.buckets)

    def in_buckets(self, buckets: bytes) -> list[tuple[bytes, bytes]]:
        """(raw note id, version) of the notes in these buckets."""
        wanted = set(buckets)
        return [(bytes.fromhex(fid), vv) for fid, vv in self.vvs.items() if int(fid[:2], 16) in wanted]
