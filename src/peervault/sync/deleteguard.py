"""The mass-deletion guard: a device with an empty or stale view must not wipe the others.

One device's script, half-finished restore from backup, or cloud drive that offloads
files would otherwise publish every delete at once (a Syncthing iPad wiped 25,743 files
in two minutes). Deletions made here are counted per reconcile and over a sliding
minute; past the threshold they are held: the files are gone here, every other device
keeps them, and the person decides (`peervault deletions apply` or `restore`).
Deletions that arrive from a peer are applied as always; the guard lives where the
deletions are made.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Protocol

WINDOW_S = 60.0  # a slow script deleting file after file still trips the guard
# The share rule needs more than this many deletions: in a vault of three notes, deleting
# two is tidying up, not a wipe (and holding it would only teach people to turn the guard off).
MIN_FOR_SHARE = 10


class DeleteGuard:
    def __init__(self, max_percent: int, max_files: int) -> None:
        self.max_percent = max_percent  # of the synced files; 0: no limit by share
        self.max_files = max_files  # 0: no limit by count
        self._recent: deque[float] = deque()  # times of deletions published in the window

    def trips(self, deleting: int, synced: int, now: float) -> str | None:
        """Why `deleting` more deletions (out of `synced` files before them) must be held, or None."""
        while self._recent and now - self._recent[0] > WINDOW_S:
            self._recent.popleft()
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

    def published(self, n: int, now: float) -> None:
        self._recent.extend([now] * n)


def summary(reason: str, held: int) -> str:
    """The one line the daemon logs when it starts holding deletions."""
    return (
        f"holding {held} local deletion(s): {reason}. Other devices keep these files. "
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
