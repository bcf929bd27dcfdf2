"""Layout: where each live note belongs on disk, decided the same way on every device.

Two live notes on one path (concurrent renames onto one name) are twins: the smallest
id keeps the name, the others get `name (id6).ext`. A path this device cannot hold
(refused as unsafe, a name Windows forbids, a case collision where the file system
ignores case) is blocked: reported by `status`, never written and never removed. A
path this device's own rules ignore (`.peervault/ignore`) is left out too, and listed
as ignored here; a file this device had for such a note elsewhere (a peer moved the
note into an ignored folder) is removed as in any move (sync/ignorehere.py).
"""

from __future__ import annotations

import logging
import sys
from collections import defaultdict
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from ..errors import UnsafePath
from ..vault.ignore import forget_checked_names
from ..vault.paths import check_remote_path, printable_path, windows_problem
from .documents import is_live

if TYPE_CHECKING:
    from .enginestate import EngineState

log = logging.getLogger(__name__)

ON_WINDOWS = sys.platform == "win32"  # names Windows cannot hold are reported, not written
NOT_HERE = "cannot be written here: "  # status reasons about peers' notes (not local files)
IGNORED_HERE = "ignored on this device (.peervault/ignore)"


def layout(s: EngineState) -> dict[str, str]:
    """Where each live note belongs on disk. Duplicate live paths (rare: concurrent
    renames onto one name) resolve deterministically: the smallest id keeps the name.
    Cached until an index entry changes or a note appears or may come back to life."""
    if s.layout_cache[0] != s.layout_version:
        s.layout_new.clear()
        s.layout_cache = (s.layout_version, _compute(s))
    elif s.layout_new:
        added = _add_new(s, s.layout_cache[1])
        if added is None:  # not simply new names: lay everything out again
            s.layout_version += 1
            return layout(s)
        if s.misplaced_for is s.layout_cache[1]:  # only the notes added may have moved (_add_new)
            s.misplaced_for = added
        s.layout_cache = (s.layout_version, added)
    return s.layout_cache[1]


def _add_new(s: EngineState, places: dict[str, str]) -> dict[str, str] | None:
    """Notes that just appeared (their first version arrived; documents.save), added to the
    layout without laying out the whole vault again: once per catch-up batch, that made an
    initial sync of 50,000 notes quadratic. Only where the full pass would give the same
    answer: a live note on a path nothing holds and nothing refuses; anything else (a
    twin, a case collision, a blocked path) returns None for the full pass."""
    new, s.layout_new = s.layout_new, set()
    taken = _taken(s, places)
    out = dict(places)
    for fid in sorted(new):
        e = s.entries.get(fid)
        if e is None or fid in out or fid not in s.versions.vvs or not is_live(s, e):
            continue  # not laid out, as in the full pass (or laid out already)
        if s.ignore.ignored_here(e.path):
            if s.ignored_here.get(fid) != e.path:
                s.store.set_unsynced(printable_path(e.path), IGNORED_HERE)
                s.ignored_here[fid] = e.path
            continue
        key = e.path.casefold() if s.case_insensitive else e.path
        if key in taken or _path_problem(s, e.path) is not None:
            return None
        out[fid] = e.path
        taken.add(key)
        s.misplaced_check.add(fid)
    return out


def misplaced(s: EngineState, places: dict[str, str]) -> set[str]:
    """Notes whose file here is not where `places` puts them (a new copy). Worked out in
    full once per layout, then kept up to date from the notes whose file row changed or
    that the layout gained since (`s.misplaced_check`): walking every file row on each
    batch of an initial sync made it quadratic. `misplaced_full` is the reference."""
    if s.misplaced_for is not places:
        s.misplaced_for, s.misplaced_ids = places, misplaced_full(s, places)
    else:
        for fid in s.misplaced_check:
            row = s.files.get(fid)
            if row is not None and not fid.startswith("u") and places.get(fid) != row.path:
                s.misplaced_ids.add(fid)
            else:
                s.misplaced_ids.discard(fid)
    s.misplaced_check.clear()
    return set(s.misplaced_ids)


def forget_misplaced(s: EngineState) -> None:
    """After a burst (a first import: every file row new, none checked since) drop what
    `misplaced` keeps between layouts (11,004 ids: 0.5 MB); its next call works it out in
    full, once."""
    s.misplaced_for, s.misplaced_ids, s.misplaced_check = None, set(), set()


def misplaced_full(s: EngineState, places: dict[str, str]) -> set[str]:
    """Read from `file_id_at`, the inverse of the file rows' paths (tracked.record/forget keep
    it so): unpacking every packed row instead took 20-30 ms at 11,004 files, on the first
    write from a peer after each start or burst; this takes 2."""
    return {fid for path, fid in s.file_id_at.items() if not fid.startswith("u") and places.get(fid) != path}


def _compute(s: EngineState) -> dict[str, str]:
    """Also decides `blocked`: notes that cannot be written here (a refused path, a case
    collision). They are listed by `status` and left alone: never written, never removed,
    so a peer's rename to a bad path cannot delete the file here either."""
    by_path: dict[str, list[str]] = defaultdict(list)
    blocked: dict[str, str] = {}
    ignored: dict[str, str] = {}
    for fid, e in s.entries.items():
        if (fid in s.versions.vvs or e.kind == "blob") and is_live(s, e):
            if s.ignore.ignored_here(e.path):
                ignored[fid] = e.path
                continue
            problem = _path_problem(s, e.path)
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
    if s.case_insensitive:
        for fid, holder in _case_collisions(s, out).items():
            blocked[fid] = f"differs only in case from {holder}, and this file system ignores case"
            del out[fid]
    _report_blocked(s, blocked)
    _report_ignored(s, ignored)
    s.layout_taken = None  # made when a note is next added (_taken)
    return out


def _taken(s: EngineState, places: dict[str, str]) -> set[str]:
    """The paths `places` holds (casefolded where case is ignored), made once per layout."""
    if s.layout_taken is None:
        s.layout_taken = {p.casefold() for p in places.values()} if s.case_insensitive else set(places.values())
    return s.layout_taken


def release_memory(s: EngineState) -> None:
    """Once idle: drop what only speeds up the next layouts and path checks (made again when
    needed): the paths the layout holds and the ignore rules' names (11,004 files: 1.3 MB).
    The checks of peers' paths stay: each layout after a shed would check every path again
    (11,004 files: 30 ms, for 0.4 MB)."""
    s.layout_taken = None
    forget_checked_names()


def _report_blocked(s: EngineState, blocked: dict[str, str]) -> None:
    """Keep `status`'s list of notes that cannot be written here current."""
    for fid, reason in blocked.items():
        if s.blocked.get(fid) != reason:
            path = s.entries[fid].path
            log.warning("not writing %s from a peer: %s", path[:200], reason)
            s.store.set_unsynced(printable_path(path), NOT_HERE + reason)
    for fid in set(s.blocked) - set(blocked):
        e = s.entries.get(fid)
        if e is not None:
            s.store.set_unsynced(printable_path(e.path), None)
    s.blocked = blocked


def _report_ignored(s: EngineState, ignored: dict[str, str]) -> None:
    """Keep `status`'s list of peers' notes ignored on this device current (id -> path)."""
    paths = set(ignored.values())
    for fid, path in s.ignored_here.items():
        if ignored.get(fid) != path and path not in paths:
            s.store.set_unsynced(printable_path(path), None)
    for fid, path in ignored.items():
        if s.ignored_here.get(fid) != path:
            s.store.set_unsynced(printable_path(path), IGNORED_HERE)
    s.ignored_here = ignored


def _case_collisions(s: EngineState, places: dict[str, str]) -> dict[str, str]:
    """On a file system that ignores case, paths differing only in case are one file: the
    one already here (else the smallest id) keeps it; each other is reported, not written,
    and never deleted. Returns blocked id -> the path that holds its place."""
    holder: dict[str, str] = {}
    blocked = {}
    for fid in sorted(places, key=lambda f: (f not in s.files, f)):
        key = places[fid].casefold()
        if key in holder:
            blocked[fid] = holder[key]
        else:
            holder[key] = places[fid]
    return blocked


def _path_problem(s: EngineState, path: str) -> str | None:
    """Why a peer's path cannot be used here, or None. Memoised: layouts are recomputed
    after every batch of a large sync, and the rules depend on the path alone."""
    if path in s.path_checks:
        return s.path_checks[path]
    problem = None
    try:
        check_remote_path(path)  # (local ignore rules decide what is picked up, not this)
        if ON_WINDOWS:
            problem = windows_problem(path)
    except UnsafePath as exc:
        problem = str(exc)
    s.path_checks[path] = problem
    return problem
