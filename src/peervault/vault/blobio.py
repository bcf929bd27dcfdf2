"""Streaming reads, hashes and copies of binary files, in bounded memory.

Shared by the blob store (blobstore.py) and by what moves files between the store and
the vault (blobswap.py). Every loop reads `CHUNK`s into one reused buffer, so memory
stays at one chunk whatever the file's size. Hashes come from peers: `check_hash`
validates one (64 lowercase hex characters) before any path is built from it.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .fsops import Stat

CHUNK = 256 * 1024

HASH_RE = re.compile(r"[0-9a-f]{64}")


class BlobChanged(OSError):
    """A file changed while it was being read (hashed or copied): read it again later."""


def hasher() -> Any:
    """BLAKE3, imported on first use: a vault without binary files never pays its memory."""
    import blake3

    return blake3.blake3()


def check_hash(h: object) -> str:
    if not isinstance(h, str) or HASH_RE.fullmatch(h) is None:
        raise ValueError(f"not a blob hash: {h!r:.80}")
    return h


def open_regular(path: Path) -> int:
    """Open a regular file for reading. O_NONBLOCK so that a FIFO cannot hang us before the check."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
    except BaseException:
        os.close(fd)
        raise
    return fd


def chunks(fd: int, buf: bytearray) -> Iterator[memoryview]:
    """Read `fd` to its end into one reused buffer. Each view is valid until the next one."""
    view = memoryview(buf)
    while n := os.readv(fd, [buf]):
        yield view[:n]


def write_all(fd: int, data: memoryview | bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def create_temp(folder: Path, prefix: str) -> tuple[Path, int]:
    """A new, exclusive temp file. Mode 0o666 minus the umask, like any file the user's
    programs create (mkstemp's 0o600 would follow the file into the vault on rename)."""
    folder.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = folder / f"{prefix}{os.getpid()}-{secrets.token_hex(6)}.tmp"
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue


def fd_stat(fd: int) -> Stat:
    st = os.fstat(fd)
    return Stat(st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, st.st_dev)


def hash_file(path: Path) -> tuple[str, int]:
    """(BLAKE3 hex digest, size) of the bytes read, streaming in CHUNKs."""
    h, size, _ = hash_stable(path, strict=False)
    return h, size


def changed_while_read(path: Path, fd: int, before: Stat, size: int) -> bool:
    """Whether the file open as `fd` (`before`: its stat when opened; `size`: the bytes read)
    changed while it was read, or `path` names another file now."""
    after = fd_stat(fd)
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return True
    return (
        size != before.size
        or (after.size, after.mtime_ns) != (before.size, before.mtime_ns)
        or (now.st_dev, now.st_ino) != (before.dev, before.ino)
    )


def hash_stable(path: Path, strict: bool = True) -> tuple[str, int, Stat]:
    """(digest, size, Stat) of the file as it was while it was read. With `strict`, raises
    BlobChanged if it changed meanwhile (size, mtime, or the path now names another file):
    a digest recorded with a stat must describe exactly the bytes that stat stands for."""
    fd = open_regular(path)  # first: asking for a file that is not there loads no BLAKE3
    try:
        digest = hasher()
        size = 0
        before = fd_stat(fd)
        for piece in chunks(fd, bytearray(CHUNK)):
            digest.update(piece)
            size += len(piece)
        if strict and changed_while_read(path, fd, before, size):
            raise BlobChanged(errno.EAGAIN, "file changed while being hashed", str(path))
    finally:
        os.close(fd)
    return digest.hexdigest(), size, before


def copy_fd(fd: int, out: int) -> tuple[str, int]:
    """Copy `fd` to its end into `out`, hashing on the way: (digest, size)."""
    digest = hasher()
    size = 0
    for piece in chunks(fd, bytearray(CHUNK)):
        digest.update(piece)
        write_all(out, piece)
        size += len(piece)
    return digest.hexdigest(), size


def read_from(path: Path, offset: int) -> Iterator[bytes]:
    """CHUNK-sized pieces of a file from `offset` (the last may be shorter)."""
    with open(path, "rb", buffering=0) as f:
        f.seek(offset)
        while piece := f.read(CHUNK):
            yield piece


class BlobReader:
    """An open file served as a blob: it must show `expect` (size, mtime, inode) when opened,
    when one was recorded, and must not change while it is read (checked after the last
    piece: BlobChanged then, and the peer discards what it got, as for any cut transfer)."""

    def __init__(self, path: Path, expect: Stat | None = None) -> None:
        self.fd = open_regular(path)
        self.opened = fd_stat(self.fd)
        if expect is not None and (self.opened.size, self.opened.mtime_ns, self.opened.ino) != (
            expect.size,
            expect.mtime_ns,
            expect.ino,
        ):
            os.close(self.fd)
            raise BlobChanged(errno.EAGAIN, "the file changed since it was recorded", str(path))
        self.size = self.opened.size
        self.path = path

    def pieces(self, offset: int) -> Iterator[bytes]:
        pos = offset
        while piece := os.pread(self.fd, CHUNK, pos):
            pos += len(piece)
            yield piece
        now = fd_stat(self.fd)
        if (now.size, now.mtime_ns) != (self.opened.size, self.opened.mtime_ns) or pos != self.size:
            raise BlobChanged(errno.EAGAIN, "the file changed while it was served", str(self.path))

    def close(self) -> None:
        os.close(self.fd)
