"""Watching a sync from outside, the same way for PeerVault and for Syncthing: peak memory
while it runs, CPU over a window, the disk used beside a folder, and when a folder holds
every expected file byte for byte."""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import psutil

from .harness import BenchError

MB = 2**20
# Not part of a device's vault: our state, Syncthing's folder marker and versions.
NOT_VAULT = frozenset({".peervault", ".stfolder", ".stversions"})


def _hwm_bytes(pid: int) -> int:
    """The kernel's high-water mark of the process's RSS (Linux), 0 where unknown."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


class PeakRss:
    """Peak RSS of some processes while the `with` block runs, sampled every `interval` in a
    thread; for a process that lives only inside the block (`whole_life`), also the kernel's
    own high-water mark, which no sampling can miss."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak: dict[str, float] = {}
        self._procs: dict[str, tuple[int, bool]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._lock = threading.Lock()

    def add(self, label: str, pid: int, *, whole_life: bool = False) -> None:
        with self._lock:
            self._procs[label] = (pid, whole_life)
            self.peak.setdefault(label, 0.0)

    def _sample(self) -> None:
        with self._lock:
            procs = dict(self._procs)
        for label, (pid, whole_life) in procs.items():
            rss = 0
            with contextlib.suppress(psutil.Error):
                rss = int(psutil.Process(pid).memory_info().rss)
            if whole_life:
                rss = max(rss, _hwm_bytes(pid))
            self.peak[label] = max(self.peak[label], rss / MB)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


CPU_CLOCK, CPU_TICKS = "cpuclock", "psutil"  # how CPU time was counted (named in the bench's JSON)


def _clock_ns(pid: int) -> int | None:
    """The kernel's CPU-time clock of process `pid` (Linux: CLOCK_PROCESS_CPUTIME_ID of another
    process, via clock_getcpuclockid): ns on CPU of all its threads, those that already exited
    included. Not /proc/PID/schedstat, which counts the main thread only, nor a sum of
    /proc/PID/task/*/schedstat, which loses a thread that exits (tokio's idle workers do).
    None where there is no such clock, or no such process."""
    import ctypes

    try:
        getclock = ctypes.CDLL(None, use_errno=True).clock_getcpuclockid
    except (AttributeError, OSError):
        return None
    clock = ctypes.c_int()
    if getclock(pid, ctypes.byref(clock)) != 0:
        return None
    try:
        return time.clock_gettime_ns(clock.value)
    except OSError:
        return None


def cpu_source() -> str:
    """CPU_CLOCK where the kernel's per-process clock can be read, else CPU_TICKS: psutil's
    user + system time, in 10 ms clock ticks (one tick in 30 s is 0.033 % of a core)."""
    return CPU_CLOCK if _clock_ns(os.getpid()) is not None else CPU_TICKS


def cpu_ns(pids: list[int], source: str) -> dict[int, int]:
    """CPU time each of `pids` has used so far, in ns, counted as `source` says; a process
    that is gone is left out."""
    out = {}
    for pid in pids:
        if source == CPU_CLOCK:
            ns = _clock_ns(pid)
        else:
            try:
                t = psutil.Process(pid).cpu_times()
                ns = round(float(t.user + t.system) * 1e9)
            except psutil.Error:
                ns = None
        if ns is not None:
            out[pid] = ns
    return out


def cpu_seconds(before: dict[int, int], after: dict[int, int]) -> float:
    """CPU seconds the processes used between two `cpu_ns` readings: each process counts from
    its first reading (one that started since, from its start); one that went away counts
    nothing, so the figure is never negative."""
    return sum(max(ns - before.get(pid, 0), 0) for pid, ns in after.items()) / 1e9


def cpu_share(before: dict[int, int], after: dict[int, int], seconds: float) -> float:
    """% of one core the processes used between two `cpu_ns` readings `seconds` apart."""
    return cpu_seconds(before, after) / max(seconds, 1e-9) * 100


def rss_mb(pid: int) -> float:
    return int(psutil.Process(pid).memory_info().rss) / MB


def hwm_mb(pid: int) -> float:
    return _hwm_bytes(pid) / MB


def disk_bytes(root: Path, skip: frozenset[str] = frozenset()) -> int:
    """Bytes allocated on disk (`du`, not apparent sizes) under `root`, top-level `skip` left out."""
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath == str(root):
            dirnames[:] = [d for d in dirnames if d not in skip]
        for name in filenames:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
    return total


def vault_files(root: Path) -> list[str]:
    """Every file of the vault under `root` (not our state nor Syncthing's), '/'-separated."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath == str(root):
            dirnames[:] = [d for d in dirnames if d not in NOT_VAULT]
        out += [os.path.relpath(os.path.join(dirpath, n), root).replace(os.sep, "/") for n in filenames]
    return out


def _digest(path: str) -> tuple[int, str]:
    with open(path, "rb") as f:
        data = f.read()
    return len(data), hashlib.sha256(data).hexdigest()


def tree_digest(root: Path) -> dict[str, tuple[int, str]]:
    """rel -> (size, sha256) of every file of the vault under `root`."""
    return {rel: _digest(os.path.join(root, rel)) for rel in vault_files(root)}


class Arrival:
    """Polled until every expected file is on disk with its bytes. A poll stats the files still
    missing from the end of the list and stops at the first one not there at its size, so it
    costs a few stats whatever order the files come in; when none is missing, every file is
    read and hashed once, and any that differs is waited for again. `done_at` is the moment
    the last file was seen."""

    def __init__(self, root: Path, expected: dict[str, tuple[int, str]]) -> None:
        self.root, self.expected = root, expected
        self.missing = list(expected)
        self.done_at: float | None = None

    def __call__(self) -> bool:
        while self.missing:
            rel = self.missing[-1]
            try:
                if os.stat(os.path.join(self.root, rel)).st_size != self.expected[rel][0]:
                    return False
            except OSError:
                return False
            self.missing.pop()
        seen = time.monotonic()
        self.missing = self.differing()
        if self.missing:
            return False
        self.done_at = seen
        return True

    def differing(self) -> list[str]:
        out = []
        for rel, want in self.expected.items():
            try:
                if _digest(os.path.join(self.root, rel)) != want:
                    out.append(rel)
            except OSError:
                out.append(rel)
        return out

    def extra(self) -> list[str]:
        """Files in the vault that were not expected (a conflict copy, a stray temp file)."""
        return sorted(set(vault_files(self.root)) - set(self.expected))


def wait_arrival(arrival: Arrival, timeout: float, what: str, check: Callable[[], None] | None = None) -> float:
    """Monotonic time the last file arrived (see Arrival), polling every 10 ms; `check` may
    raise BenchError (the process doing the sync died)."""
    deadline = time.monotonic() + timeout
    while not arrival():
        if check is not None:
            check()
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {what} ({len(arrival.missing)} files missing)")
        time.sleep(0.01)
    assert arrival.done_at is not None
    return arrival.done_at
