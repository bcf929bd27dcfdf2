"""The spec's benchmarks and testing checklist, on real daemons and real folders.

Each benchmark is a function that builds what it needs under a scratch folder and
returns Results (medians over several runs). Tiers choose the subset:

    small   empty and 100-file vaults, memory; single-file sync, 100-file sync, bytes, idle
            on two live daemons (bench/live.py)
    medium  1,000 files: cold/warm start, initial sync, RSS; WAN single-file sync
    large   10,000 files: cold/warm start, initial sync, RSS
    xl      50,000 files: start-up, RSS, time until the most recent notes are in sync
    real    a documentation vault (11,000 files, 283 MB): import, join, RSS, CPU, disk, edit;
            with --syncthing, Syncthing on the same vault (also on large's): bench/real.py
"""

from __future__ import annotations

import gc
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from . import netns, real, vaultgen, warmstart
from .followon import bench_followon
from .harness import BenchError, Device, cli, pair, same_tree, wait_for
from .live import Pair, bench_live_small, single_file
from .report import Result, Skipped

TIERS = ("small", "medium", "large", "xl", "real")
DEFAULT_TIERS = ("small", "medium", "large")


@dataclass
class Plan:
    base: Path
    quick: bool
    runs: int  # repetitions of each start-up figure
    edits: int  # repetitions of each single-edit figure
    idle_s: float
    syncthing: bool = False  # also measure Syncthing on the same vaults (real, large)
    cache: Path | None = None  # where the real vault is kept between runs

    def fresh(self, name: str) -> Path:
        d = self.base / name
        self.discard(d)
        return d

    def discard(self, path: Path) -> None:
        """Put a run's folder aside, deleted with the whole scratch folder at the end.
        Not deleted now: on ext4 without a journal (this machine's) a new inode skips every
        inode freed in the last 5-35 s, one check each, so the next run's files would be
        created up to 20 times slower (0.4 ms against 0.02 ms each, measured), its join
        timed against that."""
        if path.exists():
            trash = self.base / ".discarded"
            trash.mkdir(parents=True, exist_ok=True)
            path.rename(trash / f"{len(list(trash.iterdir()))}-{path.name}")


Bench = Callable[[Plan], list[Result | Skipped]]


# ----------------------------------------------------------------------------- reference
def reference_ms(n: int = 5) -> float:
    """How long this machine takes to start a Python process that imports asyncio: the yardstick
    times are compared against, measured in the same run (see report.compare)."""
    runs = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import asyncio, json, sqlite3"], check=True)
        runs.append((time.perf_counter() - t0) * 1000)
    return statistics.median(runs)


# ----------------------------------------------------------------------------- start-up
def _starts(plan: Plan, files: int, budget_cold: float, goal_cold: float) -> list[Result | Skipped]:
    cold, warm, rss, imported = [], [], [], []
    for run in range(plan.runs):
        root = plan.fresh(f"start-{files}")
        if files:
            vaultgen.generate(root, files, seed=run)
        dev = Device(root)
        dev.init()
        cold.append(dev.start() * 1000)  # first start: the folder is not imported yet
        imported.append(dev.wait_scanned() * 1000 + cold[-1])
        dev.stop()
        warm.append(dev.start() * 1000)
        dev.wait_scanned()
        rss.append(dev.rss_mb())
        dev.stop()
        plan.discard(root)
    label = f"{files:,} files" if files else "empty vault"
    n = f"{files}" if files else "empty"
    out: list[Result | Skipped] = [
        Result(f"cold_start_{n}_ms", f"cold start, {label}", "ms", "time", cold, budget_cold, goal_cold),
        Result(f"warm_start_{n}_ms", f"warm start, {label}", "ms", "time", warm, 500.0, goal_cold),
    ]
    if files:
        out.append(Result(f"first_import_{n}_ms", f"first import of {label} (background)", "ms", "time", imported))
        mem_budget = 50.0 if files <= 100 else 100.0 if files <= 1000 else 200.0
        mem_goal = {1000: 50.0, 10000: 60.0}.get(files)
        out.append(Result(f"rss_{n}_mb", f"daemon RSS, {label}", "MB", "memory", rss, mem_budget, mem_goal))
    return out


def bench_start_small(plan: Plan) -> list[Result | Skipped]:
    return _starts(plan, 0, 1000.0, 300.0) + _starts(plan, 100, 1000.0, 300.0)


def bench_start_medium(plan: Plan) -> list[Result | Skipped]:
    return _starts(plan, 1000, 2000.0, 500.0)


def bench_start_large(plan: Plan) -> list[Result | Skipped]:
    return _starts(plan, 10000, 5000.0, 1000.0)


def bench_memory_100_docs(plan: Plan) -> list[Result | Skipped]:
    """Memory growth of loading 100 notes into the document cache, each run in a fresh process
    (in a used one, the allocator would hand back memory freed earlier and show nothing)."""
    root = plan.fresh("memory")
    vaultgen.generate(root, 100, seed=3)
    cli("init", "--own-id", str(root))
    runs = []
    for run in range(plan.runs + 1):
        res = subprocess.run(
            [sys.executable, "-c", f"from peervault.bench.suite import memory_probe; memory_probe({str(root)!r}, {run == 0})"],
            capture_output=True,
            text=True,
            check=True,
        )
        probe = json.loads(res.stdout)
        if run == 0:
            continue  # that one imported the notes into the database
        if probe["cached"] != 100:
            raise BenchError(f"expected 100 notes in the cache, found {probe['cached']}")
        runs.append(probe["mb"])
    return [Result("memory_100_docs_mb", "memory for 100 loaded notes", "MB", "memory", runs, 50.0, 10.0)]


def memory_probe(root: str, import_notes: bool) -> None:
    """Print, as JSON, the RSS growth of loading all of ROOT's notes into a fresh engine's cache
    (after importing them into the database first, if asked)."""
    from ..config import Config
    from ..state import VaultState
    from ..sync.engine import Engine

    state = VaultState.open(Path(root))
    if import_notes:
        Engine(state.root, state.store, Config(), time.time).reconcile(time.time())
    engine = Engine(state.root, state.store, Config(), time.time)
    gc.collect()
    before = psutil.Process().memory_info().rss
    texts = [engine.text(fid) for fid in list(engine.files)]
    after = psutil.Process().memory_info().rss
    print(json.dumps({"mb": (after - before) / 2**20, "cached": engine.cache_stats()["docs_cached"], "notes": len(texts)}))


# ----------------------------------------------------------------------------- initial sync
def _initial(plan: Plan, files: int, budget_s: float, goal_s: float | None, runs: int) -> list[Result | Skipped]:
    times, connected = [], []
    for _ in range(runs):
        pr = Pair(plan, f"initial-{files}", files)
        try:
            if not same_tree(pr.a.root, pr.b.root):
                raise BenchError(f"after joining, B's folder differs from A's ({files} files)")
            times.append(pr.join_s)
            connected.append(pr.connected_sync_s)
        finally:
            pr.close()
    return [
        Result(f"initial_sync_{files}_s", f"initial sync, {files:,} files (whole `join`)", "s", "time", times, budget_s),
        Result(
            f"initial_sync_{files}_connected_s",
            f"initial sync, {files:,} files, after connecting",
            "s",
            "time",
            connected,
            budget_s,
            goal_s,
            note="as Syncthing was measured: 1.1 s / 8.5 s",
        ),
    ]


def bench_initial_medium(plan: Plan) -> list[Result | Skipped]:
    return _initial(plan, 1000, 60.0, 1.0, plan.runs)


def bench_initial_large(plan: Plan) -> list[Result | Skipped]:
    return _initial(plan, 10000, 600.0, 8.0, 1 if plan.quick else 2)


# ----------------------------------------------------------------------------- WAN
def bench_wan(plan: Plan) -> list[Result | Skipped]:
    """Single-file sync through a user-space UDP proxy adding 50 ms each way, between
    network namespaces where the proxy is the only route (TECHNOTES 6)."""
    ok, why = netns.available()
    if not ok:
        return [Skipped("wan_sync_1kb_ms", "WAN single-file sync (50 ms each way)", why)]
    from ..state import VaultState

    a_root, b_root = plan.fresh("wan-A"), plan.fresh("wan-B")
    a, b = Device(a_root), Device(b_root)
    a.init()
    b.init()
    a.start()
    pair(a, b)
    a.stop()
    b_id = VaultState.open(b_root)
    b_device = b_id.device_id
    b_id.close()
    with netns.Topology() as topo:
        b.prefix, b.bind = topo.exec_args("b", []), f"{topo.b_ip}:7101"
        a.prefix, a.bind = topo.exec_args("a", []), f"{topo.a_ip}:7100"
        proxy = topo.start_proxy(7201, 7101, delay_ms=50)
        sa = VaultState.open(a_root)
        sa.store.update_peer(b_device, addrs=[proxy.address])  # the proxy is A's only way to B
        sa.close()
        b.start()
        a.start()
        try:
            wait_for(lambda: a.connected() and b.connected(), 60, "A and B connected through the proxy", poll=0.05)
            return single_file(plan, a, b, "wan_sync", "one edit over WAN (+50 ms each way),", 600.0)
        finally:
            a.stop()
            b.stop()


# ----------------------------------------------------------------------------- XL
def bench_xl(plan: Plan) -> list[Result | Skipped]:
    """50,000 files: start-up, RSS, and how soon the notes edited in the last hour are in sync
    on a joining device (incremental sync sends them first)."""
    files = 50000
    a, b = Device(plan.fresh("xl-A")), Device(plan.fresh("xl-B"))
    manifest = vaultgen.generate(a.root, files, seed=11)
    a.init()
    cold = a.start() * 1000
    imported = a.wait_scanned(1800) * 1000 + cold
    a.stop()
    warm = a.start() * 1000
    a.wait_scanned(1800)
    rss = a.rss_mb()
    b.init()
    ticket = cli("invite", str(a.root), "--no-wait").splitlines()[-1]
    recent = [b.root / p for p in manifest.last_hour]
    t0 = time.monotonic()
    join = subprocess.Popen(
        [sys.executable, "-m", "peervault", "join", str(b.root), ticket, "--bind", b.bind, "--timeout", "1800"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        recent_s = wait_for(lambda: all(p.exists() for p in recent), 1800, "the last hour's notes on B", poll=0.02)
        join.wait(1800)
        full_s = time.monotonic() - t0
    finally:
        if join.poll() is None:
            join.kill()
        a.stop()
    return [
        Result("xl_cold_start_ms", "XL (50,000 files): cold start", "ms", "time", [cold], 10000.0),
        Result("xl_warm_start_ms", "XL (50,000 files): warm start", "ms", "time", [warm], 10000.0),
        Result("xl_first_import_ms", "XL (50,000 files): first import (background)", "ms", "time", [imported]),
        Result("xl_rss_mb", "XL (50,000 files): daemon RSS", "MB", "memory", [rss], 300.0),
        Result("xl_recent_in_sync_s", f"XL: last hour's {len(recent)} notes on a joining device", "s", "time", [recent_s]),
        Result("xl_initial_sync_s", "XL: full initial sync (best effort)", "s", "time", [full_s]),
    ]


BENCHES: dict[str, list[tuple[str, Bench]]] = {
    "small": [
        ("start-up, empty and 100 files", bench_start_small),
        ("memory, 100 notes", bench_memory_100_docs),
        ("live sync and idle", bench_live_small),
        ("follow-on edits, 10 new notes 0.3 s apart", bench_followon),
    ],
    "medium": [
        ("start-up, 1,000 files", bench_start_medium),
        ("initial sync, 1,000 files", bench_initial_medium),
        ("warm start, 2,000 files", warmstart.bench_warm_start_2000),
        ("WAN single-file sync", bench_wan),
    ],
    "large": [
        ("start-up, 10,000 files", bench_start_large),
        ("initial sync, 10,000 files", bench_initial_large),
        ("10,000 files beside Syncthing", real.bench_large_side),
    ],
    "xl": [("50,000 files", bench_xl)],
    "real": [("real vault", real.bench_real), ("real vault, Syncthing", real.bench_real_syncthing)],
}
