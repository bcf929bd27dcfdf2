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
from twin_engines import engine, twin_vaults

EXAMPLES = max(10, int(os.environ.get("PEERVAULT_PROPERTY_EXAMPLES", "200")) // 8)
NAMES = ["a.md", "b.md", "d/c.md", "d/e.md"]
ALL_BUCKETS = bytes(range(256))

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


def _sync(src: Engine, dst: Engine, now: float) -> None:
    """What a HELLO exchange sends from src to dst."""
    src.take_pending()
    blob = src.index_updates_since(dst.index_vv())
    if blob:
        dst.apply_index(blob, now)
    for batch in src.doc_batches(ALL_BUCKETS, dict(dst.doc_versions(ALL_BUCKETS))):
        dst.apply_docs(tuple(batch), now)


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
                if kind == "write":
                    (root / op[2]).parent.mkdir(exist_ok=True)
                    (root / op[2]).write_text(f"{op[2]} version {op[3]}\n")
                    e.reconcile(now)
                elif kind == "rename" and (root / op[2]).exists() and not (root / op[3]).exists():
                    (root / op[3]).parent.mkdir(exist_ok=True)
                    (root / op[2]).rename(root / op[3])
                    e.reconcile(now)
                elif kind == "delete" and (root / op[2]).exists():
                    (root / op[2]).unlink()
                    e.reconcile(now)
                    e.reconcile(now + 30)
                elif kind == "sync":
                    _sync(e, engines[1 - d], now)
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
