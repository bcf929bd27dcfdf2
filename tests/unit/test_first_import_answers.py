"""What a new vault's daemon answers while its first import runs in a process of its own
(daemon/importing.py): the child's progress lines, the status it gives meanwhile (the
shape of the engine's), the 503 with Retry-After for everything else, which the CLI's
client waits out until the engine's service takes over the same socket."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from peervault.api import prometheus
from peervault.api.client import ControlClient
from peervault.api.server import ControlServer
from peervault.api.unixhttp import UnixConnection
from peervault.config import Config
from peervault.errors import FirstImportRunning
from peervault.service.events import EventBus
from peervault.service.importing import ImportingVault
from peervault.service.status import collect
from peervault.service.vault import VaultService
from peervault.state import VaultState
from peervault.sync import firstimport


def test_the_last_whole_progress_line_counts() -> None:
    assert firstimport.last_progress(b"") == (None, b"")
    assert firstimport.last_progress(b"0 10\n1024 10") == ((0, 10), b"1024 10")
    assert firstimport.last_progress(b"0 10\n1024 2000\n2048 20") == ((1024, 2000), b"2048 20")
    assert firstimport.last_progress(b"noise\n") == (None, b"")  # anything else on the pipe is not progress


def test_progress_lines_go_down_a_pipe_and_never_wait_for_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r, w = os.pipe()
    with open(w, "wb", buffering=0) as pipe, open(r, "rb", buffering=0) as daemon:
        monkeypatch.setattr(sys, "stdout", pipe)
        report = firstimport._progress_lines()
        for i in range(100_000):  # far more than the pipe holds: the lines that do not fit are dropped
            report(i, 100_000)
        first = daemon.read(65536)
        assert first.startswith(b"0 100000\n1 100000\n")
        assert firstimport.last_progress(first)[0] is not None
    with open(tmp_path / "out", "wb") as file:  # not a pipe (run by hand): nothing written, nothing changed
        monkeypatch.setattr(sys, "stdout", file)
        firstimport._progress_lines()(1, 2)
        assert os.get_blocking(file.fileno())
    assert (tmp_path / "out").read_bytes() == b""


def test_the_import_reports_its_progress_up_to_every_file(tmp_path: Path) -> None:
    state = VaultState.init(tmp_path / "v")[0]
    for i in range(30):
        (state.root / f"n{i}.md").write_text(f"note {i}\n")
    seen: list[tuple[int, int]] = []
    firstimport.import_all(state.root, state.store, Config(), time.time, lambda d, t: seen.append((d, t)))
    state.close()
    assert seen[0] == (0, 30) and seen[-1] == (30, 30)
    assert all(a[0] <= b[0] and b[0] <= b[1] for a, b in zip(seen, seen[1:], strict=False))


def _runtime(done: int, total: int) -> dict[str, Any]:
    return {"pid": 1, "running": True, "scan_done": False, "first_import": {"files_done": done, "files_total": total}}


def _keys(doc: Any) -> Any:
    return {k: _keys(v) for k, v in doc.items() if k != "first_import"} if isinstance(doc, dict) else None


def test_the_status_during_the_import_has_the_engines_shape_and_the_rest_waits(tmp_path: Path) -> None:
    state = VaultState.init(tmp_path / "v")[0]
    vault = ImportingVault(state, lambda: _runtime(3, 10), EventBus())
    status = vault.status()
    assert _keys(status) == _keys(collect(state, {"ignored": 0, **_runtime(0, 0)}, {}))
    assert status["daemon"]["first_import"] == {"files_done": 3, "files_total": 10}
    assert status["files"]["tracked"] == 3 and not status["daemon"]["scan_done"]
    assert "peervault_files_tracked 3\n" in prometheus.render(status)  # /metrics answers too
    assert vault.peers() == []
    for refused in (lambda: vault.history(path="a.md"), lambda: vault.pause(), lambda: vault.files()):
        with pytest.raises(FirstImportRunning, match="3 of 10 files"):
            refused()
    assert state.store.get_meta("paused") is None
    for other in ("_engine", "live", "cfg"):  # not operations: no stand-in
        with pytest.raises(AttributeError):
            getattr(vault, other)
    state.close()


async def test_a_client_waits_out_the_import_and_the_engines_service_answers_on_the_same_socket(tmp_path: Path) -> None:
    state = VaultState.init(tmp_path / "v")[0]
    importing = ImportingVault(state, lambda: _runtime(0, 2000), EventBus())
    server = ControlServer(state.dir, importing, None, "127.0.0.1", ())
    server.start()
    try:

        def raw() -> tuple[int, str | None]:
            conn = UnixConnection(str(state.dir / "control.sock"), 5.0)
            try:
                conn.request("GET", "/deletions")
                resp = conn.getresponse()
                resp.read()
                return resp.status, resp.getheader("Retry-After")
            finally:
                conn.close()

        assert await asyncio.to_thread(raw) == (503, str(FirstImportRunning.retry_after_s))
        with pytest.raises(FirstImportRunning):
            await asyncio.to_thread(ControlClient(state.dir, wait_s=0.2).call, "deletions")
        waiting = asyncio.ensure_future(asyncio.to_thread(ControlClient(state.dir, wait_s=30).call, "deletions"))
        await asyncio.sleep(0.7)
        assert not waiting.done()
        engine_side = VaultService(state, Config(), time.time, events=importing.events)
        server.serve(engine_side)
        assert await asyncio.wait_for(waiting, 10) == []
        assert (await asyncio.to_thread(ControlClient(state.dir).call, "status"))["daemon"]["first_import"] is None
        assert engine_side.events is importing.events
    finally:
        await server.stop()
        state.close()
