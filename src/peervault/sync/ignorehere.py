"""The ignore rules in the engine: what is picked up, and this device's own rules.

The synced rules (`.peervaultignore`) decide what is picked up, as in git: a file
synced before a rule matched it stays synced. This device's rules (`.peervault/ignore`,
never synced) go further and only ever concern this device. A path they match is:

* not read: a new file there is not sent, an edit there is not sent;
* not written: a peer's note at that path is not written here (the layout leaves it
  out, and `status` lists it as ignored here);
* never deleted because it is missing here: a tracked file whose path becomes
  ignored here is *set aside* (its row leaves the tracked files, remembered under
  SET_ASIDE_KEY), so neither its absence nor anything done to it here reaches a peer.

When a rule stops matching, a set-aside file that is still at its path and still that
note's place is tracked again with the version the disk showed when it was set aside
(its `base`) and a stat that can never match: the next look reads it, and an edit made
here meanwhile is diffed against that base and merged with the peers' edits like any
edit (nothing lost on either side); an untouched file simply shows the newest text.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from ..vault.fsops import Stat, stat_of
from ..vault.ignore import DEVICE_IGNORE_FILE, IGNORE_FILE, IgnoreRules
from ..vault.scanner import Walk
from ..vault.scanner import scan as scan_folder
from .tracked import abs_path, forget, record

if TYPE_CHECKING:
    from .enginestate import EngineState

log = logging.getLogger(__name__)

SET_ASIDE_KEY = "ignored_here_rows"  # meta: file id -> [path, hash hex, base hex]


def ignores(s: EngineState, rel: str) -> bool:
    """`rel` is not picked up: this device's rules match it, or the synced rules do and it
    is not a file synced before they did (a new synced rule never deletes it elsewhere)."""
    return s.ignore.ignored_here(rel) or (rel not in s.file_id_at and s.ignore.ignores_synced(rel))


def watch_ignores(s: EngineState, rel: str) -> bool:
    """What the watcher may drop: only what the synced rules keep out. Paths ignored here
    are still reported (and dropped by the engine), so a note moved into them is seen as
    a move, not as a file gone."""
    return rel not in s.file_id_at and s.ignore.ignores_synced(rel)


def scan(s: EngineState, under: str | None = None) -> dict[str, Stat]:
    """The files the rules let through, plus tracked files the synced rules now match."""
    return dict(walk(s, under))


def walk(s: EngineState, under: str | None = None, met: Collection[str] = ()) -> Iterator[tuple[str, Stat]]:
    """`scan` one file at a time (see vault/scanner.Walk). `met`: ids of the rows the caller
    met at their own path while walking (the walk yields no path its rules match): their
    paths are not asked again whether the rules match them (a warm start's 11,000 asks)."""
    files = Walk(s.root, s.ignore, under)
    yield from files
    if under is None:
        s.ignored = files.ignored
    prefix = "" if under is None else under + "/"
    # (a path the rules match was not walked: these are new to the walk)
    for path, fid in list(s.file_id_at.items()):
        if fid in met:
            continue
        if path.startswith(prefix) and s.ignore.ignores(path) and not s.ignore.ignored_here(path):
            st = stat_of(abs_path(s, path))
            if st is not None:
                yield path, st


def refresh_rules(s: EngineState) -> bool:
    """Reload both rules files; True if either changed (then applied: see `apply`)."""
    rules = IgnoreRules.load(s.root)
    if rules.same_as(s.ignore):
        return False
    which = [name for name, a, b in ((IGNORE_FILE, rules.user_rules, s.ignore.user_rules),
                                     (DEVICE_IGNORE_FILE, rules.device_rules, s.ignore.device_rules)) if a != b]  # fmt: skip
    s.ignore = rules
    log.info("ignore rules changed (%s)", ", ".join(which))
    s.layout_version += 1  # notes ignored here leave the layout, or come back into it
    apply(s)
    return True


def _load(s: EngineState) -> dict[str, list[str]]:
    raw = s.store.get_meta(SET_ASIDE_KEY)
    return json.loads(str(raw)) if raw else {}


def _save(s: EngineState, aside: dict[str, list[str]]) -> None:
    s.store.set_meta(SET_ASIDE_KEY, json.dumps(aside) if aside else None)


def set_aside(s: EngineState, file_ids: set[str]) -> None:
    """Those of these tracked files that are at paths ignored here: stop tracking them,
    remembering the version each showed. Nothing is published and nothing on disk is touched."""
    with s.store.transaction():
        aside = _load(s)
        for fid in sorted(file_ids):
            row = s.files.get(fid)
            if row is None or not s.ignore.ignored_here(row.path):
                continue  # (moved on again since: tracked as usual)
            if fid.startswith("u"):  # imported before pairing, never published: nothing to come back to
                s.store.delete_doc(fid)
                s.cache.discard(fid)
            else:
                aside[fid] = [row.path, row.hash.hex(), row.base.hex()]
            s.vanished.pop(fid, None)
            s.unsettled.pop(row.path, None)  # (an emptying waiting to be decided: not any more)
            forget(s, fid)
            log.info("%s is ignored on this device: no longer read or written here", row.path[:200])
        _save(s, aside)


def moved_here(s: EngineState, file_ids: set[str]) -> dict[str, str]:
    """Of these tracked files gone from their paths, those that now sit, unchanged (the same
    device, inode, size and mtime), at a path ignored here: moved there unseen (PeerVault
    was stopped, or the watcher reports no moves). id -> new path. Their notes move with
    them rather than being deleted on every other device. One walk of the vault, only
    when this device has rules and something is gone."""
    if not s.ignore.device_rules.strip():
        return {}
    by_file = {(r.dev, r.ino, r.size, r.mtime_ns): fid for fid in file_ids if (r := s.files.get(fid)) is not None and r.ino}
    if not by_file:
        return {}
    disk, _ = scan_folder(s.root, IgnoreRules(s.ignore.user_rules))  # the synced rules only
    return {
        fid: rel
        for rel, st in disk.items()
        if s.ignore.ignored_here(rel) and (fid := by_file.get((st.dev, st.ino, st.size, st.mtime_ns))) is not None
    }


def apply(s: EngineState) -> None:
    """Bring the tracked files in line with this device's rules: set aside what they match,
    track again what they no longer match (see the module's docstring)."""
    here = {fid for fid, row in s.files.items() if s.ignore.ignored_here(row.path)} if s.ignore.any_here() else set()
    if here:
        set_aside(s, here)
    aside = _load(s)
    back = {fid: v for fid, v in aside.items() if not s.ignore.ignored_here(v[0])}
    if not back:
        return
    with s.store.transaction():
        for fid, (path, h, base) in sorted(back.items()):
            del aside[fid]
            st = stat_of(abs_path(s, path))
            entry = s.entries.get(fid)
            if st is None or entry is None or entry.path != path or path in s.file_id_at or fid in s.files:
                continue  # gone here, or the note lives elsewhere now: the layout writes it (a file here is merged in)
            record(s, fid, path, replace(st, mtime_ns=-1), bytes.fromhex(h), bytes.fromhex(base))  # read on the next look
            s.store.add_pending_writes({fid})  # and then written, if the note moved on meanwhile
        _save(s, aside)
