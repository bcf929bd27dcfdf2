"""Durability rules of atomic writes: what is fsynced when (counted, not timed)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from peervault.vault import fsops


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    log: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        log.append("dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "file")
        real_fsync(fd)

    def syncfs(path: Path) -> bool:
        log.append("syncfs")
        return True

    monkeypatch.setattr(fsops.os, "fsync", fsync)
    monkeypatch.setattr(fsops, "_syncfs", syncfs)
    return log


def root(tmp_path: Path) -> Path:
    (tmp_path / ".peervault").mkdir()
    return tmp_path


def test_single_write_syncs_file_then_folder(tmp_path: Path, calls: list[str]) -> None:
    r = root(tmp_path)
    st = fsops.atomic_write(r, r / "a" / "x.md", b"hello")
    assert (r / "a" / "x.md").read_bytes() == b"hello" and st.size == 5
    assert calls == ["file", "dir"]


def test_batch_of_new_files_is_made_durable_by_one_syncfs(tmp_path: Path, calls: list[str]) -> None:
    r = root(tmp_path)
    batch = fsops.WriteBatch(r)
    for i in range(20):
        fsops.atomic_write(r, r / f"d{i % 3}" / f"n{i}.md", b"new", batch)
    assert calls == []  # nothing durable yet: the database still lists them as pending
    batch.commit()
    assert calls == ["syncfs"]
    assert sorted(p.name for p in r.rglob("*.md")) == sorted(f"n{i}.md" for i in range(20))


def test_replacing_a_file_in_a_batch_fsyncs_before_the_rename(tmp_path: Path, calls: list[str]) -> None:
    r = root(tmp_path)
    (r / "old.md").write_bytes(b"the user's text")
    batch = fsops.WriteBatch(r)
    fsops.atomic_write(r, r / "old.md", b"merged text", batch)
    assert calls == ["file"]  # never an empty file where the user's note was
    batch.commit()
    assert calls == ["file", "dir"]  # its folder once, at the end
    assert (r / "old.md").read_bytes() == b"merged text"


def test_without_syncfs_new_files_are_fsynced_at_commit(
    tmp_path: Path, calls: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fsops, "_syncfs", lambda path: False)
    r = root(tmp_path)
    batch = fsops.WriteBatch(r)
    fsops.atomic_write(r, r / "a.md", b"1", batch)
    fsops.atomic_write(r, r / "b.md", b"2", batch)
    batch.commit()
    assert calls == ["file", "file", "dir"]


def test_real_syncfs_is_used_on_linux(tmp_path: Path) -> None:
    assert fsops._syncfs(tmp_path) is sys.platform.startswith("linux")
