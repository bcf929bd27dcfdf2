"""A one-shot `join` keeps SQLite's page cache small (daemon/root.py, Store.limit_cache):
its rows are written once, and a full cache was 2 MB of the joining device's peak."""

from __future__ import annotations

from pathlib import Path

import pytest

from peervault import config
from peervault.daemon.root import JOIN_CACHE_KIB, Daemon
from peervault.state import VaultState
from peervault.store.db import Store


def _cache_kib(store: Store) -> int:
    return -int(store.db.execute("PRAGMA cache_size").fetchone()[0])


def test_a_store_holds_the_page_cache_it_is_limited_to(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    try:
        assert _cache_kib(store) == 2000  # SQLite's default
        store.limit_cache(256)
        assert _cache_kib(store) == 256
    finally:
        store.close()


@pytest.mark.parametrize(("mode", "kib"), [("join", JOIN_CACHE_KIB), ("run", 2000), ("once", 2000)])
async def test_only_a_join_limits_its_page_cache(tmp_path: Path, mode: str, kib: int) -> None:
    state, _ = VaultState.init(tmp_path / "V")
    d = Daemon(state, config.load(state.dir), mode=mode)
    d.ep = None  # type: ignore[assignment]  # the parts are built, nothing dials or listens
    try:
        d._build()
        assert _cache_kib(state.store) == kib
    finally:
        await d.api.stop()
        state.close()
