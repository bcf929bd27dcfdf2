"""The vault engine: the one place where disk, database, CRDTs and peers meet.

Local side:  changed paths -> read -> diff into the note (against the version the
             disk held) -> commit to SQLite -> mark pending for peers.
Remote side: updates -> import -> commit to SQLite -> write the merged text to
             disk atomically, after first reading any local edit it has not seen.

It is synchronous and single-threaded (the daemon calls it from its event loop);
it implements the session's `Replica` protocol, so sessions read vault state
from it without knowing about disk or SQLite.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import json
import logging
import os
import secrets
import sys
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath

from loro import LoroDoc

from ..config import STATE_DIR, Config
from ..crdt import CrdtError, notes
from ..crdt.index import Entry, VaultIndex, file_id_for
from ..errors import UnsafePath, VaultGone
from ..protocol import messages as m
from ..store.db import FileRow, Store
from ..vault.blobstore import BlobStore, hash_file
from ..vault.fsops import Stat, WriteBatch, atomic_write, content_hash, prune_empty_dirs, removed_at_ms, stat_of
from ..vault.ignore import IGNORE_FILE, IgnoreRules
from ..vault.paths import check_remote_path, printable_path, safe_target, windows_problem
from ..vault.scanner import scan
from .deleteguard import DeleteGuard, summary
from .doccache import DocCache
from .renames import pair_renames

log = logging.getLogger(__name__)

INDEX_KEY = "index_snapshot"
SETTLE_S = 2.0  # editors' saves that briefly remove or empty a file finish well within this
INDEX = "index"  # pending-change key of the vault index (note ids are hex, so no clash)
# Catch-up batches: small enough that the first (most recent) notes land at once and a
# window of them stays within the spec's 20 MB of sync buffers.
BATCH_DOCS = 256
BATCH_BYTES = 1024 * 1024
HOUR_NS, DAY_NS = 3600 * 10**9, 86400 * 10**9


ON_WINDOWS = sys.platform == "win32"  # names Windows cannot hold are reported, not written


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


NOT_HERE = "cannot be written here: "  # status reasons about peers' notes (not local files)


def _mb(n: int) -> str:
    return f"{n / 2**30:g} GB" if n >= 2**30 else f"{n / 2**20:g} MB"


def priority_tier(age_ns: int) -> int:
    """0: modified in the last hour (sync at once), 1: last day (soon), 2: older (background)."""
    return 0 if age_ns < HOUR_NS else 1 if age_ns < DAY_NS else 2


def _digest(doc_id: str, vv: bytes) -> int:
    try:
        key = notes.vv_canonical(vv)  # equal versions must digest equally on every device
    except CrdtError:
        key = vv
    return int.from_bytes(hashlib.blake2b(doc_id.encode() + key, digest_size=8).digest(), "big")


class Engine:
    def __init__(self, root: Path, store: Store, cfg: Config) -> None:
        self.root = root
        self.store = store
        self.cfg = cfg
        self.vault_id = bytes.fromhex(str(store.get_meta("vault_id")))
        self.published = bool(store.get_meta("published", 1))
        # A fresh Loro peer id per process: reusing one after state loss silently drops ops.
        self.session_peer = secrets.randbits(63)
        snap = store.get_meta(INDEX_KEY)
        self.index = VaultIndex.load(snap, self.session_peer) if isinstance(snap, bytes) else VaultIndex.empty(self.session_peer)
        self.entries: dict[str, Entry] = self.index.entries()
        self.files: dict[str, FileRow] = store.files()
        self._fid_at: dict[str, str] = {row.path: fid for fid, row in self.files.items()}
        self._layout_version = 0  # bumped whenever index entries change (layout may move)
        self._layout_cache: tuple[int, dict[str, str]] = (-1, {})
        self._index_unsaved = False
        self._vvs: dict[str, bytes] = dict(store.published_versions())
        self._buckets = [0] * m.BUCKETS
        for doc_id, vv in self._vvs.items():
            self._buckets[int(doc_id[:2], 16)] ^= _digest(doc_id, vv)
        self._cache: DocCache[LoroDoc] = DocCache(cfg.cache_docs, cfg.cache_bytes, self._load_doc, self._persist_doc)
        self._batch_depth = 0
        self._new_versions: list[tuple[str, float, bytes, str, str]] = []  # for the versions table
        self._origin = "local"  # who made the changes being saved: "local" or a peer's id
        self._pinned: dict[str, LoroDoc] = {}  # see apply_docs
        # What changed locally and is not yet pushed: note id (or INDEX) -> version before the change.
        self._pending: dict[str, bytes | None] = {}
        self.addrs: list[str] = []
        self.blobs = BlobStore(root / STATE_DIR)
        self._awaiting: dict[str, set[str]] = {}  # blob hash -> notes waiting for it to arrive
        self.ignore = IgnoreRules.load(root)
        self.case_insensitive = _ignores_case(root / STATE_DIR)
        self._blocked: dict[str, str] = {}  # note id -> why it cannot be written here
        self.failed_writes: set[str] = set()
        self._failed_before: set[str] = set()  # logged once at warning level, then quietly
        self.ignored = 0  # files and folders the rules kept out, at the last full scan
        self._path_checks: dict[str, str | None] = {}
        self._write_batch: WriteBatch | None = None  # the disk writes of the batch under way
        # Waiting out SETTLE_S (see local_paths): vanished notes, emptied paths, held-back writes.
        self._vanished: dict[str, float] = {}
        self._unsettled: dict[str, float] = {}
        self._touched: dict[str, float] = {}  # path -> last local activity seen there
        self._deferred: set[str] = set()
        self._now = time.time()  # time of the operation under way (an input, for tests)
        root_st = os.stat(root)
        self._root_id = (root_st.st_dev, root_st.st_ino)  # see check_vault
        self.guard = DeleteGuard(cfg.delete_guard_percent, cfg.delete_guard_files)
        self.held = {f: path for f, (path, _, _) in store.held_deletions().items()}
        self.stats = {"local_changes": 0, "remote_changes": 0, "files_written": 0, "sync_errors": 0}

    # ================================================================== documents
    def _doc(self, fid: str) -> LoroDoc | None:
        pinned = self._pinned.get(fid)
        return pinned if pinned is not None else self._cache.get(fid)

    def _load_doc(self, fid: str) -> tuple[LoroDoc, int] | None:
        snap = self.store.load_doc(fid)
        return None if snap is None else (notes.load_note(snap, self.session_peer), len(snap))

    def _persist_doc(self, fid: str, doc: LoroDoc) -> int:
        snap = notes.snapshot(doc)
        self.store.save_doc(fid, snap, notes.vv_bytes(doc), not fid.startswith("u"))
        return len(snap)

    def _save(self, fid: str, doc: LoroDoc) -> None:
        """Record a changed note: written back at the end of the batch (or at once outside one)."""
        published = not fid.startswith("u")
        self._cache.put_dirty(fid, doc)
        if published:
            e, row = self.entries.get(fid), self.files.get(fid)
            path = e.path if e is not None else row.path if row is not None else ""
            self._new_versions.append((fid, time.time(), notes.frontiers(doc), self._origin, path))
        if not self._batch_depth:
            self._flush_saves()
        if published:
            vv = notes.vv_bytes(doc)
            bucket = int(fid[:2], 16)
            old = self._vvs.get(fid)
            if old is None or ((e := self.entries.get(fid)) is not None and e.deleted):
                self._layout_version += 1  # a new note, or one whose liveness may change
            if old is not None:
                self._buckets[bucket] ^= _digest(fid, old)
            self._buckets[bucket] ^= _digest(fid, vv)
            self._vvs[fid] = vv

    @contextlib.contextmanager
    def _saves_from(self, origin: str) -> Iterator[None]:
        """Changes saved meanwhile came from `origin` (a peer), not from this device."""
        self._origin = origin
        try:
            yield
        finally:
            self._origin = "local"

    def _flush_saves(self) -> None:
        """Write back the notes changed in this batch, and the versions history will list."""
        self._cache.flush()
        if self._new_versions:
            self.store.add_versions(self._new_versions)
            self._new_versions = []

    def _mark_pending(self, fid: str, before: bytes | None) -> None:
        if not fid.startswith("u") and fid not in self._pending:
            self._pending[fid] = before

    def _index_changed(self, fid: str, before: bytes | None) -> None:
        entry = self.index.entry(fid)
        if entry is None:
            self.entries.pop(fid, None)
        else:
            self.entries[fid] = entry
        self._reindex()
        self._pending.setdefault(INDEX, before)

    def _reindex(self) -> None:
        """Index entries changed: layouts must be recomputed, the snapshot saved (once per batch)."""
        self._layout_version += 1
        self._index_unsaved = True

    @contextlib.contextmanager
    def _batch(self) -> Iterator[None]:
        """One SQLite transaction per batch of changes, with the index snapshot saved once."""
        with self.store.transaction():
            self._batch_depth += 1
            try:
                yield
            except BaseException:
                self._cache.discard_dirty()  # rolled back: reload those notes from the database
                self._new_versions = []
                raise
            finally:
                self._batch_depth -= 1
            self._flush_saves()
            if self._index_unsaved:
                self.store.set_meta(INDEX_KEY, self.index.snapshot())
                self._index_unsaved = False

    def _forget(self, fid: str) -> None:
        """This device no longer has a file for `fid` on disk."""
        row = self.files.pop(fid, None)
        if row is not None and self._fid_at.get(row.path) == fid:
            del self._fid_at[row.path]
        self.store.delete_file(fid)

    def text(self, fid: str) -> str | None:
        doc = self._doc(fid)
        return None if doc is None else notes.text_of(doc)

    def is_live(self, entry: Entry) -> bool:
        """Deleted, unless the note holds edits the deleting device had not seen (edit wins)."""
        if not entry.deleted:
            return True
        vv = self._vvs.get(entry.file_id)
        if vv is None or not entry.dvv:
            return False
        try:
            return not notes.includes(entry.dvv, vv)
        except CrdtError:
            return False

    # ================================================================== local side
    def reconcile(self) -> int:
        """Full pass over the folder: cheap (size+mtime) unless something changed. Returns changes."""
        return sum(self.reconcile_steps(chunk=None))

    def reconcile_steps(self, chunk: int | None = 256) -> Iterator[int]:
        """`reconcile` cut into steps of `chunk` changed files (changes per step), so a daemon
        starting on a large vault is ready at once and imports in the background without
        stalling its peers. Deletions wait for the last step: a file missing from its old
        path may turn up in a later step under a new one (a rename)."""
        self.check_vault()
        self._refresh_rules()
        disk = self._scan()
        by_path = {row.path: row for row in self.files.values()}
        changed = sorted(rel for rel, st in disk.items() if (row := by_path.get(rel)) is None or row.stat != st.key)
        gone = {fid for fid, row in self.files.items() if row.path not in disk}
        # Renames are paired over the whole pass, not per step (a content shared by two new
        # files in different steps is ambiguous, whichever step sees one of them first), and
        # carried out first: a path a note left may hold a new file, read in some step.
        looked_at = set(changed) | {self.files[f].path for f in gone}
        yield self._rename_unseen({rel: disk[rel] for rel in changed}, gone)
        step = chunk or max(len(changed), 1)
        for i in range(0, len(changed), step):
            part = {rel: disk[rel] for rel in changed[i : i + step]}
            yield self._ingest(part, gone, final=True, delete_gone=False, paired=True)
        changes = self._ingest({}, gone, final=True, paired=True)
        self._write_into(looked_at)
        yield changes

    def ignores(self, rel: str) -> bool:
        """The rules keep `rel` out, and it is not a file synced before they did (as in git,
        a synced file stays synced until deleted: a new rule never deletes it elsewhere)."""
        return rel not in self._fid_at and self.ignore.ignores(rel)

    def _scan(self, under: str | None = None) -> dict[str, Stat]:
        """The files the rules let through, plus tracked files they now match."""
        disk, ignored = scan(self.root, self.ignore, under)
        if under is None:
            self.ignored = ignored
        prefix = "" if under is None else under + "/"
        for path in self._fid_at:
            if path not in disk and path.startswith(prefix) and self.ignore.ignores(path):
                st = stat_of(self.root.joinpath(*path.split("/")))
                if st is not None:
                    disk[path] = st
        return disk

    def _refresh_rules(self) -> bool:
        """Reload `.peervaultignore`; True if the rules changed."""
        rules = IgnoreRules.load(self.root)
        if rules.user_rules == self.ignore.user_rules:
            return False
        self.ignore = rules
        log.info("ignore rules changed (%s)", IGNORE_FILE)
        return True

    def local_paths(self, rels: set[str], now: float | None = None, moves: Sequence[tuple[str, str]] = ()) -> int:
        """Look again at these paths (files or folders, present or gone). Returns changes.

        `moves` are renames the watcher saw, (from, to) in order, files or folders: applied
        exactly first, so a note keeps its identity whatever other notes hold the same text.
        A file that vanished, or became empty while its note has text, may be in the middle
        of an editor's save (vim renames it away; others truncate, then write): that waits
        SETTLE_S and is decided by `settle`, so a save is never mistaken for a delete."""
        rels = set(rels)
        changes = self._apply_moves(moves, rels) if moves else 0
        rules_changed = IGNORE_FILE in rels and self._refresh_rules()
        present: dict[str, Stat] = {}
        for rel in rels:
            p = self.root.joinpath(*rel.split("/"))
            if p.is_dir() and not p.is_symlink():
                present.update(self._scan(rel))
            elif not self.ignores(rel) and (st := stat_of(p)) is not None and not p.is_symlink():
                present[rel] = st
        self._now = time.time() if now is None else now
        gone = set()
        for rel in rels:
            if rel in self._fid_at:
                candidates = [self._fid_at[rel]]
            else:  # perhaps a folder that went away: everything tracked under it
                prefix = rel + "/"
                candidates = [fid for path, fid in self._fid_at.items() if path.startswith(prefix)]
            for fid in candidates:
                if stat_of(self.root.joinpath(*self.files[fid].path.split("/"))) is None:
                    gone.add(fid)
        changes += self._ingest(present, gone, self._now)
        if rules_changed:
            changes += self.reconcile()  # files a rule no longer keeps out are picked up now
        self._write_into(rels | {src for src, _ in moves})
        return changes

    def _write_into(self, rels: set[str]) -> None:
        """Notes whose place is under these paths but not on disk there: one that could not
        be written (a folder was in the way), or one laid out beside another under a suffixed
        name that a local delete or rename has just freed (`p.bin` deleted here: its twin
        `p (f63053).bin` becomes `p.bin`, as on every other device)."""
        waiting = {
            f
            for f, path in self.layout().items()
            if (f not in self.files or self.files[f].path != path) and _under_any(path, rels)
        }
        if waiting:
            self._write_out(waiting)

    def _apply_moves(self, moves: Sequence[tuple[str, str]], rels: set[str]) -> int:
        """Carry each tracked file a move took along (a folder move takes every file under
        it) to its new path, and add to `rels` what must be looked at again: the new paths
        (an edit may have come with the move), and a move's source that was not tracked.
        A move onto a tracked note (an editor saving through a temp file renamed over it) is
        an edit of that note: the note keeps its identity, the moved one's file is gone."""
        changes = 0
        with self._batch():
            for src, dst in moves:
                rels.add(dst)
                if src in self._fid_at:
                    carried = [(src, dst)]
                else:
                    prefix = src + "/"
                    carried = [(p, dst + p[len(src) :]) for p in sorted(self._fid_at) if p.startswith(prefix)]
                for old, new in carried:
                    fid = self._fid_at[old]
                    if self.ignores(new) or new in self._fid_at:
                        rels.update((old, new))  # old is gone (a delete after settling); new looked at
                        continue
                    self._vanished.pop(fid, None)
                    self._local_rename(fid, new, Stat(*self.files[fid].stat))
                    changes += 1
        return changes

    def settle(self, now: float | None = None) -> int:
        """Decide what waited out its settle period: still gone is deleted, still empty is
        emptied, and remote changes held back meanwhile are written. Returns changes."""
        now = self._now = time.time() if now is None else now
        due_fids = {f for f, t in self._vanished.items() if now - t >= SETTLE_S}
        due_paths = {r for r, t in self._unsettled.items() if now - t >= SETTLE_S}
        for f in due_fids:
            del self._vanished[f]
        for r in due_paths:
            del self._unsettled[r]
        self._touched = {p: t for p, t in self._touched.items() if now - t < SETTLE_S}
        rels = due_paths | {self.files[f].path for f in due_fids if f in self.files}
        changes = self._ingest_paths(rels, now) if rels else 0
        if changes:
            self._write_into(rels)
        deferred, self._deferred = self._deferred, set()
        if deferred:
            self._write_out(deferred)  # whatever is still busy defers itself again
        return changes

    def next_settle(self) -> float | None:
        """When `settle` has work to do (wall-clock time), or None."""
        times = [t + SETTLE_S for t in (*self._vanished.values(), *self._unsettled.values())]
        for fid in self._deferred:
            row = self.files.get(fid)
            paths = [p for p in (row.path if row else None, self.layout().get(fid)) if p]
            times.append(max([self._touched.get(p, 0.0) + SETTLE_S for p in paths] + [self._now]))
        return min(times) if times else None

    def _ingest_paths(self, rels: set[str], now: float) -> int:
        present = {r: st for r in rels if (st := stat_of(self.root.joinpath(*r.split("/")))) is not None}
        gone = {self._fid_at[r] for r in rels if r in self._fid_at and r not in present}
        return self._ingest(present, gone, now, final=True)

    def _rename_unseen(self, changed: dict[str, Stat], gone: set[str]) -> int:
        """Carry out the renames the watcher did not report (see sync/renames.py) among these
        changed paths; the notes found renamed leave `gone`. Candidates: the files gone, those
        still waiting out their settle, and, by inode alone, those whose path now holds another
        file (renamed away while a new file took the name, as a new `Untitled.md` does)."""
        new = {r: st for r, st in changed.items() if r not in self._fid_at}
        replaced_at = {
            r: st
            for r, st in changed.items()
            if (row := self._row_at(r)) is not None and row.ino and (row.dev, row.ino) != (st.dev, st.ino)
        }
        candidates = {
            f: self.files[f]
            for f in gone | set(self._vanished)
            if f in self.files and (f in gone or stat_of(self._abs(self.files[f].path)) is None)  # (a save brought it back)
        }
        replaced = {self._fid_at[r]: self.files[self._fid_at[r]] for r in replaced_at}
        if not (new or replaced_at) or not (candidates or replaced):
            return 0
        blobs = {f for f in (*candidates, *replaced) if self._is_blob(self.files[f])}
        renames = pair_renames(candidates, new, self._digest_at, blobs, replaced, replaced_at)
        # A file renamed onto a tracked name is an edit of the note there (as a watched move
        # is), unless that note moved on too (a swap, a cycle of names).
        while bad := {r for r in renames if r in self._fid_at and self._fid_at[r] not in renames.values()}:
            for r in bad:
                del renames[r]
        with self._batch():
            for fid in renames.values():  # free every old name first: names may be swapped
                del self._fid_at[self.files[fid].path]
            for rel, fid in sorted(renames.items()):
                gone.discard(fid)
                self._vanished.pop(fid, None)
                self._release_held({fid})
                self._local_rename(fid, rel, Stat(*self.files[fid].stat))  # stat kept: read again
        return len(renames)

    def _digest_at(self, rel: str, blob: bool) -> bytes | None:
        path = self.root.joinpath(*rel.split("/"))
        try:
            return bytes.fromhex(hash_file(path)[0]) if blob else content_hash(path.read_bytes())
        except OSError:
            return None

    def _ingest(
        self,
        present: dict[str, Stat],
        gone: set[str],
        now: float | None = None,
        final: bool = False,
        delete_gone: bool = True,
        paired: bool = False,
    ) -> int:
        """Record local changes. `final` (start-up, periodic reconcile, settle) skips the
        settle period: whatever is missing now is deleted. `gone` loses the notes found
        renamed (unless `paired`: the caller did that); with `delete_gone` False the rest
        are left for a later call."""
        grace = now is not None and not final
        changes = 0 if paired else self._rename_unseen(present, gone)
        with self._batch():
            for rel in sorted(present):
                row = self._row_at(rel)
                st = present[rel]
                if row is not None:
                    self._vanished.pop(row.file_id, None)  # it came back: a save, not a delete
                    self._release_held({row.file_id})  # put back by hand: synced as it is now
                if row is not None and row.stat == st.key:
                    continue
                if st.size > self.cfg.max_file_bytes:
                    self.store.set_unsynced(rel, f"larger than the {_mb(self.cfg.max_file_bytes)} limit (max_file_bytes)")
                    continue
                if st.size > self.cfg.text_max_bytes or self._is_blob(row):
                    changes += self._ingest_blob(rel, row, st, now)
                    continue
                try:
                    data = self.root.joinpath(*rel.split("/")).read_bytes()
                except OSError:
                    continue  # vanished or unreadable: the next event or reconcile sees it
                h = content_hash(data)
                if row is not None and row.hash == h:
                    self._record(row.file_id, rel, st, h, row.base)
                    continue
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError:
                    changes += self._ingest_blob(rel, row, st, now)
                    continue
                if now is not None:
                    self._touched[rel] = now
                if grace and not text and row is not None and self.text(row.file_id):
                    self._unsettled.setdefault(rel, now)  # type: ignore[arg-type]
                    continue
                self._unsettled.pop(rel, None)
                self.store.set_unsynced(rel, None)
                changes += 1
                if row is not None:
                    self._local_edit(row, text, st, h)
                else:
                    self._local_create(rel, text, st, h)
            if delete_gone and grace:
                for fid in gone:
                    self._vanished.setdefault(fid, now)  # type: ignore[arg-type]
            elif delete_gone:
                changes += self._delete_or_hold(gone - set(self.held), time.time() if now is None else now)
            for rel, reason in list(self.store.unsynced().items()):
                if not reason.startswith(NOT_HERE) and stat_of(self.root.joinpath(*rel.split("/"))) is None:
                    self.store.set_unsynced(rel, None)  # a local file that is gone: nothing to report
        self.stats["local_changes"] += changes
        return changes

    # ------------------------------------------------------------------ deletions
    def _delete_or_hold(self, fids: set[str], now: float) -> int:
        """Publish these local deletions, or hold them all if they look like a wipe (see
        sync/deleteguard.py); once some are held, later ones join them. Returns changes."""
        if not fids:
            return 0
        self.check_vault()
        published = {f for f in fids if not f.startswith("u") and (e := self.entries.get(f)) is not None and self.is_live(e)}
        synced = sum(1 for f in self.files if not f.startswith("u"))
        reason = self.guard.trips(len(published), synced, now) if published else None
        if reason is None and self.held and published:
            reason = "deletions are being held: this one waits with them"
        if reason is not None:
            rows = [(f, self.files[f].path) for f in sorted(published)]
            self.store.hold_deletions(rows, now, reason)
            first = not self.held
            self.held.update(rows)
            (log.warning if first else log.debug)(summary(reason, len(self.held)))  # logged once per hold
            fids = fids - published
        for fid in fids:
            self._vanished.pop(fid, None)
            self._local_delete(fid)
        if reason is None:
            self.guard.published(len(published), now)
        return len(fids)

    def _note_peer_deletions(self, before: dict[str, Entry], changed: set[str], origin: str) -> None:
        deleted = [f for f in changed if (old := before.get(f)) is not None and not old.deleted and self.entries[f].deleted]
        live_before = sum(1 for e in before.values() if not e.deleted)
        reason = DeleteGuard(self.cfg.delete_guard_percent, self.cfg.delete_guard_files).trips(len(deleted), live_before, self._now)
        if reason is not None:
            log.warning("%s deleted %d file(s) at once; `peervault deleted` lists them to restore", origin[:10], len(deleted))
            self.store.set_meta("peer_mass_deletion", json.dumps({"peer": origin, "count": len(deleted), "at": self._now}))

    def _release_held(self, fids: set[str]) -> None:
        fids = fids & set(self.held)
        if fids:
            self.store.release_held(fids)
            for f in fids:
                del self.held[f]

    def held_deletions(self) -> dict[str, tuple[str, float, str]]:
        """file_id -> (path, held_at, reason) of the deletions the guard holds."""
        return self.store.held_deletions()

    def apply_held(self, now: float) -> int:
        """`peervault deletions apply`: publish the held deletions whose files are still gone
        (a file put back meanwhile stays). Returns how many were published."""
        fids = set(self.held)
        with self._batch():
            self._release_held(fids)
            gone = {f for f in fids if f in self.files and stat_of(self._abs(self.files[f].path)) is None}
            for fid in gone:
                self._local_delete(fid)
        self.guard.published(len(gone), now)
        return len(gone)

    def restore_held(self) -> int:
        """`peervault deletions restore`: put the held files back from the vault's own copy
        (the note, or the blob), with any edits peers made since. Returns files written."""
        fids = set(self.held)
        with self._batch():
            self._release_held(fids)
            for fid in fids:
                if fid in self.files and stat_of(self._abs(self.files[fid].path)) is None:
                    self._forget(fid)  # no file here now: written afresh where the note belongs
        self._write_out(fids)
        return sum(1 for f in fids if f in self.files)

    def check_vault(self) -> None:
        """Refuse to record deletions if the vault folder itself is gone or was replaced (an
        unmounted drive, an empty mount point over it): that is not the user deleting notes."""
        try:
            st = os.stat(self.root)
        except OSError:
            st = None
        if st is None or (st.st_dev, st.st_ino) != self._root_id or not (self.root / STATE_DIR).is_dir():
            raise VaultGone(
                f"the vault folder {self.root} has disappeared or was replaced (unmounted, moved, "
                "or a new empty folder): sync stopped and nothing was deleted on other devices. "
                "Put the folder back and run `peervault run` again"
            )

    def _abs(self, rel: str) -> Path:
        return self.root.joinpath(*rel.split("/"))

    def _row_at(self, rel: str) -> FileRow | None:
        fid = self._fid_at.get(rel)
        return None if fid is None else self.files.get(fid)

    # ------------------------------------------------------------------ binary files
    def _is_blob(self, row: FileRow | None) -> bool:
        e = None if row is None else self.entries.get(row.file_id)
        return e is not None and e.kind == "blob"

    def _ingest_blob(self, rel: str, row: FileRow | None, st: Stat, now: float | None) -> int:
        """A binary file (or text too large for a note) changed here: its content goes into the
        blob store (streamed, never whole in memory) and the index names it. Returns changes."""
        try:
            h, size = self.blobs.add_file(self.root.joinpath(*rel.split("/")))
        except OSError:
            return 0  # changing under us, vanished or unreadable: the next event sees it again
        hb = bytes.fromhex(h)
        if now is not None:
            self._touched[rel] = now
        self.store.set_unsynced(rel, None)
        if row is not None and row.hash == hb:
            self._record(row.file_id, rel, st, hb, b"")
            return 0
        fid = row.file_id if row is not None and not row.file_id.startswith("u") else self._alloc_id(rel)
        if row is not None and row.file_id != fid:
            self._forget(row.file_id)  # a pre-pairing text note turned binary: one id from now on
        before = self.index.vv()
        self.index.put_blob(fid, rel, h, size, st.mtime_ns // 1_000_000, st.ctime_ns // 1_000_000)
        self._index_changed(fid, before)
        self._record(fid, rel, st, hb, b"")
        self.store.add_blob_version(fid, h, size, rel, "local", time.time())
        return 1

    def _absorb_local_blob(self, row: FileRow) -> bool:
        """Before a peer's version replaces a binary file: a version the user saved here since
        is recorded first (and, being newer, wins). True if there was one."""
        path = self.root.joinpath(*row.path.split("/"))
        st = stat_of(path)
        if st is None or st.key == row.stat:
            return False
        self._touched[row.path] = self._now
        return bool(self._ingest_blob(row.path, row, st, self._now))

    def _write_blob(self, fid: str, target: str, row: FileRow | None) -> None:
        """Bring a binary file to the version the index names, once its blob is here."""
        if row is not None and self._absorb_local_blob(row):
            return  # the user's newer version here wins; peers get it from the index
        entry = self.entries.get(fid)
        if entry is None or self._busy(fid, target, *([row.path] if row is not None else [])):
            return
        h = entry.blob
        if row is not None and row.path == target and row.hash == bytes.fromhex(h):
            return
        if not self.blobs.has(h):
            self._awaiting.setdefault(h, set()).add(fid)  # the daemon fetches it from a peer
            return
        dst = safe_target(self.root, target)
        occupant = stat_of(dst)
        if occupant is not None and not (row is not None and row.path == target):
            # A file of our own is where this one belongs: keep it as a version, never lose it.
            kept, size = self.blobs.add_file(dst)
            self.store.add_blob_version(fid, kept, size, target, "local", time.time())
        self.blobs.copy_to(h, dst, self.root / STATE_DIR / "tmp")
        if entry.mtime_ms:  # keep the time it was made (photos, recordings): a blob is a copy
            os.utime(dst, ns=(entry.mtime_ms * 1_000_000, entry.mtime_ms * 1_000_000))
        self.stats["files_written"] += 1
        st = stat_of(dst)
        if st is not None:
            if row is not None and row.path != target:
                old = self.root.joinpath(*row.path.split("/"))
                if old.exists():
                    old.unlink()
                    prune_empty_dirs(self.root, old.parent)
            self._record(fid, target, st, bytes.fromhex(h), b"")
        self.store.add_blob_version(fid, h, entry.size, target, "peer", time.time())
        self.store.set_unsynced(target, None)

    def wanted_blobs(self) -> dict[str, int]:
        """Blobs the index names that are not here yet: hash -> size (for the daemon to fetch)."""
        out = {}
        for h, fids in list(self._awaiting.items()):
            live = {
                f for f in fids if (e := self.entries.get(f)) is not None and e.kind == "blob" and e.blob == h and self.is_live(e)
            }
            if not live:
                del self._awaiting[h]  # no file needs that version any more
            elif not self.blobs.has(h):  # (present: `blob_arrived` is about to write its files)
                out[h] = self.entries[next(iter(live))].size
        return out

    def blob_arrived(self, h: str) -> None:
        """A fetched blob is complete and verified: write the files that wait for it."""
        fids = self._awaiting.pop(h, set())
        if fids:
            self._write_out(fids)

    def _record(self, fid: str, rel: str, st: Stat, h: bytes, base: bytes) -> None:
        row = FileRow(fid, rel, st.size, st.mtime_ns, h, base, st.ino, st.ctime_ns, st.dev)
        other = self._fid_at.get(rel)
        if other is not None and other != fid:
            self.files.pop(other, None)
        old = self.files.get(fid)
        if old is not None and old.path != rel and self._fid_at.get(old.path) == fid:
            del self._fid_at[old.path]
        self.files[fid] = row
        self._fid_at[rel] = fid
        self.store.put_file(row)

    def _local_edit(self, row: FileRow, text: str, st: Stat, h: bytes) -> None:
        doc = self._doc(row.file_id)
        if doc is None:
            self._forget(row.file_id)
            self._local_create(row.path, text, st, h)
            return
        before = notes.vv_bytes(doc)
        if text == notes.text_of(doc):
            shown = notes.frontiers(doc)  # the disk already shows the note (e.g. written just before a crash)
        elif row.base and (written := self._written_version(row.file_id, doc, text, row.base)) is not None:
            shown = written  # an older version of the note, written here just before a crash: no edit
        else:
            version = notes.edit_from(doc, row.base, text, self.cfg.text_diff_timeout_ms, self.cfg.line_diff_timeout_ms)
            if version is None:
                shown = row.base or notes.frontiers(doc)
            else:
                shown = version
                self._save(row.file_id, doc)
                self._mark_pending(row.file_id, before)
        entry = self.entries.get(row.file_id)
        if entry is not None and entry.deleted:
            ibefore = self.index.vv()
            self.index.undelete(row.file_id)
            self._index_changed(row.file_id, ibefore)
        # The base is the version the disk shows now, even while the merged text waits to be
        # written (the file may be busy): the next save is diffed against exactly that.
        self._record(row.file_id, row.path, st, h, shown)
        if notes.text_of(doc) != text:  # remote edits arrived since the disk was written: show the merge
            self._materialize({row.file_id})

    def _local_create(self, rel: str, text: str, st: Stat, h: bytes) -> None:
        if not self.published:
            fid = "u" + secrets.token_hex(15)
            doc = notes.new_note(text, self.session_peer)
        else:
            fid = self._alloc_id(rel, text)
            existing = self._doc(fid)
            doc = existing if existing is not None else notes.new_note(text, self.session_peer)
            if existing is None:
                self._mark_pending(fid, None)
            elif notes.text_of(doc) != text:
                # The same path was created elsewhere and its note is here already: merge.
                # (Equal text is adopted as it is, e.g. a file written just before a crash.)
                before = notes.vv_bytes(doc)
                notes.merge_foreign_text(doc, text, self.session_peer)
                self._mark_pending(fid, before)
            entry = self.entries.get(fid)
            if entry is None or entry.path != rel or entry.deleted:
                ibefore = self.index.vv()
                self.index.put(fid, rel)
                self._index_changed(fid, ibefore)
        self._save(fid, doc)
        self._record(fid, rel, st, h, notes.frontiers(doc))
        if notes.text_of(doc) != text:
            self._materialize({fid})

    def _alloc_id(self, rel: str, text: str | None = None) -> str:
        """Deterministic: the same path created on two devices gets the same id (and merges).
        A deleted note whose exact text comes back at its path (a restore) is the same note."""
        for attempt in range(10_000):
            fid = file_id_for(rel, attempt)
            entry = self.entries.get(fid)
            if entry is None and fid not in self._vvs:
                return fid
            if entry is not None and entry.path == rel and self.is_live(entry) and fid not in self.files:
                return fid
            if entry is not None and entry.path == rel and entry.deleted and fid not in self.files and text is not None:
                if entry.kind == "text" and self.text(fid) == text:
                    return fid
        raise RuntimeError(f"no free file id for {rel}")

    def _local_rename(self, fid: str, rel: str, st: Stat) -> None:
        """`fid`'s file is now at `rel`. Callers pass the stat last recorded (not the new one),
        so the file is read again at its new place: an edit made with the rename is not missed."""
        row = self.files[fid]
        self._record(fid, rel, st, row.hash, row.base)
        if not fid.startswith("u"):
            before = self.index.vv()
            self.index.set_path(fid, rel)
            self._index_changed(fid, before)

    def _local_delete(self, fid: str) -> None:
        row = self.files.get(fid)
        self._forget(fid)
        if fid.startswith("u"):
            self.store.delete_doc(fid)
            self._cache.discard(fid)
            return
        entry = self.entries.get(fid)
        if entry is not None and entry.kind == "blob" and not entry.deleted:
            before = self.index.vv()
            at = None if row is None else removed_at_ms(self.root, row.path, max(row.mtime_ns, row.ctime_ns))
            self.index.mark_deleted(fid, b"", at)  # the later of this delete and a version wins
            self._index_changed(fid, before)
            return
        doc = self._doc(fid)
        if entry is None or doc is None or not self.is_live(entry):
            return
        # The delete covers the version the user saw on disk, not edits that arrived since
        # (held back while the file was busy, say): those still win over the delete.
        vv = notes.vv_at(doc, row.base if row is not None else b"")
        before = self.index.vv()
        self.index.mark_deleted(fid, vv)
        self._index_changed(fid, before)

    # ================================================================== remote side
    def forget_device(self, endpoint_id: str) -> None:
        """`peervault forget`: this device drops the peer, and tells the others through the index."""
        with self._batch():
            before = self.index.vv()
            self.index.forget_device(endpoint_id)
            self._pending.setdefault(INDEX, before)
            self._index_unsaved = True
            self.store.remove_peer(endpoint_id)

    def take_forgotten(self) -> set[str]:
        """Paired devices another device has removed from the vault (dropped here too, now)."""
        gone = self.index.forgotten() & {p.endpoint_id for p in self.store.peers()}
        for peer in gone:
            self.store.remove_peer(peer)
        return gone

    def apply_index(self, blob: bytes, origin: str = "peer") -> bool:
        """Import index updates; False if they held nothing new (then they are not forwarded:
        in a triangle of links an update would otherwise circle for ever). A peer's deletions
        are applied, but a mass deletion among them is recorded for `status` to show."""
        self._now = time.time()
        before = self.entries
        vv_before = self.index.vv()
        with self._batch():
            self.index.apply(blob)
            if notes.includes(vv_before, self.index.vv()):
                return False
            self.entries = self.index.entries()
            if (repaired := self.index.keep_later_blobs(before, self.entries)) is not None:
                self._pending.setdefault(INDEX, repaired)  # a later blob value lost to an earlier one
            self._reindex()
            changed = {fid for fid, e in self.entries.items() if before.get(fid) != e}
            self.store.add_pending_writes(changed)
            self._note_peer_deletions(before, changed, origin)
        self._write_out(changed)
        self.stats["remote_changes"] += len(changed)
        return True

    def apply_docs(self, entries: tuple[tuple[bytes, bytes], ...], origin: str = "peer") -> tuple[tuple[bytes, bytes], ...]:
        """Import a batch of note updates; returns the entries that brought something new (to
        forward to others: what only repeats known operations stops here)."""
        self._now = time.time()
        changed = set()
        accepted: list[tuple[bytes, bytes]] = []
        # The batch's notes stay at hand until written out, even if the cache is smaller
        # than the batch (an initial sync would otherwise reload each note it just imported).
        self._pinned = pinned = {}
        with self._batch(), self._saves_from(origin):
            for raw_id, blob in entries:
                fid = raw_id.hex()
                doc = self._doc(fid) or notes.empty_note(self.session_peer)
                vv_before = notes.vv_bytes(doc)
                try:
                    notes.apply(doc, blob)
                    if fid in self._vvs and notes.includes(vv_before, notes.vv_bytes(doc)):
                        continue  # nothing new: a duplicate (forwarded by another device)
                except CrdtError as exc:
                    self.stats["sync_errors"] += 1
                    log.warning("refused an update for note %s: %s", fid, exc)
                    # The in-memory copy may be half-applied: rebuild it from the database
                    # plus the good updates of this batch (they are not saved yet).
                    self._cache.discard(fid)
                    pinned.pop(fid, None)
                    good = [b for r, b in accepted if r == raw_id]
                    if good:
                        doc = self._doc(fid) or notes.empty_note(self.session_peer)
                        for b in good:
                            notes.apply(doc, b)
                        self._save(fid, doc)
                        pinned[fid] = doc
                    continue
                self._save(fid, doc)
                pinned[fid] = doc
                changed.add(fid)
                accepted.append((raw_id, blob))
            self.store.add_pending_writes(changed)
        try:
            self._write_out(changed)
        finally:
            self._pinned = {}
        self.stats["remote_changes"] += len(changed)
        return tuple(accepted)

    def _write_out(self, fids: set[str]) -> None:
        """Second step of applying remote updates (the first committed them): the disk."""
        with self._batch():
            self._write_batch = batch = WriteBatch(self.root)
            try:
                self._materialize(fids)
            finally:
                self._write_batch = None
                batch.commit()  # durable before the commit that says the files are written
            awaiting = set().union(*self._awaiting.values()) if self._awaiting else set()
            done = fids - self._deferred - awaiting - self.failed_writes
            self.store.clear_pending_writes(done)
        if any(self.files[f].path == IGNORE_FILE for f in fids if f in self.files) and self._refresh_rules():
            self.reconcile()  # a peer changed the rules: pick up what they no longer keep out

    def retry_failed_writes(self) -> bool:
        """Try again the disk writes that failed (space may be back). True if some still fail."""
        fids, self.failed_writes = self.failed_writes, set()
        if fids:
            self._write_out(fids)
        return bool(self.failed_writes)

    def recover(self) -> None:
        """At start-up: finish disk writes a crash or stop interrupted, and write any live
        note that has no file yet."""
        todo = (self.store.pending_writes() | (set(self.layout()) - set(self.files))) - set(self.held)
        if todo:
            self._write_out(todo)

    def layout(self) -> dict[str, str]:
        """Where each live note belongs on disk. Duplicate live paths (rare: concurrent
        renames onto one name) resolve deterministically: the smallest id keeps the name.
        Cached until an index entry changes or a note appears or may come back to life."""
        if self._layout_cache[0] != self._layout_version:
            self._layout_cache = (self._layout_version, self._compute_layout())
        return self._layout_cache[1]

    def _compute_layout(self) -> dict[str, str]:
        """Also decides `_blocked`: notes that cannot be written here (a refused path, a case
        collision). They are listed by `status` and left alone: never written, never removed,
        so a peer's rename to a bad path cannot delete the file here either."""
        by_path: dict[str, list[str]] = defaultdict(list)
        blocked: dict[str, str] = {}
        for fid, e in self.entries.items():
            if (fid in self._vvs or e.kind == "blob") and self.is_live(e):
                problem = self._path_problem(e.path)
                if problem is not None:
                    blocked[fid] = problem
                    continue
                by_path[e.path].append(fid)
        out: dict[str, str] = {}
        for path, fids in by_path.items():
            if len(fids) > 1:
                fids.sort()
                p = PurePosixPath(path)
                for fid in fids[1:]:
                    out[fid] = str(p.with_name(f"{p.stem} ({fid[:6]}){p.suffix}"))
            out[fids[0]] = path
        if self.case_insensitive:
            for fid, holder in self._case_collisions(out).items():
                blocked[fid] = f"differs only in case from {holder}, and this file system ignores case"
                del out[fid]
        self._report_blocked(blocked)
        return out

    def _report_blocked(self, blocked: dict[str, str]) -> None:
        """Keep `status`'s list of notes that cannot be written here current."""
        for fid, reason in blocked.items():
            if self._blocked.get(fid) != reason:
                path = self.entries[fid].path
                log.warning("not writing %s from a peer: %s", path[:200], reason)
                self.store.set_unsynced(printable_path(path), NOT_HERE + reason)
        for fid in set(self._blocked) - set(blocked):
            e = self.entries.get(fid)
            if e is not None:
                self.store.set_unsynced(printable_path(e.path), None)
        self._blocked = blocked

    def _case_collisions(self, layout: dict[str, str]) -> dict[str, str]:
        """On a file system that ignores case, paths differing only in case are one file: the
        one already here (else the smallest id) keeps it; each other is reported, not written,
        and never deleted. Returns blocked id -> the path that holds its place."""
        holder: dict[str, str] = {}
        blocked = {}
        for fid in sorted(layout, key=lambda f: (f not in self.files, f)):
            key = layout[fid].casefold()
            if key in holder:
                blocked[fid] = holder[key]
            else:
                holder[key] = layout[fid]
        return blocked

    def _path_problem(self, path: str) -> str | None:
        """Why a peer's path cannot be used here, or None. Memoised: layouts are recomputed
        after every batch of a large sync, and the rules depend on the path alone."""
        if path in self._path_checks:
            return self._path_checks[path]
        problem = None
        try:
            check_remote_path(path)  # (local ignore rules decide what is picked up, not this)
            if ON_WINDOWS:
                problem = windows_problem(path)
        except UnsafePath as exc:
            problem = str(exc)
        self._path_checks[path] = problem
        return problem

    def _materialize(self, fids: set[str]) -> None:
        """Bring the disk in line with the CRDT state for these notes (and any whose place moved)."""
        layout, seen = self.layout(), self._layout_version
        todo = set(fids) | self._misplaced(layout)
        queue = sorted(todo)  # a heap: id order keeps every device's choices the same
        failed: set[str] = set()
        while queue:
            fid = heapq.heappop(queue)
            todo.discard(fid)
            if self._layout_version != seen:
                # A local edit read during this pass revived a deleted note (edit wins): places
                # may have changed, so lay out again before writing anything more.
                layout, seen = self.layout(), self._layout_version
                for extra in self._misplaced(layout) - failed - todo:
                    todo.add(extra)
                    heapq.heappush(queue, extra)
            try:
                target = layout.get(fid)
                row = self.files.get(fid)
                if fid in self._blocked or fid in self.held:
                    continue  # reported by the layout, or a held deletion: the disk stays as it is
                if target is None:
                    if row is not None and fid in self.entries:
                        self._remove_local(fid, row)
                else:
                    self._write_local(fid, target, row)
            except (UnsafePath, OSError) as exc:
                failed.add(fid)
                retry = fid in self.failed_writes or fid in self._failed_before
                self.failed_writes.add(fid)  # (a full disk, a folder in the way): retried later
                self._failed_before.add(fid)
                self.stats["sync_errors"] += 1
                path = self.entries[fid].path if fid in self.entries else fid
                (log.debug if retry else log.warning)("could not write %s: %s", printable_path(path)[:200], exc)
                self.store.set_unsynced(printable_path(path), f"{NOT_HERE}{exc}")

    def _misplaced(self, layout: dict[str, str]) -> set[str]:
        return {fid for fid, row in self.files.items() if not fid.startswith("u") and layout.get(fid) != row.path}

    def _local_changed(self, row: FileRow) -> tuple[bytes, Stat] | None:
        """The disk content of `row` if the user changed it since we last read or wrote it."""
        path = self.root.joinpath(*row.path.split("/"))
        st = stat_of(path)
        if st is None or st.key == row.stat:
            return None
        data = path.read_bytes()
        if content_hash(data) == row.hash:
            self._record(row.file_id, row.path, st, row.hash, row.base)
            return None
        return data, st

    def _absorb_local_edit(self, row: FileRow) -> bool:
        """Read, merge, then write: pull in an unseen local edit before touching the file."""
        changed = self._local_changed(row)
        if changed is None:
            return False
        data, st = changed
        self._touched[row.path] = self._now  # someone wrote it just now and may still be writing
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        if not text and self.text(row.file_id):
            self._unsettled.setdefault(row.path, self._now)  # maybe mid-save: `settle` decides
            return False
        self._local_edit(row, text, st, content_hash(data))
        return True

    def _busy(self, fid: str, *paths: str) -> bool:
        """Someone may still be writing at one of these paths (an editor mid-save, a program
        holding the file open, a user saving every few seconds): hold the disk write back
        until the path has been quiet for SETTLE_S. Replacing the file now would swallow
        the writer's pending output (its handle points at the replaced file)."""
        if (
            fid in self._vanished
            or any(p in self._unsettled for p in paths)
            or any(self._now - self._touched.get(p, -SETTLE_S) < SETTLE_S for p in paths)
        ):
            self._deferred.add(fid)
            return True
        return False

    def _remove_local(self, fid: str, row: FileRow) -> None:
        if self._absorb_local_blob(row) if self._is_blob(row) else self._absorb_local_edit(row):
            return  # edited here after the delete: the edit wins and the note stays
        if self._busy(fid, row.path):
            return
        path = self.root.joinpath(*row.path.split("/"))
        if path.exists() and not path.is_symlink():
            path.unlink()
            prune_empty_dirs(self.root, path.parent)
        self._forget(fid)

    def _write_local(self, fid: str, target: str, row: FileRow | None) -> None:
        entry = self.entries.get(fid)
        if entry is not None and entry.kind == "blob":
            self._write_blob(fid, target, row)
            return
        doc = self._doc(fid)
        if doc is None:
            return
        if row is not None:
            self._absorb_local_edit(row)
            row = self.files.get(fid)
        if self._busy(fid, target, *([row.path] if row is not None else [])):
            return
        dst = safe_target(self.root, target)
        if not (row is not None and row.path == target) and stat_of(dst) is not None and self._vacate(fid, target):
            row = self.files.get(fid)
        if row is not None and row.path != target:  # renamed or moved elsewhere
            src = self.root.joinpath(*row.path.split("/"))
            if src.exists() and not dst.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.rename(src, dst)
                prune_empty_dirs(self.root, src.parent)
                st = stat_of(dst)
                if st is not None:
                    self._record(fid, target, st, row.hash, row.base)
                    row = self.files[fid]
        occupant = stat_of(dst)
        known = row is not None and row.path == target
        if occupant is not None and not known:
            self._merge_occupant(fid, doc, target, dst)
        text = notes.text_of(doc)
        data = text.encode("utf-8")
        h = content_hash(data)
        row = self.files.get(fid)
        if row is not None and row.path == target and row.hash == h and stat_of(dst) is not None:
            self._record(fid, target, stat_of(dst), h, notes.frontiers(doc))  # type: ignore[arg-type]
            return
        st = atomic_write(self.root, dst, data, self._write_batch)
        self.stats["files_written"] += 1
        self.store.set_unsynced(target, None)
        if row is not None and row.path != target:
            old = self.root.joinpath(*row.path.split("/"))
            if old.exists() and not self._local_changed(row):
                old.unlink()
                prune_empty_dirs(self.root, old.parent)
        self._record(fid, target, st, h, notes.frontiers(doc))

    def _vacate(self, fid: str, target: str) -> bool:
        """The file at `target` is another tracked note's that no longer belongs there (it was
        renamed elsewhere, lost the name to a concurrent rename, or was deleted): move or remove
        it first, so it is not mistaken for a local copy of `fid` and merged into it.
        Returns True if `target` was freed."""
        other = self._fid_at.get(target)
        if other is None or other == fid or other.startswith("u"):
            return False  # an untracked file or a pre-pairing copy: _merge_occupant handles those
        place = self.layout().get(other)
        if place is None and other in self.entries:
            self._remove_local(other, self.files[other])  # keeps it if edited here (edit wins)
            if stat_of(self.root.joinpath(*target.split("/"))) is None:
                return True
            place = self.layout().get(other)  # the edit brought it back: it may belong elsewhere
        if place is None or place == target or other not in self.files:
            return False
        self._absorb_local_edit(self.files[other])
        orow = self.files.get(other)
        if orow is None or orow.path != target:
            return stat_of(self.root.joinpath(*target.split("/"))) is None
        if self._local_changed(orow) is not None:
            return False  # not text: never delete it
        src = self.root.joinpath(*target.split("/"))
        dst = safe_target(self.root, place)  # refuse before touching anything
        if stat_of(dst) is None:
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.rename(src, dst)
            st = stat_of(dst)
            if st is not None:
                self._record(other, place, st, orow.hash, orow.base)
                self._write_local(other, place, self.files[other])  # shows any newer note text
            return True
        # Its place is taken too (a chain or cycle of renames). Its content is in its note:
        # drop the file and write the note at its place. Each step removes a tracked file,
        # so this terminates.
        src.unlink()
        self._forget(other)
        self._write_local(other, place, None)
        return True

    def _merge_occupant(self, fid: str, doc: LoroDoc, target: str, dst: Path) -> None:
        """A file we don't know as this note sits where it belongs (created here meanwhile, or
        a local copy from before pairing): identical text is adopted, different text merged in."""
        try:
            local = dst.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise UnsafePath(f"{target} is a binary file here; the note was not written over it") from None
        other = self._fid_at.get(target)
        pre = self._doc(other) if other and other.startswith("u") else None
        if local != notes.text_of(doc) and (pre is not None or self._written_version(fid, doc, local) is None):
            before = notes.vv_bytes(doc)
            if pre is not None:
                notes.apply(doc, notes.updates_since(pre, None))
            else:
                notes.merge_foreign_text(doc, local, self.session_peer)
            self._save(fid, doc)
            self._mark_pending(fid, before)
        if other is not None:
            self._forget(other)
            if other.startswith("u"):
                self.store.delete_doc(other)
                self._cache.discard(other)

    def _written_version(self, fid: str, doc: LoroDoc, text: str, base: bytes = b"") -> bytes | None:
        """A recent version of the note, later than `base` (what the disk was known to show),
        whose text is `text`; None if there is none. A kill -9 between writing a note's file
        and committing that it is written leaves the file showing a version this device wrote
        but never recorded; if updates arrive before the file is looked at again, it is
        neither a local edit (diffed against `base`) nor a foreign copy (merged in): either
        would add its text to the note a second time."""
        if base == notes.frontiers(doc):
            return None  # nothing arrived since the disk was written: an ordinary edit
        try:
            since = notes.vv_at(doc, base) if base else None
            for _, frontiers, _, _ in reversed(self.store.versions(fid)[-16:]):
                if since is not None and notes.includes(since, notes.vv_at(doc, frontiers)):
                    continue  # the disk showed that one already: going back to it is an edit
                if notes.text_at(doc, frontiers) == text:
                    return frontiers
        except CrdtError:
            pass
        return None

    # ================================================================== publishing
    def publish_pending(self) -> int:
        """After the first sync with a peer: announce notes imported before pairing that the
        peer's vault did not already hold. Stale copies of notes deleted elsewhere are dropped."""
        if self.published:
            return 0
        n = 0
        with self._batch():
            tombstoned = defaultdict(list)
            for e in self.entries.values():
                if not self.is_live(e):
                    tombstoned[e.path].append(e.file_id)
            for ufid, row in list(self.files.items()):
                if not ufid.startswith("u"):
                    continue
                doc = self._doc(ufid)
                if doc is None:
                    continue
                text = notes.text_of(doc)
                if any(self.text(t) == text for t in tombstoned.get(row.path, [])):
                    path = self.root.joinpath(*row.path.split("/"))
                    if not self._local_changed(row) and path.exists():
                        path.unlink()
                        prune_empty_dirs(self.root, path.parent)
                    self._drop_unpublished(ufid)
                    continue
                fid = self._alloc_id(row.path)
                existing = self._doc(fid)
                if existing is not None:
                    notes.apply(existing, notes.updates_since(doc, None))
                    doc = existing
                self._save(fid, doc)
                self._mark_pending(fid, None)
                before = self.index.vv()
                self.index.put(fid, row.path)
                self._index_changed(fid, before)
                self._drop_unpublished(ufid)
                self._record(fid, row.path, Stat(*row.stat), row.hash, notes.frontiers(doc))
                n += 1
            self.published = True
            self.store.set_meta("published", 1)
        return n

    def _drop_unpublished(self, ufid: str) -> None:
        self._forget(ufid)
        self.store.delete_doc(ufid)
        self._cache.discard(ufid)

    # ================================================================== outgoing
    def pending(self) -> set[str]:
        """Keys (note ids, and INDEX for the vault index) with local changes not yet pushed."""
        return set(self._pending)

    def clear_pending(self) -> None:
        self._pending.clear()

    def take_pending(self, keys: set[str] | None = None) -> list[m.IndexUpdates | m.DocUpdates]:
        """Local changes since they were last taken (all, or just `keys`), as messages for peers."""
        keys = set(self._pending) if keys is None else keys & set(self._pending)
        out: list[m.IndexUpdates | m.DocUpdates] = []
        if INDEX in keys:
            blob = self.index.updates_since(self._pending[INDEX] or b"")
            if blob:
                out.append(m.IndexUpdates(blob))
        docs = []
        for fid in sorted(keys - {INDEX}):
            doc = self._doc(fid)
            if doc is not None:
                docs.append((bytes.fromhex(fid), notes.updates_since(doc, self._pending[fid])))
        out.extend(m.DocUpdates(tuple(batch)) for batch in m.batch_updates(docs))
        for k in keys:
            del self._pending[k]
        return out

    # ================================================================== Replica protocol
    def index_vv(self) -> bytes:
        return self.index.vv()

    def index_updates_since(self, vv: bytes) -> bytes | None:
        return self.index.updates_since(vv)

    def bucket_digests(self) -> bytes:
        return b"".join(d.to_bytes(8, "big") for d in self._buckets)

    def doc_versions(self, buckets: bytes) -> list[tuple[bytes, bytes]]:
        wanted = set(buckets)
        return [(bytes.fromhex(fid), vv) for fid, vv in self._vvs.items() if int(fid[:2], 16) in wanted]

    def doc_batches(self, buckets: bytes, peer_versions: dict[bytes, bytes]) -> Iterator[list[tuple[bytes, bytes]]]:
        """What the peer lacks in these buckets, in priority order: notes modified in the last
        hour, then the last day, then the rest (the spec's incremental sync), so the notes a
        person works on arrive first even in a 10,000-file vault. Updates are computed a batch
        at a time, as the peer acknowledges, so memory stays flat whatever the vault size."""
        now_ns = time.time_ns()
        plan = []
        for raw_id, vv in self.doc_versions(buckets):
            theirs = peer_versions.get(raw_id)
            try:
                if theirs is not None and notes.includes(theirs, vv):
                    continue
            except CrdtError as exc:
                log.warning("peer sent a bad version for note %s: %s", raw_id.hex(), exc)
                continue
            row = self.files.get(raw_id.hex())
            mtime = row.mtime_ns if row is not None else 0
            plan.append((priority_tier(now_ns - mtime), -mtime, raw_id, theirs))
        plan.sort()
        self.stats["sync_queued"] = len(plan)
        batch: list[tuple[bytes, bytes]] = []
        size, tier = 0, plan[0][0] if plan else 0
        for t, _, raw_id, theirs in plan:
            if batch and (t != tier or len(batch) >= BATCH_DOCS or size >= BATCH_BYTES):
                yield batch
                batch, size = [], 0
            tier = t
            self.stats["sync_queued"] -= 1
            fid = raw_id.hex()
            try:
                # A peer without the note gets a snapshot: it imports in milliseconds where
                # replaying a long history of big rewrites can take Loro tens of seconds.
                # The stored one goes as it is, without loading the note at all.
                if theirs is None and not self._cache.is_dirty(fid):
                    blob = self.store.load_doc(fid)
                else:
                    doc = self._cache.get(fid, keep=False)
                    blob = None if doc is None else notes.snapshot(doc) if theirs is None else notes.updates_since(doc, theirs)
                if blob is None:
                    continue
            except CrdtError as exc:
                log.warning("peer sent a bad version for note %s: %s", raw_id.hex(), exc)
                continue
            batch.append((raw_id, blob))
            size += len(blob)
        if batch:
            yield batch

    def local_addrs(self) -> list[str]:
        return self.addrs

    def accept_pairing(self, peer: str, vault_id: bytes, secret: bytes) -> bool:
        if vault_id != self.vault_id or not self.store.redeem_invite(secret, peer, time.time()):
            return False
        with self._batch():
            self.store.add_peer(peer, [])
            if peer in self.index.forgotten():  # removed before, invited again: readmitted everywhere
                before = self.index.vv()
                self.index.readmit_device(peer)
                self._pending.setdefault(INDEX, before)
                self._index_unsaved = True
        return True

    # ================================================================== status
    def cache_stats(self) -> dict[str, float]:
        c = self._cache
        return {
            "docs_cached": len(c),
            "cache_mb": round(c.bytes / 2**20, 2),
            "cache_hit_rate": round(c.hit_rate, 4),
            "cache_evictions": c.evictions,
        }

    def counts(self) -> dict[str, int]:
        live = sum(1 for e in self.entries.values() if self.is_live(e))
        unpublished = sum(1 for f in self.files if f.startswith("u"))
        return {"tracked": live + unpublished, "deleted": len(self.entries) - live}


def _under_any(path: str, rels: set[str]) -> bool:
    """`path` is one of `rels` or inside one (a folder): O(depth), not O(len(rels))."""
    if path in rels:
        return True
    parts = path.split("/")
    return any("/".join(parts[:i]) in rels for i in range(1, len(parts)))
