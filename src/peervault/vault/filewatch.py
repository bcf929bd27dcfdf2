"""One file watched for changes without a timer: `.peervault/ignore`, which the vault's
watcher never sees (it skips the state folder).

A poll of its stat every 2 s was a wake-up of the whole process every 2 s, and on a small
virtual machine each wake-up of an idle asyncio loop costs 0.25-0.5 ms of CPU: about a
quarter of an idle daemon's (docs/PERFORMANCE.md, "What an idle daemon does"). Here inotify
watches the file's folder, keeps the events that name the file (its folder's other files,
the database and daemon.json, wake the loop only while the daemon writes them anyway), and
calls `changed`. The caller compares the file's stat as before; this only says when to look.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from .inotify import IN_ATTRIB, IN_CLOSE_WRITE, IN_CREATE, IN_DELETE, IN_MOVED_FROM, IN_MOVED_TO, _libc, parse_events

IN_DELETE_SELF, IN_MOVE_SELF, IN_IGNORED, IN_Q_OVERFLOW, IN_ONLYDIR = 0x400, 0x800, 0x8000, 0x4000, 0x01000000
_NAMED = IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB
_MASK = _NAMED | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR
_LOST = IN_IGNORED | IN_Q_OVERFLOW | IN_DELETE_SELF | IN_MOVE_SELF


class FileWatch:
    """Calls `changed()` when something may have happened to `path` (written, replaced,
    created, deleted, touched). When the watch can no longer tell (its folder moved or
    deleted, events lost), it calls `changed()` once more and `alive` turns False: the
    caller goes back to polling."""

    def __init__(self, path: Path, changed: Callable[[], None]) -> None:
        self.name = os.fsencode(path.name)
        self._changed = changed
        self.alive = False
        self._fd = -1
        self._loop: asyncio.AbstractEventLoop | None = None
        try:
            fd = _libc().inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        except (OSError, AttributeError):  # not Linux, or an odd libc
            return
        if fd < 0:
            return
        if _libc().inotify_add_watch(fd, os.fsencode(path.parent), _MASK) < 0:  # watch limit, no folder
            os.close(fd)
            return
        self._fd = fd
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(fd, self._on_readable)
        self.alive = True

    def _on_readable(self) -> None:
        try:
            buf = os.read(self._fd, 4096)
        except BlockingIOError:
            return
        hit = False
        for _wd, mask, _cookie, name in parse_events(buf):
            if mask & _LOST:
                self.close()
                self._changed()
                return
            hit = hit or (name == self.name and bool(mask & _NAMED))
        if hit:
            self._changed()

    def close(self) -> None:
        self.alive = False
        if self._fd >= 0:
            if self._loop is not None:
                self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1
