"""The spec's PerformanceMonitor: start-up phases, sync latency, memory, cache, network.

Kept by the daemon, exported as JSON in daemon.json (and so by `status --json`)."""

from __future__ import annotations

import os
import time
from typing import Any, Protocol

_PROCESS_START = time.perf_counter()


_EARLY_PHASES: dict[str, float] = {}  # measured by the CLI before the daemon (and its Metrics) exist


def mark_process_start() -> None:
    """Called first thing by the CLI so `startup_ms` counts module loading too."""
    global _PROCESS_START
    _PROCESS_START = time.perf_counter()


def early_phase(name: str, started: float | None = None) -> None:
    """A start-up phase that ends before the daemon exists (the spec's "plugin load" and
    "storage init"); from process start when `started` is None."""
    _EARLY_PHASES[name] = round((time.perf_counter() - (_PROCESS_START if started is None else started)) * 1000, 2)


def rss_mb() -> float:
    """This process's resident memory: from /proc on Linux (importing psutil costs ~1 MB)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import psutil

        return float(psutil.Process().memory_info().rss) / 2**20


def trim_heap() -> None:
    """Hand memory freed after a burst of work (loading the index, a large sync) back to the
    system. Loro's and Iroh's native allocations go through glibc's malloc, which keeps freed
    pages otherwise: ~10 MB on a 10,000-note vault. A few milliseconds; Linux/glibc only."""
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def limit_arenas() -> None:
    """One malloc arena for all threads: Iroh's runtime threads would each get their own,
    which keeps about 1 MB of freed pages per thread resident for a daemon that is mostly
    idle. Call before the endpoint starts its threads. Linux/glibc only."""
    try:
        import ctypes

        ctypes.CDLL(None).mallopt(-8, 1)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


class _EngineView(Protocol):
    stats: dict[str, int]

    def cache_stats(self) -> dict[str, float]: ...


class Metrics:
    def __init__(self) -> None:
        self.phases_ms: dict[str, float] = dict(_EARLY_PHASES)
        self.startup_ms = 0.0
        self.last_sync_ms = 0.0
        self.avg_sync_ms = 0.0
        self.last_local_ms = 0.0
        self.bytes_sent = 0
        self.bytes_received = 0
        self.active_connections = 0

    def phase(self, name: str, started: float) -> None:
        self.phases_ms[name] = round((time.perf_counter() - started) * 1000, 2)

    def startup_done(self) -> None:
        self.startup_ms = round((time.perf_counter() - _PROCESS_START) * 1000, 2)

    def record_sync(self, seconds: float) -> None:
        ms = seconds * 1000
        self.last_sync_ms = round(ms, 2)
        self.avg_sync_ms = round(ms if not self.avg_sync_ms else self.avg_sync_ms * 0.9 + ms * 0.1, 2)

    def record_local(self, seconds: float) -> None:
        self.last_local_ms = round(seconds * 1000, 2)

    def snapshot(self, engine: _EngineView) -> dict[str, Any]:
        return {
            "startup_time_ms": self.startup_ms,
            "module_load_ms": self.phases_ms.get("module_load", 0.0),  # the spec's "plugin load"
            "transport_init_ms": self.phases_ms.get("transport_init", 0.0),  # the spec's "WASM load"
            "storage_init_ms": self.phases_ms.get("storage_init", 0.0),
            "index_load_ms": self.phases_ms.get("index_load", 0.0),
            "phases_ms": self.phases_ms,
            "last_sync_duration_ms": self.last_sync_ms,
            "avg_sync_latency_ms": self.avg_sync_ms,
            "last_local_change_ms": self.last_local_ms,
            "sync_error_count": engine.stats.get("sync_errors", 0),
            "memory_mb": round(rss_mb(), 1),  # whole process (RSS)
            **engine.cache_stats(),
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
            "active_connections": self.active_connections,
            **engine.stats,
        }
