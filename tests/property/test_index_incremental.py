"""The entries an engine keeps up to date from an index import's events (`VaultIndex.apply`
returns the file ids it touched; sync/remote.apply_index rereads only those) are exactly
the entries read from the whole index, after every import: three devices making concurrent
creates, renames, deletes, undeletes, binary versions and malformed entries, exchanging
their updates in random orders (some arriving before what they depend on)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peervault.crdt import afterimport
from peervault.crdt.entries import Entry
from peervault.crdt.index import VaultIndex

EXAMPLES = int(os.environ.get("PEERVAULT_PROPERTY_EXAMPLES", "200"))
FIDS = ["f0", "f1", "f2", "f3"]
PATHS = ["a.md", "b.md", "d/c.md", "p.png"]
DIGESTS = ["a1" * 32, "b2" * 32]

devices = st.integers(0, 2)
fids = st.sampled_from(FIDS)
ops = st.one_of(
    st.tuples(st.just("put"), devices, fids, st.sampled_from(PATHS)),
    st.tuples(st.just("blob"), devices, fids, st.sampled_from(PATHS), st.sampled_from(DIGESTS), st.integers(0, 3)),
    st.tuples(st.just("rename"), devices, fids, st.sampled_from(PATHS)),
    st.tuples(st.just("delete"), devices, fids, st.integers(0, 3)),
    st.tuples(st.just("undelete"), devices, fids, st.integers(0, 3)),
    st.tuples(st.just("malformed"), devices, fids),  # a plain value where an entry's map should be
    st.tuples(st.just("forget"), devices),  # the other root map: touches no entry
    st.tuples(st.just("send"), devices, devices, st.booleans()),  # True: only the sender's newest change
)


class Device:
    def __init__(self, peer: int) -> None:
        self.index = VaultIndex.empty(peer)
        self.entries: dict[str, Entry] = {}  # kept as sync/remote.apply_index keeps them
        self.last_vv = self.index.vv()  # the version before its latest local change

    def local(self) -> None:
        self.entries = self.index.entries()  # (a local change rereads its entry: documents.index_changed)

    def receive(self, blob: bytes) -> None:
        touched = self.index.apply(blob)
        assert touched is not None, "an import whose events could not be read"
        before = {f: e for f in touched if (e := self.entries.get(f)) is not None}
        after = {f: e for f in touched if (e := self.index.entry(f)) is not None}
        afterimport.keep_later_blobs(self.index, before, after)
        for f in touched:
            if f in after:
                self.entries[f] = after[f]
            else:
                self.entries.pop(f, None)
        assert self.entries == self.index.entries()


def _do(devs: list[Device], op: tuple) -> None:  # type: ignore[type-arg]
    kind, d = op[0], devs[op[1]]
    ix = d.index
    t0 = 1_000_000
    if (
        kind in ("put", "blob", "rename", "delete", "undelete")
        and op[2] in ix.doc.get_map("files").keys()
        and ix.entry(op[2]) is None
    ):
        return  # a malformed entry: the engine never acts on it
    if kind != "send":
        d.last_vv = ix.vv()
    if kind == "put":
        ix.put(op[2], op[3])
    elif kind == "blob":
        ix.put_blob(op[2], op[3], op[4], 10 + op[5], 5, at_ms=t0 + op[5])
    elif kind == "rename":
        if ix.entry(op[2]) is not None:
            ix.set_path(op[2], op[3])
    elif kind == "delete":
        ix.mark_deleted(op[2], ix.vv(), at_ms=t0 + op[3])
    elif kind == "undelete":
        ix.undelete(op[2], at_ms=t0 + op[3])
    elif kind == "malformed":
        ix.doc.get_map("files").insert(op[2], "not a map")
        ix.doc.commit()
    elif kind == "forget":
        ix.forget_device("somebody")
    elif kind == "send":
        dst = devs[op[2]]
        if dst is d:
            return
        # the whole difference, or only the sender's latest change (perhaps ahead of what it depends on)
        blob = ix.updates_since(d.last_vv if op[3] else dst.index.vv())
        if blob is not None:
            dst.receive(blob)
        return
    d.local()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, min_size=1, max_size=30))
def test_entries_kept_from_import_events_equal_the_whole_index(script: list[tuple]) -> None:  # type: ignore[type-arg]
    devs = [Device(p) for p in (1, 2, 3)]
    for op in script:
        _do(devs, op)
    for _ in range(3):  # then everything, everywhere
        for d in devs:
            for other in devs:
                if other is not d and (blob := d.index.updates_since(other.index.vv())) is not None:
                    other.receive(blob)
    assert all(d.entries == devs[0].entries for d in devs)
