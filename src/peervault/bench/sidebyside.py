"""One set of figures, measured the same way on PeerVault and on Syncthing, for one vault.

    first import   A starts on the folder; until it has imported (scanned) every file
                   (beside it, its peak RSS: the daemon's, or its first import process's)
    join           B starts syncing (`peervault join`; Syncthing: B's process starts) until
                   every file is on B's disk byte for byte (each is hashed against A's)
    RSS            each device's peak during the sync (sampled every 20 ms, and B's kernel
                   high-water mark) and at the end of the 30 s after it
    CPU            each device's share of one core in those 30 s (both running, connected),
                   in ns from the kernel's per-process CPU clock (every thread, exited ones
                   too; psutil's 10 ms ticks only where that clock is missing: `method`)
    disk           what each device keeps beside the vault (.peervault/, Syncthing's
                   --home), as a share of the vault's own disk use
    edit           a 3 KB note edited on A, disk to disk, 10 times 1.5 s apart

Syncthing's figures get keys prefixed `syncthing_`; `attach` puts each beside ours with
the ratio (ours / Syncthing's: above 1, we are slower or bigger).
"""

from __future__ import annotations

import resource
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import vaultgen
from .harness import ENV, PV, BenchError, Device, cli, read, wait_for
from .probe import (
    NOT_VAULT,
    Arrival,
    PeakRss,
    cpu_ns,
    cpu_seconds,
    cpu_share,
    cpu_source,
    disk_bytes,
    hwm_mb,
    rss_mb,
    wait_arrival,
)
from .report import Result
from .syncthing import Syncthing

if TYPE_CHECKING:
    from .suite import Plan

ST = "syncthing_"
WINDOW_S = 30.0  # CPU and RSS: the 30 s after the sync
EDITS, EDIT_GAP_S = 10, 1.5
TIMEOUT_S = 1800.0
# Goals (issue 12) for a vault like the real one; idle CPU's goal is Syncthing's own figure,
# or where it was not measured in this run, its figure in ../shared/anchors (10,000 notes).
GOALS = {"first_import_s": 2.0, "join_identical_s": 6.0, "rss": 60.0, "edit_3kb_ms": 30.0, "disk": 10.0}
ANCHOR_IDLE_CPU_PCT = 0.08
_EXTRA_ROW = {
    "join_exit_s": "join_identical_s",
    "join_cpu_a_s": "join_identical_s",
    "join_cpu_b_s": "join_identical_s",
    "rss_with_monitor_a_mb": "rss_after_a_mb",
}


@dataclass(frozen=True)
class Corpus:
    label: str  # e.g. "real vault (11,004 files, 283 MB)"
    expected: dict[str, tuple[int, str]]  # rel -> (size, sha256)
    edit_rel: str  # the ~3 KB note the edit figure rewrites


@dataclass
class Measured:
    first_import_s: float = 0.0
    join_s: float = 0.0
    peak_mb: tuple[float, float] = (0.0, 0.0)  # A, B: during the sync
    rss_mb: tuple[float, float] = (0.0, 0.0)  # A, B: at the end of the window after it
    cpu_pct: tuple[float, float] = (0.0, 0.0)
    cpu_source: str = ""  # probe.CPU_CLOCK (ns) or CPU_TICKS (psutil's 10 ms ticks)
    disk_pct: tuple[float, float] = (0.0, 0.0)
    edits_ms: list[float] = field(default_factory=list)
    extra: dict[str, float] = field(default_factory=dict)


def _pct(beside: int, vault: int) -> float:
    return beside / max(vault, 1) * 100


def figures(prefix: str, corpus: Corpus, m: Measured, rss_budget: float | None) -> list[Result]:
    """Results under `prefix` (`real_`, `syncthing_real_`…); Syncthing's are not judged."""
    ours = not prefix.startswith(ST)
    t = corpus.label if ours else f"Syncthing: {corpus.label}"

    def fig(key: str, title: str, unit: str, kind: str, runs: list[float], budget: float | None, goal: float | None) -> Result:
        return Result(prefix + key, f"{t}: {title}", unit, kind, runs, budget if ours else None, goal if ours else None)

    edits = sorted(m.edits_ms)
    out = [
        fig("first_import_s", "A's first import", "s", "time", [m.first_import_s], None, GOALS["first_import_s"]),
        fig("join_identical_s", "B, from join to every file identical", "s", "time", [m.join_s], None, GOALS["join_identical_s"]),
    ]
    devs = ((0, "a"), (1, "b"))
    out += [
        fig(f"rss_peak_{d}_mb", f"RSS peak during sync, {d.upper()}", "MB", "memory", [m.peak_mb[i]], rss_budget, GOALS["rss"])
        for i, d in devs
    ]
    out += [
        fig(f"rss_after_{d}_mb", f"RSS after sync, {d.upper()}", "MB", "memory", [m.rss_mb[i]], rss_budget, GOALS["rss"])
        for i, d in devs
    ]
    edit = fig("edit_3kb_ms", "one edit of a 3 KB note, disk to disk", "ms", "time", m.edits_ms, None, GOALS["edit_3kb_ms"])
    edit.extra["p95"] = round(edits[min(len(edits) - 1, int(len(edits) * 0.95))], 1)
    out.append(edit)
    out += [
        fig(f"disk_beside_{d}_pct", f"disk beside the vault, {d.upper()}", "%", "disk", [m.disk_pct[i]], None, GOALS["disk"])
        for i, d in devs
    ]
    for i, d in devs:
        cpu = fig(
            f"cpu_after_{d}_pct",
            f"CPU in the {WINDOW_S:.0f} s after sync, {d.upper()}",
            "%",
            "cpu",
            [m.cpu_pct[i]],
            None,
            ANCHOR_IDLE_CPU_PCT,
        )
        cpu.note = (
            f"goal: Syncthing's in ../shared/anchors ({ANCHOR_IDLE_CPU_PCT} %); --syncthing measures it here" if ours else ""
        )
        cpu.method = m.cpu_source
        out.append(cpu)
    rows = {r.key[len(prefix) :]: r for r in out}
    for name, value in m.extra.items():  # each side figure beside the row it explains
        rows[_EXTRA_ROW.get(name, "first_import_s")].extra[name] = value
    return out


def attach(results: list[Result]) -> list[Result]:
    """Syncthing's figure and the ratio beside each of ours measured on the same vault; the
    CPU goal becomes Syncthing's figure. Returns the rows to show (not Syncthing's own)."""
    theirs = {r.key[len(ST) :]: r for r in results if r.key.startswith(ST)}
    for r in results:
        st = theirs.get(r.key)
        if st is None:
            continue
        r.extra["syncthing"] = round(st.median, 3)
        if st.median > 0:
            r.extra["ratio"] = round(r.median / st.median, 2)
        if "_cpu_after_" in r.key:
            r.goal, r.note = st.median, "goal: Syncthing's, measured in this run"
    return [r for r in results if not r.key.startswith(ST)]


def edit_series(a_root: Path, b_root: Path, rel: str) -> list[float]:
    """EDITS one-character edits of `rel` on A, each EDIT_GAP_S after the last arrived; ms
    from the write on A until B's disk holds the same bytes."""
    text = (a_root / rel).read_text(encoding="utf-8")
    out = []
    for k in range(EDITS):
        time.sleep(EDIT_GAP_S)
        text = vaultgen.one_char_edit(text, seed=k)
        data = text.encode()
        t0 = time.monotonic()
        (a_root / rel).write_bytes(data)
        wait_for(lambda data=data: read(b_root / rel) == data, 60, f"edit {k + 1} of {rel} on B")  # type: ignore[misc]
        out.append((time.monotonic() - t0) * 1000)
    return out


def _window(pids: tuple[Callable[[], list[int]], Callable[[], list[int]]]) -> tuple[tuple[float, float], str]:
    """Each device's share of one core over WINDOW_S (all its processes), and how it was counted."""
    source = cpu_source()
    c0 = [cpu_ns(p(), source) for p in pids]
    t0 = time.monotonic()
    time.sleep(WINDOW_S)
    dt = time.monotonic() - t0
    a, b = (round(cpu_share(c, cpu_ns(p(), source), dt), 4) for p, c in zip(pids, c0, strict=True))
    return (a, b), source


def _verify(arrival: Arrival, who: str) -> None:
    if bad := arrival.differing():
        raise BenchError(f"{who}: {len(bad)} files differ on B, e.g. {bad[0]}")
    if extra := arrival.extra():
        raise BenchError(f"{who}: {len(extra)} unexpected files on B, e.g. {extra[0]}")


class _ExitWatch(threading.Thread):
    """Waits for a process and notes when it exited (monotonic)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        super().__init__(name="bench-exit-watch", daemon=True)
        self.proc, self.at = proc, 0.0

    def run(self) -> None:
        self.proc.wait()
        self.at = time.monotonic()


def run_peervault(plan: Plan, tag: str, prepare: Callable[[Path], Corpus]) -> tuple[Corpus, Measured]:
    a, b = Device(plan.fresh(f"{tag}-A")), Device(plan.fresh(f"{tag}-B"))
    corpus, m = prepare(a.root), Measured()
    log = (plan.base / f"{tag}-join.log").open("wb")
    join: subprocess.Popen[bytes] | None = None
    try:
        a.init()
        b.init()
        t0 = time.monotonic()
        a.start(TIMEOUT_S)
        a.wait_scanned(TIMEOUT_S)
        m.first_import_s = time.monotonic() - t0
        # the daemon's own peak, or its first import's process's (vaults of 2,000 files or more)
        child = a.runtime().get("metrics", {}).get("first_import_peak_mb") or 0.0
        m.extra["import_rss_peak_a_mb"] = round(max(hwm_mb(a.process().pid), child), 1)
        ticket = cli("invite", str(a.root), "--no-wait").splitlines()[-1]
        arrival = Arrival(b.root, corpus.expected)
        with PeakRss() as peak:
            peak.add("A", a.process().pid)
            # CPU over the join, to tell a join held back by a busy core: A's from its CPU clock,
            # B's from the rusage of the children reaped meanwhile (the join alone)
            source, children = cpu_source(), resource.getrusage(resource.RUSAGE_CHILDREN)
            a_cpu = cpu_ns([a.process().pid], source)
            t0 = time.monotonic()
            cmd = [*PV, "join", str(b.root), ticket, "--bind", b.bind, "--timeout", str(TIMEOUT_S)]
            join = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=log)
            peak.add("B", join.pid, whole_life=True)
            # the moment it exits, seen by a thread of its own: the hashing of every file
            # below takes seconds, and the exit noticed after it would include them
            exited = _ExitWatch(join)
            exited.start()

            def failed() -> None:
                if join is not None and join.poll():
                    raise BenchError(f"`peervault join` exited with {join.returncode}; see {log.name}")

            m.join_s = wait_arrival(arrival, TIMEOUT_S, "every file on B", failed) - t0
            if join.wait(TIMEOUT_S):
                failed()
            exited.join(TIMEOUT_S)
            m.extra["join_exit_s"] = round(exited.at - t0, 3)
            ru = resource.getrusage(resource.RUSAGE_CHILDREN)
            m.extra["join_cpu_b_s"] = round(ru.ru_utime + ru.ru_stime - children.ru_utime - children.ru_stime, 2)
            m.extra["join_cpu_a_s"] = round(cpu_seconds(a_cpu, cpu_ns(list(a_cpu), source)), 2)
        m.peak_mb = (round(peak.peak["A"], 1), round(peak.peak["B"], 1))
        _verify(arrival, "PeerVault")
        b.start(TIMEOUT_S)
        wait_for(lambda: a.connected() and b.connected(), 60, "both daemons connected", poll=0.05)
        m.cpu_pct, m.cpu_source = _window((lambda: [a.process().pid], lambda: [b.process().pid]))
        m.rss_mb = (round(a.rss_mb(), 1), round(b.rss_mb(), 1))
        pa, pb = (round(_pct(disk_bytes(d.root / ".peervault"), disk_bytes(d.root, NOT_VAULT)), 2) for d in (a, b))
        m.disk_pct = (pa, pb)
        m.edits_ms = edit_series(a.root, b.root, corpus.edit_rel)
    finally:
        if join is not None and join.poll() is None:
            join.kill()
            join.wait()
        log.close()
        a.stop()
        b.stop()
        plan.discard(a.root)
        plan.discard(b.root)
    return corpus, m


def run_syncthing(plan: Plan, tag: str, prepare: Callable[[Path], Corpus], exe: str) -> tuple[Corpus, Measured]:
    base = plan.fresh(f"{tag}-syncthing")
    a_dir, b_dir = base / "A", base / "B"
    corpus, m = prepare(a_dir), Measured()
    b_dir.mkdir(parents=True)
    a, b = Syncthing("A", base, a_dir, exe), Syncthing("B", base, b_dir, exe)
    try:
        a.generate()
        b.generate()
        a.configure([b])
        b.configure([a])
        t0 = time.monotonic()
        a.start()
        wait_for(a.scanned, TIMEOUT_S, "Syncthing A's first scan", poll=0.05)
        m.first_import_s = time.monotonic() - t0
        m.extra["import_rss_peak_a_mb"] = round(hwm_mb(a.worker), 1)
        arrival = Arrival(b_dir, corpus.expected)
        with PeakRss() as peak:
            peak.add("A", a.worker)
            t0 = time.monotonic()
            b.start()
            peak.add("B", b.worker, whole_life=True)  # the worker starts with the sync
            m.join_s = wait_arrival(arrival, TIMEOUT_S, "every file on Syncthing's B", b.check) - t0
        m.peak_mb = (round(peak.peak["A"], 1), round(peak.peak["B"], 1))
        _verify(arrival, "Syncthing")
        m.cpu_pct, m.cpu_source = _window((a.pids, b.pids))
        m.rss_mb = (round(rss_mb(a.worker), 1), round(rss_mb(b.worker), 1))
        m.extra["rss_with_monitor_a_mb"] = round(sum(rss_mb(p) for p in a.pids()), 1)
        pa, pb = (round(_pct(disk_bytes(i.home), disk_bytes(i.folder, NOT_VAULT)), 2) for i in (a, b))
        m.disk_pct = (pa, pb)
        m.edits_ms = edit_series(a_dir, b_dir, corpus.edit_rel)
    finally:
        a.stop()
        b.stop()
        plan.discard(base)
    return corpus, m
