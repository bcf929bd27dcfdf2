"""What the daemon keeps resident: glibc's malloc settings, freed heap handed back, and the
pages of code that only start-up ran handed back too.

The floor of an idle daemon is not its data but its code (docs/PERFORMANCE.md, "The floor
of an idle daemon"): about 28 MB of its RSS are pages of shared libraries (Iroh 10 MB,
Loro 6, libpython 4, libcrypto 3) read in while Python imported them and the daemon
started, mostly never run again. `release_code` asks the kernel to reclaim them
(MADV_PAGEOUT, as Android does for apps in the background); a page that is used again is
read back from the file on its first touch. It never discards data: only read-only
mappings of files are named, and the kernel writes out (or keeps) any page it cannot
drop. Linux with glibc only; elsewhere each function does nothing.
"""

from __future__ import annotations

import sys
from typing import Any

_M_ARENA_MAX = -8  # glibc's mallopt parameters (malloc.h)
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 128 * 1024  # glibc's default, fixed: see tune_malloc
_MADV_PAGEOUT = 21  # Linux 5.4; older kernels answer EINVAL and nothing happens
_NOT_FILES = ("/dev/", "/memfd:", "/SYSV")  # devices and shared memory: not code read from a file


def _libc() -> Any:
    """glibc through ctypes, or None where it is not (macOS, musl, Windows)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.gnu_get_libc_version  # noqa: B018 - glibc only: musl has mallopt but not this
    except (OSError, AttributeError):
        return None
    return libc


def tune_malloc() -> None:
    """Two limits on glibc's malloc, set before the endpoint starts its threads:
    * one arena for all threads: Iroh's runtime threads would each get their own, which
      keeps about 1 MB of freed pages per thread resident for a daemon that is mostly idle;
    * blocks of 128 KB and more always mmapped on their own (the default threshold, fixed):
      glibc otherwise raises the threshold (up to 32 MB) each time such a block is freed, so
      later large buffers (snapshots, frames, blobs' chunks) come from the heap and keep it
      large after the burst. Peaks of a 10,000-note first import 97 -> 89 MB, of a join
      94 -> 90 MB (docs/PERFORMANCE.md, "The floor of an idle daemon")."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(_M_ARENA_MAX, 1)
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)


def trim_heap() -> None:
    """Hand memory freed after a burst of work (loading the index, a large sync) back to the
    system. Loro's and Iroh's native allocations go through glibc's malloc, which keeps freed
    pages otherwise: ~10 MB on a 10,000-note vault. A few milliseconds."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def release_code(maps: str = "/proc/self/maps") -> int:
    """Ask the kernel to reclaim the resident pages of every read-only file mapping (the
    code and constants of the interpreter and its libraries), after start-up: 16 MB of an
    idle daemon's RSS; what runs again is read back at its first touch (within a minute
    about 2 MB). Pages other processes map too are left alone by the kernel. Returns how
    many mappings were advised."""
    libc = _libc()
    if libc is None:
        return 0
    import ctypes

    madvise = libc.madvise
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    advised = 0
    try:
        with open(maps) as f:
            lines = f.readlines()
    except OSError:
        return 0
    for line in lines:
        fields = line.split(maxsplit=5)
        # address perms offset dev inode path: a file's pages, never a writable mapping
        if len(fields) < 6 or not fields[5].startswith("/") or "w" in fields[1] or fields[5].startswith(_NOT_FILES):
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        if madvise(start, end - start, _MADV_PAGEOUT) == 0:
            advised += 1
    return advised
