"""Shared by engine unit and property tests: two engines of one vault, in-process, and the
delivery of one's pending changes to the other through the real wire codec."""

from __future__ import annotations

from pathlib import Path

from peervault.config import Config
from peervault.protocol import messages as m
from peervault.state import VaultState
from peervault.sync.engine import Engine


def twin_vaults(base: Path) -> tuple[VaultState, VaultState]:
    """A and B of the same vault, both publishing at once (B joined before either had notes)."""
    sa, _ = VaultState.init(base / "A")
    sb, _ = VaultState.init(base / "B")
    sb.store.reset_for_join(sa.vault_id)
    sb.store.set_meta("published", 1)
    return sa, sb


def engine(state: VaultState) -> Engine:
    return Engine(state.root, state.store, Config())


def deliver(src: Engine, dst: Engine) -> list[m.IndexUpdates | m.DocUpdates]:
    """Deliver src's pending changes to dst, as the daemon does, through the wire codec."""
    msgs = src.take_pending()
    for msg in msgs:
        decoded = m.decode(m.encode(msg))
        if isinstance(decoded, m.IndexUpdates):
            dst.apply_index(decoded.blob)
        else:
            assert isinstance(decoded, m.DocUpdates)
            dst.apply_docs(decoded.entries)
    return msgs
