"""memory.py: the pages of a read-only file mapping are handed back and read again intact;
elsewhere than Linux with glibc every call does nothing."""

from __future__ import annotations

import mmap
import os
import sys
from pathlib import Path

import pytest

from peervault import memory

SIZE = 8 * 2**20


def _resident_kb(path: Path) -> int:
    """The Rss of the mapping of `path`, from /proc/self/smaps."""
    found = False
    with open("/proc/self/smaps") as f:
        for line in f:
            fields = line.split(maxsplit=5)
            if not fields[0].endswith(":"):
                found = len(fields) == 6 and fields[5].strip() == str(path)
            elif found and fields[0] == "Rss:":
                return int(fields[1])
    raise AssertionError("mapping not found")


@pytest.mark.skipif(memory._libc() is None, reason="Linux with glibc only")
def test_read_only_file_pages_are_reclaimed_and_read_back_intact(tmp_path: Path) -> None:
    data = os.urandom(SIZE)
    path = tmp_path / "code.bin"
    path.write_bytes(data)
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as view:
        assert view[:] == data  # every page touched: resident
        before = _resident_kb(path)
        advised = memory.release_code()
        if advised == 0:
            pytest.skip("this kernel has no MADV_PAGEOUT (Linux < 5.4)")
        after = _resident_kb(path)
        assert before >= SIZE // 1024 * 3 // 4
        assert after <= before // 4, (before, after)
        assert view[:] == data  # read back from the file at the first touch


def test_elsewhere_nothing_happens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert memory._libc() is None
    assert memory.release_code() == 0
    memory.trim_heap()
    memory.limit_arenas()


@pytest.mark.skipif(memory._libc() is None, reason="Linux with glibc only")
def test_a_missing_maps_file_is_no_error(tmp_path: Path) -> None:
    assert memory.release_code(str(tmp_path / "missing")) == 0
