"""The follow-on figure: new notes written one after another, closer together than the
debounce window, on real daemons over loopback.

Each note is a first change (to a note no change was sent for lately), so it should go out
at once, as a lone edit does; only repeated saves of one note wait for the window. The
figure is each note's disk-to-disk latency: from the write on A until B's disk holds its
exact bytes, while the next notes keep arriving on A.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from . import vaultgen
from .harness import BenchError, Device, read
from .live import Pair
from .report import Result, Skipped

if TYPE_CHECKING:
    from .suite import Plan

NOTES = 10  # per round: the pattern
GAP_S = 0.3  # between two writes: well inside the 1 s debounce window
BUDGET_MS = 50.0  # issue 12: a first change goes out at once, like a lone edit (about 30 ms here)
POLL_S = 0.002  # the figure is the wait itself: look often
QUIET_S = 1.2  # between rounds: past the debounce window, so each round starts afresh


def followon_latency(a: Device, b: Device, notes: list[tuple[str, bytes]], gap_s: float, timeout: float = 60.0) -> list[float]:
    """Write each (path, bytes) on A, `gap_s` apart; ms until B's disk holds each, in order.
    Writing and watching share one loop, so a late note does not delay the next write."""
    written: dict[int, float] = {}
    arrived: dict[int, float] = {}
    t0 = time.monotonic()
    while len(arrived) < len(notes):
        now = time.monotonic()
        if now - t0 > timeout:
            missing = [notes[i][0] for i in range(len(notes)) if i not in arrived]
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {', '.join(missing[:3])} on the peer")
        k = len(written)
        if k < len(notes) and now >= t0 + k * gap_s:
            rel, data = notes[k]
            written[k] = time.monotonic()
            (a.root / rel).write_bytes(data)
        for i in written:
            if i not in arrived and read(b.root / notes[i][0]) == notes[i][1]:
                arrived[i] = time.monotonic()
        time.sleep(POLL_S)
    return [(arrived[i] - written[i]) * 1000 for i in range(len(notes))]


def bench_followon(plan: Plan) -> list[Result | Skipped]:
    """Median and p95 latency of new notes written 0.3 s apart (one round of ten in --quick)."""
    pr = Pair(plan, "followon")
    try:
        lat: list[float] = []
        for r in range(1 if plan.quick else 3):
            if r:
                time.sleep(QUIET_S)
            notes = [
                (f"followon-{r}-{i:02d}.md", vaultgen.note_of_size(1024, seed=500 + r * NOTES + i).encode()) for i in range(NOTES)
            ]
            lat += followon_latency(pr.a, pr.b, notes, GAP_S)
    finally:
        pr.close()
    lat.sort()
    p95 = lat[min(len(lat) - 1, int(len(lat) * 0.95))]
    return [
        Result(
            "followon_new_note_ms",
            f"new note {GAP_S:g} s after another, disk to disk",
            "ms",
            "time",
            lat,
            BUDGET_MS,
            None,
            extra={"p95": round(p95, 1)},
        )
    ]
