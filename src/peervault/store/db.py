"""SQLite storage for one vault (WAL, numbered schema files, one connection per process).

Every write that must survive a crash is committed before the engine announces it
to any peer; `transaction()` groups the writes of a batch into one commit. The rows of
the version history (history.py) and of the paired devices and invites (peers.py) are
parts of `Store` kept in modules of their own.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import StoreCorrupt, StoreTooNew, StoreUnavailable
from . import indexentries
from .filetable import FileRow, FileTable
from .history import VersionHistory
from .indexentries import CachedIndex
from .packing import LORO, pack_note, pack_snapshot, sendable, unpack_snapshot
from .peers import PeerTables

INDEX_SNAPSHOT = "index_snapshot"  # meta key of the vault index's snapshot (see load_index)
SCHEMA_FILES = [
    "001_initial.sql",
    "002_inode_pending_writes.sql",
    "003_blob_versions.sql",
    "004_versions.sql",
    "005_held_deletions.sql",
    "006_file_device.sql",
    "007_index_log.sql",
    "008_zstd_notes.sql",
    "009_index_entries.sql",
]  # append new numbered files; never edit an applied one


def has_no_files(path: Path) -> bool:
    """A published vault's database, at this program's schema, with no file recorded yet (a
    first import comes): read-only, without opening a `Store` (no check, no migration), so a
    warm start pays one query for asking. False if it cannot tell."""
    try:
        db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=1.0)
    except sqlite3.Error:
        return False
    try:
        if db.execute("PRAGMA user_version").fetchone()[0] != len(SCHEMA_FILES):
            return False
        published = db.execute("SELECT value FROM meta WHERE key='published'").fetchone()
        return bool(published and published[0]) and db.execute("SELECT 1 FROM files LIMIT 1").fetchone() is None
    except sqlite3.Error:
        return False
    finally:
        db.close()


class Store(VersionHistory, PeerTables):
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.db = sqlite3.connect(path, isolation_level=None, timeout=10.0)
            # a new database gives pages back to the file system (save_index); an existing
            # one keeps what it was created with (this only takes before the first table)
            self.db.execute("PRAGMA auto_vacuum=INCREMENTAL")
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA journal_size_limit=1048576")  # the WAL shrinks back after a burst
            check = self.db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed: {check}")
            self._migrate()
            # the table of unsynced files is known to be empty (see set_unsynced)
            self._no_unsynced = self.db.execute("SELECT 1 FROM unsynced LIMIT 1").fetchone() is None
        except sqlite3.DatabaseError as exc:
            with contextlib.suppress(Exception):
                self.db.close()
            raise StoreCorrupt(f"{path} is damaged ({exc})") from None
        except StoreTooNew:
            self.db.close()
            raise
        self._depth = 0
        self.rollbacks = 0  # transactions rolled back: what was written in them is not kept
        self._give_back = False  # pages freed in this transaction: returned after it commits
        self.on_peers_changed: Callable[[], None] = lambda: None  # VaultState keeps a copy outside

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(SCHEMA_FILES):  # never "repaired": its rows are fine, this program is old
            raise StoreTooNew(
                f"{self.path} was written by a newer PeerVault (database schema {version}, this one "
                f"knows up to {len(SCHEMA_FILES)}); upgrade PeerVault to open this vault"
            )
        for n, name in enumerate(SCHEMA_FILES, start=1):
            if version < n:
                sql = resources.files("peervault.store").joinpath("schema", name).read_text()
                self.db.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version={n};\nCOMMIT;")

    def close(self) -> None:
        self.db.close()

    def written_elsewhere(self) -> None:
        """Another process wrote this database while this connection waited (a first import
        in a child, sync/firstimport.py): forget what was assumed of its rows."""
        self._no_unsynced = False

    def truncate_wal(self) -> None:
        """After a burst (a first import, an initial sync): write the WAL into the database
        and empty it, rather than leave up to journal_size_limit of it on disk until the
        next checkpoint. Skipped quietly when a reader holds it."""
        if not self._depth:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def release_memory(self) -> None:
        """Free SQLite's page cache (up to 2 MB, kept filled by a warm start's reads of the
        index's entries and the file table: 10,000 files, 2 MB of RSS); pages are read again
        from the file system's cache when next needed."""
        if not self._depth:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("PRAGMA shrink_memory").fetchall()

    def limit_cache(self, kib: int) -> None:
        """Keep at most `kib` of SQLite's page cache (2 MB by default) for this connection:
        a one-shot join writes thousands of rows once and reads few of them back, so a full
        cache is only RSS at its peak; pages not cached are read from the file system's."""
        self.db.execute(f"PRAGMA cache_size=-{int(kib)}")

    @contextlib.contextmanager
    def small_cache(self, kib: int) -> Iterator[None]:
        """At most `kib` of SQLite's page cache inside the block (what was cached beyond it is
        freed at once), then the limit as it was: rows a peer is sent (a join's catch-up, its
        index) are read once, so caching them is only RSS while serving (up to 2 MB). Put
        back on any exit; never held across a yield, so a peer that leaves cannot keep it."""
        (before,) = self.db.execute("PRAGMA cache_size").fetchone()  # KiB if negative, else pages
        self.limit_cache(kib)
        try:
            yield
        finally:
            self.db.execute(f"PRAGMA cache_size={int(before)}")

    def _free_pages(self) -> None:
        """After a commit that freed many pages: hand them back (`executescript`, as
        sqlite3's `execute` steps this pragma once, a page at a time)."""
        if self._give_back:
            self._give_back = False
            with contextlib.suppress(sqlite3.Error):  # only space not yet given back
                self.db.executescript("PRAGMA incremental_vacuum;")

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Nestable: only the outermost block commits."""
        if self._depth == 0:
            self.db.execute("BEGIN IMMEDIATE")
        self._depth += 1
        try:
            yield
            if self._depth == 1:
                self.db.execute("COMMIT")
                self._free_pages()
        except BaseException as exc:
            self._depth -= 1
            if self._depth == 0 and self.db.in_transaction:
                self.db.execute("ROLLBACK")
                self.rollbacks += 1
                self._no_unsynced = False  # rows deleted in it are back
            if isinstance(exc, sqlite3.OperationalError):
                raise StoreUnavailable(f"{self.path}: {exc}") from None
            raise
        self._depth -= 1

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Reads that must see one state of the database, even while the daemon writes it
        (a command without the daemon's help reading the index's snapshot, log and entries)."""
        if self.db.in_transaction:
            yield
            return
        self.db.execute("BEGIN")
        try:
            yield
        finally:
            if self.db.in_transaction:
                self.db.execute("COMMIT")

    # -- meta ----------------------------------------------------------------------------
    def get_meta(self, key: str, default: object = None) -> object:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None else row[0]

    def set_meta(self, key: str, value: object) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # -- the vault index: a snapshot and the updates since --------------------------------
    def load_index(self) -> tuple[bytes | None, list[bytes]]:
        snap = self.get_meta(INDEX_SNAPSHOT)
        log = [bytes(u) for (u,) in self.db.execute("SELECT updates FROM index_log ORDER BY seq")]
        return (unpack_snapshot(bytes(snap)) if isinstance(snap, bytes) else None), log

    def save_index(self, snapshot: bytes, vv: bytes, entries: Iterable[tuple[Any, ...]], forgotten: Iterable[str]) -> None:
        """A new snapshot of the index, at version `vv`: the updates logged before it are in
        it. Its entries (crdt/index.entry_row) and removed devices are kept with it, for the
        next warm start (store/indexentries.py). The pages the log and the old snapshot held
        go back to the file system (where the database was created with auto_vacuum), else
        `.peervault/` keeps their size for good."""
        with self.transaction():
            self.set_meta(INDEX_SNAPSHOT, pack_snapshot(snapshot))  # compressed (zstd)
            self.db.execute("DELETE FROM index_log")
            indexentries.write(self.db, vv, len(snapshot), entries, forgotten)
            self._give_back = True

    def save_stored_index(
        self, stored: bytes, vv: bytes, size: int, entries: Iterable[tuple[Any, ...]], forgotten: Iterable[str]
    ) -> None:
        """`save_index` of a snapshot already in its stored form (a peer's, as its database
        held it: store/packing.py), `size` bytes once inflated, with its entries."""
        with self.transaction():
            self.set_meta(INDEX_SNAPSHOT, stored)
            self.db.execute("DELETE FROM index_log")
            indexentries.write(self.db, vv, size, entries, forgotten, adopted=True)
            self._give_back = True

    def stored_index(self) -> bytes | None:
        """The index's snapshot as stored, not inflated, if it is in a form a peer may be sent
        as it is (`packing.sendable`); call inside `reading()` with `cached_index`. Read with
        SQLite's incremental blob I/O, straight into the bytes returned: a SELECT copies the
        value (the `real` tier's: 2.3 MB) into a buffer of SQLite's, then into Python's."""
        row = self.db.execute("SELECT rowid, typeof(value) FROM meta WHERE key=?", (INDEX_SNAPSHOT,)).fetchone()
        if row is None or row[1] != "blob":
            return None
        with self.db.blobopen("meta", "value", row[0], readonly=True) as blob:
            if not sendable(blob.read(len(LORO))):
                return None
            blob.seek(0)
            return blob.read()

    def index_snapshot_vv(self) -> bytes | None:
        """The version of the snapshot `load_index` reads, saved with it."""
        return indexentries.snapshot_vv(self.db)

    def cached_index(self) -> CachedIndex | None:
        """The index's entries as of its snapshot, if nothing was saved after it (else None:
        read the index whole)."""
        return indexentries.read(self.db)

    def log_index(self, updates: bytes) -> None:
        self.db.execute("INSERT INTO index_log(updates) VALUES (?)", (updates,))

    # -- docs ----------------------------------------------------------------------------
    def load_doc(self, doc_id: str) -> bytes | None:
        row = self.db.execute("SELECT snapshot FROM docs WHERE doc_id=?", (doc_id,)).fetchone()
        return None if row is None else unpack_snapshot(bytes(row[0]))

    def save_doc(self, doc_id: str, snapshot: bytes, vv: bytes, published: bool = True) -> None:
        self.save_stored_doc(doc_id, pack_note(snapshot), vv, published)

    def save_stored_doc(self, doc_id: str, stored: bytes, vv: bytes, published: bool = True) -> None:
        """A note already in its stored form (`pack_note`'s: the note worker makes it so)."""
        self.db.execute(
            "INSERT OR REPLACE INTO docs(doc_id, snapshot, vv, published) VALUES (?, ?, ?, ?)",
            (doc_id, stored, vv, int(published)),
        )

    def delete_doc(self, doc_id: str) -> None:
        self.db.execute("DELETE FROM docs WHERE doc_id=?", (doc_id,))

    def published_vvs(self, doc_ids: Iterable[str]) -> dict[str, bytes]:
        """The stored version of each of these notes that is published."""
        out: dict[str, bytes] = {}
        for doc_id in doc_ids:
            row = self.db.execute("SELECT vv FROM docs WHERE doc_id=? AND published=1", (doc_id,)).fetchone()
            if row is not None:
                out[doc_id] = bytes(row[0])
        return out

    def published_versions(self) -> Iterator[tuple[str, bytes]]:
        for doc_id, vv in self.db.execute("SELECT doc_id, vv FROM docs WHERE published=1"):
            yield doc_id, bytes(vv)

    def reset_for_join(self, vault_id: str) -> None:
        """Before a never-paired vault joins another: forget its own index and hold its notes
        as unpublished ('u' ids), to be reconciled with the other vault's copies first."""
        with self.transaction():
            for (fid,) in self.db.execute("SELECT file_id FROM files WHERE file_id NOT LIKE 'u%'").fetchall():
                new = "u" + fid[1:]
                self.db.execute("UPDATE docs SET doc_id=?, published=0 WHERE doc_id=?", (new, fid))
                self.db.execute("UPDATE files SET file_id=? WHERE file_id=?", (new, fid))
            self.db.execute("DELETE FROM docs WHERE published=1")
            self.db.execute("DELETE FROM meta WHERE key=?", (INDEX_SNAPSHOT,))
            self.db.execute("DELETE FROM index_log")
            indexentries.drop(self.db)
            self.set_meta("vault_id", vault_id)
            self.set_meta("published", 0)
        self.on_peers_changed()

    # -- files ---------------------------------------------------------------------------
    def files(self, ids: Mapping[str, str] = {}) -> FileTable:  # noqa: B006 (read only)
        """The file table; a file id found in `ids` is stored as the string `ids` holds."""
        table = FileTable()
        for r in self.db.execute("SELECT file_id, path, size, mtime_ns, hash, base, ino, ctime_ns, dev FROM files"):
            fid = ids.get(r[0], r[0])
            table[fid] = FileRow(fid, r[1], r[2], r[3], bytes(r[4]), bytes(r[5]), r[6], r[7], r[8])
        return table

    def put_file(self, row: FileRow) -> None:
        # REPLACE also drops another file's row at this path (`path` is UNIQUE): one statement
        self.db.execute(
            "INSERT OR REPLACE INTO files(file_id, path, size, mtime_ns, hash, base, ino, ctime_ns, dev)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (row.file_id, row.path, row.size, row.mtime_ns, row.hash, row.base, row.ino, row.ctime_ns, row.dev),
        )

    def delete_file(self, file_id: str) -> None:
        self.db.execute("DELETE FROM files WHERE file_id=?", (file_id,))

    # -- held deletions ------------------------------------------------------------------
    def hold_deletions(self, rows: list[tuple[str, str]], at: float, reason: str) -> None:
        """(file_id, path) of local deletions the guard did not publish."""
        self.db.executemany(
            "INSERT OR REPLACE INTO held_deletions(file_id, path, held_at, reason) VALUES (?, ?, ?, ?)",
            [(f, p, at, reason) for f, p in rows],
        )

    def held_deletions(self) -> dict[str, tuple[str, float, str]]:
        """file_id -> (path, held_at, reason), oldest first."""
        rows = self.db.execute("SELECT file_id, path, held_at, reason FROM held_deletions ORDER BY held_at, path")
        return {str(f): (str(p), float(t), str(r)) for f, p, t, r in rows}

    def release_held(self, fids: set[str]) -> None:
        self.db.executemany("DELETE FROM held_deletions WHERE file_id=?", [(f,) for f in fids])

    # -- pending writes ------------------------------------------------------------------
    def add_pending_writes(self, fids: set[str]) -> None:
        self.db.executemany("INSERT OR IGNORE INTO pending_writes(file_id) VALUES (?)", [(f,) for f in fids])

    def clear_pending_writes(self, fids: set[str]) -> None:
        self.db.executemany("DELETE FROM pending_writes WHERE file_id=?", [(f,) for f in fids])

    def pending_writes(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT file_id FROM pending_writes")}

    # -- unsynced ------------------------------------------------------------------------
    def set_unsynced(self, path: str, reason: str | None) -> None:
        """`reason` why the file at `path` is not synced, or None: it is. Every file imported or
        written says None, so while no file is unsynced (as `unsynced()` last found) that is
        no statement at all: 11,000 of them in a first import."""
        if reason is None:
            if not self._no_unsynced:
                self.db.execute("DELETE FROM unsynced WHERE path=?", (path,))
        else:
            self._no_unsynced = False
            self.db.execute("INSERT OR REPLACE INTO unsynced(path, reason) VALUES (?, ?)", (path, reason))

    def unsynced(self) -> dict[str, str]:
        rows = dict(self.db.execute("SELECT path, reason FROM unsynced ORDER BY path").fetchall())
        self._no_unsynced = not rows
        return rows
