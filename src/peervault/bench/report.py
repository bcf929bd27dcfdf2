"""Benchmark results: the table, the JSON file, and the regression gate against a baseline.

The gate must catch real regressions on shared, noisy machines without flaking:
- counts and bytes are compared strictly (bytes with a few bytes of slack for varints);
- times are compared as a ratio to a reference measured in the same run (the cost of
  starting a Python process here), against a generous tolerance, plus an absolute slack;
- memory and CPU against a generous relative tolerance plus an absolute slack.
"""

from __future__ import annotations

import json
import platform
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

SCHEMA = 1
# kind -> (relative tolerance, absolute slack in the figure's unit)
TOLERANCE = {
    "time": (2.0, 50.0),
    "memory": (1.1, 3.0),  # the idle daemon at 44-45 MB: a regression of 7 MB fails, not one of 21
    "cpu": (3.0, 0.3),
    "bytes": (1.0, 64.0),
    "count": (1.0, 0.0),
    "disk": (1.3, 1.0),  # disk beside the vault, in % of the vault
}


@dataclass
class Result:
    key: str
    title: str
    unit: str  # "ms", "s", "MB", "%", "B", "files"
    kind: str  # a TOLERANCE key
    runs: list[float]
    budget: float | None = None  # the spec's; None where the spec sets none
    goal: float | None = None  # ours (issue #3), usually tighter
    note: str = ""
    method: str = ""  # how it was counted, where that varies (CPU: bench/probe.py's CPU_CLOCK or CPU_TICKS)
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def passed(self) -> bool | None:
        return None if self.budget is None else self.median <= self.budget

    @property
    def met_goal(self) -> bool | None:
        return None if self.goal is None else self.median <= self.goal


@dataclass
class Skipped:
    key: str
    title: str
    reason: str


def to_json(results: list[Result], skipped: list[Skipped], reference_ms: float, quick: bool) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "quick": quick,
        "machine": {"python": platform.python_version(), "cpus": _cpus(), "system": platform.platform()},
        "reference_ms": round(reference_ms, 2),
        "results": {
            r.key: {**asdict(r), "median": round(r.median, 3), "passed": r.passed, "met_goal": r.met_goal} for r in results
        },
        "skipped": {s.key: {"title": s.title, "reason": s.reason} for s in skipped},
    }


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


def _fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "—"
    if unit in ("B", "files"):
        return f"{v:,.0f} {unit}"
    if unit == "%":
        return f"{v:.3f} %"
    return f"{v:,.3g} {unit}" if v < 10 else f"{v:,.0f} {unit}"


def table(results: list[Result], skipped: list[Skipped]) -> Table:
    """One row per figure; with Syncthing measured in the run (extra "syncthing", "ratio": see
    bench/sidebyside.py), its figure and ours divided by it."""
    side = any("syncthing" in r.extra for r in results)
    t = Table(title="peervault bench", title_justify="left")
    cols = ("benchmark", "spec budget", "our goal", "median", *(("Syncthing", "ratio") if side else ()), "runs", "budget", "goal")
    for col in cols:
        t.add_column(col, justify="left" if col == "benchmark" else "right")
    for r in results:
        st = r.extra.get("syncthing")
        ratio = r.extra.get("ratio")
        vs = (_fmt(st, r.unit), "—" if ratio is None else f"×{ratio:g}") if side else ()
        t.add_row(
            r.title,
            _fmt(r.budget, r.unit),
            _fmt(r.goal, r.unit),
            _fmt(r.median, r.unit),
            *vs,
            str(len(r.runs)),
            {True: "[green]pass[/]", False: "[red]FAIL[/]", None: "—"}[r.passed],
            {True: "met", False: "[red]not yet[/]", None: "—"}[r.met_goal],
        )
    for s in skipped:
        t.add_row(s.title, "", "", "skipped", *(("", "") if side else ()), "", "", s.reason[:48])
    return t


@dataclass
class Comparison:
    key: str
    baseline: float
    current: float
    limit: float
    regression: bool


def compare(current: dict[str, Any], baseline: dict[str, Any]) -> list[Comparison]:
    """Every figure present in both, judged by its kind's tolerance (see the module doc)."""
    out = []
    ref_now = current.get("reference_ms") or 1.0
    ref_then = baseline.get("reference_ms") or 1.0
    for key, base in baseline.get("results", {}).items():
        cur = current.get("results", {}).get(key)
        if cur is None:
            continue
        rel, slack = TOLERANCE[base["kind"]]
        b, c = float(base["median"]), float(cur["median"])
        if base["kind"] == "time":
            # Scale the baseline by how fast this machine is today: ratio to the same-run reference.
            scaled = b * max(ref_now / ref_then, 1.0)
            ms = 1000.0 if base["unit"] == "s" else 1.0
            limit = scaled * rel + slack / ms
        else:
            limit = b * rel + slack
        out.append(Comparison(key, b, c, round(limit, 3), c > limit))
    return out


def load(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))
