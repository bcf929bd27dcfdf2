"""`peervault bench` and `peervault demo`: commands that make throw-away vaults of their own
and run real daemons on them (the benchmarks in bench/, the two-device demo in cli/demo.py),
never touching the user's vaults."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .console import out


@click.command()
@click.option(
    "--tier",
    "tiers",
    multiple=True,
    type=click.Choice(["small", "medium", "large", "xl", "real", "all"]),
    help="Which vaults (repeatable). Default: small, medium, large; `xl` is 50,000 files, `real` a documentation "
    "vault of 11,000 files and 283 MB.",
)
@click.option("--quick", is_flag=True, help="Fewer runs and no 10,000-file figures: the subset CI gates on.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the results as JSON here.")
@click.option(
    "--compare", "compare_path", type=click.Path(exists=True, dir_okay=False), help="Baseline JSON: exit 1 on a REGRESSION."
)
@click.option("--dir", "base", type=click.Path(file_okay=False), help="Where to create the scratch vaults.")
@click.option("--syncthing", is_flag=True, help="Also run Syncthing on the same vaults (real, large tiers) and show the ratio.")
@click.option("--cache", type=click.Path(file_okay=False), help="Keep the generated real vault here for later runs.")
def bench(
    tiers: tuple[str, ...],
    quick: bool,
    json_path: str | None,
    compare_path: str | None,
    base: str | None,
    syncthing: bool,
    cache: str | None,
) -> None:
    """Measure start-up, sync latency, memory, idle cost and bytes on real daemons."""
    from ..bench.run import run as run_bench
    from ..bench.suite import DEFAULT_TIERS, TIERS

    chosen = TIERS if "all" in tiers else tiers or DEFAULT_TIERS
    code = run_bench(
        out.get(),
        tuple(t for t in TIERS if t in chosen),
        quick,
        Path(json_path) if json_path else None,
        Path(compare_path) if compare_path else None,
        Path(base) if base else None,
        syncthing=syncthing,
        cache=Path(cache) if cache else None,
    )
    sys.exit(code)


@click.command()
@click.option("--keep", is_flag=True, help="Keep the demo folders afterwards.")
@click.option("--dir", "base", type=click.Path(file_okay=False), help="Where to create the demo vaults.")
def demo(keep: bool, base: str | None) -> None:
    """Two throw-away vaults on this machine, paired and syncing live."""
    from .demo import run_demo

    run_demo(out.get(), keep=keep, base=Path(base) if base else None)
