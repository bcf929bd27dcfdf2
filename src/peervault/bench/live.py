"""Two paired daemons, live: one edit disk to disk, 100 new files, bytes on the wire for a
one-character edit, and the idle CPU of both (the `small` tier; the WAN and initial-sync
benchmarks reuse `Pair` and `single_file`)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from . import vaultgen
from .harness import Device, pair, read, wait_for
from .probe import cpu_ns, cpu_share, cpu_source
from .report import Result, Skipped

if TYPE_CHECKING:
    from .suite import Plan


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


def single_file(plan: Plan, a: Device, b: Device, key_prefix: str, title_prefix: str, budget: float) -> list[Result | Skipped]:
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
        results = single_file(plan, pr.a, pr.b, "sync", "one edit,", 1000.0)
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
