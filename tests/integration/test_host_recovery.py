"""daemon/host.py in-process, with real vaults (SQLite, folders, Iroh on loopback): a vault
whose daemon dies of an unexpected error is logged with its path and opened again on its
own, while the other vault of the process is never stopped; one signal stops both, once."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

import pytest

from peervault.config import Config
from peervault.daemon import host as hostmod
from peervault.daemon.hostapi import HostVaults
from peervault.daemon.local import LocalChanges
from peervault.errors import VaultUnavailable
from peervault.state import VaultState


async def _until(cond, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.05)):
        if cond():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_a_failing_vault_is_reopened_and_the_other_runs_on(tmp_path: Path, monkeypatch, caplog):  # type: ignore[no-untyped-def]
    a, b = tmp_path / "A", tmp_path / "B"
    for root in (a, b):
        VaultState.init(root)[0].close()
    monkeypatch.setattr(hostmod, "RETRY_BACKOFF_S", (2.0,))
    original = LocalChanges.reconcile_loop
    failures = []

    async def reconcile_loop(self: LocalChanges) -> None:
        if self.root == a and not failures:
            failures.append(1)
            raise OSError(28, "No space left on device")  # what a full disk raises mid-write
        await original(self)

    monkeypatch.setattr(LocalChanges, "reconcile_loop", reconcile_loop)

    def open_vault(root: Path) -> tuple[VaultState, Config]:
        state = VaultState.open(root)
        state.lock()
        return state, Config(no_relay=True, bind="127.0.0.1:0")

    caplog.set_level(logging.INFO)
    h = hostmod.Host([a, b], open_vault)
    task = asyncio.create_task(h.main())
    await _until(lambda: b in h.served and len(failures) == 1)
    b_daemon = h.daemons[b]

    def a_again() -> bool:  # a new daemon for A, past its start-up scan
        d = h.daemons.get(a)
        return (
            d is not None
            and len(failures) == 1
            and d.failed is None
            and getattr(d, "status", None) is not None
            and d.status.scan_done
        )

    await _until(lambda: "opening it again" in caplog.text)
    listed = {row["name"]: row for row in HostVaults(h).listing()}
    # between the failure and the next attempt (the backoff's 2 s): shown as such, and its routes answer 503
    assert listed["A"]["state"] == "restarting" and "No space left" in listed["A"]["reason"]
    with pytest.raises(VaultUnavailable, match="being opened again: .*No space left"):
        HostVaults(h).service(listed["A"]["id"])
    assert listed["B"]["state"] == "running" and HostVaults(h).service(listed["B"]["id"]) is h.daemons[b].service
    await _until(a_again)
    assert f"vault {a} stopped" in caplog.text and "No space left on device" in caplog.text
    (a / "later.md").write_text("written after the restart\n")
    await _until(lambda: "later.md" in {r.path for r in h.daemons[a].state.store.files().values()})
    assert h.daemons[b] is b_daemon and not b_daemon.stopping.is_set()  # B never stopped
    os.kill(os.getpid(), signal.SIGTERM)
    os.kill(os.getpid(), signal.SIGTERM)  # a second signal: still one clean stop
    assert await asyncio.wait_for(task, 30) == {}
    assert caplog.text.count("stopping 2 vault(s)") == 1
    for root in (a, b):
        assert not VaultState.open(root).daemon_running()  # both released their vault


@pytest.fixture(autouse=True)
def _restore_signals():  # type: ignore[no-untyped-def]
    yield
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)
