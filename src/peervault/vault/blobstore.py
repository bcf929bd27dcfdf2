"""Content-addressed store for files that do not sync as text (not UTF-8, or over 5 MB).

Layout under `state_dir/blobs/`:

| path | what |
|---|---|
| `<h[:2]>/<h>` | a complete blob, named by the BLAKE3 hex digest of its bytes; never modified once there |
| `partial/<h>` | an interrupted download of blob `h`, appended to in order and verified before it moves |
| `tmp/` | temp files of `add_file` (a crash can leave one behind; nothing ever reads them) |

Every operation streams in `CHUNK`s, so memory stays bounded by the chunk size whatever the
file size. A blob appears under its name only by a rename after fsync, so a reader never sees
a half-written one. Hashes come from peers: every method validates `h` (64 lowercase hex
characters) before building a path from it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .fsops import sync_dirs

CHUNK = 256 * 1024

_HASH_RE = re.compile(r"[0-9a-f]{64}")
_PREFIX_RE = re.compile(r"[0-9a-f]{2}")


class BlobChanged(OSError):
    """A file changed while it was being copied into the blob store: read it again later."""


def _hasher() -> Any:
    """BLAKE3, imported on first use: a vault without binary files never pays its memory."""
    import blake3

    return blake3.blake3()


def _check(h: object) -> str:
    if not isinstance(h, str) or _HASH_RE.fullmatch(h) is None:
        raise ValueError(f"not a blob hash: {h!r:.80}")
    return h


def _open_regular(path: Path) -> int:
    """Open a regular file for reading. O_NONBLOCK so that a FIFO cannot hang us before the check."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
    except BaseException:
        os.close(fd)
        raise
    return fd


def _chunks(fd: int, buf: bytearray) -> Iterator[memoryview]:
    """Read `fd` to its end into one reused buffer. Each view is valid until the next one."""
    view = memoryview(buf)
    while n := os.readv(fd, [buf]):
        yield view[:n]


def _write_all(fd: int, data: memoryview | bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _create_temp(folder: Path, prefix: str) -> tuple[Path, int]:
    """A new, exclusive temp file. Mode 0o666 minus the umask, like any file the user's
    programs create (mkstemp's 0o600 would follow the file into the vault on rename)."""
    folder.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = folder / f"{prefix}{os.getpid()}-{secrets.token_hex(6)}.tmp"
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue


def hash_file(path: Path) -> tuple[str, int]:
    """(BLAKE3 hex digest, size) of the bytes read, streaming in CHUNKs."""
    hasher = _hasher()
    size = 0
    fd = _open_regular(path)
    try:
        for piece in _chunks(fd, bytearray(CHUNK)):
            hasher.update(piece)
            size += len(piece)
    finally:
        os.close(fd)
    return hasher.hexdigest(), size


class BlobStore:
    """Blobs of one vault (see the module docstring). Blocking calls: run them off the event loop."""

    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "blobs"
        self._partial_dir = self.root / "partial"
        self._tmp_dir = self.root / "tmp"
        for d in (self.root, self._partial_dir, self._tmp_dir):
            d.mkdir(parents=True, exist_ok=True)

    # -- complete blobs ---------------------------------------------------------------------

    def path(self, h: str) -> Path:
        """Where the complete blob `h` lives (it may not exist)."""
        _check(h)
        return self.root / h[:2] / h

    def has(self, h: str) -> bool:
        return self.path(h).is_file()

    def size(self, h: str) -> int | None:
        try:
            return self.path(h).stat().st_size
        except FileNotFoundError:
            return None

    def add_file(self, src: Path) -> tuple[str, int]:
        """Copy `src` into the store, hashing while copying; (hash, size). A blob already held is
        not written again (nor fsynced). Raises BlobChanged, leaving nothing behind, if the file
        changed during the copy (size or mtime, or the path now names another file)."""
        fd = _open_regular(src)
        tmp: Path | None = None
        out = -1
        try:
            before = os.fstat(fd)
            tmp, out = _create_temp(self._tmp_dir, "add-")
            hasher = _hasher()
            size = 0
            for piece in _chunks(fd, bytearray(CHUNK)):
                hasher.update(piece)
                _write_all(out, piece)
                size += len(piece)
            after = os.fstat(fd)
            try:
                now = os.stat(src)
            except FileNotFoundError:
                now = None
            if (
                size != before.st_size
                or (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns)
                or now is None
                or (now.st_dev, now.st_ino) != (before.st_dev, before.st_ino)
            ):
                raise BlobChanged(errno.EAGAIN, "file changed while being copied into the blob store", str(src))
            h = hasher.hexdigest()
            final = self.path(h)
            if not final.is_file():
                os.fsync(out)
                os.close(out)
                out = -1
                self._move_in(tmp, final)
                tmp = None
            return h, size
        finally:
            os.close(fd)
            if out >= 0:
                os.close(out)
            if tmp is not None:
                tmp.unlink(missing_ok=True)

    def open_chunks(self, h: str, offset: int = 0) -> Iterator[bytes]:
        """CHUNK-sized pieces of the complete blob `h` from `offset` (the last may be shorter).
        Checks `h` and `offset` at the call, not at the first iteration."""
        size = self.size(h)
        if size is None:
            raise FileNotFoundError(errno.ENOENT, "no such blob", h)
        if not 0 <= offset <= size:
            raise ValueError(f"offset {offset} outside blob of {size} bytes")
        return self._read_from(self.path(h), offset)

    @staticmethod
    def _read_from(path: Path, offset: int) -> Iterator[bytes]:
        with open(path, "rb", buffering=0) as f:
            f.seek(offset)
            while piece := f.read(CHUNK):
                yield piece

    def copy_to(self, h: str, target: Path, tmp_dir: Path) -> None:
        """Materialise blob `h` at `target` atomically: temp file in `tmp_dir` (same filesystem
        as `target`), fsync, rename over `target`, fsync its folder. `target` is either untouched
        or complete."""
        src = self.path(h)
        fd = _open_regular(src)
        tmp: Path | None = None
        out = -1
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp, out = _create_temp(tmp_dir, f"blob-{h[:12]}-")
            for piece in _chunks(fd, bytearray(CHUNK)):
                _write_all(out, piece)
            os.fsync(out)
            os.close(out)
            out = -1
            os.replace(tmp, target)
            tmp = None
            sync_dirs({target.parent})
        finally:
            os.close(fd)
            if out >= 0:
                os.close(out)
            if tmp is not None:
                tmp.unlink(missing_ok=True)

    def remove(self, h: str) -> None:
        """Drop the complete blob `h` (missing is fine). Its partial download, if any, stays."""
        self.path(h).unlink(missing_ok=True)

    def all_hashes(self) -> Iterator[str]:
        """Hashes of the complete blobs (not partial downloads, not temp files)."""
        for prefix in self._scan(self.root):
            if not (prefix.is_dir(follow_symlinks=False) and _PREFIX_RE.fullmatch(prefix.name)):
                continue
            for entry in self._scan(Path(prefix.path)):
                name = entry.name
                if _HASH_RE.fullmatch(name) and name.startswith(prefix.name) and entry.is_file(follow_symlinks=False):
                    yield name

    def bytes_used(self) -> int:
        """Bytes of every file the store holds: complete blobs, partial downloads and temp files."""
        total = 0
        stack = [self.root]
        while stack:
            for entry in self._scan(stack.pop()):
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    with contextlib.suppress(FileNotFoundError):
                        total += entry.stat(follow_symlinks=False).st_size
        return total

    # -- partial downloads ------------------------------------------------------------------

    def _partial(self, h: str) -> Path:
        return self._partial_dir / _check(h)

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
            _write_all(fd, data)
        finally:
            os.close(fd)
        return current + len(data)

    def finish_partial(self, h: str, size: int) -> bool:
        """Move the partial download of `h` into place if it holds exactly `size` bytes hashing to
        `h` (True); otherwise delete it (False). A blob of 0 bytes needs no partial file."""
        path = self._partial(h)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)  # no appends for an empty blob: create it
        try:
            ok = os.fstat(fd).st_size == size
            if ok:
                hasher = _hasher()
                read = 0
                for piece in _chunks(fd, bytearray(CHUNK)):
                    hasher.update(piece)
                    read += len(piece)
                ok = read == size and hasher.hexdigest() == h
            if ok:
                os.fsync(fd)
        finally:
            os.close(fd)
        if not ok:
            path.unlink(missing_ok=True)
            return False
        self._move_in(path, self.path(h))
        return True

    # -- helpers ----------------------------------------------------------------------------

    def _move_in(self, src: Path, final: Path) -> None:
        """Rename a verified, fsynced file to its blob name and make the name durable."""
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
