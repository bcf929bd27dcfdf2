"""The backstop rescan (daemon/local.reconcile_loop) runs at the configured interval on a
vault that is cheap to rescan, and less often on one that is not (timers.rescan_after), so
an idle daemon on a large vault does not spend 0.5 % of a core walking it every minute."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from peervault.config import Config
from peervault.daemon import local
from peervault.daemon.timers import RESCAN_MAX_S, rescan_after


def test_cheap_rescans_keep_the_configured_interval() -> None:
    assert rescan_after(60.0, 0.0) == 60.0
    assert rescan_after(60.0, 0.012) == 60.0  # 1,000 notes: 12 ms every minute is 0.02 %


def test_costly_rescans_wait_in_proportion_up_to_an_hour() -> None:
    assert rescan_after(60.0, 0.3) == pytest.approx(1500.0)  # the real tier: every 25 min
    assert rescan_after(60.0, 30.0) == RESCAN_MAX_S
    assert rescan_after(7200.0, 30.0) == 7200.0  # a longer configured interval is kept


class _Engine:
    def __init__(self, costs: list[float], clock: list[float]) -> None:
        self.costs, self.clock, self.reconciles = costs, clock, 0

    def reconcile(self, now: float) -> int:
        self.reconciles += 1
        self.clock[0] += self.costs.pop(0)  # the CPU this rescan took
        return 0

    def recover(self, now: float) -> None:
        pass


class _Timers:
    def schedule_flush(self) -> None:
        pass

    def schedule_settle(self) -> None:
        pass


def test_the_loop_waits_by_what_the_last_rescan_cost(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clock = [0.0]
    monkeypatch.setattr(time, "thread_time", lambda: clock[0])
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) > 3:
            raise asyncio.CancelledError

    monkeypatch.setattr(local.asyncio, "sleep", sleep)
    engine = _Engine([0.3, 0.001, 0.05], clock)
    changes: Any = local.LocalChanges.__new__(local.LocalChanges)
    changes.engine, changes.timers, changes.cfg = engine, _Timers(), Config()
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(changes.reconcile_loop())
    assert engine.reconciles == 3
    assert waits == [60.0, pytest.approx(1500.0), 60.0, pytest.approx(250.0)]
