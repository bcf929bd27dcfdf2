"""What the daemon keeps resident: glibc's malloc settings, and freed heap handed back.

Linux with glibc only; elsewhere each function does nothing. Where an idle daemon's memory
goes, and what was measured and left out (handing back the pages of the libraries' code:
a lower RSS, but none of the memory the daemon owns), is in docs/PERFORMANCE.md, "The
floor of an idle daemon".
"""

from __future__ import annotations

import os
import sys
from typing import Any

_M_ARENA_MAX = -8  # glibc's mallopt parameters (malloc.h)
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 128 * 1024  # glibc's default, fixed: see tune_malloc


# Python's bindings of OpenSSL: `ssl` (asyncio imports it whatever the transport) and
# `_hashlib` (`hmac`, hence `secrets`, imports it); see `without_openssl`
_OPENSSL_MODULES = ("ssl", "_ssl", "_hashlib")


def without_openssl() -> None:
    """Keep Python's OpenSSL bindings out of this process: loading them maps libssl and
    libcrypto, 4.7 MB resident in every `peervault` process, for nothing: PeerVault's TLS is
    Iroh's (rustls, in Rust), asyncio needs `ssl` only for TLS sockets (it runs without it),
    and SHA-256, BLAKE2 and HMAC have CPython's own implementations, which `hashlib` and
    `hmac` use when `_hashlib` cannot be imported. Called by the CLI before anything imports
    asyncio; a module already loaded (the tests' process) stays. A later `import ssl` in this
    process raises ImportError (nothing of PeerVault's does one)."""
    if "asyncio" in sys.modules:
        return
    for name in _OPENSSL_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None: "not importable"


def without_rust_lib_backtraces() -> None:
    """`RUST_LIB_BACKTRACE=0` unless the environment says otherwise, before any Rust code of
    ours runs (and so for every child process too). With `RUST_BACKTRACE=1` (a developer's
    shell, some CI images) Rust's errors capture a backtrace, and iroh's bindings resolve it
    when they turn one into an IrohError: the first such error (a peer closing a connection
    during its handshake, as two devices dialling each other at once do) loads the symbols
    of iroh's 18 MB library and keeps them, +52 MB of RSS for the daemon's whole life
    (docs/PERFORMANCE.md, "A failed handshake and `RUST_BACKTRACE`"). Each Rust library
    reads the variable once, at its first capture; a panic's backtrace still follows
    `RUST_BACKTRACE`. Called by the CLI first thing."""
    os.environ.setdefault("RUST_LIB_BACKTRACE", "0")


def child_command(module: str) -> list[str]:
    """The command line of a child process (`python -m module`) kept without OpenSSL too."""
    code = f"from peervault.memory import without_openssl; without_openssl(); import runpy; runpy.run_module({module!r}, run_name='__main__', alter_sys=True)"
    return [sys.executable, "-c", code]


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


# A peer's join served (catch-up batches, blob answers): trimmed 10 times a second, not once.
# Serving the `real` tier's join touched freed pages all over a 21 MB heap: at one trim a
# second 17-19 MB of it was resident for at most 12 MB in use, at ten 15-16 MB (A in that
# phase 80 -> 77 MB); a trim takes about 0.6 ms (docs/PERFORMANCE.md, "A serving a join").
SERVING_EVERY = 0.1
# ... and SQLite's page cache kept this small while the rows a peer is sent are read (each
# read once: a catch-up's notes, the index's entries), instead of filling its 2 MB
SERVING_CACHE_KIB = 256
# ... and the blobs of a join received (each batch of arrivals written), as often: the
# `real` tier's joining device, 6 alternated pairs of plain joins, B's peak 68.15 MB against
# 68.8 at once a second (docs/PERFORMANCE.md, "The joining device's blob phase: what
# Python's arenas keep"); a trim of its 13 MB heap is about 1 ms.
FETCHING_EVERY = 0.1


class BurstTrimmer:
    """`trim_heap` now and then during a long burst (a peer's initial sync, served or
    received): freed pages are reused all over a fragmented heap, so without it the heap's
    whole extent becomes resident again while the sync runs (the `real` tier, A serving a
    join: 10 MB in use, 26 MB resident). At most once per `every` seconds of the `now` passed
    in, so never on a hot path: a trim of a 30 MB heap takes about 1 ms."""

    def __init__(self, every: float = 1.0) -> None:
        self.every = every
        self._last: float | None = None

    def after_work(self, now: float) -> bool:
        """Some work of the burst is done (a batch sent, a blob served or written); True if
        the heap was trimmed."""
        if self._last is not None and now - self._last < self.every:
            return False
        self._last = now
        trim_heap()
        return True
