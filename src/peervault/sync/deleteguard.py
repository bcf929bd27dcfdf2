"""The mass-deletion guard: a device with an empty or stale view must not wipe the others.

One device's script, half-finished restore from backup, or cloud drive that offloads
files would otherwise publish every delete at once (a Syncthing iPad wiped 25,743 files
in two minutes). Deletions made here are counted per reconcile and over a sliding
minute; past the threshold they are held: the files are gone here, every other device
keeps them, and the person decides (`peervault deletions apply` or `restore`).
Deletions that arrive from a peer are applied as always; the guard lives where the
deletions are made.

A slow wipe (a script deleting file after file, a cloud drive offloading them one by one)
gets its first deletions published before the guard trips: each goes out as the watcher
reports it. So the guard remembers what each deletion published within the window undid
(`published`), and when it trips hands those back (`take`): the engine pulls them back
into the held set (sync/deletions.py), and `restore` or `apply` decides all of them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from ..crdt.entries import Entry
from ..store.filetable import FileRow

T = TypeVar("T")

WINDOW_S = 60.0  # a slow script deleting file after file still trips the guard
# The share rule needs more than this many deletions: in a vault of three notes, deleting
# two is tidying up, not a wipe (and holding it would only teach people to turn the guard off).
MIN_FOR_SHARE = 10


class Published(NamedTuple):
    """What a published local deletion undid, to take it back (the engine's guard holds these)."""

    row: FileRow  # the file's row as the deletion found it
    entry: Entry  # its index entry as the deletion left it
    since: bytes  # the index version just before the deletion


class DeleteGuard(Generic[T]):
    """The rule, and the deletions published within the window: each with what the engine
    needs to take it back (`T`), or None for one that must never be (a deletion the person
    applied with `deletions apply`: deliberate, it only counts)."""

    def __init__(self, max_percent: int, max_files: int) -> None:
        self.max_percent = max_percent  # of the synced files; 0: no limit by share
        self.max_files = max_files  # 0: no limit by count
        self._recent: deque[tuple[float, str, T | None]] = deque()  # (time, file id, undo) in the window

    def _expire(self, now: float) -> None:
        while self._recent and now - self._recent[0][0] > WINDOW_S:
            self._recent.popleft()

    def trips(self, deleting: int, synced: int, now: float) -> str | None:
        """Why `deleting` more deletions (out of `synced` files before them) must be held, or None."""
        self._expire(now)
        total = deleting + len(self._recent)
        base = synced + len(self._recent)  # the share is of what the vault held a minute ago
        if deleting == 0:
            return None
        if self.max_files and total > self.max_files:
            return f"{total} deletions within a minute, more than the limit of {self.max_files} (delete_guard_files)"
        if self.max_percent and total > MIN_FOR_SHARE and total * 100 > self.max_percent * base:
            return (
                f"{total} of {base} synced files deleted within a minute, more than {self.max_percent} % (delete_guard_percent)"
            )
        return None

    def published(self, done: Iterable[tuple[str, T | None]], now: float) -> None:
        """Deletions published at `now`: (file id, what takes it back, or None)."""
        self._expire(now)
        if not self.max_files and not self.max_percent:
            return  # the guard is off: it never trips, nothing to count or take back
        self._recent.extend((now, file_id, undo) for file_id, undo in done)

    def take(self, now: float) -> dict[str, T]:
        """The deletions published within the window that can be taken back, the latest of
        each file; they leave the window (held now, they are no longer published). The
        deliberate ones stay, and still count."""
        self._expire(now)
        taken: dict[str, T] = {}
        for _, file_id, undo in self._recent:
            if undo is None:
                taken.pop(file_id, None)  # deleted again on purpose since: never taken back
            else:
                taken[file_id] = undo
        self._recent = deque(r for r in self._recent if r[2] is None)
        return taken


def summary(reason: str, held: int, taken_back: int = 0) -> str:
    """The one line the daemon logs when it starts holding deletions."""
    back = f" ({taken_back} of them published before the guard tripped, now taken back)" if taken_back else ""
    return (
        f"holding {held} local deletion(s){back}: {reason}. Other devices keep these files. "
        "If you meant it: `peervault deletions apply VAULT`; to put them back here: "
        "`peervault deletions restore VAULT`"
    )


class HeldDeletions(Protocol):
    def held_deletions(self) -> dict[str, tuple[str, float, str]]: ...
    def apply_held(self, now: float) -> int: ...
    def restore_held(self, now: float) -> int: ...


def run_deletions_action(engine: HeldDeletions, action: str, now: float) -> dict[str, Any]:
    """`peervault deletions apply|restore`, the same in the daemon and in-process."""
    held = engine.held_deletions()
    if action == "apply":
        done = engine.apply_held(now)
    elif action == "restore":
        done = engine.restore_held(now)
    else:
        raise ValueError(f"unknown deletions action {action!r}")
    return {"action": action, "held": len(held), "done": done, "at": now}
