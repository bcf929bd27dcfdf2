"""Which vanished file became which new one, when the watcher did not see the move.

A live rename comes from the watcher as a move (inotify's cookie pairs the two
names exactly). Where no move was seen (the daemon was stopped, the kernel queue
overflowed, the portable watcher has no cookies), the pairing is decided here,
conservatively, because a wrong pair puts one note's edits into another note:

1. the (device, inode): a rename keeps it, and its size and mtime. A new file on a
   vanished file's inode with those unchanged is that file. With a new mtime the inode may just
   have been reused by a new file (file systems reuse freed inodes at once), so the
   inode alone decides nothing and the content rule below applies.
2. the content hash, only where it is unambiguous: one vanished file and one new
   file with that content; among several, a pair wins only if it is the other's
   unique best match, preferring the same folder, then the same file name, then the
   same name stem. Vaults are full of notes with equal bytes (empty `Untitled.md`,
   template copies), so this is common.
3. anything left is a delete plus a create: it loses a note's history, never its text.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import PurePosixPath

from ..store.filetable import FileRow
from ..vault.fsops import Stat

# digest(rel, blob) -> the content hash as the engine stores it (blake3 for blobs, else
# the note hash), or None if the file cannot be read now.
Digest = Callable[[str, bool], bytes | None]


def pair_renames(
    gone: Mapping[str, FileRow],
    new: Mapping[str, Stat],
    digest: Digest,
    blobs: set[str],
    replaced: Mapping[str, FileRow] | None = None,
    replaced_at: Mapping[str, Stat] | None = None,
) -> dict[str, str]:
    """Pairs {new path: file id of the vanished file it is}. `blobs`: the ids stored as binary
    files (their hash is a blake3 digest, so new files are hashed that way for them).
    `replaced`: files whose path now holds another inode; they pair by inode alone (their
    name is taken by a new file, so equal content elsewhere proves nothing). `replaced_at`:
    those paths and what they hold now, which may be another file's inode (a swap of names)."""
    pairs: dict[str, str] = {}
    memo: dict[tuple[str, bool], bytes | None] = {}

    def hashed(rel: str, blob: bool) -> bytes | None:
        if (rel, blob) not in memo:
            memo[(rel, blob)] = digest(rel, blob)
        return memo[(rel, blob)]

    by_inode = {**gone, **(replaced or {})}
    by_ino: dict[int, list[str]] = defaultdict(list)
    for fid, row in by_inode.items():
        if row.ino:
            by_ino[row.ino].append(fid)
    taken: set[str] = set()
    for rel, st in sorted({**new, **(replaced_at or {})}.items()):
        fids = [f for f in by_ino.get(st.ino, []) if by_inode[f].dev in (0, st.dev)]  # (0: not recorded)
        if len(fids) != 1 or fids[0] in taken:
            continue
        row = by_inode[fids[0]]
        if (row.size, row.mtime_ns) == (st.size, st.mtime_ns):
            pairs[rel] = fids[0]
            taken.add(fids[0])

    left = {fid: row for fid, row in gone.items() if fid not in taken}  # (never a replaced one)
    sizes = {row.size for row in left.values()}
    by_hash: dict[bytes, list[str]] = defaultdict(list)
    for fid, row in left.items():
        by_hash[row.hash].append(fid)
    candidates: dict[bytes, list[str]] = defaultdict(list)
    for rel, st in sorted(new.items()):
        if rel in pairs or st.size not in sizes:
            continue  # equal content needs an equal size: most new files are never read here
        for blob in sorted({fid in blobs for fid, row in left.items() if row.size == st.size}):
            h = hashed(rel, blob)
            if h is not None and h in by_hash:
                candidates[h].append(rel)
    for h, rels in candidates.items():
        fids = by_hash[h]
        if len(fids) == 1 and len(rels) == 1:
            pairs[rels[0]] = fids[0]
            continue
        best_fid = {rel: _unique_best(rel, fids, lambda f: gone[f].path) for rel in rels}
        best_rel = {fid: _unique_best(gone[fid].path, rels, lambda r: r) for fid in fids}
        for rel, best in best_fid.items():
            if best is not None and best_rel.get(best) == rel:
                pairs[rel] = best
    return pairs


def _closeness(a: str, b: str) -> tuple[bool, bool, bool]:
    pa, pb = PurePosixPath(a), PurePosixPath(b)
    return (pa.parent == pb.parent, pa.name == pb.name, pa.stem == pb.stem)


def _unique_best(rel: str, options: list[str], path_of: Callable[[str], str]) -> str | None:
    """The option closest to `rel` if no other is as close and it shares something with it."""
    scored = sorted(((_closeness(rel, path_of(o)), o) for o in options), reverse=True)
    if not scored or not any(scored[0][0]) or (len(scored) > 1 and scored[1][0] == scored[0][0]):
        return None
    return scored[0][1]
