"""A large first import runs in a process of its own (sync/firstimport.py): the daemon then
starts warm on what it wrote. Whatever is killed, and when, the next start (or the daemon
itself, when only the import's process died) imports every file, each note's text its file's.
The process is the default; `first_import_process = false` keeps the import in the daemon.
Meanwhile the daemon is ready and answers (daemon/importing.py): the tests hold the import's
process still (SIGSTOP) to look at that moment for as long as they need."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from peervault.api.client import ControlClient
from peervault.api.sockpath import socket_path
from peervault.api.unixhttp import UnixConnection
from peervault.config import Config
from peervault.crdt.index import file_id_for
from peervault.errors import FirstImportRunning
from peervault.state import VaultState
from peervault.sync import firstimport
from peervault.sync.engine import Engine
from peervault.vault.fsops import lock_dir

from .conftest import wait_until

NOTES = 2500  # above firstimport.MIN_FILES, and enough work to kill the import in its middle


def _notes(root: Path, apart: bool = True) -> dict[str, str]:
    """The vault's files; unless `apart`, its config asking for the import in the daemon."""
    if not apart:
        (root / ".peervault" / "config.toml").write_text("first_import_process = false\n")
    texts = {f"d{i % 30:02}/note {i:04}.md": f"# Note {i}\n\n" + f"line {i} of a note\n" * (i % 17 + 1) for i in range(NOTES)}
    for rel, text in texts.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    (root / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64)
    return texts


def _child(daemon_pid: int) -> psutil.Process | None:
    try:
        kids = psutil.Process(daemon_pid).children()
    except psutil.Error:
        return None
    return next((k for k in kids if "peervault.sync.firstimport" in " ".join(k.cmdline())), None)


def _all_imported(root: Path, texts: dict[str, str]) -> None:
    """Every file has its row, every note its text (the daemon stopped: the vault is ours)."""
    state = VaultState.open(root)
    try:
        e = Engine(root, state.store, Config(), time.time)
        rows = {r.path for r in state.store.files().values()}
        assert rows == {*texts, "img.png"}
        for rel, text in texts.items():
            assert e.text(file_id_for(rel)) == text, rel
        assert e.reconcile(time.time()) == 0
    finally:
        state.close()


@contextmanager
def _running(device) -> Iterator[subprocess.Popen[bytes]]:  # type: ignore[no-untyped-def]
    """`peervault run` on the device, as a process the test watches from its first moment
    (Device.start returns once daemon.json says ready), killed if the test leaves it running."""
    log = open(device.logs / f"{device.root.name}-run.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "peervault", "--log-level", "debug", "run", str(device.root), "--bind", "127.0.0.1:0"],
        env=device.env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def _scanned(device) -> bool:  # type: ignore[no-untyped-def]
    return bool((device.runtime() or {}).get("scan_done"))


def test_a_large_first_import_runs_in_a_process_and_the_daemon_starts_warm(make_device) -> None:  # type: ignore[no-untyped-def]
    a = make_device("a")
    texts = _notes(a.root)
    a.start()
    wait_until(lambda: _scanned(a), timeout=120, what="the first import")
    metrics = a.runtime()["metrics"]
    assert "first_import_process" in metrics["phases_ms"]
    # the import process's own peak (the daemon's RSS leaves it out): a Python with the engine loaded
    assert metrics["first_import_peak_mb"] > 25, metrics
    assert a.stop() == 0
    _all_imported(a.root, texts)
    a.start()  # a warm start: no process this time
    wait_until(lambda: _scanned(a), what="the warm start")
    assert "first_import_process" not in a.runtime()["metrics"]["phases_ms"]
    assert a.runtime()["metrics"]["first_import_peak_mb"] is None
    a.stop()


@pytest.mark.parametrize("after_s", [0.0, 0.4, 0.9])
def test_the_import_process_killed_leaves_the_import_to_the_daemon(make_device, after_s: float) -> None:  # type: ignore[no-untyped-def]
    a = make_device("a")
    texts = _notes(a.root)
    with _running(a) as proc:
        wait_until(lambda: _child(proc.pid) is not None, what="the import's process")
        time.sleep(after_s)
        child = _child(proc.pid)
        if child is not None:
            child.kill()
        wait_until(lambda: _scanned(a), timeout=120, what="the import, completed by the daemon")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    _all_imported(a.root, texts)


@pytest.mark.parametrize("after_s", [0.0, 0.5, 1.0])
def test_the_daemon_killed_ends_the_import_and_the_next_start_completes_it(make_device, after_s: float) -> None:  # type: ignore[no-untyped-def]
    a = make_device("a")
    texts = _notes(a.root)
    with _running(a) as proc:
        wait_until(lambda: _child(proc.pid) is not None, what="the import's process")
        child = _child(proc.pid)
        assert child is not None
        time.sleep(after_s)
        proc.kill()
        proc.wait()

    def gone() -> bool:
        return not child.is_running() or child.status() == psutil.STATUS_ZOMBIE

    fd = lock_dir(a.root / ".peervault")  # the import holds the vault's lock while it lives
    if fd is not None:
        os.close(fd)
        assert gone()
    wait_until(gone, timeout=10, what="the import's process to end with the daemon")
    a.start()
    wait_until(lambda: _scanned(a), timeout=120, what="the next start's import")
    assert a.stop() == 0
    _all_imported(a.root, texts)


def test_first_import_process_false_imports_in_the_daemon(make_device) -> None:  # type: ignore[no-untyped-def]
    a = make_device("a")
    texts = _notes(a.root, apart=False)
    a.start()
    wait_until(lambda: _scanned(a), timeout=120, what="the first import")
    assert "first_import_process" not in a.runtime()["metrics"]["phases_ms"]
    assert a.runtime()["metrics"]["first_import_peak_mb"] is None
    assert a.stop() == 0
    _all_imported(a.root, texts)


def test_what_makes_a_first_import_a_process(tmp_path: Path) -> None:
    """Only a published vault with no file recorded and a large folder; a warm start asks one query."""
    state = VaultState.init(tmp_path / "a vault? #1 100%")[0]  # (the database is opened by URI)
    root = state.root
    assert not firstimport.wanted(root)  # an empty folder
    (root / ".git").mkdir()
    for i in range(firstimport.MIN_FILES):
        (root / ".git" / f"o{i}").write_text("")
    assert not firstimport.wanted(root)  # what no scan enters does not count
    for i in range(firstimport.MIN_FILES):
        (root / f"n{i}.md").write_text(f"{i}\n")
    assert firstimport.wanted(root)
    state.store.set_meta("published", 0)  # a device that will join
    assert not firstimport.wanted(root)
    state.store.set_meta("published", 1)
    version = state.store.db.execute("PRAGMA user_version").fetchone()[0]
    state.store.db.execute(f"PRAGMA user_version={version - 1}")  # a database to migrate first: in-process
    assert not firstimport.wanted(root)
    state.store.db.execute(f"PRAGMA user_version={version}")
    (root / f"n{0}.md").unlink()
    assert not firstimport.wanted(root)
    (root / "n0.md").write_text("0\n")
    Engine(root, state.store, Config(), time.time).reconcile(time.time())
    assert not firstimport.wanted(root)  # imported: a warm start from now on
    state.close()


def _held_child(proc: subprocess.Popen[bytes]) -> psutil.Process:
    """The import's process, stopped where it is (SIGSTOP) before it can finish."""
    wait_until(lambda: _child(proc.pid) is not None, what="the import's process")
    child = _child(proc.pid)
    assert child is not None
    child.suspend()
    return child


def _get(root: Path, path: str) -> tuple[int, str | None, bytes]:
    conn = UnixConnection(socket_path(root / ".peervault"), 10.0)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Retry-After"), resp.read()
    finally:
        conn.close()


def test_the_daemon_answers_while_its_first_import_runs(make_device) -> None:  # type: ignore[no-untyped-def]
    a = make_device("a")
    texts = _notes(a.root)
    with _running(a) as proc:
        child = _held_child(proc)
        try:
            wait_until(lambda: (a.runtime() or {}).get("ready"), what="the daemon ready during the import")
            rt = a.runtime()
            assert rt is not None and rt["running"] and rt["scan_done"] is False and rt["first_import"] is not None
            status = a.status()  # `peervault status --json`, through the daemon's API
            assert status["daemon"]["running"] and status["daemon"]["pid"] == proc.pid
            assert status["daemon"]["scan_done"] is False
            progress = status["daemon"]["first_import"]
            assert progress["files_done"] <= progress["files_total"] <= NOTES + 1
            assert status["files"]["tracked"] == progress["files_done"]
            assert "the first import runs" in a.cli("status", str(a.root)).stdout
            code, retry, body = _get(a.root, "/history?path=d00/note%200000.md")  # needs the engine
            assert code == 503 and retry is not None and b"FirstImportRunning" in body and b"first import" in body
            with pytest.raises(FirstImportRunning):
                ControlClient(a.root / ".peervault", wait_s=0).call("pause")  # a change: refused, nothing written
            waiting = subprocess.Popen(  # a command given now waits for the import, then answers
                [sys.executable, "-m", "peervault", "history", str(a.root), "d00/note 0000.md", "--json"],
                env=a.env,
                stdout=subprocess.PIPE,
            )
            time.sleep(1.0)
            assert waiting.poll() is None
        finally:
            child.resume()
        out, _ = waiting.communicate(timeout=120)
        assert waiting.returncode == 0 and b'"version": 1' in out
        wait_until(lambda: _scanned(a), timeout=120, what="the first import")
        status = a.status()
        assert status["daemon"]["first_import"] is None and status["files"]["tracked"] == NOTES + 1
        assert not status["daemon"]["paused"]
        code, _, body = _get(a.root, "/events?since=0&timeout=0")
        kinds = [(e["kind"], e.get("done")) for e in json.loads(body)["events"]]
        assert ("first_import", False) in kinds and ("first_import", True) in kinds
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    _all_imported(a.root, texts)


def test_a_stop_during_the_first_import_ends_it_and_the_next_start_completes_it(make_device) -> None:  # type: ignore[no-untyped-def]
    a = make_device("a")
    texts = _notes(a.root)
    with _running(a) as proc:
        child = _held_child(proc)
        wait_until(lambda: (a.runtime() or {}).get("ready"), what="the daemon ready during the import")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    rt = a.runtime()
    assert rt is not None and rt["running"] is False
    assert not Path(socket_path(a.root / ".peervault")).exists()
    a.start()
    wait_until(lambda: _scanned(a), timeout=120, what="the next start's import")
    assert a.stop() == 0
    _all_imported(a.root, texts)
