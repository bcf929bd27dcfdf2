"""The inotify watcher on real folders: what it reports, what it never reports, and that it
stays silent while the vault is idle."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import struct
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from peervault.vault import inotify, watcher
from peervault.vault.inotify import IN_CREATE, IN_Q_OVERFLOW, InotifyUnavailable, InotifyWatcher, parse_events

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux-only")

WAIT_S = 5.0


class Recorder:
    """Runs a watcher in the background and keeps every batch it yields."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.watcher = InotifyWatcher(root)
        self.stop = asyncio.Event()
        self.queue: asyncio.Queue[set[str]] = asyncio.Queue()
        self.batches: list[set[str]] = []
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for batch in self.watcher.batches(self.stop, 20, 400):
            self.queue.put_nowait(batch)

    async def until(self, done: Callable[[set[str]], bool]) -> set[str]:
        """Everything reported until `done(reported)` holds (at most WAIT_S)."""
        seen: set[str] = set().union(*self.batches)

        async def collect() -> None:
            while not done(seen):
                batch = await self.queue.get()
                self.batches.append(batch)
                seen.update(batch)

        await asyncio.wait_for(collect(), WAIT_S)
        return seen

    async def expect(self, *paths: str) -> set[str]:
        return await self.until(lambda seen: set(paths) <= seen)

    async def reported_before(self, sentinel: str) -> set[str]:
        """Write `sentinel` and return what was reported up to it: inotify's queue is ordered,
        so anything an earlier change would have produced has been reported by then."""
        (self.root / sentinel).write_text("sentinel")
        return await self.expect(sentinel)


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


async def test_rename_reports_both_names(vault: Recorder) -> None:
    (vault.root / "old" / "sub" / "x.md").rename(vault.root / "old" / "y.md")
    await vault.expect("old/sub/x.md", "old/y.md")


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


async def test_folder_rename_reports_old_and_new_and_follows_it(vault: Recorder) -> None:
    (vault.root / "old").rename(vault.root / "new")
    await vault.expect("old", "new")
    vault.batches.clear()
    (vault.root / "new" / "sub" / "x.md").write_text("changed")
    reported = await vault.expect("new/sub/x.md")
    assert not any(p.startswith("old") for p in reported)


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
    assert list(parse_events(buf)) == [(3, IN_CREATE, b"note.md"), (-1, IN_Q_OVERFLOW, b"")]


def test_overflow_record_means_rescan_everything(tmp_path: Path) -> None:
    w = InotifyWatcher(tmp_path)
    try:
        (tmp_path / "made-while-events-were-lost").mkdir()
        assert w.changes(struct.pack("iIII", -1, IN_Q_OVERFLOW, 0, 0)) == {""}
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
    await rec.expect("")
    assert [b for b in rec.batches if "" in b] == [{""}]
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
    assert await asyncio.wait_for(first, WAIT_S) == {"a.md"}
    stop.set()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(batches), WAIT_S)


async def test_watch_falls_back_to_polling_watchfiles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def unavailable(root: Path, ignores: Any) -> InotifyWatcher:
        raise InotifyUnavailable("inotify watch limit reached (/proc/sys/fs/inotify/max_user_watches = 8)")

    used: dict[str, Any] = {}

    async def fake_watchfiles(
        root: Path, stop: asyncio.Event, step_ms: int, debounce_ms: int, force_polling: bool | None, ignores: Any
    ) -> AsyncIterator[set[str]]:
        used["force_polling"] = force_polling
        yield {"a.md"}

    monkeypatch.setattr(watcher, "InotifyWatcher", unavailable)
    monkeypatch.setattr(watcher, "watchfiles_batches", fake_watchfiles)
    with caplog.at_level(logging.WARNING):
        batches = [b async for b in watcher.watch(tmp_path, asyncio.Event(), 20, 400)]
    assert batches == [{"a.md"}]
    assert used["force_polling"] is True  # watchfiles' inotify would hit the same limit
    assert [r.message for r in caplog.records if "max_user_watches" in r.message]
