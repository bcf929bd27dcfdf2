"""Everything the engine knows, in one object its parts share.

The engine's modules (documents, tracked, layout, settle, ingest, localedits,
writeback, binaries, deletions, remote, publishing, catchup) are functions over this
state; none keeps state of its own, so what one part changes every other part sees,
as when they were one class. Loading it reads the database and the index snapshot;
it never touches the notes themselves (they load lazily, through the cache).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from ..config import STATE_DIR, Config
from ..crdt.entries import EntryTable
from ..crdt.index import VaultIndex
from ..crdt.notes import Note
from ..store.db import Store
from ..store.filetable import FileTable
from ..vault.blobstore import BlobStore
from ..vault.fsops import Stat, WriteBatch
from ..vault.ignore import IgnoreRules
from . import savedindex
from .deleteguard import DeleteGuard, Published
from .doccache import DocCache
from .documents import open_cache, own_peers
from .versions import VersionSummary


def _ignores_case(folder: Path) -> bool:
    """Whether this file system treats `A` and `a` as one name (macOS, Windows by default)."""
    probe = folder / "CaseProbe"
    try:
        probe.touch()
        try:
            return (folder / "caseprobe").exists()
        finally:
            probe.unlink()
    except OSError:
        return False


class EngineState:
    def __init__(self, root: Path, store: Store, cfg: Config, clock: Callable[[], float]) -> None:
        self.root = root
        self.store = store
        self.cfg = cfg
        self.clock = clock  # wall clock, only for what the session asks (it has no wall time)
        self.vault_id = bytes.fromhex(str(store.get_meta("vault_id")))
        self.published = bool(store.get_meta("published", 1))
        # A fresh Loro peer id per process: reusing one after state loss silently drops ops.
        self.session_peer = secrets.randbits(63)
        self.own_peers = own_peers(store)  # ... and the ones before it (documents.OWN_PEERS)
        # The index, and what the database holds of it (documents.save_index): the version
        # saved, the sizes of its snapshot and log, the store's rollbacks at that time, and
        # whether entries matching it are saved beside it (savedindex.py)
        self.index: VaultIndex
        self.index_saved_vv = b""
        self.index_snapshot_bytes = self.index_log_bytes = self.index_rollbacks = 0
        self.index_cached = False
        self.layout_version = 0  # bumped whenever index entries change (layout may move)
        self.entries = EntryTable()  # compact: an `Entry` made when one is read
        self.entries = savedindex.open_index(self)
        # One string per file id and per path, shared by the tables below (11,004 files:
        # 2 MB less than a copy of each from the database)
        ids = {file_id: file_id for file_id in self.entries}
        self.files: FileTable = store.files(ids)  # packed rows (store/filetable.py)
        self.file_id_at: dict[str, str] = {}
        for file_id, row in self.files.items():
            e = self.entries.get(file_id)
            self.file_id_at[e.path if e is not None and e.path == row.path else row.path] = file_id
        # binary files by digest (a blob row's hash is its 32-byte BLAKE3 digest), kept by
        # tracked.record/forget: serving or awaiting 5,000 blobs must not scan every row each
        # time. Made when first needed, dropped once idle (tracked.blob_rows)
        self.blob_rows: dict[bytes, tuple[str, ...]] | None = None
        self.layout_cache: tuple[int, dict[str, str]] = (-1, {})
        self.layout_new: set[str] = set()  # notes that appeared since: added to it (layout.py)
        self.layout_taken: set[str] | None = None  # the paths it holds (layout._taken)
        # layout.misplaced, kept up to date instead of walking every file row on each batch:
        # the layout it was worked out for, the notes whose file is not where it belongs,
        # and the notes whose file row changed since (tracked.record/forget)
        self.misplaced_for: dict[str, str] | None = None
        self.misplaced_ids: set[str] = set()
        self.misplaced_check: set[str] = set()
        self.index_unsaved = False
        self.index_churn = 0  # index changes since it was loaded (see Engine.shed_memory)
        self.versions = VersionSummary({ids.get(f, f): vv for f, vv in store.published_versions()})
        self.cache: DocCache[Note] = open_cache(store, cfg, self.session_peer)
        self.batch_depth = 0
        self.new_versions: list[tuple[str, float, bytes, str, str]] = []  # for the versions table
        self.origin = "local"  # who made the changes being saved: "local" or a peer's id
        self.uncommitted: set[str] = set()  # notes saved in the transaction under way (documents.batch)
        self.pinned: dict[str, Note] = {}  # see remote.apply_docs
        # What changed locally and is not yet pushed: note id (or INDEX) -> version before the change.
        self.pending: dict[str, bytes | None] = {}
        # The notes whose index entries the pending index change holds: the keys it goes under.
        self.index_keys: set[str] = set()
        self.addrs: list[str] = []
        self.blobs = BlobStore(root / STATE_DIR)
        self.awaiting: dict[str, set[str]] = {}  # blob hash -> notes waiting for it to arrive
        # The daemon's hashing workers (sync/binaries.py): when set, a binary file is queued
        # in `to_hash` (path -> stat seen) and this is called, instead of hashing it here.
        self.hash_later: Callable[[], None] | None = None
        self.to_hash: dict[str, Stat] = {}
        self.ignore = IgnoreRules.load(root)
        self.case_insensitive = _ignores_case(root / STATE_DIR)
        self.blocked: dict[str, str] = {}  # note id -> why it cannot be written here
        self.ignored_here: dict[str, str] = {}  # note id -> its path, ignored by this device's rules (layout.py)
        self.failed_writes: set[str] = set()
        self.written: list[tuple[str, bool]] = []  # (path, merged) of notes written, for the daemon's events
        # notes open in a live editor (sync/live.py): the editor, not the file, is their source
        self.live: set[str] = set()
        self.live_dirty: set[str] = set()  # ... whose file differs from the note: not read, not overwritten
        self.live_out: list[tuple[str, bytes]] = []  # (file_id, update) from peers, for the editors
        self.failed_before: set[str] = set()  # logged once at warning level, then quietly
        self.ignored = 0  # files and folders the rules kept out, at the last full scan
        self.path_checks: dict[str, str | None] = {}
        self.write_batch: WriteBatch | None = None  # the disk writes of the batch under way
        # Waiting out SETTLE_S (see settle.py): vanished notes, emptied paths, held-back writes.
        self.vanished: dict[str, float] = {}
        self.unsettled: dict[str, float] = {}
        self.touched: dict[str, float] = {}  # path -> last local activity seen there
        self.deferred: set[str] = set()
        # Time of the operation under way: every operation that may save or write is given
        # it by its caller (the engine never reads the clock for it).
        self.now = 0.0
        root_st = os.stat(root)
        self.root_id = (root_st.st_dev, root_st.st_ino)  # see tracked.check_vault
        self.guard: DeleteGuard[Published] = DeleteGuard(cfg.delete_guard_percent, cfg.delete_guard_files)
        self.held = {f: path for f, (path, _, _) in store.held_deletions().items()}
        self.stats = {"local_changes": 0, "remote_changes": 0, "files_written": 0, "sync_errors": 0}
