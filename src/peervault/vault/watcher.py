"""Yields batches of local changes (`Changes`); the only importer of watchfiles.

On Linux the event-driven inotify watcher (inotify.py) is used: watchfiles'
loop wakes every `step` ms even while the vault is idle. watchfiles remains for
other systems and for when inotify cannot be used.

A batch's `paths` are unordered and de-duplicated, each a file or a subtree to
look at again, never a verdict about what happened. Its `moves` are renames as
the kernel reported them, (from, to) in order, files or folders: only inotify
has them (its cookies pair the two halves of a rename); watchfiles has none, and
reports a rename as both paths. `overflow` means events were lost (inotify's
queue overflowed): rescan the whole vault.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from .changes import Changes
from .filewatch import WatchedFile
from .ignore import UNWATCHED_DIRS, IgnoreRules
from .inotify import InotifyUnavailable, InotifyWatcher
from .paths import rel_path

__all__ = ["Changes", "watch", "watchfiles_batches"]

log = logging.getLogger(__name__)


async def watch(
    root: Path,
    stop: asyncio.Event,
    step_ms: int,
    debounce_ms: int,
    ignores: Callable[[str], bool] | None = None,
    also: WatchedFile | None = None,
) -> AsyncIterator[Changes]:
    """`ignores(rel)`: the vault's current ignore rules (default: the built-in ones). `also`:
    a file outside the vault's watched folders, watched on the same inotify instance; where
    there is none (watchfiles) it is never attached, and its owner polls it."""
    ignores = ignores or IgnoreRules().ignores
    force_polling = None  # watchfiles' default (or its environment variable)
    if sys.platform.startswith("linux"):
        try:
            inotify = InotifyWatcher(root, ignores, also)
        except InotifyUnavailable as e:
            # watchfiles' own inotify backend would fail the same way: poll instead.
            log.warning("cannot use inotify (%s); polling the vault with watchfiles instead", e)
            force_polling = True
        else:
            async for changes in inotify.batches(stop, step_ms, debounce_ms):
                yield changes
            return
    async for changes in watchfiles_batches(root, stop, step_ms, debounce_ms, force_polling, ignores):
        yield changes


async def watchfiles_batches(
    root: Path,
    stop: asyncio.Event,
    step_ms: int,
    debounce_ms: int,
    force_polling: bool | None,
    ignores: Callable[[str], bool],
) -> AsyncIterator[Changes]:
    """The portable watcher. Imported only when used: watchfiles costs ~4 MB of memory."""
    from watchfiles import Change, DefaultFilter, awatch

    class VaultFilter(DefaultFilter):
        def __init__(self) -> None:
            super().__init__(ignore_dirs=tuple(DefaultFilter.ignore_dirs) + tuple(UNWATCHED_DIRS))

        def __call__(self, change: Change, path: str) -> bool:
            rel = rel_path(root, path)
            return rel is not None and not ignores(rel) and super().__call__(change, path)

    async for changes in awatch(
        root,
        watch_filter=VaultFilter(),
        stop_event=stop,
        step=step_ms,
        debounce=debounce_ms,
        recursive=True,
        force_polling=force_polling,
    ):
        rels = {r for _, p in changes if (r := rel_path(root, p)) is not None}
        if rels:  # no moves (watchfiles has no cookies), and no overflow it would tell
            yield Changes(rels, [])
