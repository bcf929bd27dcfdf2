"""Disk operations that must not lose data: atomic replace, stat snapshots, tidy folders."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import hashlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG

from ..config import STATE_DIR


@dataclass(frozen=True, slots=True)  # one per file scanned: slots halve the memory
class Stat:
    """What tells us a file may have changed without reading it. The inode catches swaps,
    the ctime an edit whose mtime was put back; a false alarm only costs a read and a hash."""

    size: int
    mtime_ns: int
    ino: int
    ctime_ns: int
    dev: int = 0  # with the inode, what a rename keeps (not part of `key`: a copy elsewhere differs anyway)

    @property
    def key(self) -> tuple[int, int, int, int]:
        return (self.size, self.mtime_ns, self.ino, self.ctime_ns)


def stat_of(path: Path | str) -> Stat | None:
    """The file's Stat, or None if there is no regular file there (or no such name can exist:
    too long, a NUL byte). One `stat` (symlinks followed, as `Path.is_file` does)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    if not S_ISREG(st.st_mode):
        return None
    return Stat(st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, st.st_dev)


def removed_at_ms(root: Path, rel: str, seen_ns: int = 0) -> int:
    """When the file at `rel`, now gone, was most likely removed (ms): the last change of the
    nearest folder above it that still exists, as taking a name out of a folder changes the
    folder's mtime; so a delete made while PeerVault was not running keeps its own time.
    Never before `seen_ns` (the file's last change seen) nor after now. If the folder
    changed again since, the delete seems later than it was."""
    now = time.time_ns()
    d = root.joinpath(*rel.split("/")).parent
    while True:
        try:
            at = os.stat(d).st_mtime_ns
            break
        except (OSError, ValueError):
            if d == root or root not in d.parents:
                at = now
                break
            d = d.parent
    return max(seen_ns, min(at, now)) // 1_000_000


def content_hash(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


_DIRS_BEFORE_SYNCFS = 4  # more folders to fsync than this: one `syncfs` is cheaper


class WriteBatch:
    """Files written together and made durable together, before the caller commits that they
    are written (until then the database still lists them as pending writes, replayed at
    start-up). New files skip their own fsync: one `syncfs` at the end covers them all, so an
    initial sync of 10,000 notes does not wait for 20,000 fsyncs. Should the power fail before
    that, a new file can only be missing or empty, and an empty file merges into its note as
    nothing. A file that replaces another is always fsynced before the rename: an emptied
    note there would read as the user's edit."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.new_files: list[Path] = []
        self.dirs: set[Path] = set()

    def commit(self) -> None:
        if not self.new_files and len(self.dirs) > _DIRS_BEFORE_SYNCFS and _syncfs(self.root):
            self.dirs.clear()  # files moved into many folders (a batch of attachments): one sync for all
        if self.new_files and not _syncfs(self.root):
            for path in self.new_files:
                with contextlib.suppress(FileNotFoundError), open(path, "rb") as f:
                    os.fsync(f.fileno())
        elif self.new_files:
            self.dirs.clear()  # syncfs made the folders durable too
        sync_dirs(self.dirs)
        self.new_files.clear()
        self.dirs.clear()


def atomic_write(root: Path, target: Path, data: bytes, batch: WriteBatch | None = None, *, absent: bool = False) -> Stat:
    """Write via a temp file in .peervault/tmp (the watcher ignores it), then rename into place;
    durable at once, or when `batch` commits (see WriteBatch). `absent`: the caller found
    nothing at `target`, so nothing is overwritten there (`rename_new`: FileExistsError if a
    file appeared meanwhile, which is left as it is)."""
    tmp_dir = root / STATE_DIR / "tmp"
    if not os.path.isdir(tmp_dir):  # one stat where it exists (as it mostly does), not a failed mkdir
        tmp_dir.mkdir(exist_ok=True)
    if not os.path.isdir(target.parent):
        target.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / f"{os.getpid()}-{hashlib.blake2b(str(target).encode(), digest_size=6).hexdigest()}"
    new = batch is not None and not os.path.lexists(target)
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        if not new:
            os.fsync(f.fileno())
    try:
        put_in_place(tmp, target, absent=absent)
    except FileExistsError:
        tmp.unlink(missing_ok=True)
        raise
    if batch is None:
        sync_dirs({target.parent})
    else:
        batch.dirs.add(target.parent)
        if new:
            batch.new_files.append(target)
    st = target.stat()
    return Stat(st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, st.st_dev)


def sync_dirs(dirs: set[Path]) -> None:
    for d in dirs:
        try:
            dir_fd = os.open(d, os.O_RDONLY)
        except FileNotFoundError:
            continue  # removed since (an emptied folder pruned): nothing left to make durable
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _syncfs(path: Path) -> bool:
    """Flush the whole filesystem holding `path` (Linux); False where unavailable."""
    if _libc is None or not hasattr(_libc, "syncfs"):
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"syncfs failed: {os.strerror(err)}", str(path))
    finally:
        os.close(fd)
    return True


_RENAME_NOREPLACE, _AT_FDCWD = 1, -100  # linux/fs.h, linux/fcntl.h
_renameat2 = getattr(_libc, "renameat2", None)  # glibc 2.28 and later
if _renameat2 is not None:
    _renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]


def rename_new(src: Path, dst: Path) -> None:
    """Rename `src` to `dst` only if nothing is at `dst`; FileExistsError otherwise (both stay).
    A file made at a path an instant after this device found it free (by the user, by another
    program) is never overwritten. Linux's renameat2(RENAME_NOREPLACE); where it is missing
    or the file system refuses it, a hard link and an unlink, as exact; where hard links are
    refused too (FAT), a last look before the rename."""
    if _renameat2 is not None:
        if _renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
            return
        err = ctypes.get_errno()
        if err == errno.EEXIST:
            raise _appeared(dst)
        if err not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise OSError(err, os.strerror(err), str(dst))
    try:
        os.link(src, dst)
    except FileExistsError:
        raise _appeared(dst) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK):
            raise
        if os.path.lexists(dst):
            raise _appeared(dst) from None
        os.rename(src, dst)
        return
    os.unlink(src)


def put_in_place(src: Path, dst: Path, *, absent: bool) -> None:
    """Rename `src` to `dst`: over whatever is there, or, if the caller found `dst` free
    (`absent`), onto it only while it still is (`rename_new`)."""
    if absent:
        rename_new(src, dst)
    else:
        os.replace(src, dst)


def _appeared(dst: Path) -> FileExistsError:
    return FileExistsError(errno.EEXIST, "a file appeared there as this one was written; it is kept", str(dst))


def prune_empty_dirs(root: Path, start: Path) -> None:
    """Remove `start` and its parents while they are empty, stopping at the vault root."""
    d = start
    while d != root and root in d.parents:
        try:
            d.rmdir()
        except OSError:
            return
        d = d.parent


def lock_dir(state_dir: Path) -> int | None:
    """Take `.peervault/lock` (flock, held by an open file: a child given the descriptor
    shares it); None if another process holds it."""
    fd = os.open(state_dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd
