"""Engine.shed_memory after a burst (a first import): what the import left for later checks
is dropped or shared, and every answer stays the one a fresh walk gives."""

from __future__ import annotations

import time
from pathlib import Path

from peervault.state import VaultState
from peervault.sync.layout import layout, misplaced, misplaced_full
from twin_engines import engine, write


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
