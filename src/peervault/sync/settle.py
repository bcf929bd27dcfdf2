"""Settle rules: never mistake an editor's save for a delete, nor write under a writer.

A file that vanished, or became empty while its note has text, may be in the middle
of a save (vim renames it away; others truncate, then write), and a new file still empty
may not be written yet (created with O_TRUNC, then written); a path someone wrote a
moment ago may still be written to. Each waits SETTLE_S: the vanished file is then
deleted, the emptied one emptied, the empty new one published empty, and the remote
change held back meanwhile written.
This module keeps those clocks; `Engine.settle` acts on what is due.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .layout import layout

if TYPE_CHECKING:
    from .enginestate import EngineState

SETTLE_S = 2.0  # editors' saves that briefly remove or empty a file finish well within this


def busy(s: EngineState, file_id: str, *paths: str) -> bool:
    """Someone may still be writing at one of these paths (an editor mid-save, a program
    holding the file open, a user saving every few seconds): hold the disk write back
    until the path has been quiet for SETTLE_S. Replacing the file now would swallow
    the writer's pending output (its handle points at the replaced file)."""
    if (
        file_id in s.vanished
        or any(p in s.unsettled for p in paths)
        or any(s.now - s.touched.get(p, -SETTLE_S) < SETTLE_S for p in paths)
    ):
        s.deferred.add(file_id)
        return True
    return False


def take_due(s: EngineState, now: float) -> set[str]:
    """What waited out its settle period by `now`: the paths to look at again (vanished
    notes' paths, emptied paths)."""
    due_fids = {f for f, t in s.vanished.items() if now - t >= SETTLE_S}
    due_paths = {r for r, t in s.unsettled.items() if now - t >= SETTLE_S}
    for f in due_fids:
        del s.vanished[f]
    for r in due_paths:
        del s.unsettled[r]
    s.touched = {p: t for p, t in s.touched.items() if now - t < SETTLE_S}
    return due_paths | {s.files[f].path for f in due_fids if f in s.files}


def take_deferred(s: EngineState) -> set[str]:
    """The held-back writes, to try again (whatever is still busy defers itself again)."""
    deferred, s.deferred = s.deferred, set()
    return deferred


def next_settle(s: EngineState) -> float | None:
    """When `settle` has work to do (wall-clock time), or None."""
    times = [t + SETTLE_S for t in (*s.vanished.values(), *s.unsettled.values())]
    for fid in s.deferred:
        row = s.files.get(fid)
        paths = [p for p in (row.path if row else None, layout(s).get(fid)) if p]
        times.append(max([s.touched.get(p, 0.0) + SETTLE_S for p in paths] + [s.now]))
    return min(times) if times else None
