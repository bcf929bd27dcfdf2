"""Linux inotify watcher that costs nothing while the vault is idle.

watchfiles' Rust loop wakes every `step` ms even when nothing happens. Here the inotify
fd sits in the asyncio loop's selector, and a timer exists only while a burst of events
is open, so an idle vault means zero wake-ups.

Contract (the same as `watcher.watch`): each batch is a set of vault-relative paths to
look at again, a file or a whole subtree, never a verdict about what happened. A new
folder is reported as the folder, because files created in it before its watch was
added raise no event. The set {""} means events were lost (the kernel queue
overflowed): rescan everything.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import functools
import logging
import os
import struct
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

from .ignore import UNWATCHED_DIRS, IgnoreRules

log = logging.getLogger(__name__)

IN_MODIFY = 0x2
IN_ATTRIB = 0x4
IN_CLOSE_WRITE = 0x8
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_EXCL_UNLINK = 0x04000000  # no events from files unlinked but still open (editors' temp files)
IN_ISDIR = 0x40000000
_MASK = (
    IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB
    | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK
)  # fmt: skip
_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len; then a NUL-padded name
_READ_SIZE = 64 * 1024
MAX_WATCHES_FILE = "/proc/sys/fs/inotify/max_user_watches"


class InotifyUnavailable(OSError):
    """inotify cannot watch this vault (no inotify, or the watch limit is reached)."""


@functools.cache
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.inotify_init1.argtypes = [ctypes.c_int]
    libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
    return libc


def _limit_message() -> str:
    try:
        with open(MAX_WATCHES_FILE) as f:
            limit = f.read().strip()
    except OSError:
        limit = "?"
    return f"inotify watch limit reached ({MAX_WATCHES_FILE} = {limit})"


def parse_events(buf: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(wd, mask, name) for each `struct inotify_event` in the result of one read()."""
    offset = 0
    while offset + _EVENT.size <= len(buf):
        wd, mask, _cookie, length = _EVENT.unpack_from(buf, offset)
        offset += _EVENT.size
        yield wd, mask, buf[offset : offset + length].partition(b"\0")[0]
        offset += length


def _skip_dir(rel: str) -> bool:
    """Folders never watched. Others are, even if the rules ignore them today: a rule may
    change, and events for ignored files are dropped as they come (`ignores`)."""
    return rel.rpartition("/")[2] in UNWATCHED_DIRS


class InotifyWatcher:
    """Watches every folder of the vault but UNWATCHED_DIRS; raises InotifyUnavailable at start.
    `ignores(rel)` (the vault's current rules) drops events for files it does not sync."""

    def __init__(self, root: Path, ignores: Callable[[str], bool] | None = None) -> None:
        self.root = root
        self._ignores = ignores or IgnoreRules().ignores
        self._dirs: dict[int, str] = {}  # watch descriptor -> folder ("" is the root)
        self._warned = False
        try:
            self._fd = _libc().inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        except (OSError, AttributeError) as e:  # no libc symbol: not Linux, or an odd libc
            raise InotifyUnavailable(f"no inotify: {e}") from e
        if self._fd < 0:
            raise InotifyUnavailable(f"inotify_init1: {os.strerror(ctypes.get_errno())}")
        try:
            self._add_tree("")
            if not self._dirs:
                raise InotifyUnavailable(f"cannot watch {root}: {os.strerror(ctypes.get_errno())}")
        except BaseException:
            self.close()
            raise
        self._pending: set[str] = set()  # the open burst
        self._done: set[str] = set()  # closed bursts not yet taken by the consumer
        self._first = 0.0
        self._step = self._debounce = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._ready = asyncio.Event()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _add_tree(self, top: str) -> set[int]:
        """Watch `top` and every folder under it; returns their watch descriptors. A watch is
        added before its folder is listed, so a subfolder created meanwhile is never missed."""
        added: set[int] = set()
        stack = [top]
        while stack:
            rel = stack.pop()
            path = os.path.join(self.root, rel) if rel else os.fspath(self.root)
            wd = _libc().inotify_add_watch(self._fd, os.fsencode(path), _MASK)
            if wd < 0:
                if ctypes.get_errno() == errno.ENOSPC:
                    raise InotifyUnavailable(_limit_message())
                continue  # gone meanwhile, no longer a folder, or unreadable: nothing to watch
            self._dirs[wd] = rel
            added.add(wd)
            try:
                with os.scandir(path) as entries:
                    for e in entries:
                        child = f"{rel}/{e.name}" if rel else e.name
                        if e.is_dir(follow_symlinks=False) and not _skip_dir(child):
                            stack.append(child)
            except OSError:
                continue
        return added

    def _forget_tree(self, top: str) -> None:
        """A folder moved away: its watches would keep reporting it under its old path."""
        prefix = top + "/"
        for wd, rel in list(self._dirs.items()):
            if rel == top or rel.startswith(prefix):
                del self._dirs[wd]
                _libc().inotify_rm_watch(self._fd, wd)  # its IN_IGNORED arrives later; unknown by then

    def _watch_tree(self, top: str) -> set[int] | None:
        """`_add_tree` once running: past the watch limit, warn once and carry on."""
        try:
            return self._add_tree(top)
        except InotifyUnavailable as e:
            if not self._warned:
                self._warned = True
                log.warning("%s: changes in new folders wait for the periodic reconcile", e)
            return None

    def _rewatch(self) -> None:
        """Events were lost: watch folders created meanwhile, drop those gone or moved away."""
        live = self._watch_tree("")
        if live is None:
            return
        for wd in set(self._dirs) - live:
            del self._dirs[wd]
            _libc().inotify_rm_watch(self._fd, wd)

    def changes(self, buf: bytes) -> set[str]:
        """The paths to report for the raw events in `buf`; keeps the watches in step."""
        out: set[str] = set()
        for wd, mask, raw in parse_events(buf):
            if mask & IN_Q_OVERFLOW:
                out.add("")
                self._rewatch()
                continue
            if mask & IN_IGNORED:
                self._dirs.pop(wd, None)
                continue
            parent = self._dirs.get(wd)
            if parent is None:
                continue  # a watch we already dropped
            if not raw:  # an event on the watched folder itself
                if parent:
                    out.add(parent)
                continue
            name = os.fsdecode(raw)
            rel = f"{parent}/{name}" if parent else name
            if mask & IN_ISDIR:
                if _skip_dir(rel):
                    continue
                if mask & IN_MOVED_FROM:
                    self._forget_tree(rel)
                elif mask & (IN_CREATE | IN_MOVED_TO):
                    self._watch_tree(rel)
            elif self._ignores(rel):
                continue
            out.add(rel)
        return out

    def _on_readable(self) -> None:
        try:
            buf = os.read(self._fd, _READ_SIZE)
        except BlockingIOError:
            return
        rels = self.changes(buf)
        if not rels:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        if not self._pending:
            self._first = now
        self._pending |= rels
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_later(max(min(self._step, self._first + self._debounce - now), 0.0), self._flush)

    def _flush(self) -> None:
        self._timer = None
        self._done |= self._pending
        self._pending = set()
        self._ready.set()

    async def batches(self, stop: asyncio.Event, step_ms: int, debounce_ms: int) -> AsyncIterator[set[str]]:
        """A batch once `step_ms` passed without a new event, or `debounce_ms` since the first."""
        loop = asyncio.get_running_loop()
        self._step, self._debounce = step_ms / 1000, debounce_ms / 1000
        stopping = loop.create_task(stop.wait())
        stopping.add_done_callback(lambda _: self._ready.set())
        loop.add_reader(self._fd, self._on_readable)
        try:
            while True:
                await self._ready.wait()
                self._ready.clear()
                if stop.is_set():
                    return
                batch, self._done = self._done, set()
                yield {""} if "" in batch else batch
        finally:
            stopping.cancel()
            loop.remove_reader(self._fd)
            if self._timer is not None:
                self._timer.cancel()
            self.close()
