"""A warm start that reads the entries saved beside the index's snapshot (store/indexentries.py)
gets exactly the entries a whole read of the index gives, and a dropped index document
comes back as it was: two engines of one vault making random creates, edits, renames and
deletes, syncing, shedding their index, folding it (a clean stop) and restarting (cleanly
or as after a crash), in random orders."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peervault.crdt.index import VaultIndex
from peervault.state import VaultState
from peervault.sync.engine import Engine
from twin_engines import engine, file_op, hello_sync, twin_vaults

EXAMPLES = max(10, int(os.environ.get("PEERVAULT_PROPERTY_EXAMPLES", "200")) // 8)
NAMES = ["a.md", "b.md", "d/c.md", "d/e.md"]

devices = st.integers(0, 1)
names = st.sampled_from(NAMES)
ops = st.one_of(
    st.tuples(st.just("write"), devices, names, st.integers(0, 3)),
    st.tuples(st.just("rename"), devices, names, names),
    st.tuples(st.just("delete"), devices, names),
    st.tuples(st.just("sync"), devices),
    st.tuples(st.just("shed"), devices, st.booleans()),  # True: a burst's fold first
    st.tuples(st.just("stop"), devices),  # a clean stop's fold
    st.tuples(st.just("restart"), devices),
)


def _whole(state: VaultState) -> VaultIndex:
    snap, log = state.store.load_index()
    return VaultIndex.load(snap, 1, log)


def _check(e: Engine, state: VaultState) -> None:
    assert e.entries == _whole(state).entries()
    assert e.index.entries() == e.entries  # the document, read back if it was dropped


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, min_size=1, max_size=25))
def test_saved_entries_are_the_index_s_after_random_changes_and_restarts(script: list[tuple]) -> None:  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as tmp:
        states = list(twin_vaults(Path(tmp)))
        engines = [engine(s) for s in states]
        now = time.time()
        try:
            for op in script:
                now += 60  # past settling: a vanished file is a delete by the next look
                kind, d = op[0], op[1]
                e, state = engines[d], states[d]
                root = state.root
                if kind in ("write", "rename", "delete"):
                    file_op(e, root, op, now, f"{op[2]} version {op[3]}\n".encode() if kind == "write" else b"")
                elif kind == "sync":
                    hello_sync(e, engines[1 - d], now)
                elif kind == "shed":
                    e.shed_memory(churn=0 if op[2] else 10**9)
                    assert not e.index.loaded
                elif kind == "stop":
                    e.save_for_restart()
                    assert not e.index.loaded and state.store.cached_index() is not None
                elif kind == "restart":
                    old = dict(e.entries)
                    engines[d] = engine(state)
                    assert engines[d].entries == old  # everything was saved at its batch's end
                    _check(engines[d], state)
            for e, state in zip(engines, states, strict=True):
                _check(e, state)
        finally:
            for state in states:
                state.close()
