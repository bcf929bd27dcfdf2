"""What a watcher reports for one batch of local changes (its own module: inotify.py and
watcher.py both build it, and watcher.py imports inotify.py)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Changes:
    """`paths`: look again at these (files or whole subtrees), never a verdict about what
    happened. `moves`: renames the kernel reported, (from, to) vault paths in its order,
    files or folders (a folder move carries everything under it); the engine applies them
    first, then looks at `paths`. `overflow`: events were lost, rescan everything."""

    paths: set[str] = field(default_factory=set)
    moves: list[tuple[str, str]] = field(default_factory=list)
    overflow: bool = False
