"""Where the bytes of a blob are on this device, for a peer, a second path or a restore.

The current version of a binary file lives only in the vault, so a blob may be found in
three places, tried in this order: a verified download waiting in `blobs/ready/` (moved
into the vault when placed: no copy), a version the store keeps, and a vault file this
device recorded with that digest whose stat (size, mtime, inode, ctime) still shows it
unchanged. A vault file whose stat moved is only a candidate: the server re-hashes it
off the event loop before trusting it (sync/blobs.py). Nothing else is trusted: a file
is never served, copied or moved as a blob it no longer holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..store.filetable import FileRow
from ..vault.fsops import Stat, stat_of
from .tracked import blob_rows

if TYPE_CHECKING:
    from .enginestate import EngineState


@dataclass(frozen=True)
class Source:
    path: Path
    size: int
    move: bool  # a download waiting in ready/: moved into the vault, not copied
    expect: Stat | None = None  # a vault file: the stat it must still show when read


def holders(s: EngineState, h: str) -> list[FileRow]:
    """Tracked binary files recorded with digest `h` (hex)."""
    return [s.files[f] for f in sorted(blob_rows(s).get(bytes.fromhex(h), ()))]


def locate(s: EngineState, h: str) -> Source | None:
    """The first place that holds `h` for certain (see the module docstring), or None."""
    ready = s.blobs.ready(h)
    for path, move in ((ready, True), (s.blobs.path(h), False)):
        st = None if path is None else stat_of(path)
        if path is not None and st is not None:
            return Source(path, st.size, move)
    for row in holders(s, h):
        path = s.root.joinpath(*row.path.split("/"))
        st = stat_of(path)
        if st is not None and st.key == row.stat:
            return Source(path, st.size, False, st)
    return None


def candidates(s: EngineState, h: str) -> list[Path]:
    """Vault files recorded with `h` whose stat moved since (touched, copied over, or edited):
    each may still hold `h`, which only a fresh hash can tell."""
    out = []
    for row in holders(s, h):
        path = s.root.joinpath(*row.path.split("/"))
        st = stat_of(path)
        if st is not None and st.key != row.stat:
            out.append(path)
    return out
