"""A large first import done in a child process, so the daemon does not keep its leftovers.

A daemon that imported thousands of files itself holds ~13 MB more for the rest of its life
than one started warm on the same database (the `real` tier: 73 against 60 MB): Loro's code
pages the import ran, a glibc heap fragmented by the burst and Python arenas left partly
used; no trim gives them back (docs/PERFORMANCE.md, "After the sync"). So when `run` starts
on an empty database and a folder of at least `MIN_FILES` files (unless the vault's config
sets `first_import_process = false`: on 2 cores the import ends ~0.3-0.45 s later, a second
interpreter's start and the daemon's warm start after it), the import (the ordinary
`reconcile_steps` and the fold after the burst, `Engine.shed_memory`) runs in
`python -m peervault.sync.firstimport` while the daemon binds its endpoint; the daemon then
builds its state from the database, warm, and its own start-up pass finds nothing left to do
(or completes whatever the child did not).

Exactness and crash safety are the import's own: the child runs the same engine code with
the same transactions, so a child killed at any moment leaves what a daemon killed in its
import leaves, and whatever the child did not finish (it failed, was killed, could not
start) the daemon's in-process pass completes. The child holds the daemon's vault lock (the
same open file, passed down: flock belongs to it, not to a process), so no second engine
opens the vault while it writes, even if the daemon died first; and it exits as soon as its
stdin ends, which is when the daemon dies. The daemon writes nothing to the database until
the child has exited (daemon/root.py: the port is remembered after).

The daemon is ready meanwhile (daemon/importing.py): its control API answers the vault's
status, with the import's progress, which the child writes on its stdout as lines
`DONE TOTAL` (files looked at so far, files the pass looks at); a line the daemon has not
read yet when the pipe is full is dropped, never waited for.

The child is started with `subprocess`, not `multiprocessing`, for the reasons
sync/notemaker.py gives. It reads the daemon's `Config` as one pickle on stdin.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..config import STATE_DIR, Config
from ..memory import child_command
from ..store.db import Store, has_no_files
from ..vault.fsops import lock_dir
from ..vault.ignore import UNWATCHED_DIRS

log = logging.getLogger(__name__)

# Files in the folder below which the import stays in the daemon: a process's start is not
# worth it. (Chosen when a new vault's daemon answered only once the child ended: 1,000
# files ready in ~390 ms instead of ~200. It is ready at once now, daemon/importing.py.)
MIN_FILES = 2000
_started: dict[Path, ChildImport] = {}  # by vault root, until its daemon takes it (`take`)


def _has_files(root: Path, at_least: int) -> bool:
    """At least `at_least` files under `root` (outside `.peervault`, `.git` and the other
    folders no scan enters), without walking it all."""
    n = 0
    dirs = [os.fspath(root)]
    while dirs:
        try:
            it = os.scandir(dirs.pop())
        except OSError:
            continue
        with it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    if e.name not in UNWATCHED_DIRS:
                        dirs.append(e.path)
                elif e.is_file(follow_symlinks=False):
                    n += 1
                    if n >= at_least:
                        return True
    return False


def wanted(root: Path) -> bool:
    """A first import worth a process: a published vault with no file recorded yet (new to
    PeerVault, not a device that joined) and a folder of at least MIN_FILES files. Cheap
    when it is not one (a warm start): one read of the database, no walk."""
    return has_no_files(root / STATE_DIR / "state.db") and _has_files(root, MIN_FILES)


class ChildImport:
    """The child process, started at once; `finished` waits for it on the event loop, and
    `progress` is what it last said it had done: (files looked at, files to look at)."""

    def __init__(self, root: Path, cfg: Config, lock_fd: int) -> None:
        import pickle  # (here: an idle daemon never loads it)

        self.lock_fd = lock_fd
        self.progress = (0, 0)
        self.on_progress: Callable[[], None] | None = None  # told after each line the child writes
        self._partial = b""
        self.proc = subprocess.Popen(
            [*child_command(__name__), os.fspath(root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            pass_fds=(lock_fd,),
        )
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(pickle.dumps(cfg))
            self.proc.stdin.flush()  # stdin stays open: its end tells the child the daemon is gone
        except OSError:  # it died at once: `finished` says so
            pass

    async def finished(self, stopping: asyncio.Event) -> bool:
        """True if the child imported everything; False if it failed (the daemon's own pass
        completes the import). A stop asked for meanwhile ends the child (a crash, for the
        database: safe) rather than wait for it."""
        loop = asyncio.get_running_loop()
        assert self.proc.stdout is not None
        out = self.proc.stdout.fileno()
        loop.add_reader(out, self._read, out)
        done = asyncio.ensure_future(asyncio.to_thread(self.proc.wait))
        stop = asyncio.ensure_future(stopping.wait())
        try:
            await asyncio.wait({done, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not done.done():
                self.proc.kill()
            await done
            loop.remove_reader(out)
            self._close_pipes()
        if self.proc.returncode:
            log.warning("the first import's process exited with %s: importing in the daemon", self.proc.returncode)
        return self.proc.returncode == 0

    def stop(self) -> None:
        """The daemon gives up starting: end the child (a crash, for the database)."""
        self.proc.kill()
        self.proc.wait()
        self._close_pipes()

    def _read(self, fd: int) -> None:
        """The child's progress lines that arrived: the last whole one is its progress."""
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # it exited: `finished` is told by its wait
            asyncio.get_running_loop().remove_reader(fd)
            return
        progress, self._partial = last_progress(self._partial + data)
        if progress is not None and progress != self.progress:
            self.progress = progress
            if self.on_progress is not None:
                self.on_progress()

    def _close_pipes(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                if pipe is not None:
                    pipe.close()


def last_progress(data: bytes) -> tuple[tuple[int, int] | None, bytes]:
    """The last whole `DONE TOTAL` line in what the child wrote (None if none), and the
    part of a line that follows it (its end comes with the next read)."""
    *lines, rest = data.split(b"\n")
    for line in reversed(lines):
        done, _, total = line.partition(b" ")
        if done.isdigit() and total.isdigit():
            return (int(done), int(total)), rest
    return None, rest


def start_early(root: Path, cfg: Callable[[], Config]) -> None:
    """`run`, before it loads the daemon's modules: if `root` starts with a large first
    import, take its lock and start the import's process, for `take` to hand to its daemon;
    else nothing (the daemon imports in-process, or finds the vault locked as before).
    `cfg`: the vault's configuration, as the daemon will run with it."""
    if not sys.executable or not wanted(root):
        return
    config = cfg()
    if not config.first_import_process:
        return
    fd = lock_dir(root / STATE_DIR)
    if fd is None:  # another daemon runs on it: the daemon says so when it opens the vault
        return
    try:
        _started[root] = ChildImport(root, config, fd)
    except Exception as exc:  # noqa: BLE001 - the import goes on in the daemon
        os.close(fd)
        log.warning("no first-import process (%s): the import goes on in the daemon", exc)


def held_lock(root: Path) -> int | None:
    """The vault's lock, if `start_early` took it for this process (VaultState adopts it)."""
    child = _started.get(root)
    return None if child is None else child.lock_fd


def take(root: Path) -> ChildImport | None:
    """The import's process started for `root`, once (its daemon waits for it)."""
    return _started.pop(root, None)


def import_all(
    root: Path, store: Store, cfg: Config, clock: Callable[[], float], progress: Callable[[int, int], None] = lambda d, t: None
) -> int:
    """What the daemon's start-up pass does to an empty database, then the fold after the
    burst; returns the changes recorded. Binary files are hashed here as they are met.
    `progress(done, total)`: after each step, files looked at (a first import records one
    change per file) of those the pass looks at."""
    from .engine import Engine  # (the daemon's side of this module does not need it)

    engine = Engine(root, store, cfg, clock)
    total = [0]

    def planned(n: int) -> None:
        total[0] = n
        progress(0, n)

    changes = 0
    for step in engine.reconcile_steps(clock(), planned=planned):
        changes += step
        progress(min(changes, total[0]), total[0])
    engine.shed_memory()
    progress(total[0], total[0])
    return changes


def _progress_lines() -> Callable[[int, int], None]:
    """`DONE TOTAL` lines on stdout, the daemon's pipe, without ever waiting for it: a line
    that does not fit (the daemon has not read the last ones) is dropped, as is any after
    the daemon is gone. Nothing when stdout is not a pipe (run by hand: a terminal shared
    with a shell must not be made non-blocking)."""
    fd = sys.stdout.fileno()
    if not stat.S_ISFIFO(os.fstat(fd).st_mode):
        return lambda done, total: None
    os.set_blocking(fd, False)

    def report(done: int, total: int) -> None:
        with contextlib.suppress(OSError):  # full (BlockingIOError) or closed (BrokenPipeError)
            os.write(fd, b"%d %d\n" % (done, total))  # one write under PIPE_BUF: whole or not at all

    return report


def _end_with_parent() -> None:
    """The daemon holds our stdin open; its end means the daemon is gone: stop at once (a
    crash, for the database), so the lock we share is released with the daemon's."""
    with contextlib.suppress(OSError):
        while sys.stdin.buffer.read(65536):
            pass
    os._exit(3)


def main() -> int:
    import pickle

    root = Path(sys.argv[1])
    cfg = pickle.load(sys.stdin.buffer)  # noqa: S301 - from the daemon that started us
    threading.Thread(target=_end_with_parent, name="firstimport-parent", daemon=True).start()
    store = Store(root / STATE_DIR / "state.db")
    try:
        t = time.perf_counter()
        changes = import_all(root, store, cfg, time.time, _progress_lines())
        log.info("first import: %d change(s) in %.2f s", changes, time.perf_counter() - t)
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    try:
        code = main()
    except BaseException:  # noqa: BLE001 - said, and the daemon imports instead
        import traceback

        traceback.print_exc()
        code = 1
    sys.stderr.flush()
    os._exit(code)  # not through the interpreter's shutdown: the thread above still reads stdin
