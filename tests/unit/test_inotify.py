"""The inotify watcher on real folders: what it reports, what it never reports, the renames it
pairs into moves, and that it stays silent while the vault is idle."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import struct
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from peervault.vault import inotify, watcher
from peervault.vault.burst import Burst
from peervault.vault.changes import Changes
from peervault.vault.filewatch import WatchedFile
from peervault.vault.ignore import IgnoreRules
from peervault.vault.inotify import (
    IN_CREATE,
    IN_MOVED_FROM,
    IN_Q_OVERFLOW,
    InotifyUnavailable,
    InotifyWatcher,
    parse_events,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux-only")

WAIT_S = 5.0


class Recorder:
    """Runs a watcher in the background and keeps every batch it yields."""

    def __init__(self, root: Path, ignores: Callable[[str], bool] | None = None) -> None:
        self.root = root
        self.watcher = InotifyWatcher(root, ignores)
        self.stop = asyncio.Event()
        self.queue: asyncio.Queue[Changes] = asyncio.Queue()
        self.batches: list[Changes] = []
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for batch in self.watcher.batches(self.stop, 20, 400):
            self.queue.put_nowait(batch)

    def paths(self) -> set[str]:
        return set().union(*(b.paths for b in self.batches))

    def moves(self) -> list[tuple[str, str]]:
        return [m for b in self.batches for m in b.moves]

    async def until(self, done: Callable[[set[str]], bool]) -> set[str]:
        """Every path reported until `done(reported)` holds (at most WAIT_S)."""
        seen = self.paths()

        async def collect() -> None:
            while not done(seen):
                batch = await self.queue.get()
                self.batches.append(batch)
                seen.update(batch.paths)

        await asyncio.wait_for(collect(), WAIT_S)
        return seen

    async def expect(self, *paths: str) -> set[str]:
        return await self.until(lambda seen: set(paths) <= seen)

    async def reported_before(self, sentinel: str) -> set[str]:
        """Write `sentinel` and return what was reported up to it: inotify's queue is ordered,
        so anything an earlier change would have produced has been reported by then."""
        (self.root / sentinel).write_text("sentinel")
        return await self.expect(sentinel)

    async def changes_before(self, sentinel: str = "sentinel.md") -> Changes:
        """Everything reported (from the last `clear`) up to `sentinel`: the moves in order,
        the paths less the sentinel's."""
        paths = await self.reported_before(sentinel)
        return Changes(paths - {sentinel}, self.moves(), any(b.overflow for b in self.batches))

    async def overflowed(self) -> None:
        while not any(b.overflow for b in self.batches):
            self.batches.append(await self.queue.get())

    def clear(self) -> None:
        self.batches.clear()


@pytest.fixture
async def vault(tmp_path: Path) -> AsyncIterator[Recorder]:
    root = tmp_path / "vault"
    (root / "old" / "sub").mkdir(parents=True)
    (root / "old" / "sub" / "x.md").write_text("x")
    (root / ".peervault").mkdir()
    (root / ".git").mkdir()
    rec = Recorder(root)
    yield rec
    rec.stop.set()
    await asyncio.wait_for(rec.task, WAIT_S)


def covered(path: str, reported: set[str]) -> bool:
    """`path` itself or a folder above it was reported (the engine rescans reported folders)."""
    parts = path.split("/")
    return any("/".join(parts[:i]) in reported for i in range(1, len(parts) + 1))


async def test_create_modify_delete(vault: Recorder) -> None:
    note = vault.root / "note.md"
    note.write_text("one")
    await vault.expect("note.md")
    vault.batches.clear()
    with note.open("a") as f:
        f.write("two")
    await vault.expect("note.md")
    vault.batches.clear()
    note.unlink()
    await vault.expect("note.md")


async def test_rename_is_one_move(vault: Recorder) -> None:
    (vault.root / "old" / "sub" / "x.md").rename(vault.root / "old" / "y.md")
    assert await vault.changes_before() == Changes(set(), [("old/sub/x.md", "old/y.md")])


async def test_new_nested_folder_covers_files_written_at_once(vault: Recorder) -> None:
    deep = vault.root / "a" / "b" / "c"
    deep.mkdir(parents=True)
    for i in range(5):
        (deep / f"f{i}.md").write_text(str(i))
    await vault.until(lambda seen: all(covered(f"a/b/c/f{i}.md", seen) for i in range(5)))
    # and the new folders are watched from now on
    vault.batches.clear()
    (deep / "later.md").write_text("later")
    await vault.expect("a/b/c/later.md")


async def test_folder_rename_is_one_move_and_is_followed(vault: Recorder) -> None:
    (vault.root / "old").rename(vault.root / "new")
    assert await vault.changes_before("s1.md") == Changes(set(), [("old", "new")])
    vault.clear()
    (vault.root / "new" / "sub" / "x.md").write_text("changed")
    (vault.root / "new" / "sub" / "deeper").mkdir()
    (vault.root / "new" / "sub" / "deeper" / "d.md").write_text("d")
    reported = await vault.until(lambda seen: covered("new/sub/deeper/d.md", seen))
    assert "new/sub/x.md" in reported
    assert not any(p.startswith("old") for p in reported)
    assert sorted(vault.watcher._dirs.values()) == ["", "new", "new/sub", "new/sub/deeper"]


async def test_folder_move_keeps_changes_made_in_it_at_once(vault: Recorder) -> None:
    """The watches follow a folder moved in the vault: a file written in it right after the
    move is reported under its new path (none is lost between forgetting and re-adding)."""
    (vault.root / "old").rename(vault.root / "new")
    (vault.root / "new" / "sub" / "x.md").write_text("written at once")
    (vault.root / "new" / "sub" / "y.md").write_text("new at once")
    changes = await vault.changes_before()
    assert changes.moves == [("old", "new")]
    assert changes.paths == {"new/sub/x.md", "new/sub/y.md"}


async def test_folder_moved_in_from_outside_is_watched(vault: Recorder, tmp_path: Path) -> None:
    outside = tmp_path / "outside" / "ext"
    (outside / "sub").mkdir(parents=True)
    (outside / "sub" / "n.md").write_text("n")
    outside.rename(vault.root / "ext")
    await vault.expect("ext")
    vault.batches.clear()
    (vault.root / "ext" / "sub" / "n.md").write_text("edited")
    await vault.expect("ext/sub/n.md")


async def test_folder_moved_out_or_deleted_is_reported_then_forgotten(vault: Recorder, tmp_path: Path) -> None:
    (vault.root / "old").rename(tmp_path / "away")
    await vault.expect("old")
    vault.batches.clear()
    (tmp_path / "away" / "sub" / "x.md").write_text("not in the vault any more")
    assert await vault.reported_before("s1.md") == {"s1.md"}

    (vault.root / "gone" / "deep").mkdir(parents=True)
    await vault.expect("gone")
    shutil.rmtree(vault.root / "gone")
    await vault.expect("gone")
    await vault.reported_before("s2.md")
    assert set(vault.watcher._dirs.values()) == {""}  # IN_IGNORED dropped every watch under them


async def test_state_git_and_editor_files_are_never_reported(vault: Recorder) -> None:
    (vault.root / ".peervault" / "state.db").write_text("db")
    (vault.root / ".git" / "HEAD").write_text("ref")
    (vault.root / ".git" / "objects").mkdir()
    (vault.root / "old" / ".git" / "x").mkdir(parents=True)
    (vault.root / "old" / ".git" / "x" / "y").write_text("y")
    (vault.root / "note.md.swp").write_text("swap")
    (vault.root / "old" / ".note.md.swp").write_text("swap")
    (vault.root / ".DS_Store").write_text("mac")
    shutil.rmtree(vault.root / ".peervault")
    (vault.root / ".peervault" / "tmp").mkdir(parents=True)
    (vault.root / ".peervault" / "tmp" / "t").write_text("t")
    assert await vault.reported_before("sentinel.md") == {"sentinel.md"}


def test_parse_events_reads_padded_names() -> None:
    buf = struct.pack("iIII", 3, IN_CREATE, 0, 16) + b"note.md".ljust(16, b"\0")
    buf += struct.pack("iIII", -1, IN_Q_OVERFLOW, 0, 0)
    buf += struct.pack("iIII", 4, IN_MOVED_FROM, 77, 16) + b"a.md".ljust(16, b"\0")
    assert list(parse_events(buf)) == [
        (3, IN_CREATE, 0, b"note.md"),
        (-1, IN_Q_OVERFLOW, 0, b""),
        (4, IN_MOVED_FROM, 77, b"a.md"),
    ]


def test_overflow_record_means_rescan_everything(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("a")
    w = InotifyWatcher(tmp_path)
    try:
        (tmp_path / "made-while-events-were-lost").mkdir()
        (tmp_path / "a.md").rename(tmp_path / "b.md")
        assert w.changes(os.read(w._fd, 65536) + struct.pack("iIII", -1, IN_Q_OVERFLOW, 0, 0))
        w._flush()
        assert w._take() == Changes(set(), [], overflow=True)  # no move is trusted once events are lost
        assert "made-while-events-were-lost" in w._dirs.values()  # watched again after the loss
    finally:
        w.close()


def max_queued_events() -> int:
    return int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())


async def test_real_queue_overflow_yields_rescan_everything(tmp_path: Path) -> None:
    queued = max_queued_events()
    if queued > 100_000:
        pytest.skip("inotify queue too long to overflow quickly")
    rec = Recorder(tmp_path)
    for i in range(queued):  # two events each (create, close-write) while nobody reads
        (tmp_path / f"f{i}.md").write_bytes(b"")
    await asyncio.wait_for(rec.overflowed(), WAIT_S)
    assert [b for b in rec.batches if b.overflow] == [Changes(set(), [], overflow=True)]
    rec.stop.set()
    await asyncio.wait_for(rec.task, WAIT_S)


async def test_stop_ends_iteration_and_closes(tmp_path: Path) -> None:
    rec = Recorder(tmp_path)
    (tmp_path / "a.md").write_text("a")
    await rec.expect("a.md")
    fd = rec.watcher._fd
    rec.stop.set()
    await asyncio.wait_for(rec.task, WAIT_S)
    with pytest.raises(OSError):
        os.fstat(fd)


async def test_cancelling_the_consumer_closes(tmp_path: Path) -> None:
    rec = Recorder(tmp_path)
    await asyncio.sleep(0.05)
    fd = rec.watcher._fd
    rec.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await rec.task
    with pytest.raises(OSError):
        os.fstat(fd)


async def test_idle_means_no_wakeups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counts = {"read": 0, "timer": 0}
    on_readable = InotifyWatcher._on_readable

    def counting_read(self: InotifyWatcher) -> None:
        counts["read"] += 1
        on_readable(self)

    loop = asyncio.get_running_loop()
    call_later = loop.call_later

    def counting_later(delay: float, callback: Callable[..., object], *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
        if getattr(callback, "__func__", None) is InotifyWatcher._flush:
            counts["timer"] += 1
        return call_later(delay, callback, *args, **kwargs)

    monkeypatch.setattr(InotifyWatcher, "_on_readable", counting_read)
    monkeypatch.setattr(loop, "call_later", counting_later)
    rec = Recorder(tmp_path)
    (tmp_path / "a.md").write_text("a")
    await rec.expect("a.md")
    assert counts["read"] > 0 and counts["timer"] > 0  # the counters do see the watcher's work
    counts.update(read=0, timer=0)
    await asyncio.sleep(1.0)
    assert counts == {"read": 0, "timer": 0}
    rec.stop.set()
    await asyncio.wait_for(rec.task, WAIT_S)


def test_watch_limit_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = inotify._libc()

    class FullLibc:
        inotify_init1 = real.inotify_init1
        inotify_rm_watch = real.inotify_rm_watch

        @staticmethod
        def inotify_add_watch(fd: int, path: bytes, mask: int) -> int:
            inotify.ctypes.set_errno(inotify.errno.ENOSPC)
            return -1

    monkeypatch.setattr(inotify, "_libc", FullLibc)
    with pytest.raises(InotifyUnavailable, match="max_user_watches"):
        InotifyWatcher(tmp_path)


async def test_watch_uses_inotify_on_linux(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_watchfiles(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("watchfiles used on Linux")

    monkeypatch.setattr(watcher, "watchfiles_batches", no_watchfiles)
    stop = asyncio.Event()
    batches = watcher.watch(tmp_path, stop, 20, 400)
    first = asyncio.ensure_future(anext(batches))
    await asyncio.sleep(0.05)
    (tmp_path / "a.md").write_text("a")
    assert await asyncio.wait_for(first, WAIT_S) == Changes({"a.md"}, [])
    stop.set()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(batches), WAIT_S)


async def test_watch_falls_back_to_polling_watchfiles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def unavailable(root: Path, ignores: Any, also: Any) -> InotifyWatcher:
        raise InotifyUnavailable("inotify watch limit reached (/proc/sys/fs/inotify/max_user_watches = 8)")

    used: dict[str, Any] = {}

    async def fake_watchfiles(
        root: Path, stop: asyncio.Event, step_ms: int, debounce_ms: int, force_polling: bool | None, ignores: Any
    ) -> AsyncIterator[Changes]:
        used["force_polling"] = force_polling
        yield Changes({"a.md"}, [])

    monkeypatch.setattr(watcher, "InotifyWatcher", unavailable)
    monkeypatch.setattr(watcher, "watchfiles_batches", fake_watchfiles)
    rules = WatchedFile(tmp_path / ".peervault" / "ignore", lambda: None)
    with caplog.at_level(logging.WARNING):
        batches = [b async for b in watcher.watch(tmp_path, asyncio.Event(), 20, 400, also=rules)]
    assert batches == [Changes({"a.md"}, [])]
    assert used["force_polling"] is True  # watchfiles' inotify would hit the same limit
    assert not rules.alive  # never attached: its owner polls it
    assert [r.message for r in caplog.records if "max_user_watches" in r.message]


# ---------------------------------------------------------------- moves, one burst at a time
# The kernel's real events for real renames, read at once and closed as one burst (as the
# running watcher does when they come within `step_ms`), so each result is exact.


@pytest.fixture
def quiet(tmp_path: Path) -> Iterator[InotifyWatcher]:
    """A watcher on a vault with a.md, b.md, old/sub/x.md, .trash/ and .git/, not yet read."""
    root = tmp_path / "vault"
    (root / "old" / "sub").mkdir(parents=True)
    (root / "old" / "sub" / "x.md").write_text("x")
    for name in ("a.md", "b.md"):
        (root / name).write_text(name)
    (root / ".trash").mkdir()
    (root / ".git").mkdir()
    w = InotifyWatcher(root)
    yield w
    w.close()


def burst(w: InotifyWatcher, read_size: int = 65536) -> Changes:
    """Read every queued event (`read_size` bytes at most a read) as one burst, and close it."""
    while True:
        try:
            buf = os.read(w._fd, read_size)
        except BlockingIOError:
            break
        w.changes(buf)
    w._flush()
    return w._take() or Changes()


def test_rename_over_an_existing_note_is_a_move(quiet: InotifyWatcher) -> None:
    (quiet.root / "a.md").rename(quiet.root / "b.md")
    assert burst(quiet) == Changes(set(), [("a.md", "b.md")])


def test_folder_rename_is_one_move_and_its_watches_follow(quiet: InotifyWatcher) -> None:
    (quiet.root / "old").rename(quiet.root / "new")
    assert burst(quiet) == Changes(set(), [("old", "new")])
    assert sorted(quiet._dirs.values()) == ["", ".trash", "new", "new/sub"]
    (quiet.root / "new" / "sub" / "x.md").write_text("edited")
    assert burst(quiet) == Changes({"new/sub/x.md"}, [])


def test_chain_in_one_burst_is_moves_in_order(quiet: InotifyWatcher) -> None:
    (quiet.root / "a.md").rename(quiet.root / "c.md")
    (quiet.root / "c.md").rename(quiet.root / "d.md")
    (quiet.root / "b.md").rename(quiet.root / "a.md")
    assert burst(quiet) == Changes(set(), [("a.md", "c.md"), ("c.md", "d.md"), ("b.md", "a.md")])


def test_swap_through_a_temp_name_is_three_moves(quiet: InotifyWatcher) -> None:
    r = quiet.root
    (r / "a.md").rename(r / "t.md")
    (r / "b.md").rename(r / "a.md")
    (r / "t.md").rename(r / "b.md")
    assert burst(quiet) == Changes(set(), [("a.md", "t.md"), ("b.md", "a.md"), ("t.md", "b.md")])


def test_swap_through_an_ignored_temp_name_reports_its_halves_as_paths(quiet: InotifyWatcher) -> None:
    r = quiet.root
    (r / "a.md").rename(r / "a.md.tmp")
    (r / "b.md").rename(r / "a.md")
    (r / "a.md.tmp").rename(r / "b.md")
    assert burst(quiet) == Changes({"a.md", "b.md"}, [("b.md", "a.md")])


def test_moved_then_edited(quiet: InotifyWatcher) -> None:
    (quiet.root / "b.md").rename(quiet.root / "c.md")
    with (quiet.root / "c.md").open("a") as f:
        f.write(" more")
    assert burst(quiet) == Changes({"c.md"}, [("b.md", "c.md")])


def test_written_then_renamed_is_looked_at_under_its_new_name(quiet: InotifyWatcher) -> None:
    (quiet.root / "n.md").write_text("new")
    (quiet.root / "n.md").rename(quiet.root / "m.md")
    assert burst(quiet) == Changes({"m.md"}, [("n.md", "m.md")])


def test_save_through_an_ignored_temp_file_is_a_change_of_the_note(quiet: InotifyWatcher) -> None:
    for temp in ("a.md.tmp", ".a.md.swp", "a.md~"):
        (quiet.root / temp).write_text("saved")
        (quiet.root / temp).rename(quiet.root / "a.md")
        assert burst(quiet) == Changes({"a.md"}, []), temp


def test_save_through_a_synced_temp_name_is_a_move_onto_the_note(quiet: InotifyWatcher) -> None:
    """The engine reads a move onto a tracked note as an edit of that note."""
    (quiet.root / ".a.md.x7Kq").write_text("saved")
    (quiet.root / ".a.md.x7Kq").rename(quiet.root / "a.md")
    assert burst(quiet) == Changes({"a.md"}, [(".a.md.x7Kq", "a.md")])


def test_vim_backup_rename_is_the_note_gone_then_written(quiet: InotifyWatcher) -> None:
    r = quiet.root
    (r / "a.md").rename(r / "a.md~")
    assert burst(quiet) == Changes({"a.md"}, [])
    (r / "a.md").write_text("written again")
    (r / "a.md~").unlink()
    assert burst(quiet) == Changes({"a.md"}, [])


def test_moves_into_or_out_of_ignored_folders_are_paths(quiet: InotifyWatcher) -> None:
    r = quiet.root
    (r / "a.md").rename(r / ".trash" / "a.md")  # Obsidian's delete
    assert burst(quiet) == Changes({"a.md"}, [])
    (r / ".trash" / "a.md").rename(r / "a.md")  # restored
    assert burst(quiet) == Changes({"a.md"}, [])
    (r / "old").rename(r / ".trash" / "old")
    assert burst(quiet) == Changes({"old"}, [])
    assert "old/sub" not in quiet._dirs.values()
    (r / ".trash" / "old").rename(r / "old")
    assert burst(quiet) == Changes({"old"}, [])
    assert sorted(quiet._dirs.values()) == ["", ".trash", "old", "old/sub"]
    (r / "old").rename(r / ".git" / "old")  # into a folder never watched: gone
    assert burst(quiet) == Changes({"old"}, [])
    assert sorted(quiet._dirs.values()) == ["", ".trash"]
    (r / ".git" / "old").rename(r / "old")  # and back: a folder moved in
    assert burst(quiet) == Changes({"old"}, [])
    assert sorted(quiet._dirs.values()) == ["", ".trash", "old", "old/sub"]


def test_moved_out_of_or_into_the_vault_is_a_path(quiet: InotifyWatcher, tmp_path: Path) -> None:
    (quiet.root / "a.md").rename(tmp_path / "a.md")
    assert burst(quiet) == Changes({"a.md"}, [])
    (tmp_path / "a.md").rename(quiet.root / "old" / "a.md")
    assert burst(quiet) == Changes({"old/a.md"}, [])


def test_folder_moved_out_and_back_in_one_burst_stays_watched(quiet: InotifyWatcher, tmp_path: Path) -> None:
    (quiet.root / "old").rename(tmp_path / "away")
    (tmp_path / "away").rename(quiet.root / "old")
    assert burst(quiet) == Changes({"old"}, [])
    assert sorted(quiet._dirs.values()) == ["", ".trash", "old", "old/sub"]
    (quiet.root / "old" / "sub" / "x.md").write_text("edited")
    assert burst(quiet) == Changes({"old/sub/x.md"}, [])


def test_the_two_halves_of_a_rename_pair_across_reads(quiet: InotifyWatcher) -> None:
    (quiet.root / "a.md").rename(quiet.root / "c.md")
    first = os.read(quiet._fd, 32)  # struct inotify_event and "a.md" padded to 16: IN_MOVED_FROM alone
    assert [m for _, m, _, _ in parse_events(first)] == [IN_MOVED_FROM]
    quiet.changes(first)
    assert burst(quiet) == Changes(set(), [("a.md", "c.md")])


def test_a_half_alone_at_the_end_of_the_burst_is_a_path(quiet: InotifyWatcher, tmp_path: Path) -> None:
    (quiet.root / "a.md").rename(tmp_path / "a.md")
    quiet.changes(os.read(quiet._fd, 65536))
    assert quiet._take() is None  # the burst is still open
    quiet._flush()
    assert quiet._take() == Changes({"a.md"}, [])


def test_bursts_not_yet_taken_add_up_in_order(quiet: InotifyWatcher) -> None:
    """Two bursts the consumer takes at once: what the first looked at follows the second's
    moves, as if they were one burst."""
    with (quiet.root / "b.md").open("a") as f:
        f.write(" edited")
    quiet.changes(os.read(quiet._fd, 65536))
    quiet._flush()
    (quiet.root / "b.md").rename(quiet.root / "c.md")
    assert burst(quiet) == Changes({"c.md"}, [("b.md", "c.md")])


# ---------------------------------------------------------------- the pairing alone


def test_burst_pairs_by_cookie_and_keeps_the_kernels_order() -> None:
    b = Burst()
    b.moved_from(1, "a.md", False)
    b.moved_from(2, "b.md", False)  # two renames interleaved: the cookies tell them apart
    b.moved_to(2, "a.md", False)
    b.moved_to(1, "c.md", False)
    b.close()
    assert b.changes() == Changes(set(), [("b.md", "a.md"), ("a.md", "c.md")])


def test_burst_ignored_side_and_missing_half() -> None:
    b = Burst()
    assert b.moved_to(1, "a.md", False) is None  # came from outside
    b.moved_from(2, "b.md", False)  # went outside: known at the end
    b.moved_from(3, ".c.md.swp", True)
    assert b.moved_to(3, "c.md", False) == ".c.md.swp"
    b.moved_from(4, "d.md", False)
    assert b.moved_to(4, "d.md~", True) == "d.md"
    b.moved_from(5, "e.tmp", True)
    b.moved_to(5, "e.part", True)
    b.moved_from(6, "f.tmp", True)  # an ignored file moved out: nothing
    assert b.changes() == Changes({"a.md", "c.md", "d.md"}, [])
    b.close()
    assert b.changes() == Changes({"a.md", "b.md", "c.md", "d.md"}, [])


def test_burst_paths_follow_a_later_move() -> None:
    b = Burst()
    b.touch("dir/x.md")
    b.touch("dir/sub/y.md")
    b.touch("other.md")
    b.moved_from(1, "dir", False)
    b.touch("dir")  # a new folder made where the old one was
    b.moved_to(1, "new", False)
    b.close()
    assert b.changes() == Changes({"new/x.md", "new/sub/y.md", "other.md", "dir"}, [("dir", "new")])

    done = Burst()
    done.touch("new/x.md")
    done.touch("z.md")
    later = Burst()
    later.moved_from(7, "new", False)
    later.moved_to(7, "final", False)
    later.moved_from(8, "z.md", False)
    later.close()
    done.then(later)
    assert done.changes() == Changes({"final/x.md", "z.md"}, [("new", "final")])


def test_burst_overflow_drops_moves() -> None:
    b = Burst()
    b.moved_from(1, "a.md", False)
    b.moved_to(1, "b.md", False)
    b.moved_from(2, "c.md", False)
    b.lost()
    b.touch("d.md")
    b.close()
    assert b.changes() == Changes(set(), [], overflow=True)
    done = Burst()
    done.then(b)
    assert done.changes() == Changes(set(), [], overflow=True)


async def test_watchfiles_yields_paths_without_moves(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("a")
    stop = asyncio.Event()
    batches = watcher.watchfiles_batches(tmp_path, stop, 50, 400, True, IgnoreRules().ignores)
    first = asyncio.ensure_future(anext(batches))
    await asyncio.sleep(0.5)  # the poller has seen the vault as it was
    (tmp_path / "a.md").rename(tmp_path / "b.md")
    got = await asyncio.wait_for(first, WAIT_S)
    assert got == Changes({"a.md", "b.md"}, [])
    stop.set()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(batches), WAIT_S)


def _read_all(w: InotifyWatcher) -> None:
    while True:
        try:
            w.changes(os.read(w._fd, 65536))
        except BlockingIOError:
            return


def test_a_burst_whose_writers_are_done_ends_after_a_short_quiet(quiet: InotifyWatcher, tmp_path: Path) -> None:
    """The configured step (20 ms) was most of a one-character edit's way to a peer: once every
    file written in the burst was closed again, the burst ends after CLOSED_STEP_S; a file
    still open for writing, half a move, or a deletion keeps the step."""
    quiet._step = 0.02
    with open(quiet.root / "a.md", "w") as f:  # an editor holding the file open while it writes
        f.write("first half")
        f.flush()
        _read_all(quiet)
        assert quiet._quiet_step() == 0.02
        f.write(", second half")
    _read_all(quiet)
    assert quiet._quiet_step() == inotify.CLOSED_STEP_S  # closed: done
    (quiet.root / "b.md").write_text("saved at once")  # open, write, close in one go
    _read_all(quiet)
    assert quiet._quiet_step() == inotify.CLOSED_STEP_S
    assert burst(quiet) == Changes({"a.md", "b.md"}, [])
    (quiet.root / "b.md").rename(tmp_path / "b.md")  # half a move: the other half may come next
    _read_all(quiet)
    assert quiet._quiet_step() == 0.02
    quiet._flush()
    (quiet.root / "new.md").write_text("x")
    (quiet.root / "new.md").rename(quiet.root / "moved.md")  # written, closed, then renamed into place
    _read_all(quiet)
    assert quiet._quiet_step() == inotify.CLOSED_STEP_S
    (quiet.root / "a.md").unlink()  # a deletion: an `rm -rf` stays one burst for the deletion guard
    _read_all(quiet)
    assert quiet._quiet_step() == 0.02
    quiet._flush()
    (quiet.root / "moved.md").write_text("y")
    _read_all(quiet)
    assert quiet._quiet_step() == inotify.CLOSED_STEP_S  # a new burst
