"""Engine.shed_memory after a burst (a first import): what the import left for later checks
is dropped or shared, and every answer stays the one a fresh walk gives."""

from __future__ import annotations

import time
from pathlib import Path

from peervault.state import VaultState
from peervault.sync import tracked
from peervault.sync.engine import Engine
from peervault.sync.enginestate import EngineState
from peervault.sync.layout import layout, misplaced, misplaced_full
from twin_engines import deliver, engine, fetch_blob, tree, twin_vaults, write


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
    """After a shed the layout's taken paths are gone; a peer's new note, a twin on a taken
    path and a rename are laid out as before."""
    sa, sb = twin_vaults(tmp_path)
    a, b = engine(sa), engine(sb)
    for k in range(5):
        write(sa.root / f"n{k}.md", f"note {k}\n")
    a.reconcile(time.time())
    deliver(a, b)
    deliver(b, a)
    s = b.state
    assert tree(sb.root) == tree(sa.root) and layout(s)
    b.shed_memory(churn=0)
    assert s.layout_taken is None
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


def test_binary_files_by_digest_are_dropped_once_idle_and_made_again_from_the_rows(tmp_path: Path) -> None:
    """`blob_rows` is made when a blob is first looked for, kept up to date while held, and
    is then the same as one made from the file rows; a shed drops it."""
    sa, sb = twin_vaults(tmp_path)
    a, b = engine(sa), engine(sb)
    for k in range(3):
        write(sa.root / f"img{k}.png", PNG + bytes([k]) * (1000 + k))
    write(sa.root / "copy.png", PNG + bytes([1]) * 1001)  # two files, one digest
    a.reconcile(time.time())
    s = a.state
    assert s.blob_rows is None  # nothing asked for a blob yet
    deliver(a, b)
    wanted = b.wanted_blobs()
    assert len(wanted) == 3
    for h, size in wanted.items():
        assert fetch_blob(a, b, h, size)
    assert s.blob_rows is not None and len(s.blob_rows) == 3
    (sa.root / "img0.png").unlink()  # kept up to date: a file gone, a new one, a changed one
    write(sa.root / "img3.png", PNG + b"new" * 500)
    write(sa.root / "copy.png", PNG + b"changed" * 200)
    a.reconcile(time.time())
    kept = dict(s.blob_rows)
    a.shed_memory(churn=0)
    assert s.blob_rows is None
    assert tracked.blob_rows(s) == kept and {len(ids) for ids in kept.values()} == {1}
    assert sorted(kept) == sorted({row.hash for row in s.files.values() if len(row.hash) == 32})
    deliver(a, b)
    for h, size in b.wanted_blobs().items():
        assert fetch_blob(a, b, h, size)
    assert tree_bytes(sa.root) == tree_bytes(sb.root)


PNG = b"\x89PNG\r\n\x1a\n\xff\xfe"  # not text


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in root.glob("*.png")}
