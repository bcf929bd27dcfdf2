"""One file watched for changes without a timer: `.peervault/ignore`, which the vault's
watcher never sees (it skips the state folder).

A poll of its stat every 2 s was a wake-up of the whole process every 2 s, and on a small
virtual machine each wake-up of an idle asyncio loop costs 0.25-0.5 ms of CPU: about a
quarter of an idle daemon's (docs/PERFORMANCE.md, "What an idle daemon does"). So the
file's folder is watched, and the events that name the file (its folder's other files,
the database and daemon.json, wake the loop only while the daemon writes them anyway)
call `changed`. The caller compares the file's stat as before; this only says when to look.

The watch is one more on the vault watcher's own inotify instance (vault/inotify.py,
`InotifyWatcher(also=...)`), not an instance of its own: the kernel allows a user 128
instances by default, and a process serving many vaults reached that limit twice as soon
with two per vault (then each fell back to polling). This module is the file's side of it:
which events concern the file, and whether the watch still tells anything.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from .inotify import (
    IN_ATTRIB,
    IN_CLOSE_WRITE,
    IN_CREATE,
    IN_DELETE,
    IN_DELETE_SELF,
    IN_IGNORED,
    IN_MOVE_SELF,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_ONLYDIR,
)

_NAMED = IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB
_LOST = IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF  # the folder moved or deleted: the watch is gone


class WatchedFile:
    """Calls `changed()` when something may have happened to `path` (written, replaced,
    created, deleted, touched), once a watcher has watched its folder (`attach`). When the
    watch can no longer tell (its folder moved or deleted, the watcher stopped), it calls
    `changed()` once more and `alive` turns False: the caller goes back to polling."""

    mask = _NAMED | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR  # what the watcher watches its folder for

    def __init__(self, path: Path, changed: Callable[[], None]) -> None:
        self.path = path
        self.name = os.fsencode(path.name)
        self._changed = changed
        self.alive = False

    def attach(self) -> None:
        """The watcher watches the folder from now on: look once (a change made before the
        watch existed is seen), and wait for events instead of polling."""
        self.alive = True
        self._changed()

    def feed(self, mask: int, name: bytes) -> None:
        """One event of the folder's watch."""
        if not self.alive:
            return
        if mask & _LOST:
            self.detach()
        elif name == self.name and mask & _NAMED:
            self._changed()

    def lost_events(self) -> None:
        """The watcher's queue overflowed: the file may have changed unseen (its watch lives on)."""
        if self.alive:
            self._changed()

    def detach(self) -> None:
        if self.alive:
            self.alive = False
            self._changed()
