"""Real daemons for the benchmarks: `peervault` processes on real folders, over loopback
(or inside network namespaces), observed only from outside: files, `daemon.json`, psutil."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from ..state import read_runtime

# loopback daemons: no relay, and no LAN discovery (the figures stay comparable with the
# baseline; its cost is measured on its own, docs/PERFORMANCE.md)
ENV = {**os.environ, "PEERVAULT_NO_RELAY": "1", "PEERVAULT_NO_MDNS": "1"}
PV = [sys.executable, "-m", "peervault"]


class BenchError(RuntimeError):
    """A benchmark could not run (a daemon did not start, a sync never completed)."""


def wait_for(cond: Callable[[], object], timeout: float, what: str, poll: float = 0.002) -> float:
    """Seconds until `cond` holds; polls finely because the figure is the wait itself."""
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)
    return time.monotonic() - t0


def cli(*args: str, prefix: list[str] | None = None, timeout: float = 600) -> str:
    res = subprocess.run([*(prefix or []), *PV, *args], env=ENV, capture_output=True, text=True, timeout=timeout)
    if res.returncode:
        raise BenchError(f"`peervault {' '.join(args[:2])}` failed: {res.stderr.strip()[-300:]}")
    return res.stdout.strip()


def read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


@dataclass
class Device:
    root: Path
    bind: str = "127.0.0.1:0"
    prefix: list[str] = field(default_factory=list)  # e.g. `ip netns exec NAME`
    proc: subprocess.Popen[bytes] | None = None

    def init(self) -> None:
        cli("init", "--own-id", str(self.root))

    def runtime(self) -> dict[str, Any]:
        return read_runtime(self.root / ".peervault")

    def start(self, timeout: float = 120) -> float:
        """Start `peervault run`; seconds from spawn until the daemon reports ready."""
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [*self.prefix, *PV, "run", str(self.root), "--bind", self.bind],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise BenchError(f"daemon for {self.root.name} exited with {self.proc.returncode}")
            rt = self.runtime()
            return bool(rt.get("running") and rt.get("ready") and self._is_ours(rt.get("pid")))

        wait_for(ready, timeout, f"daemon {self.root.name} ready", poll=0.001)
        return time.monotonic() - t0

    def _is_ours(self, pid: object) -> bool:
        """The daemon's pid, or (under `ip netns exec`) a child of the process we started."""
        if self.proc is None or not isinstance(pid, int):
            return False
        if pid == self.proc.pid:
            return True
        try:
            return int(psutil.Process(pid).ppid()) == self.proc.pid  # psutil has no types
        except psutil.Error:
            return False

    def wait_scanned(self, timeout: float = 600) -> float:
        return wait_for(lambda: self.refresh().get("scan_done"), timeout, f"{self.root.name} to import its files", poll=0.02)

    def refresh(self, newer_than: float = 0.0) -> dict[str, Any]:
        """daemon.json, rewritten by the daemon within a second of any change: wait for a copy
        written after `newer_than` (the bench reads the daemon's own file rather than query
        the API, so that what it measures is the daemon alone)."""
        deadline = time.monotonic() + 3.0  # nothing changed since: the copy there is current
        while read_runtime(self.root / ".peervault").get("updated_at", 0) <= newer_than and time.monotonic() < deadline:
            time.sleep(0.005)
        return read_runtime(self.root / ".peervault")

    def process(self) -> psutil.Process:
        return psutil.Process(int(self.runtime()["pid"]))

    def rss_mb(self) -> float:
        return int(self.process().memory_info().rss) / 2**20  # psutil has no types

    def connected(self) -> int:
        return sum(1 for s in self.refresh().get("connected", {}).values() if s == "live")

    def stop(self) -> None:
        if self.proc is None:
            return
        rt = self.runtime()
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(rt.get("pid") or self.proc.pid), signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def pair(a: Device, b: Device, timeout: float = 600) -> float:
    """A (running) invites B (stopped); B joins and syncs. Seconds the join took."""
    ticket = cli("invite", str(a.root), "--no-wait").splitlines()[-1]
    t0 = time.monotonic()
    cli("join", str(b.root), ticket, "--bind", b.bind, "--timeout", str(timeout), prefix=b.prefix, timeout=timeout + 30)
    return time.monotonic() - t0


def same_tree(a: Path, b: Path) -> bool:
    def files(root: Path) -> dict[str, bytes]:
        out = {}
        for p in root.rglob("*"):
            rel = p.relative_to(root).as_posix()
            if p.is_file() and not rel.startswith(".peervault/"):
                out[rel] = p.read_bytes()
        return out

    return files(a) == files(b)
