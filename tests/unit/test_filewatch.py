"""vault/filewatch.py: one file watched through its folder's inotify events (Linux), so the
daemon looks at `.peervault/ignore` when it changes instead of polling it every 2 s."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from peervault.vault.filewatch import FileWatch

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")


async def _calls(watch_dir: Path, act: object) -> tuple[int, bool]:
    """How many times `changed` was called after `act(dir)`, and whether the watch lives on."""
    calls = []
    watch = FileWatch(watch_dir / "ignore", lambda: calls.append(1))
    assert watch.alive
    try:
        act(watch_dir)  # type: ignore[operator]
        await asyncio.sleep(0.1)
        return len(calls), watch.alive
    finally:
        watch.close()


def _replace(d: Path) -> None:
    (d / "tmp").write_text("x/\n")
    os.replace(d / "tmp", d / "ignore")  # an editor's atomic save


@pytest.mark.parametrize(
    ("act", "reported"),
    [
        (lambda d: (d / "ignore").write_text("private/\n"), True),
        (_replace, True),
        (lambda d: os.utime(d / "ignore"), True),  # touched
        (lambda d: (d / "daemon.json").write_text("{}"), False),  # another file of the folder
    ],
    ids=["written", "replaced", "touched", "another-file"],
)
def test_changes_to_the_file_and_only_to_it_are_reported(tmp_path: Path, act: object, reported: bool) -> None:
    (tmp_path / "ignore").write_text("")
    calls, alive = asyncio.run(_calls(tmp_path, act))
    assert alive
    assert (calls > 0) is reported


def test_a_deleted_rules_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "ignore").write_text("a/\n")
    calls, alive = asyncio.run(_calls(tmp_path, lambda d: (d / "ignore").unlink()))
    assert calls >= 1 and alive


def test_the_folder_gone_says_so_once_and_the_caller_polls_again(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    calls, alive = asyncio.run(_calls(state, lambda d: d.rename(tmp_path / "moved")))
    assert calls == 1 and not alive


def test_no_folder_no_watch(tmp_path: Path) -> None:
    async def run() -> bool:
        watch = FileWatch(tmp_path / "missing" / "ignore", lambda: None)
        watch.close()
        return watch.alive

    assert asyncio.run(run()) is False
