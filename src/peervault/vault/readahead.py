"""Reading the next files of a large batch in a worker thread while the engine records the
current one.

A first import reads every note once; opening and reading a file release the GIL, so on
a second core the reads cost the engine's thread nothing (the `real` bench tier's 11,000
files: ~0.3 s of its ~3 s). The bytes are the same a read in place would give, read
after the same stat, a few files earlier. The window is bounded by count and by bytes,
so a batch of large notes is never all in memory at once; a file the caller skips is
dropped unread if it was not started.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

WINDOW_FILES = 32
WINDOW_BYTES = 8 * 1024 * 1024

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _reader() -> ThreadPoolExecutor:
    """One reader thread for the process, started on first use (never for small batches)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="peervault-read")
        return _pool


def read_file(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


class ReadAhead:
    """`take(path)` in the order of `files` ((path, size) pairs); any may be skipped."""

    def __init__(self, files: list[tuple[str, int]], window_files: int = WINDOW_FILES, window_bytes: int = WINDOW_BYTES) -> None:
        self._order = {path: n for n, (path, _) in enumerate(files)}
        self._todo = deque(files)
        self._inflight: deque[tuple[str, int, Future[bytes]]] = deque()
        self._bytes = 0
        self._window = (window_files, window_bytes)
        self._fill()

    def _fill(self) -> None:
        files, most = self._window
        while self._todo and len(self._inflight) < files and (not self._inflight or self._bytes + self._todo[0][1] <= most):
            path, size = self._todo.popleft()
            self._inflight.append((path, size, _reader().submit(read_file, path)))
            self._bytes += size

    def take(self, path: str) -> bytes:
        """The file's bytes (read ahead, or now); raises OSError as a read would."""
        n = self._order.get(path)
        found: Future[bytes] | None = None
        if n is not None:  # (every file in flight comes before every file not started)
            while self._inflight and self._order[self._inflight[0][0]] <= n:
                p, size, fut = self._inflight.popleft()
                self._bytes -= size
                if p == path:
                    found = fut
                else:
                    fut.cancel()  # skipped by the caller
            while self._todo and self._order[self._todo[0][0]] <= n:
                self._todo.popleft()  # skipped, or not reached yet: read now
        self._fill()
        return found.result() if found is not None else read_file(path)

    def close(self) -> None:
        """Drop what was not taken (a batch that ended early)."""
        for _, _, fut in self._inflight:
            fut.cancel()
        self._inflight.clear()
        self._todo.clear()
