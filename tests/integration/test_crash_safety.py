"""SIGKILL at random moments (mid local edit, mid remote write, mid initial sync): after a
restart the vaults converge, every edit made before a kill is there, and no note is ever
seen half-written."""

from __future__ import annotations

import random
import subprocess
import sys
import time

from .conftest import ENV, in_sync, pair_running, wait_until

KILLS = 8


def _kill(device) -> None:  # type: ignore[no-untyped-def]
    device.proc.kill()
    device.proc.wait()
    device.proc = None
    device._log.close()


def test_kill_nine_at_random_moments_loses_nothing(make_device):
    rng = random.Random(20261126)
    a, b = make_device("A"), make_device("B")
    a.start()
    pair_running(a, b)
    devices = {"A": a, "B": b}
    written: dict[str, str] = {}  # path -> the complete text last written (by either side)
    for round_ in range(KILLS):
        victim_name = rng.choice(["A", "B"])
        victim, other = devices[victim_name], devices["B" if victim_name == "A" else "A"]
        moment = rng.choice(["local edit", "remote write"])
        writer = victim if moment == "local edit" else other
        for i in range(rng.randint(3, 12)):
            rel = f"r{round_}/note-{i}.md"
            text = f"round {round_} note {i} by {writer.root.name}\n" + "body line\n" * rng.randint(1, 400)
            writer.write(rel, text)
            written[rel] = text
        time.sleep(rng.uniform(0.0, 0.3))  # somewhere in the middle of recording or applying them
        _kill(victim)
        for rel, text in written.items():  # nothing half-written is ever visible in either folder
            for d in devices.values():
                got = d.read(rel)
                assert got is None or got == text, f"{rel} half-written on {d.root.name}"
        victim.start()
    wait_until(in_sync(a, b), timeout=60, what="converged after the kills")
    for rel, text in written.items():
        assert a.read(rel) == text, f"{rel} lost or changed"


def test_kill_nine_during_initial_sync_then_run_completes_it(make_device):
    a, c = make_device("A"), make_device("C")
    for i in range(600):
        a.write(f"bulk/{i:03d}.md", f"bulk note {i}\n" * 20)
    a.start()
    ticket = a.invite()
    join = subprocess.Popen(
        [sys.executable, "-m", "peervault", "join", str(c.root), ticket, "--bind", "127.0.0.1:0"],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until(lambda: any((c.root / "bulk").glob("*.md")) if (c.root / "bulk").exists() else False, what="sync under way")
    join.kill()  # mid initial sync
    join.wait()
    for p in (c.root / "bulk").glob("*.md"):  # whatever is there is whole
        n = int(p.stem)
        assert p.read_text() == f"bulk note {n}\n" * 20
    c.start()  # the saved pairing lets the daemon finish the job
    wait_until(in_sync(a, c), timeout=90, what="C complete after the kill")
