"""memory.py: large blocks are mapped on their own once tuned; elsewhere than Linux with
glibc every call does nothing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from peervault import memory

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
    memory.trim_heap()
    memory.tune_malloc()


def test_a_burst_trims_the_heap_at_most_once_per_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    trims: list[None] = []
    monkeypatch.setattr(memory, "trim_heap", lambda: trims.append(None))
    t = memory.BurstTrimmer(every=1.0)
    done = [t.after_work(now) for now in (100.0, 100.2, 100.9, 101.0, 101.5, 103.0)]
    assert done == [True, False, False, True, False, True]
    assert len(trims) == 3
