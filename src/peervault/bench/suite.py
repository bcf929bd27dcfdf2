"""The spec's benchmarks and testing checklist, on real daemons and real folders.

Each benchmark is a function that builds what it needs under a scratch folder and
returns Results (medians over several runs). Tiers choose the subset:

    small   empty and 100-file vaults, single-file sync, 100-file sync, memory, bytes, idle
    medium  1,000 files: cold/warm start, initial sync, RSS; WAN single-file sync
    large   10,000 files: cold/warm start, initial sync, RSS
    xl      50,000 files: start-up, RSS, time until the most recent notes are in sync
    real    a documentation vault (11,000 files, 283 MB): import, join, RSS, CPU, disk, edit;
            with --syncthing, Syncthing on the same vault (also on large's): bench/real.py
"""

from __future__ import annotations

import gc
import json
import shutil
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
from .harness import BenchError, Device, cli, pair, read, same_tree, wait_for
from .probe import cpu_ns, cpu_share, cpu_source
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
        shutil.rmtree(d, ignore_errors=True)
        return d


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
        shutil.rmtree(root, ignore_errors=True)
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


# ----------------------------------------------------------------------------- live sync
class Pair:
    """Two paired daemons, A with `files` notes, both running and connected."""

    def __init__(self, plan: Plan, name: str, files: int = 0) -> None:
        self.a = Device(plan.fresh(f"{name}-A"))
        self.b = Device(plan.fresh(f"{name}-B"))
        if files:
            vaultgen.generate(self.a.root, files, seed=7)
        self.a.init()
        self.b.init()
        self.a.start()
        self.a.wait_scanned()
        self.join_s = pair(self.a, self.b)
        # the joining process's own figure: from the connection's opening to in sync
        self.connected_sync_s = self.b.runtime()["metrics"]["last_sync_duration_ms"] / 1000
        self.b.start()
        wait_for(lambda: self.a.connected() and self.b.connected(), 60, "both daemons connected", poll=0.05)

    def close(self) -> None:
        self.a.stop()
        self.b.stop()


def _edit_latency(a: Device, b: Device, rel: str, texts: list[str]) -> list[float]:
    """Write each text on A's disk; ms until B's disk holds exactly it. Each edit starts a burst
    (past the debounce window), as a person's save would."""
    out = []
    for text in texts:
        data = text.encode()
        t0 = time.monotonic()
        (a.root / rel).write_bytes(data)
        wait_for(lambda data=data: read(b.root / rel) == data, 60, f"{rel} on the peer")  # type: ignore[misc]
        out.append((time.monotonic() - t0) * 1000)
        time.sleep(1.2)
    return out


def _single_file(plan: Plan, a: Device, b: Device, key_prefix: str, title_prefix: str, budget: float) -> list[Result | Skipped]:
    results: list[Result | Skipped] = []
    for size, label in ((1024, "1 KB"), (100 * 1024, "100 KB")):
        base = vaultgen.note_of_size(size, seed=size)
        texts = [base]
        for k in range(plan.edits):
            texts.append(vaultgen.one_char_edit(texts[-1], seed=k))
        lat = _edit_latency(a, b, f"bench-{size}.md", texts)[1:]  # the first creates the note
        lat.sort()
        p95 = lat[min(len(lat) - 1, int(len(lat) * 0.95))]
        key = f"{key_prefix}_{size // 1024}kb_ms"
        goal = 100.0 if key_prefix == "sync" else None
        results.append(
            Result(key, f"{title_prefix} {label}, disk to disk", "ms", "time", lat, budget, goal, extra={"p95": round(p95, 1)})
        )
    return results


def bench_live_small(plan: Plan) -> list[Result | Skipped]:
    pr = Pair(plan, "live")
    try:
        results = _single_file(plan, pr.a, pr.b, "sync", "one edit,", 1000.0)
        # 100 new files on A: time until all are identical on B.
        runs = []
        for r in range(3 if plan.quick else 5):
            notes = {f"batch{r}/n{i:03d}.md": vaultgen.note_of_size(2048, seed=r * 1000 + i).encode() for i in range(100)}
            t0 = time.monotonic()
            for rel, data in notes.items():
                p = pr.a.root / rel
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(data)
            wait_for(lambda notes=notes: all(read(pr.b.root / r) == d for r, d in notes.items()), 120, "100 files", poll=0.01)  # type: ignore[misc]
            runs.append((time.monotonic() - t0) * 1000)
            time.sleep(1.2)
        results.append(Result("sync_100_files_ms", "100 new files, disk to disk", "ms", "time", runs, 30000.0, 500.0))
        results.append(_bytes_for_one_char(pr))
        results.append(_idle_cpu(plan, pr))
        return results
    finally:
        pr.close()


def _bytes_for_one_char(pr: Pair) -> Result:
    """Bytes A sends for a one-character edit in a 100 KB note (compare: Syncthing 102,855 B)."""
    rel = "wire-100kb.md"
    text = vaultgen.note_of_size(100 * 1024, seed=99)
    _edit_latency(pr.a, pr.b, rel, [text])
    runs = []
    for k in range(3):
        before = pr.a.refresh(newer_than=time.time())["metrics"]["bytes_sent"]
        text = vaultgen.one_char_edit(text, seed=100 + k)
        _edit_latency(pr.a, pr.b, rel, [text])
        runs.append(float(pr.a.refresh(newer_than=time.time())["metrics"]["bytes_sent"] - before))
    return Result("edit_bytes_100kb", "bytes sent, 1-char edit in a 100 KB note", "B", "bytes", runs, None, 1024.0)


def _idle_cpu(plan: Plan, pr: Pair) -> Result:
    """Share of one core each daemon uses with a peer connected and nothing to do."""
    time.sleep(2.0)
    devs = (pr.a, pr.b)
    source = cpu_source()
    c0 = [cpu_ns([d.process().pid], source) for d in devs]
    t0 = time.monotonic()
    time.sleep(plan.idle_s)
    dt = time.monotonic() - t0
    pct = [cpu_share(c, cpu_ns([d.process().pid], source), dt) for d, c in zip(devs, c0, strict=True)]
    return Result(
        "idle_cpu_pct",
        f"idle CPU, two peers connected, over {plan.idle_s:.0f} s",
        "%",
        "cpu",
        pct,
        None,
        0.07,
        note="Syncthing here: 0.03-0.07 %",
        method=source,
    )


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
            return _single_file(plan, a, b, "wan_sync", "one edit over WAN (+50 ms each way),", 600.0)
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
