"""The `real` tier, and Syncthing beside PeerVault on the `real` and `large` vaults.

`peervault bench --tier real` measures PeerVault on the real vault (bench/realvault.py:
11,000 files, 283 MB); with `--syncthing` Syncthing is then measured on a fresh copy of the
same vault in the same run, and each figure shows Syncthing's beside it and the ratio.
`--tier large --syncthing` does the same for the 10,000 notes of the large tier. Syncthing
missing is a skip ("skipped: syncthing not installed"), not a failure. The real tier takes
minutes and is never part of the quick gate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from . import realvault, sidebyside, syncthing, vaultgen
from .probe import MB, tree_digest
from .report import Result, Skipped
from .sidebyside import Corpus

if TYPE_CHECKING:
    from .suite import Plan

SEED = 0
LARGE_FILES, LARGE_SEED = 10_000, 7  # the large tier's initial-sync vault (suite._initial, via Pair)
# The spec's memory budgets: extra-large vaults (10,000+ files) 300 MB, large ones 200 MB.
RSS_BUDGET = {"real": 300.0, "large": 200.0}


def _label(name: str, expected: dict[str, tuple[int, str]]) -> str:
    return f"{name} ({len(expected):,} files, {sum(s for s, _ in expected.values()) / MB:,.0f} MB)"


def real_corpus(plan: Plan) -> Callable[[Path], Corpus]:
    """Writes the real vault into a folder, from `--cache` or else from a copy kept for this run
    (so Syncthing's side does not generate it again)."""
    cache = plan.cache or plan.base / "real-cache"

    def prepare(root: Path) -> Corpus:
        m = realvault.materialize(root, SEED, now=time.time(), cache=cache)
        expected = m.expected()
        return Corpus(_label("real vault", expected), expected, m.edit_target)

    return prepare


def large_corpus(root: Path) -> Corpus:
    manifest = vaultgen.generate(root, LARGE_FILES, seed=LARGE_SEED)
    expected = tree_digest(root)
    target = min(manifest.paths, key=lambda rel: (abs(expected[rel][0] - realvault.EDIT_SIZE), rel))
    return Corpus(_label("large vault", expected), expected, target)


def _not_installed(tier: str) -> list[Result | Skipped]:
    return [Skipped(f"syncthing_{tier}", f"Syncthing on the {tier} vault", "skipped: syncthing not installed")]


def bench_real(plan: Plan) -> list[Result | Skipped]:
    corpus, m = sidebyside.run_peervault(plan, "real", real_corpus(plan))
    return list(sidebyside.figures("real_", corpus, m, RSS_BUDGET["real"]))


def bench_real_syncthing(plan: Plan) -> list[Result | Skipped]:
    if not plan.syncthing:
        return [Skipped("syncthing_real", "Syncthing on the real vault", "skipped: not asked for (--syncthing)")]
    exe = syncthing.binary()
    if exe is None:
        return _not_installed("real")
    corpus, m = sidebyside.run_syncthing(plan, "real", real_corpus(plan), exe)
    return list(sidebyside.figures("syncthing_real_", corpus, m, None))


def bench_large_side(plan: Plan) -> list[Result | Skipped]:
    """Only with --syncthing: both on the large tier's vault, with the real tier's figures."""
    if not plan.syncthing:
        return []
    exe = syncthing.binary()
    if exe is None:
        return _not_installed("large")
    corpus, ours = sidebyside.run_peervault(plan, "large", large_corpus)
    _, theirs = sidebyside.run_syncthing(plan, "large", large_corpus, exe)
    return [
        *sidebyside.figures("large_", corpus, ours, RSS_BUDGET["large"]),
        *sidebyside.figures("syncthing_large_", corpus, theirs, None),
    ]
