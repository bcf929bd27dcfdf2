"""The entries a device sends with its saved index (INDEX_SNAPSHOT, sync/wholeindex.py) are
exactly those the joining device would read from that snapshot itself: two devices making
random creates, edits, renames and deletes of notes and binary files, syncing, removing
devices and folding their index; then a new device joins one of them and the entries it
adopts are compared with the snapshot it received, decoded."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peervault.crdt.entries import row_entry
from peervault.crdt.index import VaultIndex
from peervault.crdt.indexversions import vv_is_empty
from peervault.protocol import messages as m
from peervault.protocol.entryrows import iter_rows
from peervault.state import VaultState
from peervault.store.packing import unpack_rows, unpack_snapshot
from twin_engines import engine, file_op, hello_sync, twin_vaults

EXAMPLES = max(10, int(os.environ.get("PEERVAULT_PROPERTY_EXAMPLES", "200")) // 8)
NAMES = ["a.md", "b.md", "d/c.md", "img/p.png", "img/q.png"]
DEVICES = ["c" * 64, "e" * 64]

devices = st.integers(0, 1)
names = st.sampled_from(NAMES)
ops = st.one_of(
    st.tuples(st.just("write"), devices, names, st.integers(0, 3)),
    st.tuples(st.just("rename"), devices, names, names),
    st.tuples(st.just("delete"), devices, names),
    st.tuples(st.just("sync"), devices),
    st.tuples(st.just("forget"), devices, st.sampled_from(DEVICES)),
    st.tuples(st.just("stop"), devices),
)


def _content(name: str, version: int) -> bytes:
    if name.endswith(".png"):
        return b"\x89PNG\r\n\x1a\n" + bytes([version]) * (200 + version)
    return f"{name} version {version}\n".encode()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, min_size=1, max_size=25), devices)
def test_the_entries_sent_are_those_the_receiver_reads_from_the_snapshot(script: list[tuple], server: int) -> None:  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as tmp:
        states = list(twin_vaults(Path(tmp)))
        engines = [engine(s) for s in states]
        joiner, _ = VaultState.init(Path(tmp) / "J")
        now = time.time()
        try:
            for op in script:
                now += 60  # past settling: a vanished file is a delete by the next look
                kind, d = op[0], op[1]
                e, root = engines[d], states[d].root
                if kind in ("write", "rename", "delete"):
                    file_op(e, root, op, now, _content(op[2], op[3]) if kind == "write" else b"")
                elif kind == "sync":
                    hello_sync(e, engines[1 - d], now)
                elif kind == "forget":
                    e.forget_device(op[2])
                elif kind == "stop":
                    e.save_for_restart()
            a = engines[server]
            a.save_for_restart()  # its index saved whole, as a daemon's after a fold
            j = engine(joiner)
            msg = a.index_saved_whole(j.index_vv())
            if vv_is_empty(a.index_vv()):
                return  # no index at all: nothing to join to
            assert isinstance(msg, m.IndexSnapshot)
            msg = m.decode(m.encode(msg))
            assert isinstance(msg, m.IndexSnapshot)
            decoded = VaultIndex.load(unpack_snapshot(msg.snapshot), 1)
            sent = {e.file_id: e for e in map(row_entry, iter_rows(unpack_rows(msg.rows, 2**26)))}
            assert sent == decoded.entries() == dict(a.entries)
            assert set(msg.forgotten) == decoded.forgotten() == a.index.forgotten()
            assert j.adopt_index(msg, now)
            assert dict(j.entries) == decoded.entries() and not j.index.loaded
            assert j.index.forgotten() == decoded.forgotten()
            assert dict(engine(joiner).entries) == decoded.entries()  # a warm start reads them back
        finally:
            for state in (*states, joiner):
                state.close()
