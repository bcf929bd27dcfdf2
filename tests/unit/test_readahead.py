"""vault/readahead.py: the bytes a read in place gives, in any order of skips, within its window."""

from __future__ import annotations

from pathlib import Path

import pytest

from peervault.vault import readahead
from peervault.vault.readahead import ReadAhead


def _files(tmp_path: Path, n: int) -> list[tuple[str, int]]:
    out = []
    for i in range(n):
        p = tmp_path / f"n{i:03}.md"
        p.write_bytes(f"note {i}\n".encode() * (i + 1))
        out.append((str(p), p.stat().st_size))
    return out


def test_each_file_taken_is_what_is_on_disk_whatever_is_skipped(tmp_path: Path) -> None:
    files = _files(tmp_path, 100)
    ahead = ReadAhead(files, window_files=8, window_bytes=500)
    for n, (path, _) in enumerate(files):
        if n % 3 == 1 or 40 <= n < 60:
            continue  # skipped by the caller: dropped, never waited for
        assert ahead.take(path) == Path(path).read_bytes()
    ahead.close()


def test_a_file_not_listed_is_read_in_place(tmp_path: Path) -> None:
    files = _files(tmp_path, 3)
    ahead = ReadAhead(files, window_files=1, window_bytes=1)  # one at a time: the next is not started yet
    assert ahead.take(files[0][0]) == Path(files[0][0]).read_bytes()
    extra = tmp_path / "not listed.md"
    extra.write_bytes(b"read in place")
    assert ahead.take(str(extra)) == b"read in place"
    assert ahead.take(files[2][0]) == Path(files[2][0]).read_bytes()


def test_the_window_bounds_what_is_read_ahead(tmp_path: Path) -> None:
    files = _files(tmp_path, 50)
    ahead = ReadAhead(files, window_files=4, window_bytes=10**6)
    assert len(ahead._inflight) == 4
    ahead.take(files[0][0])
    assert len(ahead._inflight) == 4
    small = ReadAhead(files, window_files=40, window_bytes=200)
    assert sum(size for _, size, _ in small._inflight) <= 200 or len(small._inflight) == 1


def test_a_file_gone_raises_as_a_read_would(tmp_path: Path) -> None:
    files = _files(tmp_path, 3)
    Path(files[1][0]).unlink()
    ahead = ReadAhead(files)
    assert ahead.take(files[0][0])
    with pytest.raises(FileNotFoundError):
        ahead.take(files[1][0])
    assert ahead.take(files[2][0]) == Path(files[2][0]).read_bytes()
    with pytest.raises(FileNotFoundError):
        ReadAhead([]).take(files[1][0])  # no window: read in place
    assert readahead.read_file(files[0][0]) == Path(files[0][0]).read_bytes()


def test_an_import_with_read_ahead_records_every_note_as_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from peervault.config import Config
    from peervault.state import VaultState
    from peervault.sync import ingest
    from peervault.sync.engine import Engine

    monkeypatch.setattr(ingest, "READ_AHEAD_FROM", 8)
    state, _ = VaultState.init(tmp_path / "V")
    notes = {f"d{i % 4}/note {i}.md": f"# note {i}\n" + "text\n" * i for i in range(40)}
    for rel, text in notes.items():
        (state.root / rel).parent.mkdir(exist_ok=True)
        (state.root / rel).write_text(text)
    (state.root / "d1" / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    e = Engine(state.root, state.store, Config(), time.time)
    assert sum(e.reconcile_steps(time.time(), chunk=16)) == 41
    by_path = {e.entries[fid].path: fid for fid in e.files}
    assert {rel: e.text(by_path[rel]) for rel in notes} == notes
    assert e.entries[by_path["d1/image.png"]].kind == "blob"
    state.close()
