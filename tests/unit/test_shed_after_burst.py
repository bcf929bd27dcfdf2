"""Engine.shed_memory after a burst (a first import): what the import left for later checks
is dropped or shared, and every answer stays the one a fresh walk gives."""

from __future__ import annotations

import time
from pathlib import Path

from peervault.state import VaultState
from peervault.sync.engine import Engine
from peervault.sync.enginestate import EngineState
from peervault.sync.layout import layout, misplaced, misplaced_full
from twin_engines import deliver, engine, tree, twin_vaults, write


def test_a_first_import_keeps_one_string_per_path_and_no_misplaced_backlog(tmp_path: Path) -> None:
    state, _ = VaultState.init(tmp_path / "V")
    for k in range(40):
        write(state.root / f"dir{k % 4}" / f"note {k}.md", f"# note {k}\n\nbody {k}\n")
    e = engine(state)
    e.reconcile(time.time())
    s = e.state
    before = dict(s.file_id_at)
    assert len(before) == 40 and len(s.misplaced_check) == 40  # the import's backlog

    assert e.shed_memory(churn=1)

    assert s.file_id_at == before and list(s.file_id_at) == list(before)  # same keys, same order
    for path, fid in s.file_id_at.items():
        assert next(k for k in s.file_id_at if k == path) is s.entries[fid].path  # one string each
    assert not s.misplaced_check and s.misplaced_for is None
    places = layout(s)
    assert misplaced(s, places) == misplaced_full(s, places) == set()
    # and the engine still finds each note by its path
    assert all(e.file_id_at[f"dir{k % 4}/note {k}.md"] for k in range(40))


def test_what_only_speeds_up_layouts_is_dropped_once_idle_and_made_again(tmp_path: Path) -> None:
    """After a shed the layout's taken paths and the path checks are gone; a peer's new
    note, a twin on a taken path and a rename are laid out as before."""
    sa, sb = twin_vaults(tmp_path)
    a, b = engine(sa), engine(sb)
    for k in range(5):
        write(sa.root / f"n{k}.md", f"note {k}\n")
    a.reconcile(time.time())
    deliver(a, b)
    deliver(b, a)
    s = b.state
    assert tree(sb.root) == tree(sa.root) and s.path_checks and layout(s)
    b.shed_memory(churn=0)
    assert s.layout_taken is None and not s.path_checks
    write(sa.root / "new.md", "new\n")  # a new note: added to the layout (its taken paths made again)
    a.reconcile(time.time())
    deliver(a, b)
    assert (sb.root / "new.md").read_text() == "new\n" and s.layout_taken is not None and "new.md" in s.layout_taken
    b.shed_memory(churn=0)
    _move(a, "n1.md", "same.md")  # two notes renamed onto one name at once: twins
    _move(b, "n2.md", "same.md")
    deliver(a, b)
    deliver(b, a)
    assert tree(sa.root) == tree(sb.root) and len([p for p in tree(sb.root) if p.startswith("same")]) == 2
    b.shed_memory(churn=0)
    _move(a, "n0.md", "moved.md")
    deliver(a, b)
    assert tree(sa.root) == tree(sb.root) and (sb.root / "moved.md").read_text() == "note 0\n"
    assert layout(s) == layout_full(s)


def layout_full(s: EngineState) -> dict[str, str]:
    s.layout_version += 1
    return layout(s)


def _move(e: Engine, old: str, new: str) -> None:
    (e.root / old).rename(e.root / new)
    e.local_paths({old, new}, time.time(), [(old, new)])
