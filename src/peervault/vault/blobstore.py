"""Content-addressed store for files that do not sync as text (not UTF-8, or over 5 MB).

The current version of a binary file lives in the vault only; the store keeps the
versions that are not in the vault (replaced, deleted by a peer, in the way) and
downloads on their way in (docs/STORAGE.md says exactly which). Layout under
`state_dir/blobs/`:

| path | what |
|---|---|
| `<h[:2]>/<h>` | a kept version, named by the BLAKE3 hex digest of its bytes; never modified once there |
| `partial/<h>` | an interrupted download of blob `h`, appended to in order and verified before it moves |
| `ready/<h>` | a verified download waiting to be placed in the vault, where it is moved (not copied) |
| `moving/` | vault files on their way into the store, with their journal (blobswap.py) |
| `tmp/` | temp files of `add_file` (a crash can leave one behind; nothing ever reads them) |

A blob appears under its name only by a rename after fsync, so a reader never sees a
half-written one. Every method validates `h` before building a path from it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Iterator
from pathlib import Path

from .blobio import (
    CHUNK,
    HASH_RE,
    BlobChanged,
    changed_while_read,
    check_hash,
    chunks,
    copy_fd,
    create_temp,
    fd_stat,
    hash_file,
    hasher,
    open_regular,
    read_from,
    write_all,
)
from .fsops import Stat, WriteBatch, put_in_place, sync_dirs

__all__ = ["CHUNK", "BlobChanged", "BlobStore", "copy_file", "hash_file"]

_PREFIX_RE = re.compile(r"[0-9a-f]{2}")


class BlobStore:
    """Blobs of one vault (see the module docstring). Blocking calls: run them off the event loop."""

    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "blobs"
        self._partial_dir = self.root / "partial"
        self.ready_dir = self.root / "ready"
        self.moving_dir = self.root / "moving"
        self._tmp_dir = self.root / "tmp"
        for d in (self.root, self._partial_dir, self.ready_dir, self.moving_dir, self._tmp_dir):
            d.mkdir(parents=True, exist_ok=True)
        self._verified: set[str] = set()  # downloads in ready/ verified and made durable by this process
        self._fresh: set[str] = set()  # ... verified, not yet durable

    # -- complete blobs ---------------------------------------------------------------------

    def path(self, h: str) -> Path:
        """Where the kept blob `h` lives (it may not exist)."""
        check_hash(h)
        return self.root / h[:2] / h

    def ready_path(self, h: str) -> Path:
        """Where the verified download of `h` waits to be placed (it may not exist)."""
        return self.ready_dir / check_hash(h)

    def has(self, h: str) -> bool:
        """The store keeps `h` (a download waiting in ready/ does not count: it leaves)."""
        return self.path(h).is_file()

    def held(self, h: str) -> Path | None:
        """A complete copy of `h` here: a waiting download first, else a kept version."""
        ready = self.ready(h)
        if ready is not None:
            return ready
        p = self.path(h)
        return p if p.is_file() else None

    def make_durable(self, hashes: list[str]) -> None:
        """Flush verified downloads to disk before they are placed: one sync of the file
        system for a whole batch of arrivals (Linux), not an fsync of each file and folder."""
        batch = WriteBatch(self.root)
        batch.new_files = [self.ready_path(h) for h in hashes]
        batch.dirs.add(self.ready_dir)
        batch.commit()
        self._fresh.difference_update(hashes)
        self._verified.update(hashes)

    def ready(self, h: str) -> Path | None:
        """The verified download of `h` waiting in ready/, or None. Downloads are made durable
        a batch at a time (`make_durable`), so one found after a restart may be torn by a
        power cut: it is hashed again before it is trusted, and removed if it is not `h`."""
        p = self.ready_path(h)
        if h in self._fresh:
            return None  # verified, not yet durable: placed once `make_durable` has run
        if h in self._verified:
            if p.is_file():
                return p
            self._verified.discard(h)
            return None
        try:
            ok = hash_file(p)[0] == h
        except OSError:
            return None
        if not ok:
            p.unlink(missing_ok=True)
            return None
        self._verified.add(h)
        return p

    def size(self, h: str) -> int | None:
        p = self.held(h)
        try:
            return None if p is None else p.stat().st_size
        except FileNotFoundError:
            return None

    def add_file(self, src: Path) -> tuple[str, int]:
        """Copy `src` into the store, hashing while copying; (hash, size). Only where a
        version cannot be moved in (another file system): a copy costs its size again. A
        blob already held is not written again. Raises BlobChanged, leaving nothing behind,
        if the file changed during the copy (size or mtime, or the path now names another file)."""
        fd = open_regular(src)
        tmp: Path | None = None
        out = -1
        try:
            before = fd_stat(fd)
            tmp, out = create_temp(self._tmp_dir, "add-")
            h, size = copy_fd(fd, out)
            if changed_while_read(src, fd, before, size):
                raise BlobChanged(errno.EAGAIN, "file changed while being copied into the blob store", str(src))
            final = self.path(h)
            if not final.is_file():
                os.fsync(out)
                os.close(out)
                out = -1
                self.move_in(tmp, h)
                tmp = None
            return h, size
        finally:
            os.close(fd)
            if out >= 0:
                os.close(out)
            if tmp is not None:
                tmp.unlink(missing_ok=True)

    def open_chunks(self, h: str, offset: int = 0) -> Iterator[bytes]:
        """CHUNK-sized pieces of the blob `h` held here from `offset` (the last may be shorter).
        Checks `h` and `offset` at the call, not at the first iteration."""
        p = self.held(h)
        size = self.size(h)
        if p is None or size is None:
            raise FileNotFoundError(errno.ENOENT, "no such blob", h)
        if not 0 <= offset <= size:
            raise ValueError(f"offset {offset} outside blob of {size} bytes")
        return read_from(p, offset)

    def copy_to(self, h: str, target: Path, tmp_dir: Path) -> None:
        """Materialise blob `h` at `target` atomically (see `copy_file`); the store keeps its copy."""
        src = self.held(h)
        if src is None:
            raise FileNotFoundError(errno.ENOENT, "no such blob", h)
        copy_file(src, target, tmp_dir)

    def remove(self, h: str) -> None:
        """Drop blob `h`, kept or waiting (missing is fine). Its partial download, if any, stays."""
        self.path(h).unlink(missing_ok=True)
        self.ready_path(h).unlink(missing_ok=True)

    def all_hashes(self) -> Iterator[str]:
        """Hashes of the complete blobs, kept or waiting in ready/ (not partial downloads, not temp files)."""
        seen = set()
        for entry in self._scan(self.ready_dir):
            if HASH_RE.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                seen.add(entry.name)
                yield entry.name
        for prefix in self._scan(self.root):
            if not (prefix.is_dir(follow_symlinks=False) and _PREFIX_RE.fullmatch(prefix.name)):
                continue
            for entry in self._scan(Path(prefix.path)):
                name = entry.name
                ok = HASH_RE.fullmatch(name) and name.startswith(prefix.name) and entry.is_file(follow_symlinks=False)
                if ok and name not in seen:
                    yield name

    def bytes_used(self) -> tuple[int, int]:
        """(bytes, files) of everything the store holds: kept blobs, downloads, temp files."""
        total = files = 0
        stack = [self.root]
        while stack:
            for entry in self._scan(stack.pop()):
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    with contextlib.suppress(FileNotFoundError):
                        total += entry.stat(follow_symlinks=False).st_size
                        files += 1
        return total, files

    # -- partial downloads ------------------------------------------------------------------

    def _partial(self, h: str) -> Path:
        return self._partial_dir / check_hash(h)

    def partial_size(self, h: str) -> int:
        """Bytes of the interrupted download of `h` so far (0 if none)."""
        try:
            return self._partial(h).stat().st_size
        except FileNotFoundError:
            return 0

    def append_partial(self, h: str, offset: int, data: bytes) -> int:
        """Write `data` at `offset`, which must be the current partial size (ValueError otherwise);
        returns the new size. The bytes reach the kernel before this returns (no fsync: a torn
        tail after a power cut is caught by the hash check in finish_partial)."""
        path = self._partial(h)
        current = self.partial_size(h)
        if offset != current:
            raise ValueError(f"partial blob {h[:12]}… has {current} bytes, not {offset}")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
        try:
            write_all(fd, data)
        finally:
            os.close(fd)
        return current + len(data)

    def finish_partial(self, h: str, size: int) -> bool:
        """Move the partial download of `h` to ready/ if it holds exactly `size` bytes hashing
        to `h` (True); otherwise delete it (False). A blob of 0 bytes needs no partial file."""
        path = self._partial(h)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)  # no appends for an empty blob: create it
        try:
            ok = os.fstat(fd).st_size == size
            if ok:
                digest = hasher()
                read = 0
                for piece in chunks(fd, bytearray(CHUNK)):
                    digest.update(piece)
                    read += len(piece)
                ok = read == size and digest.hexdigest() == h
        finally:
            os.close(fd)
        if not ok:
            path.unlink(missing_ok=True)
            return False
        self._fresh.add(h)
        os.replace(path, self.ready_path(h))  # made durable with its batch: `make_durable`
        return True

    def accept_whole(self, h: str, data: bytes | memoryview) -> bool:
        """A small blob received whole, in memory: verified there, then written to its partial
        file and moved to ready/ as `finish_partial` does (True); False, writing nothing, if
        the bytes are not `h`. One write and no read back: most attachments are this small."""
        digest = hasher()
        digest.update(data)
        if digest.hexdigest() != check_hash(h):
            return False
        path = self._partial(h)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            write_all(fd, data)
        finally:
            os.close(fd)
        self._fresh.add(h)
        os.replace(path, self.ready_path(h))  # made durable with its batch: `make_durable`
        return True

    # -- helpers ----------------------------------------------------------------------------

    def move_in(self, src: Path, h: str) -> None:
        """Rename a verified (or stat-trusted), fsynced file to the name of blob `h` and make
        the name durable. An existing blob of that name is replaced by equal bytes."""
        final = self.path(h)
        folder = final.parent
        new_folder = not folder.is_dir()
        folder.mkdir(exist_ok=True)
        os.replace(src, final)
        sync_dirs({folder, self.root} if new_folder else {folder})

    @staticmethod
    def _scan(folder: Path) -> Iterator[os.DirEntry[str]]:
        try:
            with os.scandir(folder) as it:
                yield from it
        except FileNotFoundError:
            return


def copy_file(
    src: Path, target: Path, tmp_dir: Path, expect: Stat | None = None, mtime_ns: int | None = None, absent: bool = False
) -> Stat:
    """Copy `src` to `target` atomically: temp file in `tmp_dir` (same file system as
    `target`), fsync, rename over `target` (onto it only if nothing is there, if `absent`:
    fsops.rename_new), fsync its folder; `target` is either untouched or complete. With
    `expect`, the source must still show that stat (size, mtime, inode) before and after
    the copy, or BlobChanged is raised and nothing is written: a vault file copied as the
    blob it was recorded as must still be that blob."""
    fd = open_regular(src)
    tmp: Path | None = None
    out = -1
    try:
        if expect is not None and _moved(fd_stat(fd), expect):
            raise BlobChanged(errno.EAGAIN, "the source changed since it was recorded", str(src))
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp, out = create_temp(tmp_dir, "blob-")
        copy_fd(fd, out)
        if expect is not None and _moved(fd_stat(fd), expect):
            raise BlobChanged(errno.EAGAIN, "the source changed during the copy", str(src))
        if mtime_ns is not None:
            os.utime(out, ns=(mtime_ns, mtime_ns))
        os.fsync(out)
        os.close(out)
        out = -1
        put_in_place(tmp, target, absent=absent)
        tmp = None
        sync_dirs({target.parent})
        st = os.stat(target)
        return Stat(st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, st.st_dev)
    finally:
        os.close(fd)
        if out >= 0:
            os.close(out)
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def _moved(now: Stat, recorded: Stat) -> bool:
    return (now.size, now.mtime_ns, now.ino) != (recorded.size, recorded.mtime_ns, recorded.ino)
