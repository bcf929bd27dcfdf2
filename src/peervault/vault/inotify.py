"""Linux inotify watcher that costs nothing while the vault is idle.

watchfiles' Rust loop wakes every `step` ms even when nothing happens. Here the inotify
fd sits in the asyncio loop's selector, and a timer exists only while a burst of events
is open, so an idle vault means zero wake-ups.

Contract (the same as `watcher.watch`): each batch is a `Changes`. `paths` are vault
paths to look at again, a file or a whole subtree, never a verdict about what happened. A
new folder is reported as the folder, because files created in it before its watch was
added raise no event. `moves` are the renames the kernel reported, paired by their cookie
within a burst (see `vault/burst.py`). `overflow` means events were lost (the kernel queue
overflowed): rescan everything.

Why not asyncinotify (4.4.4, the maintained library)? Measured against this reader, on
a vault of 1,000 notes in 100 folders (2 cores, Python 3.11; the same harness for both):
* idle 30 s: equal, nothing. One voluntary context switch for each, the measuring
  sleep's own, as for an empty event loop; `strace -c -f` attached for 28 s: no system
  call for either.
* a burst of 1,000 edits: equal, 31-35 ms of CPU against 32-36 ms.
* memory: importing it adds 1.25 MB of RSS, this module 0.87 MB (ctypes in both);
  watching adds 72 KB against 8 KB, and with 1,000 folders 590 KB against 76 KB (a
  `Watch` and a `Path` per folder): 0.6 MB more after the burst on 100 folders, 1.0 MB
  more on 1,000.
* start-up: the import takes 9-15 ms against 4-5 ms, as it runs `ldconfig -p` in a
  subprocess (`ctypes.util.find_library`); adding the watches 1.6-1.9 times as long.
And it would give little: the cookie is in the `struct inotify_event` read here already,
and its recursive watching does not fit (it follows symlinked folders, watches `.git`
and `node_modules`, raises when a folder vanishes while listed, and reports what changes
in a folder just moved under its old path). So this reader stays, for the memory.
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
from typing import TYPE_CHECKING

from .burst import Burst
from .changes import Changes
from .ignore import UNWATCHED_DIRS, IgnoreRules

if TYPE_CHECKING:
    from .filewatch import WatchedFile

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
IN_UNMOUNT = 0x2000
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_EXCL_UNLINK = 0x04000000  # no events from files unlinked but still open (editors' temp files)
IN_ISDIR = 0x40000000
# No IN_MOVE_SELF: a folder's parent tells its move, with both names. The vault root has no
# watched parent, so it alone asks for it: the vault folder moved, deleted or unmounted is
# reported as lost events, and the rescan that follows finds the vault gone (Engine.check_vault).
_ROOT_GONE = IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT
_MASK = (
    IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB
    | IN_DELETE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK
)  # fmt: skip
_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len; then a NUL-padded name
_READ_SIZE = 64 * 1024
# A burst in which every file written was closed again (IN_CLOSE_WRITE, or renamed into place)
# and no move waits for its other half ends after this much quiet, not after the configured
# step (20 ms): the writer is done, and those 20 ms were two thirds of the time a one-character
# edit took to reach a peer's disk (docs/PERFORMANCE.md). A file still open for writing, half
# a move, or a deletion keeps the configured step: an `rm -rf` must stay one burst, so that its
# deletions settle together and the mass-deletion guard (sync/deleteguard.py) sees them at
# once; in bursts split 2 ms apart, the first ones were published before the guard tripped.
CLOSED_STEP_S = 0.002
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


def parse_events(buf: bytes) -> Iterator[tuple[int, int, int, bytes]]:
    """(wd, mask, cookie, name) for each `struct inotify_event` in the result of one read()."""
    offset = 0
    while offset + _EVENT.size <= len(buf):
        wd, mask, cookie, length = _EVENT.unpack_from(buf, offset)
        offset += _EVENT.size
        yield wd, mask, cookie, buf[offset : offset + length].partition(b"\0")[0]
        offset += length


def _skip_dir(rel: str) -> bool:
    """Folders never watched. Others are, even if the rules ignore them today: a rule may
    change, and events for ignored files are dropped as they come (`ignores`)."""
    return rel.rpartition("/")[2] in UNWATCHED_DIRS


_PROBE = "\0"  # no file has this name: asking the rules about it asks about its folder


class InotifyWatcher:
    """Watches every folder of the vault but UNWATCHED_DIRS; raises InotifyUnavailable at start.
    `ignores(rel)` (the vault's current rules) drops events for files it does not sync.
    `also`: one more file, outside what it watches (`.peervault/ignore`), whose folder's
    events go to it on this same inotify instance (vault/filewatch.py says why)."""

    def __init__(self, root: Path, ignores: Callable[[str], bool] | None = None, also: WatchedFile | None = None) -> None:
        self.root = root
        self._also = also
        self._also_wd = -1  # the watch on `also`'s folder, while it lives
        self._ignores = ignores or IgnoreRules().ignores
        self._dirs: dict[int, str] = {}  # watch descriptor -> folder ("" is the root)
        self._moving: dict[int, set[int]] = {}  # cookie -> watches of a folder moved, until its other half
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
        if also is not None:
            wd = _libc().inotify_add_watch(self._fd, os.fsencode(also.path.parent), also.mask)
            # no folder, or the watch limit: never attached, it polls. (A folder of the tree
            # would get the same wd, its mask replaced: the state folder never is one.)
            if wd >= 0 and wd not in self._dirs:
                self._also_wd = wd
                also.attach()
        self._burst = Burst()  # the open burst
        self._writing: set[str] = set()  # files of the open burst written to and not closed since
        self._deleting = False  # the open burst deleted something (see CLOSED_STEP_S)
        self._done = Burst()  # closed bursts not yet taken by the consumer
        self._first = 0.0
        self._step = self._debounce = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._ready = asyncio.Event()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._also_wd = -1
        if self._also is not None:
            self._also.detach()

    def _add_tree(self, top: str) -> set[int]:
        """Watch `top` and every folder under it; returns their watch descriptors. A watch is
        added before its folder is listed, so a subfolder created meanwhile is never missed."""
        added: set[int] = set()
        stack = [top]
        while stack:
            rel = stack.pop()
            path = os.path.join(self.root, rel) if rel else os.fspath(self.root)
            wd = _libc().inotify_add_watch(self._fd, os.fsencode(path), _MASK if rel else _MASK | IN_MOVE_SELF)
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

    def _tree(self, top: str) -> set[int]:
        prefix = top + "/"
        return {wd for wd, rel in self._dirs.items() if rel == top or rel.startswith(prefix)}

    def _forget(self, wds: set[int]) -> None:
        """A folder moved away: its watches would keep reporting it under its old path."""
        for wd in wds:
            if self._dirs.pop(wd, None) is not None:
                _libc().inotify_rm_watch(self._fd, wd)  # its IN_IGNORED arrives later; unknown by then

    def _rename(self, wds: set[int], src: str, dst: str) -> None:
        """A folder moved inside the vault: its watches follow it (they are on the folders,
        not their names), so no change made in it meanwhile is lost."""
        for wd in wds:
            rel = self._dirs.get(wd)
            if rel is not None and (rel == src or rel.startswith(src + "/")):
                self._dirs[wd] = dst + rel[len(src) :]

    def _watch_tree(self, top: str) -> set[int] | None:
        """`_add_tree` once running: past the watch limit, warn once and carry on."""
        try:
            added = self._add_tree(top)
        except InotifyUnavailable as e:
            if not self._warned:
                self._warned = True
                log.warning("%s: changes in new folders wait for the periodic reconcile", e)
            return None
        for wds in self._moving.values():
            wds -= added  # a folder moved away and back: watched again, not to be forgotten
        return added

    def _rewatch(self) -> None:
        """Events were lost: watch folders created meanwhile, drop those gone or moved away."""
        self._moving.clear()
        live = self._watch_tree("")  # the same folder gets the same watch, under its path of now
        if live is None:
            return
        for wd in set(self._dirs) - live:
            del self._dirs[wd]
            _libc().inotify_rm_watch(self._fd, wd)

    def _ignored(self, rel: str, is_dir: bool) -> bool:
        if not is_dir:
            return self._ignores(rel)
        return _skip_dir(rel) or self._ignores(rel) or self._ignores(f"{rel}/{_PROBE}")

    def changes(self, buf: bytes) -> bool:
        """Adds the raw events in `buf` to the open burst, keeping the watches in step.
        True if any of them may be reported."""
        burst = self._burst
        fed = False
        for wd, mask, cookie, raw in parse_events(buf):
            if wd == self._also_wd >= 0 and self._also is not None:  # (an overflow's wd is -1)
                self._also.feed(mask, raw)
                if not self._also.alive:
                    self._also_wd = -1
                continue
            if mask & IN_Q_OVERFLOW:
                burst.lost()
                self._rewatch()
                if self._also is not None:
                    self._also.lost_events()
                fed = True
                continue
            if mask & IN_IGNORED:
                self._dirs.pop(wd, None)
                continue
            parent = self._dirs.get(wd)
            if parent is None:
                continue  # a watch we already dropped
            if not raw:  # an event on the watched folder itself
                if parent:
                    burst.touch(parent)
                    fed = True
                elif mask & _ROOT_GONE:
                    burst.lost()
                    fed = True
                continue
            name = os.fsdecode(raw)
            rel = f"{parent}/{name}" if parent else name
            is_dir = bool(mask & IN_ISDIR)
            if mask & IN_DELETE:
                self._deleting = True
            elif not is_dir:
                self._note_writer(rel, mask)
            if mask & IN_MOVED_FROM:
                if is_dir and not _skip_dir(rel):
                    self._moving[cookie] = self._tree(rel)
                burst.moved_from(cookie, rel, self._ignored(rel, is_dir))
                fed = True
            elif mask & IN_MOVED_TO:
                wds = self._moving.pop(cookie, None)
                src = burst.moved_to(cookie, rel, self._ignored(rel, is_dir))
                if is_dir and not _skip_dir(rel):
                    if wds is not None and src is not None:
                        self._rename(wds, src, rel)
                    else:
                        self._watch_tree(rel)
                elif wds:
                    self._forget(wds)  # into a folder not watched
                fed = True
            elif is_dir:
                if _skip_dir(rel):
                    continue
                if mask & IN_CREATE:
                    self._watch_tree(rel)
                burst.touch(rel)
                fed = True
            elif not self._ignores(rel):
                burst.touch(rel)
                fed = True
        return fed

    def _note_writer(self, rel: str, mask: int) -> None:
        """Whether a writer may still be writing `rel` (see CLOSED_STEP_S)."""
        if mask & (IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO):
            self._writing.discard(rel)
        elif mask & (IN_MODIFY | IN_CREATE):
            self._writing.add(rel)

    def _quiet_step(self) -> float:
        """How long the burst must be quiet to end: short once every writer is done."""
        return self._step if self._writing or self._deleting or self._burst.moving else min(self._step, CLOSED_STEP_S)

    def _on_readable(self) -> None:
        try:
            buf = os.read(self._fd, _READ_SIZE)
        except BlockingIOError:
            return
        if not self.changes(buf):
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._timer is None:
            self._first = now
        else:
            self._timer.cancel()
        self._timer = loop.call_later(max(min(self._quiet_step(), self._first + self._debounce - now), 0.0), self._flush)

    def _flush(self) -> None:
        """The burst is over: moves still missing their other half are paths, the folders
        among them moved out of the vault and are forgotten."""
        self._timer = None
        for wds in self._moving.values():
            self._forget(wds)
        self._moving.clear()
        self._writing.clear()
        self._deleting = False
        burst, self._burst = self._burst, Burst()
        burst.close()
        if burst:
            self._done.then(burst)
            self._ready.set()

    def _take(self) -> Changes | None:
        done, self._done = self._done, Burst()
        return done.changes() if done else None

    async def batches(self, stop: asyncio.Event, step_ms: int, debounce_ms: int) -> AsyncIterator[Changes]:
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
                changes = self._take()
                if changes is not None:
                    yield changes
        finally:
            stopping.cancel()
            loop.remove_reader(self._fd)
            if self._timer is not None:
                self._timer.cancel()
            self.close()
