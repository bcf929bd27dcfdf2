"""Issue 9 point 5, black box, in a loop: kill -9 of the receiver one second into a burst
of 500 new notes, restart it, and see whether the two folders converge.

Per run: two fresh devices A and B (each `peervault init`), A's daemon started, B paired
with it (`pair_running`: B joins and starts its daemon), then 500 new distinct notes
(~1-3 KB each, in a few folders) written into A's folder as fast as possible; 1.0 s after
the burst began B's daemon gets SIGKILL and is started again; then up to 180 s for B's
folder to equal A's (`snapshot`, which leaves out .peervault).

Run it with the project's venv python (the daemons run `sys.executable -m peervault`):

    .venv/bin/python tests/soak/kill_during_burst.py --runs 50

One JSON line per run goes to --results (and a summary line to stdout). A failed run
keeps its daemon logs, status and the state folders under --fail-dir/RUN/.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the project (tests/soak/ is two below)
sys.path.insert(0, str(ROOT))

from tests.integration.conftest import Device, pair_running, shut_down, snapshot, wait_until  # noqa: E402

NOTES = 500
FOLDERS = ["inbox", "projects/alpha", "projects/beta", "journal/2026", "ref"]
KILL_AFTER = 1.0
CONVERGE_TIMEOUT = 180.0
POLL = 0.25  # between two snapshots of both folders (1,000 files each time)
WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau".split()


def note_text(run: int, i: int, rng: random.Random) -> str:
    lines = [f"# Note {i} of run {run}", "", f"id: run{run}-note{i}-{rng.getrandbits(64):016x}", ""]
    size = rng.randint(1000, 3000)
    while sum(len(s) + 1 for s in lines) < size:
        lines.append(f"- {i}.{len(lines)} " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 14))))
    return "\n".join(lines) + "\n"


def tail(path: Path, n: int = 40) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-n:]
    except OSError:
        return []


def diff(a: dict[str, bytes], b: dict[str, bytes]) -> dict[str, list[str]]:
    return {
        "missing_on_B": sorted(set(a) - set(b)),
        "extra_on_B": sorted(set(b) - set(a)),
        "different": sorted(p for p in set(a) & set(b) if a[p] != b[p]),
    }


def status_of(d: Device) -> object:
    try:
        return d.status()
    except Exception as e:  # noqa: BLE001 - forensic only
        return f"status failed: {e}"


def one_run(
    run: int, fail_dir: Path, kill_after: tuple[float, float] = (KILL_AFTER, KILL_AFTER), burst_seconds: float = 0.0
) -> dict:
    rng = random.Random(run * 7919 + int(time.time()))
    tmp = Path(tempfile.mkdtemp(prefix=f"loop500-{run:03d}-"))
    logs = tmp / "logs"
    logs.mkdir()
    a, b = Device(tmp / "A", logs), Device(tmp / "B", logs)
    rec: dict = {"run": run}
    try:
        a.init()
        b.init()
        a.start()
        pair_running(a, b)
        notes = {f"{FOLDERS[i % len(FOLDERS)]}/note-{i:03d}.md": note_text(run, i, rng) for i in range(NOTES)}
        rec["kill_after_s"] = kill_at = round(rng.uniform(*kill_after), 3)
        t0 = time.monotonic()

        def burst() -> None:  # as fast as possible, or paced over burst_seconds
            for i, (rel, text) in enumerate(notes.items()):
                if burst_seconds:
                    time.sleep(max(0.0, t0 + burst_seconds * i / NOTES - time.monotonic()))
                a.write(rel, text)
            rec["burst_s"] = round(time.monotonic() - t0, 3)

        writer = threading.Thread(target=burst)
        writer.start()
        time.sleep(max(0.0, t0 + kill_at - time.monotonic()))
        rec["B_files_at_kill"] = len(snapshot(b.root))
        rec["A_files_at_kill"] = len(snapshot(a.root))
        rec["kill_rc"] = b.stop(signal.SIGKILL)
        t_kill = time.monotonic()
        b.start()
        rec["restart_s"] = round(time.monotonic() - t_kill, 3)
        t_restart = time.monotonic()
        writer.join()
        want = {rel: text.encode() for rel, text in notes.items()}

        def converged() -> bool:
            sa = snapshot(a.root)
            ok = sa == want and snapshot(b.root) == sa
            if not ok:
                time.sleep(POLL)
            return ok

        try:
            wait_until(converged, timeout=CONVERGE_TIMEOUT, what="B's folder equal to A's")
            rec["converged"] = True
            rec["converge_s"] = round(time.monotonic() - t_restart, 2)  # from B's restart
            rec["converge_from_burst_s"] = round(time.monotonic() - t0, 2)
        except AssertionError:
            rec["converged"] = False
            sa, sb = snapshot(a.root), snapshot(b.root)
            rec["A_equals_written"] = sa == want
            rec["A_vs_written"] = diff(want, sa)
            rec["diff"] = diff(sa, sb)
            rec["status_A"] = status_of(a)
            rec["status_B"] = status_of(b)
            rec["connected"] = {"A": a.connected(), "B": b.connected()}
            rec["log_tails"] = {p.name: tail(p) for p in sorted(logs.glob("*.log"))}
            dest = fail_dir / f"{run:03d}"
            dest.mkdir(parents=True, exist_ok=True)
            (dest / "record.json").write_text(json.dumps(rec, indent=1))
    except Exception as e:  # noqa: BLE001 - a harness error is a result too
        rec["converged"] = False
        rec["error"] = f"{type(e).__name__}: {e}"
        rec["log_tails"] = {p.name: tail(p) for p in sorted(logs.glob("*.log"))}
        dest = fail_dir / f"{run:03d}"
        dest.mkdir(parents=True, exist_ok=True)
        (dest / "record.json").write_text(json.dumps(rec, indent=1))
    finally:
        for d in (a, b):
            shut_down(d)
        if not rec.get("converged"):
            dest = fail_dir / f"{run:03d}"
            shutil.copytree(logs, dest / "logs", dirs_exist_ok=True)
            for d in (a, b):  # the state too, after the daemons stopped
                if (d.root / ".peervault").exists():
                    shutil.copytree(
                        d.root / ".peervault", dest / f"state-{d.root.name}", dirs_exist_ok=True, ignore_dangling_symlinks=True
                    )
        shutil.rmtree(tmp, ignore_errors=True)
    return rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--first", type=int, default=1, help="number of the first run")
    ap.add_argument("--results", type=Path, default=Path("/tmp/peervault-soak.jsonl"))
    ap.add_argument("--fail-dir", type=Path, default=Path("/tmp/peervault-soak-fail"))
    ap.add_argument(
        "--kill-after",
        default=str(KILL_AFTER),
        help="seconds after the burst began to kill B: S, or LO:HI for a random moment in between",
    )
    ap.add_argument(
        "--burst-seconds", type=float, default=0.0, help="spread the 500 writes evenly over this long (0: as fast as possible)"
    )
    args = ap.parse_args()
    lo, _, hi = args.kill_after.partition(":")
    kill_after = (float(lo), float(hi or lo))
    times: list[float] = []
    failures: list[int] = []
    with args.results.open("a") as out:
        for run in range(args.first, args.first + args.runs):
            rec = one_run(run, args.fail_dir, kill_after, args.burst_seconds)
            out.write(json.dumps({k: v for k, v in rec.items() if k != "log_tails"}) + "\n")
            out.flush()
            if rec.get("converged"):
                times.append(rec["converge_s"])
            else:
                failures.append(run)
            brief = {
                k: rec.get(k)
                for k in (
                    "converged",
                    "converge_s",
                    "burst_s",
                    "kill_after_s",
                    "A_files_at_kill",
                    "B_files_at_kill",
                    "kill_rc",
                    "error",
                )
            }
            if not rec.get("converged") and "diff" in rec:
                brief["diff_counts"] = {k: len(v) for k, v in rec["diff"].items()}
            print(f"run {run}: {json.dumps(brief)}", flush=True)
    print(
        f"runs {args.runs}, converged {len(times)}, failed {len(failures)} {failures}; "
        f"converge s from restart: median {statistics.median(times) if times else None}, "
        f"min {min(times) if times else None}, max {max(times) if times else None}",
        flush=True,
    )


if __name__ == "__main__":
    main()
