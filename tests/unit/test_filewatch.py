"""vault/filewatch.py: one file watched through its folder's inotify events (Linux), on the
vault watcher's own inotify instance, so the daemon looks at `.peervault/ignore` when it
changes instead of polling it every 2 s, with one inotify instance per vault."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from peervault.vault.changes import Changes
from peervault.vault.filewatch import WatchedFile
from peervault.vault.inotify import IN_Q_OVERFLOW, InotifyWatcher

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")


def _vault(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "vault"
    (root / ".peervault").mkdir(parents=True)
    (root / ".peervault" / "ignore").write_text("")
    (root / "note.md").write_text("a note\n")
    return root, root / ".peervault"


def _inotify_fds() -> int:
    return sum(os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:inotify" for fd in os.listdir("/proc/self/fd")
               if os.path.exists(f"/proc/self/fd/{fd}"))  # fmt: skip


async def _watching(root: Path, act: Callable[[Path], object]) -> tuple[int, bool, list[Changes], int]:
    """Calls of `changed` after `act(state folder)`, whether the watch lives on, the vault's
    batches meanwhile, and the inotify instances this process gained for both."""
    calls: list[int] = []
    before = _inotify_fds()
    watched = WatchedFile(root / ".peervault" / "ignore", lambda: calls.append(1))
    watcher = InotifyWatcher(root, also=watched)
    assert watched.alive and calls == [1]  # attached: one look at once
    instances = _inotify_fds() - before
    stop = asyncio.Event()
    batches: list[Changes] = []

    async def consume() -> None:
        async for changes in watcher.batches(stop, 20, 200):
            batches.append(changes)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    calls.clear()
    act(root / ".peervault")
    await asyncio.sleep(0.2)
    alive, seen = watched.alive, len(calls)
    stop.set()
    await task
    assert not watched.alive  # the watcher stopped: the owner polls again
    return seen, alive, batches, instances


def _replace(d: Path) -> None:
    (d / "tmp").write_text("x/\n")
    os.replace(d / "tmp", d / "ignore")  # an editor's atomic save


@pytest.mark.parametrize(
    ("act", "reported"),
    [
        (lambda d: (d / "ignore").write_text("private/\n"), True),
        (_replace, True),
        (lambda d: os.utime(d / "ignore"), True),  # touched
        (lambda d: (d / "ignore").unlink(), True),
        (lambda d: (d / "daemon.json").write_text("{}"), False),  # another file of the folder
    ],
    ids=["written", "replaced", "touched", "deleted", "another-file"],
)
def test_changes_to_the_file_and_only_to_it_are_reported(tmp_path: Path, act: Callable[[Path], object], reported: bool) -> None:
    root, _ = _vault(tmp_path)
    calls, alive, batches, instances = asyncio.run(_watching(root, act))
    assert alive and instances == 1  # one inotify instance serves the vault and the file
    assert (calls > 0) is reported
    assert not batches  # the state folder is not the vault's: no batch for it


def test_the_vault_is_watched_as_before(tmp_path: Path) -> None:
    root, _ = _vault(tmp_path)

    def both(d: Path) -> None:
        (d / "ignore").write_text("private/\n")
        (root / "note.md").write_text("edited\n")

    calls, alive, batches, _ = asyncio.run(_watching(root, both))
    assert calls >= 1 and alive
    assert [sorted(b.paths) for b in batches] == [["note.md"]]


def test_the_folder_gone_says_so_once_and_the_caller_polls_again(tmp_path: Path) -> None:
    root, _ = _vault(tmp_path)
    calls, alive, _, _ = asyncio.run(_watching(root, lambda d: d.rename(root / "moved")))
    assert calls == 1 and not alive


def test_lost_events_are_a_change_and_the_watch_lives_on(tmp_path: Path) -> None:
    root, _ = _vault(tmp_path)

    async def run() -> tuple[list[int], bool]:
        calls: list[int] = []
        watched = WatchedFile(root / ".peervault" / "ignore", lambda: calls.append(1))
        watcher = InotifyWatcher(root, also=watched)
        calls.clear()
        overflow = (-1).to_bytes(4, "little", signed=True) + IN_Q_OVERFLOW.to_bytes(4, "little") + bytes(8)
        watcher.changes(overflow)
        seen, alive = list(calls), watched.alive
        watcher.close()
        return seen, alive

    calls, alive = asyncio.run(run())
    assert calls == [1] and alive


def test_no_folder_no_watch_and_the_vault_is_watched_all_the_same(tmp_path: Path) -> None:
    root = tmp_path / "vault"
    root.mkdir()

    async def run() -> bool:
        watched = WatchedFile(root / ".peervault" / "ignore", lambda: None)
        watcher = InotifyWatcher(root, also=watched)
        alive = watched.alive
        watcher.close()
        return alive

    assert asyncio.run(run()) is False
