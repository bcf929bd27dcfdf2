"""The spec's PerformanceMonitor: start-up phases, sync latency, memory, cache, network.

Kept by the daemon, exported as JSON in daemon.json (and so by `status --json`); the last
hour's samples (`Samples`, for the dashboard's plot) through GET /samples."""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from typing import Any, Protocol


def median(values: Any) -> float:
    """The median of a non-empty sequence of numbers. (Not `statistics.median`: importing
    `statistics` loads `decimal` and `fractions`, 0.7 MB of every daemon's RSS.)"""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


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


def children_peak_mb() -> float | None:
    """The highest RSS of the child processes this one has waited for (their own children
    included): the first import's process and its note workers, for the daemon. None
    where the system does not say (Windows has no `resource`)."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KB elsewhere


SAMPLE_STEP_S = 10  # one point per 10 s ...
SAMPLE_KEEP_S = 3600  # ... for the last hour: 360 points, a few KB
LATENCIES_PER_STEP = 256  # latencies kept per point for its median; the max counts them all


class _Step:
    __slots__ = ("latencies", "latency_max", "received", "sent", "start")

    def __init__(self, start: int) -> None:
        self.start = start
        self.latencies: list[float] = []
        self.latency_max: float | None = None
        self.sent = 0
        self.received = 0


class Samples:
    """The last hour in 10-second steps: how long changes received took to reach the disk
    (median and max, ms) and the bytes sent and received. Pure: every call takes `now`.

    Traffic comes as the daemon's running totals, whenever it looks (each status write,
    each request for the samples); the bytes since the last look count in the step of
    `now`, so an idle stretch nobody looked at shows as one step with its few bytes."""

    def __init__(self, step_s: int = SAMPLE_STEP_S, keep_s: int = SAMPLE_KEEP_S) -> None:
        self.step_s = step_s
        self.keep = keep_s // step_s
        self._steps: deque[_Step] = deque(maxlen=self.keep)
        self._totals: tuple[int, int] | None = None

    def _step(self, now: float) -> _Step:
        start = int(now // self.step_s) * self.step_s
        if not self._steps or self._steps[-1].start < start:
            self._steps.append(_Step(start))
        return self._steps[-1]  # a clock that stepped back: the newest step takes it

    def latency(self, ms: float, now: float) -> None:
        step = self._step(now)
        if len(step.latencies) < LATENCIES_PER_STEP:
            step.latencies.append(ms)
        step.latency_max = ms if step.latency_max is None else max(step.latency_max, ms)

    def traffic(self, sent_total: int, received_total: int, now: float) -> None:
        if self._totals is not None:
            sent, received = sent_total - self._totals[0], received_total - self._totals[1]
            step = self._step(now)
            step.sent += max(sent, 0)
            step.received += max(received, 0)
        self._totals = (sent_total, received_total)

    def series(self, now: float) -> dict[str, Any]:
        """Every step of the last hour, oldest first, as columns (a chart's data); a step with
        no change received has null latencies."""
        last = int(now // self.step_s) * self.step_s
        starts = [last - i * self.step_s for i in range(self.keep - 1, -1, -1)]
        by_start = {s.start: s for s in self._steps}
        steps = [by_start.get(t) for t in starts]
        return {
            "step_s": self.step_s,
            "t": starts,
            "latency_median_ms": [round(median(s.latencies), 2) if s and s.latencies else None for s in steps],
            "latency_max_ms": [round(s.latency_max, 2) if s and s.latency_max is not None else None for s in steps],
            "bytes_sent": [s.sent if s else 0 for s in steps],
            "bytes_received": [s.received if s else 0 for s in steps],
        }


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
        self.first_import_peak_mb: float | None = None  # its process's, when it had one
        self.samples = Samples()

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
            "first_import_peak_mb": self.first_import_peak_mb,
            **engine.cache_stats(),
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
            "active_connections": self.active_connections,
            **engine.stats,
        }
