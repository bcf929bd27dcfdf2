"""The side-by-side bench: figures and their goals, Syncthing's beside ours, the skip paths,
the arrival check that makes every file byte-identical, the RSS sampler, and Syncthing's
loopback-only configuration."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rich.console import Console

from peervault.bench import real, sidebyside, syncthing
from peervault.bench.probe import Arrival, PeakRss, disk_bytes, tree_digest
from peervault.bench.report import Result, Skipped, table
from peervault.bench.sidebyside import Corpus, Measured, attach, figures
from peervault.bench.suite import Plan

CORPUS = Corpus("test vault (2 files, 0 MB)", {"a.md": (1, "x")}, "a.md")


def measured(scale: float) -> Measured:
    return Measured(
        first_import_s=10 * scale,
        join_s=60 * scale,
        peak_mb=(100 * scale, 90 * scale),
        rss_mb=(80 * scale, 70 * scale),
        cpu_pct=(0.5 * scale, 0.4 * scale),
        disk_pct=(95 * scale, 94 * scale),
        edits_ms=[30 * scale + k for k in range(10)],
    )


def test_figures_carry_the_issues_goals_for_ours_only() -> None:
    ours = {r.key: r for r in figures("real_", CORPUS, measured(1), 300.0)}
    theirs = figures("syncthing_real_", CORPUS, measured(1), None)
    assert set(ours) == {f"real_{k}" for k in (
        "first_import_s", "join_identical_s", "rss_peak_a_mb", "rss_peak_b_mb", "rss_after_a_mb", "rss_after_b_mb",
        "edit_3kb_ms", "disk_beside_a_pct", "disk_beside_b_pct", "cpu_after_a_pct", "cpu_after_b_pct",
    )}  # fmt: skip
    assert {r.key for r in theirs} == {f"syncthing_{k}" for k in ours}
    goals = {k: r.goal for k, r in ours.items()}
    assert goals["real_first_import_s"] == 2.0 and goals["real_join_identical_s"] == 6.0
    assert goals["real_rss_after_b_mb"] == 60.0 and goals["real_edit_3kb_ms"] == 30.0 and goals["real_disk_beside_a_pct"] == 10.0
    assert ours["real_rss_peak_a_mb"].budget == 300.0 and ours["real_rss_peak_a_mb"].passed is True
    assert ours["real_first_import_s"].met_goal is False  # missed goals are shown as missed
    assert all(r.goal is None and r.budget is None for r in theirs)
    assert len(ours["real_edit_3kb_ms"].runs) == 10 and ours["real_edit_3kb_ms"].median == 34.5


def test_attach_puts_syncthing_beside_ours_and_its_cpu_becomes_the_goal() -> None:
    results = figures("real_", CORPUS, measured(2), 300.0) + figures("syncthing_real_", CORPUS, measured(1), None)
    shown = {r.key: r for r in attach(results)}
    assert not any(k.startswith("syncthing_") for k in shown)
    imp = shown["real_first_import_s"]
    assert imp.extra["syncthing"] == 10.0 and imp.extra["ratio"] == 2.0
    cpu = shown["real_cpu_after_a_pct"]
    assert cpu.goal == 0.5 and cpu.met_goal is False and "measured in this run" in cpu.note
    console = Console(record=True, width=250)
    console.print(table(list(shown.values()), []))
    text = console.export_text()
    assert "Syncthing" in text and "ratio" in text and "×2" in text and "not yet" in text


def test_without_syncthing_the_cpu_goal_is_the_anchor_and_the_table_has_no_ratio() -> None:
    shown = attach(figures("real_", CORPUS, measured(1), 300.0))
    cpu = next(r for r in shown if r.key == "real_cpu_after_a_pct")
    assert cpu.goal == sidebyside.ANCHOR_IDLE_CPU_PCT and "anchors" in cpu.note
    console = Console(record=True, width=250)
    console.print(table(shown, [Skipped("syncthing_real", "Syncthing on the real vault", "skipped: syncthing not installed")]))
    text = console.export_text()
    assert "ratio" not in text and "skipped: syncthing not installed" in text


def plan(tmp_path: Path, **kw: object) -> Plan:
    return Plan(base=tmp_path, quick=False, runs=1, edits=1, idle_s=1.0, **kw)  # type: ignore[arg-type]


def test_syncthing_steps_skip_when_not_asked_or_not_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    [skip] = real.bench_real_syncthing(plan(tmp_path))
    assert isinstance(skip, Skipped) and "--syncthing" in skip.reason
    assert real.bench_large_side(plan(tmp_path)) == []  # the large tier is unchanged without the flag
    monkeypatch.setattr(syncthing, "binary", lambda: None)
    for step in (real.bench_real_syncthing, real.bench_large_side):
        [skip] = step(plan(tmp_path, syncthing=True))
        assert isinstance(skip, Skipped) and skip.reason == "skipped: syncthing not installed"
        assert not skip.reason.startswith("could not run")  # a skip, not a failure of the bench


def test_arrival_waits_for_every_byte_and_finds_strays(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    for rel, data in {"a.md": b"alpha", "d/b.png": b"\x89PNG-bytes", "d/e/c.md": b"gamma"}.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    arrival = Arrival(dst, tree_digest(src))
    assert not arrival()
    (dst / "d/e").mkdir(parents=True)
    (dst / "a.md").write_bytes(b"alpha")
    (dst / "d/b.png").write_bytes(b"\x89PNG-bytez")  # right size, wrong bytes
    (dst / "d/e/c.md").write_bytes(b"gamma")
    assert not arrival() and arrival.missing == ["d/b.png"] and arrival.done_at is None
    (dst / "d/b.png").write_bytes(b"\x89PNG-bytes")
    assert arrival() and arrival.done_at is not None and arrival.differing() == []
    (dst / ".peervault").mkdir()
    (dst / ".peervault" / "index.db").write_bytes(b"state")
    (dst / ".stfolder").mkdir()
    assert arrival.extra() == []
    (dst / "d/b (conflict).png").write_bytes(b"x")
    assert arrival.extra() == ["d/b (conflict).png"]
    assert disk_bytes(dst, frozenset({".peervault"})) < disk_bytes(dst)


def test_peak_rss_sees_a_short_allocation(tmp_path: Path) -> None:
    code = "import time; b = bytearray(80 * 2**20); time.sleep(0.3); del b; time.sleep(0.3)"
    with PeakRss() as peak:
        proc = subprocess.Popen([sys.executable, "-c", code])
        peak.add("child", proc.pid, whole_life=True)
        proc.wait()
    assert peak.peak["child"] >= 80


@pytest.mark.skipif(syncthing.binary() is None, reason="syncthing not installed")
def test_syncthing_is_configured_for_loopback_only(tmp_path: Path) -> None:
    exe = syncthing.binary()
    assert exe is not None
    a = syncthing.Syncthing("A", tmp_path, tmp_path / "A", exe)
    b = syncthing.Syncthing("B", tmp_path, tmp_path / "B", exe)
    a.generate()
    b.generate()
    a.configure([b])
    root = ET.parse(a.home / "config.xml").getroot()
    [folder] = root.findall("folder")
    assert folder.get("path") == str(tmp_path / "A") and folder.get("fsWatcherDelayS") == "1"
    assert {d.get("id") for d in folder.findall("device")} == {a.device_id, b.device_id}
    addrs = {d.get("id"): d.findtext("address") for d in root.findall("device")}
    assert addrs == {a.device_id: f"tcp://127.0.0.1:{a.sync_port}", b.device_id: f"tcp://127.0.0.1:{b.sync_port}"}
    opts = root.find("options")
    assert opts is not None
    assert [e.text for e in opts.findall("listenAddress")] == [f"tcp://127.0.0.1:{a.sync_port}"]
    for key in ("globalAnnounceEnabled", "localAnnounceEnabled", "relaysEnabled", "natEnabled", "crashReportingEnabled"):
        assert opts.findtext(key) == "false", key
    assert root.findtext("gui/address") == f"127.0.0.1:{a.gui_port}" and (tmp_path / "A" / ".stfolder").is_dir()


def test_result_kinds_are_gated_kinds() -> None:
    from peervault.bench.report import TOLERANCE

    assert {r.kind for r in figures("real_", CORPUS, measured(1), None)} <= set(TOLERANCE)
    assert isinstance(figures("real_", CORPUS, measured(1), None)[0], Result)


def test_cpu_share_counts_each_process_from_its_first_reading_and_is_never_negative() -> None:
    from peervault.bench.probe import cpu_share

    before = {10: 1_000_000_000, 11: 5_000_000_000, 12: 7_000_000_000}
    # 10 used 3 ms, 11 went away (nothing, not -5 s), 13 started since (its 1.5 ms all count)
    after = {10: 1_003_000_000, 12: 7_000_000_000, 13: 1_500_000}
    assert cpu_share(before, after, 30.0) == pytest.approx(4.5e-3 / 30 * 100)
    assert cpu_share(before, {10: 999_000_000}, 30.0) == 0.0  # a pid reused by a younger process
    assert cpu_share({}, {}, 0.0) == 0.0


def test_cpu_clock_counts_in_ns_and_keeps_a_thread_that_exited() -> None:
    """The kernel's per-process clock, read from outside: a thread's 0.3 s of CPU still counts
    after the thread is gone (a sum over /proc/PID/task/*/schedstat would lose it, and
    /proc/PID/schedstat is the main thread's alone)."""
    from peervault.bench.probe import CPU_CLOCK, CPU_TICKS, cpu_ns, cpu_source

    code = (
        "import threading, time, sys\n"
        "def spin():\n"
        "    t = time.thread_time()\n"
        "    while time.thread_time() - t < 0.3: pass\n"
        "th = threading.Thread(target=spin); th.start(); th.join()\n"
        "print('done', flush=True); sys.stdin.read()\n"
    )
    with subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "done"
        source = cpu_source()
        assert source == (CPU_CLOCK if sys.platform == "linux" else CPU_TICKS)
        used = cpu_ns([proc.pid], source)[proc.pid]
        main_thread = int(Path(f"/proc/{proc.pid}/schedstat").read_text().split()[0]) if sys.platform == "linux" else 0
        assert used >= 300_000_000 + main_thread * 0.9
        if source == CPU_CLOCK:
            assert used % 10_000_000 != 0  # ns, not whole 10 ms ticks
        proc.kill()
    assert cpu_ns([proc.pid], cpu_source()) == {}  # gone: left out, not an error


def test_the_cpu_rows_say_how_cpu_was_counted() -> None:
    m = measured(1)
    m.cpu_source = "cpuclock"
    rows = {r.key: r for r in figures("real_", CORPUS, m, 300.0)}
    assert rows["real_cpu_after_a_pct"].method == rows["real_cpu_after_b_pct"].method == "cpuclock"
    assert rows["real_edit_3kb_ms"].method == ""


def test_a_run_folder_is_put_aside_not_deleted_until_the_end(tmp_path: Path) -> None:
    """A join timed right after 22,000 files were deleted creates its files far slower on this
    machine's ext4 (see Plan.discard): the bench keeps earlier runs' folders until it ends."""
    p = plan(tmp_path)
    first = p.fresh("real-B")
    (first / "n.md").parent.mkdir(parents=True)
    (first / "n.md").write_text("one")
    again = p.fresh("real-B")  # a second run under the same name starts from nothing
    assert again == first and not again.exists()
    kept = list((tmp_path / ".discarded").iterdir())
    assert [(k / "n.md").read_text() for k in kept] == ["one"]
    again.mkdir()
    p.discard(again)
    p.discard(tmp_path / "never-made")  # nothing to put aside
    assert len(list((tmp_path / ".discarded").iterdir())) == 2 and not again.exists()
