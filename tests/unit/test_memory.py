"""memory.py: the pages of a read-only file mapping are handed back and read again intact;
elsewhere than Linux with glibc every call does nothing."""

from __future__ import annotations

import mmap
import os
import subprocess
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


# In a process of its own (the setting is process-wide): how many blocks of their own a 1 MB
# allocation made after a 4 MB block was freed gets (mallinfo2's hblks, glibc >= 2.33).
_BLOCKS = """
import ctypes, sys
from peervault import memory
if sys.argv[1] == "tuned":
    memory.tune_malloc()
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.free(libc.malloc(4 << 20))
before = libc.mallinfo2().hblks
block = libc.malloc(1 << 20)
print(libc.mallinfo2().hblks - before)
"""


@pytest.mark.skipif(memory._libc() is None or not hasattr(memory._libc(), "mallinfo2"), reason="glibc >= 2.33 only")
def test_large_blocks_stay_mapped_on_their_own_after_a_larger_one_was_freed() -> None:
    def own_blocks(mode: str) -> int:
        return int(subprocess.run([sys.executable, "-c", _BLOCKS, mode], capture_output=True, text=True, check=True).stdout)

    assert own_blocks("default") == 0  # glibc raised its threshold: the block came from the heap
    assert own_blocks("tuned") == 1  # handed back to the system as soon as it is freed


def test_elsewhere_nothing_happens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert memory._libc() is None
    assert memory.release_code() == 0
    memory.trim_heap()
    memory.tune_malloc()


@pytest.mark.skipif(memory._libc() is None, reason="Linux with glibc only")
def test_a_missing_maps_file_is_no_error(tmp_path: Path) -> None:
    assert memory.release_code(str(tmp_path / "missing")) == 0
