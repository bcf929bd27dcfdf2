"""`peervault bench`: run the chosen benchmarks with a progress bar, print the table,
write JSON, and compare with a baseline (the regression gate)."""

from __future__ import annotations

import compileall
import json
import shutil
import tempfile
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .. import __file__ as package_init
from . import real, report, sidebyside, suite
from .harness import BenchError


def compile_modules() -> None:
    """Compile PeerVault's modules once before measuring, as pip does at install: where
    PYTHONDONTWRITEBYTECODE is set (this project's sandbox sets it) or the checkout is read
    only, every process the bench starts compiled ~130 modules first (0.1 s of each start
    here, the child of a first import included), which no installed copy does. What cannot
    be written is left as it is."""
    compileall.compile_dir(Path(package_init).parent, quiet=2)


def run(
    out: Console,
    tiers: tuple[str, ...],
    quick: bool,
    json_path: Path | None,
    compare_path: Path | None,
    base: Path | None = None,
    *,
    syncthing: bool = False,
    cache: Path | None = None,
) -> int:
    """Returns the exit code: 0, or 1 if a budget failed or a figure regressed."""
    plan = suite.Plan(
        base=Path(tempfile.mkdtemp(prefix="pv-bench-", dir=base)),
        quick=quick,
        runs=3 if quick else 5,
        edits=5 if quick else 20,
        idle_s=10.0 if quick else 60.0,
        syncthing=syncthing,
        cache=cache,
    )
    steps = [step for tier in tiers for step in suite.BENCHES[tier]]
    if quick:
        steps = [s for s in steps if s[1] not in (suite.bench_start_large, suite.bench_initial_large, real.bench_large_side)]
    results: list[report.Result] = []
    skipped: list[report.Skipped] = []
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=out,
        ) as progress:
            task = progress.add_task("reference", total=len(steps) + 1)
            compile_modules()
            reference = suite.reference_ms()
            progress.advance(task)
            for title, bench in steps:
                progress.update(task, description=title)
                try:
                    for r in bench(plan):
                        (results if isinstance(r, report.Result) else skipped).append(r)  # type: ignore[arg-type]
                except BenchError as exc:
                    skipped.append(report.Skipped(bench.__name__, title, f"could not run: {exc}"))
                progress.advance(task)
    finally:
        shutil.rmtree(plan.base, ignore_errors=True)
    out.print(report.table(sidebyside.attach(results), skipped))
    doc = report.to_json(results, skipped, reference, quick)
    if json_path is not None:
        json_path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        out.print(f"Wrote {json_path}", highlight=False)
    code = 0
    failed = [r.title for r in results if r.passed is False]
    broken = [s.title for s in skipped if s.reason.startswith("could not run")]
    if failed:
        out.print(f"[red]Over budget:[/] {', '.join(failed)}")
        code = 1
    if broken:
        out.print(f"[red]Could not run:[/] {', '.join(broken)}")
        code = 1
    if compare_path is not None:
        code = max(code, _gate(out, doc, report.load(compare_path), compare_path))
    return code


def _gate(out: Console, current: dict, baseline: dict, path: Path) -> int:  # type: ignore[type-arg]
    rows = report.compare(current, baseline)
    t = Table(title=f"compared with {path}", title_justify="left")
    for col in ("figure", "baseline", "now", "limit", "verdict"):
        t.add_column(col, justify="left" if col == "figure" else "right")
    for c in rows:
        t.add_row(c.key, f"{c.baseline:g}", f"{c.current:g}", f"{c.limit:g}", "[red]REGRESSION[/]" if c.regression else "ok")
    out.print(t)
    regressions = [c.key for c in rows if c.regression]
    for key in regressions:
        out.print(f"REGRESSION {key}", highlight=False)
    if not rows:
        out.print("[yellow]No figure in common with the baseline: nothing compared.[/]")
    return 1 if regressions else 0
