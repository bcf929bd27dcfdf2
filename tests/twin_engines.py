"""Shared by engine unit and property tests: two engines of one vault, in-process, and the
delivery of one's pending changes to the other through the real wire codec."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from peervault.config import Config
from peervault.protocol import messages as m
from peervault.state import VaultState
from peervault.sync.engine import Engine
from peervault.vault.blobio import BlobReader


def twin_vaults(base: Path) -> tuple[VaultState, VaultState]:
    """A and B of the same vault, both publishing at once (B joined before either had notes)."""
    sa, _ = VaultState.init(base / "A")
    sb, _ = VaultState.init(base / "B")
    sb.store.reset_for_join(sa.vault_id)
    sb.store.set_meta("published", 1)
    return sa, sb


def engine(state: VaultState) -> Engine:
    return Engine(state.root, state.store, Config(), time.time)


def deliver(src: Engine, dst: Engine) -> list[m.IndexUpdates | m.DocUpdates]:
    """Deliver src's pending changes to dst, as the daemon does, through the wire codec."""
    msgs = src.take_pending()
    for msg in msgs:
        decoded = m.decode(m.encode(msg))
        if isinstance(decoded, m.IndexUpdates):
            dst.apply_index(decoded.blob, time.time())
            # the entries kept up to date from the import's events are the index's entries
            assert dst.entries == dst.index.entries()
        else:
            assert isinstance(decoded, m.DocUpdates)
            dst.apply_docs(decoded.entries, time.time())
    return msgs


ALL_BUCKETS = bytes(range(256))


def hello_sync(src: Engine, dst: Engine, now: float) -> None:
    """What a HELLO exchange sends from src to dst (its pending changes taken first): the
    index updates dst lacks and every note batch of the catch-up."""
    src.take_pending()
    blob = src.index_updates_since(dst.index_vv())
    if blob:
        dst.apply_index(blob, now)
    for batch in src.doc_batches(ALL_BUCKETS, dict(dst.doc_versions(ALL_BUCKETS))):
        dst.apply_docs(tuple(batch), now)


def file_op(e: Engine, root: Path, op: tuple, now: float, content: bytes = b"") -> None:  # type: ignore[type-arg]
    """A user's change to the folder, then the engine's look at it: ("write", d, name, _)
    writes `content`, ("rename", d, src, dst) moves a file onto a free name, ("delete", d,
    name) removes one and looks again once its settle is over. Other ops do nothing here."""
    kind = op[0]
    if kind == "write":
        (root / op[2]).parent.mkdir(exist_ok=True)
        (root / op[2]).write_bytes(content)
        e.reconcile(now)
    elif kind == "rename" and (root / op[2]).exists() and not (root / op[3]).exists():
        (root / op[3]).parent.mkdir(exist_ok=True)
        (root / op[2]).rename(root / op[3])
        e.reconcile(now)
    elif kind == "delete" and (root / op[2]).exists():
        (root / op[2]).unlink()
        e.reconcile(now)
        e.reconcile(now + 30)


def fetch_blob(src: Engine, dst: Engine, h: str, size: int) -> bool:
    """What the daemon's blob transfers do for one blob: read it where src has it (its
    store, or a vault file still as recorded), append it to dst's partial download, verify,
    and tell dst. False if src does not have it."""
    where = src.blob_source(h)
    if where is None:
        return False
    reader = BlobReader(where.path, where.expect)
    try:
        for chunk in reader.pieces(dst.blobs.partial_size(h)):
            dst.blobs.append_partial(h, dst.blobs.partial_size(h), chunk)
    finally:
        reader.close()
    assert dst.blobs.finish_partial(h, size), f"blob {h[:12]} is not the {size} bytes the index says"
    dst.blobs.make_durable([h])
    dst.blobs_arrived([h], time.time())
    return True


@dataclass
class Pair:
    a: Engine
    b: Engine
    state_a: VaultState
    state_b: VaultState


def engine_pair(base: Path) -> Iterator[Pair]:
    """Body of the `pair` fixtures: two published engines of the same vault."""
    sa, sb = twin_vaults(base)
    a, b = engine(sa), engine(sb)
    assert a.vault_id == b.vault_id and a.published and b.published
    yield Pair(a, b, sa, sb)
    sa.close()
    sb.close()


def tree(root: Path) -> dict[str, str]:
    """Every user file in the vault and its text."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if rel.parts[0] == ".peervault" or not p.is_file():
            continue
        out[rel.as_posix()] = p.read_text(encoding="utf-8")
    return out


_clock = itertools.count(time.time_ns(), 1_000_000)


def write(path: Path, content: str | bytes) -> None:
    """Write a file as an editor would, with a fresh unique mtime (coarse clocks can't fool the engine)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    t = next(_clock)
    os.utime(path, ns=(t, t))
