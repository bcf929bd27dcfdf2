"""daemon/timers.py: once quiet, the heap is trimmed even when the engine had nothing to shed
(a peer's sync served touches freed pages all over the heap), and daemon.json is rewritten only
when something was shed."""

from __future__ import annotations

import asyncio
import time

import pytest

from peervault.daemon import timers


class _Engine:
    def __init__(self, sheds: bool) -> None:
        self.sheds = sheds
        self.calls = 0

    def shed_memory(self) -> bool:
        self.calls += 1
        return self.sheds


@pytest.mark.parametrize("sheds", [False, True])
def test_quiet_spell_trims_the_heap_whether_or_not_anything_was_shed(monkeypatch: pytest.MonkeyPatch, sheds: bool) -> None:
    trims: list[None] = []
    monkeypatch.setattr(timers, "trim_heap", lambda: trims.append(None))

    async def run() -> tuple[int, bool]:
        engine = _Engine(sheds)
        t = timers.Timers(
            engine,  # type: ignore[arg-type]
            0.1,
            flush=lambda keys: None,
            write_status=lambda running: None,
            kick_blobs=lambda: None,
            halt=lambda exc: None,
        )
        t._active_at = time.monotonic() - timers.SHED_IDLE_S - 1  # quiet long enough
        t._shed_when_idle()
        status_due = t._status_handle is not None
        if t._status_handle is not None:
            t._status_handle.cancel()
        if t._shed_handle is not None:
            t._shed_handle.cancel()
        return engine.calls, status_due

    calls, status_due = asyncio.run(run())
    assert calls == 1
    assert len(trims) == 1
    assert status_due == sheds  # daemon.json rewritten only when the memory held changed
