"""The only importer of watchfiles: yields batches of changed vault paths.

watchfiles delivers unordered, de-duplicated sets, and reports a directory
rename or move as one event for the directory; the engine therefore treats
every reported path as "look at this again" (file or subtree), never as a
verdict about what happened.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from watchfiles import Change, DefaultFilter, awatch

from .paths import IGNORED_DIRS, is_ignored, rel_path


class _VaultFilter(DefaultFilter):
    def __init__(self, root: Path) -> None:
        super().__init__(ignore_dirs=tuple(DefaultFilter.ignore_dirs) + tuple(IGNORED_DIRS))
        self.root = root

    def __call__(self, change: Change, path: str) -> bool:
        rel = rel_path(self.root, path)
        return rel is not None and not is_ignored(rel) and super().__call__(change, path)


async def watch(root: Path, stop: asyncio.Event, step_ms: int, debounce_ms: int) -> AsyncIterator[set[str]]:
    async for changes in awatch(
        root, watch_filter=_VaultFilter(root), stop_event=stop, step=step_ms, debounce=debounce_ms, recursive=True
    ):
        rels = {r for _, p in changes if (r := rel_path(root, p)) is not None}
        if rels:
            yield rels
