"""A full disk while a peer's note is being written: a clear line, the note's previous
content intact, the daemon still running, and sync resumes by itself once space returns."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import Device, pair_running, wait_until


def _can_mount() -> tuple[bool, str]:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False, "needs root and mount(8) to make a small tmpfs"
    return True, ""


ok, why = _can_mount()
pytestmark = pytest.mark.skipif(not ok, reason=why)


@pytest.fixture
def small_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.parametrize("new_note", [True, False], ids=["edit-and-new-note", "edit-only"])
def test_disk_full_then_space_returns(make_device, small_disk: Path, tmp_path: Path, new_note: bool):
    """`edit-only`: nothing else changes after space returns, so only the rolled-back
    edit itself can bring B up to date (its version must not count as stored)."""
    a = make_device("A")
    b = Device(small_disk / "B", tmp_path / "logs")
    b.init()
    a.start()
    try:
        _full_then_free(a, b, small_disk, new_note)
    finally:
        if b.proc is not None:
            b.stop()


def _full_then_free(a, b, small_disk: Path, new_note: bool) -> None:  # type: ignore[no-untyped-def]
    pair_running(a, b)
    a.write("keep.md", "the previous content\n")
    wait_until(lambda: b.read("keep.md") == "the previous content\n", what="first version on B")
    filler = fill(small_disk)
    a.write("keep.md", "the next content\n" * 3000)  # ~50 KB: cannot fit anywhere now
    if new_note:
        a.write("new.md", "a new note\n" * 3000)
    wait_until(lambda: _logged(b), timeout=30, what="B says the disk is full")
    assert b.proc is not None and b.proc.poll() is None  # still running
    assert b.read("keep.md") == "the previous content\n"  # never half-written, never emptied
    filler.unlink()  # space comes back
    wait_until(lambda: b.read("keep.md") == "the next content\n" * 3000, timeout=60, what="sync resumed on its own")
    if new_note:
        wait_until(lambda: b.read("new.md") == "a new note\n" * 3000, timeout=60, what="the new note too")
    logs = "".join(p.read_text(errors="replace") for p in b.logs.glob("B-*.log"))
    assert "Traceback" not in logs  # one clear line each time, not a crash report


def fill(disk: Path) -> Path:
    """Fill `disk` to its last block; returns the file to delete to give the space back."""
    filler = disk / "filler.bin"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


def _logged(device) -> bool:  # type: ignore[no-untyped-def]
    return any("No space left" in p.read_text(errors="replace") for p in device.logs.glob(f"{device.root.name}-*.log"))
