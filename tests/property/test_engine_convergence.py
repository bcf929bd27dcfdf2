"""Two engines doing random local edits, renames, moves and deletes with random exchanges,
their daemons stopping and starting, always converge to the same folder once everything has
been delivered, and every note keeps its identity.

File contents come from a small pool (the empty text, one template, texts of their own), so
notes often share their text: a rename must still follow the note that was renamed, not
another with the same text (issue 9). `identity_model.py` says what is checked: each path
holds the note of the identity the user put there (a rename the watcher saw is exact; one
found by a reconcile is exact while the file keeps its inode, size and mtime), and every
edit nobody destroyed ends up in its identity's note.

A side's changes are found by its next `send` (a full reconcile), except what the watcher
reports at once: a move or an editor's save while the daemon runs (`local_paths` with
`moves`), and a delete flagged as watched (which then waits out the settle period). While a
side is stopped, nothing is exchanged with it; starting it is a fresh engine, a reconcile,
then the catch-up both ways of a new connection.

`PEERVAULT_PROPERTY_EXAMPLES=500 pytest tests/property/test_engine_convergence.py` runs more
examples than CI does.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from identity_model import Identities, note, shown

from peervault.protocol import messages as m
from peervault.sync.engine import SETTLE_S
from peervault.sync.layout import layout, misplaced, misplaced_full
from twin_engines import deliver, engine, twin_vaults
from twin_engines import write as _write

EXAMPLES = int(os.environ.get("PEERVAULT_PROPERTY_EXAMPLES", "200"))
ALL = bytes(range(256))
NAMES = ["a.md", "b.md", "d/c.md", "d/e/f.md", "d/u.md"]
FOLDERS = ["d", "d/e", "g", "k"]
TEMPLATE = "# Title\n\n## Tasks\n- [ ] \n"
CONTENTS = ["", TEMPLATE, TEMPLATE, "own"]  # "own": a text no other file has

sides = st.sampled_from([0, 1])
names = st.sampled_from(NAMES)
folders = st.sampled_from(FOLDERS)
ops = st.one_of(
    *[
        strategy
        for weight, strategy in [
            (3, st.tuples(st.just("write"), sides, names, st.sampled_from(CONTENTS))),
            (3, st.tuples(st.just("append"), sides, names)),
            (2, st.tuples(st.just("delete"), sides, names, st.booleans())),  # True: the watcher reports it at once
            (1, st.tuples(st.just("rename"), sides, names, names)),  # found by the next reconcile
            (3, st.tuples(st.just("mv"), sides, names, names)),  # the watcher's move while running, else found at start
            (2, st.tuples(st.just("move_folder"), sides, folders, folders)),  # the same, for a folder
            (1, st.tuples(st.just("editor_save"), sides, names)),  # a temp file renamed over the note
            (1, st.tuples(st.just("stop"), sides)),
            (1, st.tuples(st.just("start"), sides)),
            (3, st.tuples(st.just("send"), sides)),
        ]
        for _ in range(weight)
    ]
)


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.relative_to(root).parts[0] != ".peervault"
    }


def _wire(msg: m.Message) -> m.Message:
    return m.decode(m.encode(msg))


class Twins:
    """Two devices of one vault, their daemons running or stopped, and the identity model."""

    def __init__(self, base: Path) -> None:
        sa, sb = twin_vaults(base)
        self.states = [sa, sb]
        self.engines = [engine(sa), engine(sb)]
        self.roots = [sa.root, sb.root]
        self.stopped: set[int] = set()
        self.model = Identities(self.roots, lambda d: self.engines[d])
        self.counter = itertools.count(1)
        self.destroyed: set[str] = set()  # markers shown by a file the user deleted or overwrote
        self.clock = time.time()  # the settle clock, ahead of the engines' own at the end

    def close(self) -> None:
        for s in self.states:
            s.close()

    def ingest(self, side: int) -> None:
        with self.model.call(side, "reconcile", everything=True):
            self.engines[side].reconcile(time.time())

    def watched(self, side: int, rels: set[str], moves: list[tuple[str, str]]) -> None:
        """What inotify reports at once while the daemon runs (a move with its cookie)."""
        with self.model.call(side, f"the watcher reported {sorted(rels)}, moves {moves}", covers=rels):
            self.engines[side].local_paths(rels, time.time(), moves=moves)

    def deliver(self, src: int) -> None:
        dst = 1 - src
        if dst in self.stopped:
            self.engines[src].take_pending()  # nobody to send to: the next connection catches up
            return
        with self.model.call(dst, "updates from the peer"):
            deliver(self.engines[src], self.engines[dst])

    def catch_up(self, src: int, dst: int) -> None:
        """What src sends dst in answer to its HELLO: index updates, then the notes it lacks."""
        a, b = self.engines[src], self.engines[dst]
        with self.model.call(dst, "catch-up from the peer"):
            blob = a.index_updates_since(b.index_vv())
            if blob:
                msg = _wire(m.IndexUpdates(blob))
                assert isinstance(msg, m.IndexUpdates)
                b.apply_index(msg.blob, time.time())
            for batch in a.doc_batches(ALL, dict(b.doc_versions(ALL))):
                docs = _wire(m.DocUpdates(tuple(batch)))
                assert isinstance(docs, m.DocUpdates)
                b.apply_docs(docs.entries, time.time())

    def start(self, side: int) -> None:
        if side not in self.stopped:
            return
        self.stopped.discard(side)
        self.engines[side] = engine(self.states[side])  # a new process: nothing kept in memory
        with self.model.call(side, "start: reconcile", everything=True):
            self.engines[side].reconcile(time.time())
        with self.model.call(side, "start: recover"):
            self.engines[side].recover(time.time())
        other = 1 - side
        if other not in self.stopped:
            self.catch_up(other, side)
            self.catch_up(side, other)
            self.deliver(side)
            self.deliver(other)

    def run(self, op: tuple) -> None:  # type: ignore[type-arg]
        kind, side = op[0], op[1]
        root, running = self.roots[side], side not in self.stopped
        if kind == "write":
            p = root / op[2]
            self.destroyed |= shown(p)
            _write(p, f"own words {next(self.counter)}\n" if op[3] == "own" else op[3])
            self.model.wrote(side, op[2])
        elif kind == "append":
            p = root / op[2]
            marker = chr(0xE000 + next(self.counter))
            _write(p, (p.read_text(encoding="utf-8") if p.is_file() else "") + marker + "\n")
            self.model.appended(side, op[2], marker)
        elif kind == "delete":
            p = root / op[2]
            if p.is_file():
                self.destroyed |= shown(p)
                p.unlink()
                self.model.deleted(side, op[2])
                if op[3] and running:
                    self.watched(side, {op[2]}, [])
        elif kind in ("rename", "mv", "move_folder"):
            src, dst = root / op[2], root / op[3]
            ok = src.is_dir() and not op[3].startswith(op[2] + "/") if kind == "move_folder" else src.is_file()
            if ok and not dst.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.rename(src, dst)
                seen = kind != "rename" and running
                self.model.moved(side, op[2], op[3], seen)
                if seen:
                    self.watched(side, {op[2], op[3]}, [(op[2], op[3])])
                note(f"{kind} {'seen by the watcher' if seen else 'found by a reconcile'}")
        elif kind == "editor_save":
            p = root / op[2]
            if p.is_file():
                marker = chr(0xE000 + next(self.counter))
                tmp = p.with_name(f".goutputstream-{next(self.counter)}")
                _write(tmp, p.read_text(encoding="utf-8") + marker + "\n")
                os.rename(tmp, p)
                self.model.appended(side, op[2], marker)
                if running:
                    rel_tmp = tmp.relative_to(root).as_posix()
                    self.watched(side, {rel_tmp, op[2]}, [(rel_tmp, op[2])])
        elif kind == "stop":
            self.stopped.add(side)
        elif kind == "start":
            self.start(side)
        elif kind == "send" and running:
            self.ingest(side)
            self.deliver(side)

    def settle_all(self) -> None:
        """Both daemons run; files settle and everything is exchanged until quiet."""
        for side in (0, 1):
            self.start(side)
        for _ in range(8):
            self.clock = max(self.clock, time.time()) + 3 * SETTLE_S  # held-back writes land
            for side, e in enumerate(self.engines):
                with self.model.call(side, "settle"):
                    e.settle(self.clock)
                self.ingest(side)
            self.deliver(0)
            self.deliver(1)
            if not any(e.pending() or e.next_settle() is not None for e in self.engines):
                return
        raise AssertionError("exchange did not go quiet")


T = TEMPLATE
# The shapes of issue 9, always run: notes with one text, one renamed, others deleted, edits
# made on the other side meanwhile.
SCENARIOS = {
    "rename among notes of one text, deletes and edits while the other side is stopped (watched)": [
        ("write", 0, "a.md", T),
        ("write", 0, "b.md", T),
        ("write", 0, "d/c.md", T),
        ("send", 0),
        ("stop", 1),
        ("delete", 0, "a.md", True),
        ("delete", 0, "b.md", True),
        ("mv", 0, "d/c.md", "d/u.md"),
        ("append", 1, "b.md"),
        ("append", 1, "d/c.md"),
    ],
    "the same while both daemons are stopped (found by inode at start)": [
        ("write", 0, "a.md", T),
        ("write", 0, "b.md", T),
        ("write", 0, "d/c.md", T),
        ("write", 0, "d/e/f.md", T),
        ("write", 0, "d/u.md", T),
        ("send", 0),
        ("stop", 1),
        ("stop", 0),
        ("delete", 0, "a.md", False),
        ("delete", 0, "b.md", False),
        ("delete", 0, "d/e/f.md", False),
        ("delete", 0, "d/u.md", False),
        ("mv", 0, "d/c.md", "g/c.md"),
        ("append", 1, "b.md"),
        ("append", 1, "d/c.md"),
    ],
    "a folder of empty notes moved (watched) while one of them is edited on the stopped side": [
        ("write", 0, "d/c.md", ""),
        ("write", 0, "d/u.md", ""),
        ("write", 0, "d/e/f.md", ""),
        ("send", 0),
        ("stop", 1),
        ("move_folder", 0, "d", "k"),
        ("append", 1, "d/u.md"),
    ],
    # Found with 1,000 examples: B moves its note onto A's name, renames it away unseen and
    # makes a new file there; A's note arrives before B has looked. Writing it, B read the new
    # file as an edit of its own note (a replacing save); now the write waits for a look.
    "a note's path taken by a new file before a peer's change is written there": [
        ("write", 0, "d/e/f.md", ""),
        ("stop", 0),
        ("stop", 1),
        ("write", 0, "d/u.md", ""),
        ("write", 1, "d/u.md", ""),
        ("start", 1),
        ("mv", 1, "d/u.md", "d/e/f.md"),
        ("rename", 1, "d/e/f.md", "a.md"),
        ("append", 1, "d/e/f.md"),
    ],
    # Found with the saved examples of 2026-12-06: A moves b.md onto a.md unseen; B edits
    # b.md and makes a new a.md; at B's start the new file gets a note of its own, which the
    # engine moves aside (`a (id6).md`) before moving b.md's file onto a.md. The engine was
    # right; the model lost the new file, since another inode had taken its name.
    "a new file moved aside while the note it yields to moves onto its name": [
        ("stop", 0),
        ("write", 0, "b.md", "own"),
        ("start", 0),
        ("stop", 0),
        ("write", 0, "d/c.md", "own"),
        ("mv", 0, "b.md", "a.md"),
        ("append", 1, "b.md"),
        ("write", 1, "a.md", "own"),
        ("start", 0),
        ("stop", 1),
        ("start", 1),
    ],
}


def _scenarios(test: Callable[..., None]) -> Callable[..., None]:
    for script in SCENARIOS.values():
        test = example(script)(test)
    return test


def _misplaced_kept(twins: Twins) -> None:
    """The notes found misplaced incrementally (layout.misplaced) are those the full walk finds,
    and the path -> id map that walk reads is the inverse of the file rows' paths."""
    for e in twins.engines:
        assert e.state.file_id_at == {row.path: fid for fid, row in e.state.files.items()}
        places = layout(e.state)
        assert misplaced(e.state, places) == misplaced_full(e.state, places)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@_scenarios
@given(st.lists(ops, min_size=10, max_size=40))
def test_two_engines_converge(script: list[tuple]) -> None:  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as tmp:
        twins = Twins(Path(tmp))
        try:
            for op in script:
                twins.run(op)
                _misplaced_kept(twins)
            twins.settle_all()
            _misplaced_kept(twins)
            engines = twins.engines
            ta, tb = _tree(twins.roots[0]), _tree(twins.roots[1])
            assert ta == tb
            assert engines[0].entries == engines[1].entries
            assert engines[0].bucket_digests() == engines[1].bucket_digests()
            assert engines[0].reconcile(time.time()) == 0 and engines[1].reconcile(time.time()) == 0
            # the folder is what the notes say
            for e, t in zip(engines, (ta, tb), strict=True):
                assert {path: e.text(fid) for fid, path in e.layout().items()} == t
            # every edit nobody destroyed is in its own note
            checked = twins.model.check_markers(ta, engines[0].layout(), twins.destroyed)
            note(f"edits checked in their note: {min(checked, 5)}{'+' if checked >= 5 else ''}")
            note(f"identities uncertain: {min(len(twins.model.uncertain), 3)}{'+' if len(twins.model.uncertain) >= 3 else ''}")
        finally:
            twins.close()
