"""Reproduces the figures in the README's "Measured so far" table with real daemons on
loopback: first import, warm start, join + initial sync, one-edit latency (20 edits),
RSS and idle CPU. A stop-gap until `peervault bench` (issue #3) replaces it.

    python scripts/measure_sync.py [FILES]        # default 1000
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ENV = {**os.environ, "PEERVAULT_NO_RELAY": "1"}
PV = [sys.executable, "-m", "peervault"]


def cli(*args: str) -> str:
    return subprocess.run(PV + list(args), env=ENV, capture_output=True, text=True, check=True).stdout.strip()


def start(root: Path) -> subprocess.Popen[bytes]:
    p = subprocess.Popen(PV + ["run", str(root), "--bind", "127.0.0.1:0"], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            if json.loads((root / ".peervault/daemon.json").read_text())["pid"] == p.pid:
                return p
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.01)


def stop(p: subprocess.Popen[bytes]) -> None:
    p.send_signal(signal.SIGTERM)
    p.wait(30)


def main(n: int) -> None:
    base = Path(tempfile.mkdtemp(prefix="pv-measure-"))
    a, b = base / "A", base / "B"
    try:
        cli("init", str(a))
        cli("init", str(b))
        for i in range(n):
            p = a / f"notes/{i // 100:02d}/note-{i:04d}.md"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(f"# Note {i}\n\n" + "Some text about things. " * 80 + "\n")
        t0 = time.monotonic()
        pa = start(a)
        print(f"first import of {n} files, to daemon ready: {time.monotonic() - t0:.2f} s")
        stop(pa)
        t0 = time.monotonic()
        pa = start(a)
        print(f"warm start with {n} files: {time.monotonic() - t0:.2f} s")
        t0 = time.monotonic()
        cli("join", str(b), cli("invite", str(a)), "--bind", "127.0.0.1:0")
        print(f"join + initial sync of {n} files (process start included): {time.monotonic() - t0:.2f} s")
        pb = start(b)
        time.sleep(2)
        lat = []
        for k in range(20):
            text = f"# Note 1\n\nedit number {k}\n" + "Some text about things. " * 80 + "\n"
            t0 = time.monotonic()
            (a / "notes/00/note-0001.md").write_text(text)
            while (b / "notes/00/note-0001.md").read_text() != text:
                time.sleep(0.002)
            lat.append(time.monotonic() - t0)
            time.sleep(1.2)  # past the debounce window: each edit is the first of its burst
        lat.sort()
        print(f"one edit, disk to disk: median {statistics.median(lat) * 1000:.0f} ms, p95 {lat[18] * 1000:.0f} ms")
        for name, root in (("A", a), ("B", b)):
            mt = json.loads((root / ".peervault/daemon.json").read_text())["metrics"]
            print(f"daemon {name}: RSS {mt['memory_mb']} MB, startup {mt['startup_time_ms']} ms, phases {mt['phases_ms']}")
        for name, p in (("A", pa), ("B", pb)):
            proc = psutil.Process(p.pid)
            c0 = proc.cpu_times()
            time.sleep(10)
            c1 = proc.cpu_times()
            print(f"daemon {name}: idle CPU over 10 s {((c1.user + c1.system) - (c0.user + c0.system)) * 10:.2f} % of a core")
        stop(pa)
        stop(pb)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
