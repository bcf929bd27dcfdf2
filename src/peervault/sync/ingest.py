"""Local ingest: changed paths -> read -> record as note edits, creates, renames, deletes.

Two ways in: a full pass over the folder (`reconcile`, cheap by size and mtime unless
something changed), and the paths the watcher reports (`local_paths`), with the moves
it saw. Renames come first, exactly where the watcher saw them and by inode or
unambiguous content where it did not (sync/renames.py), so a note keeps its history;
what is still missing is then deleted (or held, see deletions.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from ..crdt.index import file_id_for
from ..vault.fsops import Stat, content_hash, stat_of
from ..vault.ignore import IGNORE_FILE
from . import deletions, ignorehere, localedits, notemaker, writeback
from .binaries import ingest_blob, is_blob
from .blobwrite import finish_moves
from .documents import batch, text
from .ignorehere import ignores, refresh_rules, scan, walk
from .layout import IGNORED_HERE, NOT_HERE
from .notemaker import NoteMaker
from .renames import pair_renames
from .tracked import abs_path, check_vault, digest_at, record, recorded_stat, row_at

if TYPE_CHECKING:
    from .enginestate import EngineState


def _mb(n: int) -> str:
    """A size limit as a person reads it: `1 GB`, `100 MB`, `97.7 KB` (not `0.0953674 MB`)."""
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= size:
            return f"{round(n / size, 1):g} {unit}"
    return f"{n} bytes"


# Files per step of a background import: each step ends with one transaction and one save
# of the whole index (O(vault)), so small steps make an import quadratic; 1,024 files is
# about 0.3 s of work on a 2-core machine, the longest the event loop waits for a step.
IMPORT_CHUNK = 1024


def reconcile(s: EngineState) -> int:
    """Full pass over the folder: cheap (size+mtime) unless something changed. Returns changes."""
    return sum(reconcile_steps(s, chunk=None))


def reconcile_steps(
    s: EngineState, chunk: int | None = IMPORT_CHUNK, planned: Callable[[int], None] | None = None
) -> Iterator[int]:
    """`reconcile` cut into steps of `chunk` changed files (changes per step), so a daemon
    starting on a large vault is ready at once and imports in the background without
    stalling its peers. Deletions wait for the last step: a file missing from its old
    path may turn up in a later step under a new one (a rename). `planned` is told how
    many files the pass looks at, once the walk has found them (a first import's progress)."""
    check_vault(s)
    finish_moves(s)  # a crash's half-kept binary versions first: undoing one touches its vault file
    refresh_rules(s)
    # The folder walked one file at a time, keeping only what differs from its row: a warm
    # start keeps no Stat of an unchanged file (11,000 files: about 10 MB less RSS).
    found: dict[str, Stat] = {}
    seen: set[str] = set()  # ids of the rows whose path was found
    for rel, st in walk(s, met=seen):  # (filled as it walks: see `walk`)
        fid = s.file_id_at.get(rel)
        row = None if fid is None else s.files.get(fid)
        if row is not None and row.path == rel:
            seen.add(row.file_id)
            if row.stat == st.key:
                continue
        found[rel] = st
    changed = sorted(found, key=lambda rel: _id_order(s, rel))
    gone = {fid for fid in s.files if fid not in seen}  # (none ignored here: see ignorehere.apply)
    if planned is not None:
        planned(len(changed))
    # Renames are paired over the whole pass, not per step (a content shared by two new
    # files in different steps is ambiguous, whichever step sees one of them first), and
    # carried out first: a path a note left may hold a new file, read in some step.
    looked_at = set(changed) | {s.files[f].path for f in gone}
    yield _rename_unseen(s, found, gone)
    step = chunk or max(len(changed), 1)
    parts = [changed[i : i + step] for i in range(0, len(changed), step)]
    new = [sorted(r for r in part if r not in s.file_id_at and found[r].size <= s.cfg.text_max_bytes) for part in parts]
    maker = notemaker.for_import(s) if s.published and sum(map(len, new)) >= notemaker.MIN_FILES else None
    if maker is not None:  # in the order the steps look at them: the worker reads ahead
        maker.send([rel for rels in new for rel in rels])
    try:
        for i, part in enumerate(parts):
            yield ingest(s, {rel: found[rel] for rel in part}, gone, final=True, delete_gone=False, paired=True, maker=maker)
            if maker is not None:
                maker.forget(new[i])
    finally:
        if maker is not None:
            maker.close()
    changes = ingest(s, {}, gone, final=True, paired=True)
    writeback.write_into(s, looked_at)
    yield changes


def _id_order(s: EngineState, rel: str) -> str:
    """A step's files by the id their rows are keyed by: note ids are hashes, so steps cut
    in path order each touch every page of the `docs`, `files` and `versions` indexes (at
    50,000 files most of them per commit); in id order each step writes a narrow range."""
    fid = s.file_id_at.get(rel)
    return fid if fid is not None else file_id_for(rel)


def local_paths(s: EngineState, rels: set[str], moves: Sequence[tuple[str, str]] = (), write_into: bool = True) -> int:
    """Look again at these paths (files or folders, present or gone), at time `s.now`. See
    `Engine.local_paths`. Returns changes."""
    rels = set(rels)
    changes = _apply_moves(s, moves, rels) if moves else 0
    rules_changed = IGNORE_FILE in rels and refresh_rules(s)
    present: dict[str, Stat] = {}
    for rel in rels:
        p = s.root.joinpath(*rel.split("/"))
        if p.is_dir() and not p.is_symlink():
            present.update(scan(s, rel))
        elif not ignores(s, rel) and (st := stat_of(p)) is not None and not p.is_symlink():
            present[rel] = st
    gone = set()
    for rel in rels:
        if rel in s.file_id_at:
            candidates = [s.file_id_at[rel]]
        else:  # perhaps a folder that went away: everything tracked under it
            prefix = rel + "/"
            candidates = [fid for path, fid in s.file_id_at.items() if path.startswith(prefix)]
        for fid in candidates:
            if stat_of(s.root.joinpath(*s.files[fid].path.split("/"))) is None:
                gone.add(fid)
    changes += ingest(s, present, gone, s.now)
    if rules_changed:
        changes += reconcile(s)  # files a rule no longer keeps out are picked up now
        writeback.recover(s)  # and notes a rule of this device's no longer keeps out are written
    if write_into:
        writeback.write_into(s, freed_by(rels, moves))
    return changes


def freed_by(rels: set[str], moves: Sequence[tuple[str, str]]) -> set[str]:
    """The paths a local change may have freed for a note waiting to be written there."""
    return rels | {src for src, _ in moves}


def _apply_moves(s: EngineState, moves: Sequence[tuple[str, str]], rels: set[str]) -> int:
    """Carry each tracked file a move took along (a folder move takes every file under
    it) to its new path, and add to `rels` what must be looked at again: the new paths
    (an edit may have come with the move), and a move's source that was not tracked.
    A move onto a tracked note (an editor saving through a temp file renamed over it) is
    an edit of that note: the note keeps its identity, the moved one's file is gone. A
    move into a path ignored on this device moves the note on every device (nothing is
    deleted anywhere), then sets its file aside here (sync/ignorehere.py)."""
    changes = 0
    aside: set[str] = set()
    inodes: dict[tuple[int, int], str] = {}  # tracked files by inode, read once if needed
    with batch(s):
        for src, dst in moves:
            rels.add(dst)
            if src in s.file_id_at:
                carried = [(src, dst)]
            else:
                prefix = src + "/"
                carried = [(p, dst + p[len(src) :]) for p in sorted(s.file_id_at) if p.startswith(prefix)]
            for old, new in carried:
                fid = s.file_id_at[old]
                if _holds_another(s, fid, new, inodes):
                    rels.update((old, new))  # not this note's file: looked at as it is (by inode)
                    continue
                if s.ignore.ignored_here(new) and not s.ignore.ignores_synced(new) and new not in s.file_id_at:
                    localedits.local_rename(s, fid, new, recorded_stat(s.files[fid]))
                    aside.add(fid)
                    changes += 1
                    continue
                if ignores(s, new) or new in s.file_id_at:
                    rels.update((old, new))  # old is gone (a delete after settling); new looked at
                    continue
                s.vanished.pop(fid, None)
                localedits.local_rename(s, fid, new, recorded_stat(s.files[fid]))
                changes += 1
        if aside:
            ignorehere.set_aside(s, aside)
    return changes


def _holds_another(s: EngineState, fid: str, rel: str, inodes: dict[tuple[int, int], str]) -> bool:
    """Whether the file at `rel` is, by its inode, another tracked note's file: then a move
    cannot have carried this note there (it was deleted, and the other renamed onto its
    name, before the move and unseen). An inode new here may be this note saved through a
    temp file: carried, as the move says. `inodes` is filled at the first mismatch (rare:
    reading every row for each file of a folder move would cost the vault's size)."""
    st = stat_of(abs_path(s, rel))
    row = s.files[fid]
    if st is None or not st.ino or (st.dev, st.ino) == (row.dev, row.ino):
        return False
    if not inodes:
        inodes.update(((r.dev, r.ino), f) for f, r in s.files.items() if r.ino)
    return inodes.get((st.dev, st.ino), fid) != fid


def ingest_paths(s: EngineState, rels: set[str], now: float) -> int:
    present = {r: st for r in rels if not ignores(s, r) and (st := stat_of(s.root.joinpath(*r.split("/")))) is not None}
    gone = {s.file_id_at[r] for r in rels if r in s.file_id_at and r not in present}
    return ingest(s, present, gone, now, final=True)


def _rename_unseen(s: EngineState, changed: dict[str, Stat], gone: set[str]) -> int:
    """Carry out the renames the watcher did not report (see sync/renames.py) among these
    changed paths; the notes found renamed leave `gone`. Candidates: the files gone, those
    still waiting out their settle, and, by inode alone, those whose path now holds another
    file (renamed away while a new file took the name, as a new `Untitled.md` does)."""
    new = {r: st for r, st in changed.items() if r not in s.file_id_at}
    replaced_at = {
        r: st
        for r, st in changed.items()
        if (row := row_at(s, r)) is not None and row.ino and (row.dev, row.ino) != (st.dev, st.ino)
    }
    candidates = {
        f: s.files[f]
        for f in gone | set(s.vanished)
        if f in s.files and (f in gone or stat_of(abs_path(s, s.files[f].path)) is None)  # (a save brought it back)
    }
    replaced = {s.file_id_at[r]: s.files[s.file_id_at[r]] for r in replaced_at}
    if not (new or replaced_at) or not (candidates or replaced):
        return 0
    blobs = {f for f in (*candidates, *replaced) if is_blob(s, s.files[f])}
    renames = pair_renames(candidates, new, lambda rel, blob: digest_at(s, rel, blob), blobs, replaced, replaced_at)
    # A file renamed onto a tracked name is an edit of the note there (as a watched move
    # is), unless that note moved on too (a swap, a cycle of names).
    while bad := {r for r in renames if r in s.file_id_at and s.file_id_at[r] not in renames.values()}:
        for r in bad:
            del renames[r]
    with batch(s):
        for fid in renames.values():  # free every old name first: names may be swapped
            del s.file_id_at[s.files[fid].path]
        for rel, fid in sorted(renames.items()):
            gone.discard(fid)
            s.vanished.pop(fid, None)
            deletions.release_held(s, {fid})
            localedits.local_rename(s, fid, rel, recorded_stat(s.files[fid]))  # stat kept: read again
    return len(renames)


def ingest(
    s: EngineState,
    present: dict[str, Stat],
    gone: set[str],
    now: float | None = None,
    final: bool = False,
    delete_gone: bool = True,
    paired: bool = False,
    maker: NoteMaker | None = None,
) -> int:
    """Record local changes. `now` is given for what the watcher reported: a file that
    vanished or emptied then waits out its settle (see settle.py), unless `final`
    (start-up, periodic reconcile, settle): whatever is missing now is deleted. `gone`
    loses the notes found renamed (unless `paired`: the caller did that); with
    `delete_gone` False the rest are left for a later call. A `maker` has read the new files
    ahead (sync/notemaker.py): its answers are used where they are exact."""
    grace = now is not None and not final
    changes = 0 if paired else _rename_unseen(s, present, gone)
    root = os.fspath(s.root)
    with batch(s):
        for rel in sorted(present):
            row = row_at(s, rel)
            st = present[rel]
            if row is not None:
                s.vanished.pop(row.file_id, None)  # it came back: a save, not a delete
                deletions.release_held(s, {row.file_id})  # put back by hand: synced as it is now
            if row is not None and row.stat == st.key:
                continue
            if st.size > s.cfg.max_file_bytes:
                s.store.set_unsynced(rel, f"larger than the {_mb(s.cfg.max_file_bytes)} limit (max_file_bytes)")
                continue
            if st.size > s.cfg.text_max_bytes or is_blob(s, row):
                changes += ingest_blob(s, rel, row, st, now)
                continue
            if grace and row is None and not st.size:
                # a new file seen between its creation and its first write (open with O_TRUNC,
                # then write): published only if still empty after its settle, so that no
                # peer sees an empty note that was never one
                s.unsettled.setdefault(rel, now)  # type: ignore[arg-type]
                continue
            if row is None and maker is not None and (looked := maker.get(rel)) is not None and looked.key == st.key:
                if (done := localedits.create_looked(s, rel, st, now, looked)) is not None:
                    changes += done
                    continue
            try:
                with open(f"{root}/{rel}", "rb") as f:  # (a string: a Path per file cost 0.2 s of CPU in 11,000)
                    data = f.read()
            except OSError:
                continue  # vanished or unreadable: the next event or reconcile sees it
            try:  # first: a binary file fails at its first bytes, and is hashed once, as a blob
                new = data.decode("utf-8")
            except UnicodeDecodeError:
                changes += ingest_blob(s, rel, row, st, now, data=data)  # hashed from the bytes read
                continue
            h = content_hash(data)
            if row is not None and row.hash == h:
                record(s, row.file_id, rel, st, h, row.base)
                continue
            if now is not None:
                s.touched[rel] = now
            if grace and not new and row is not None and text(s, row.file_id):
                s.unsettled.setdefault(rel, now)  # type: ignore[arg-type]
                continue
            s.unsettled.pop(rel, None)
            s.store.set_unsynced(rel, None)
            changes += 1
            if row is not None:
                localedits.local_edit(s, row, new, st, h)
            else:
                localedits.local_create(s, rel, new, st, h)
        if delete_gone and grace:
            for fid in gone:
                s.vanished.setdefault(fid, now)  # type: ignore[arg-type]
        elif delete_gone:
            changes += deletions.delete_or_hold(s, gone - set(s.held), s.now if now is None else now)
        for rel, reason in list(s.store.unsynced().items()):
            if not reason.startswith((NOT_HERE, IGNORED_HERE)) and stat_of(s.root.joinpath(*rel.split("/"))) is None:
                s.store.set_unsynced(rel, None)  # a local file that is gone: nothing to report
    s.stats["local_changes"] += changes
    return changes
