"""The vault index's entries, kept in the database beside its snapshot, so that a warm
start need not decode the index (11,004 files: about 19 MB of a warm daemon's memory went
to reading, loading and listing the Loro index; most of it is needed only when the index
changes or a peer asks for it).

The copy is written only with a snapshot, in the same transaction, tagged with the index
version it holds; the snapshot is tagged with its own. It is used only if the two tags are
equal and the index's log is empty: an update logged after the snapshot (the next batch, a
crash before the next fold, an older database) makes the index be read whole. Rows are
tuples (crdt/index.entry_row): the store knows no CRDT.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

SNAPSHOT_VV = "index_snapshot_vv"  # meta: the version of the index's snapshot
ENTRIES_VV = "index_entries_vv"  # meta: the version the entries were written at
FORGOTTEN = "index_forgotten"  # meta: JSON list of the devices removed from the vault
SNAPSHOT_SIZE = "index_snapshot_size"  # meta: the snapshot's size, as Loro exports it
# meta, 1 while the entries are those a peer sent with its snapshot (a join: INDEX_SNAPSHOT),
# not yet compared with the document (sync/wholeindex.py); gone with the next snapshot written
ADOPTED = "index_entries_adopted"
KEYS = (SNAPSHOT_VV, ENTRIES_VV, FORGOTTEN, SNAPSHOT_SIZE, ADOPTED)


@dataclass(frozen=True)
class CachedIndex:
    vv: bytes
    snapshot_size: int
    forgotten: list[str]
    rows: Iterator[tuple[Any, ...]]  # read as iterated: never all the rows' tuples at once
    adopted: bool = False  # a peer's entries, not yet checked against the document (ADOPTED)


def _meta(db: sqlite3.Connection, key: str) -> Any:
    row = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    return None if row is None else row[0]


def write(
    db: sqlite3.Connection,
    vv: bytes,
    snapshot_size: int,
    rows: Iterable[tuple[Any, ...]],
    forgotten: Iterable[str],
    adopted: bool = False,
) -> None:
    """The entries of the snapshot just written at version `vv` (inside its transaction);
    `adopted`: a peer's, as it sent them with that snapshot."""
    db.execute("DELETE FROM index_entries")
    db.executemany("INSERT INTO index_entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    meta = [(SNAPSHOT_VV, vv), (ENTRIES_VV, vv), (FORGOTTEN, json.dumps(sorted(forgotten))), (SNAPSHOT_SIZE, snapshot_size)]
    db.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", meta)
    if adopted:
        db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, 1)", (ADOPTED,))
    else:
        db.execute("DELETE FROM meta WHERE key=?", (ADOPTED,))


def read(db: sqlite3.Connection) -> CachedIndex | None:
    """The entries, if they are those of the index as saved (snapshot and log); else None."""
    vv, tag = _meta(db, SNAPSHOT_VV), _meta(db, ENTRIES_VV)
    if not isinstance(vv, bytes) or not isinstance(tag, bytes) or vv != tag:
        return None
    if db.execute("SELECT 1 FROM index_log LIMIT 1").fetchone() is not None:
        return None  # changes saved after the snapshot: not in these entries
    forgotten, size = _meta(db, FORGOTTEN), _meta(db, SNAPSHOT_SIZE)
    if not isinstance(forgotten, str) or not isinstance(size, int):
        return None
    adopted = _meta(db, ADOPTED) is not None
    return CachedIndex(vv, size, [str(d) for d in json.loads(forgotten)], db.execute("SELECT * FROM index_entries"), adopted)


def snapshot_vv(db: sqlite3.Connection) -> bytes | None:
    """The version of the index's snapshot, written with it (None in a database older than
    the entries, until its next snapshot)."""
    vv = _meta(db, SNAPSHOT_VV)
    return vv if isinstance(vv, bytes) else None


def drop(db: sqlite3.Connection) -> None:
    """The index is gone (a vault joining another): so are its entries."""
    db.execute("DELETE FROM index_entries")
    db.executemany("DELETE FROM meta WHERE key=?", [(k,) for k in KEYS])
