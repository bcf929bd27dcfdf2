"""Walking the vault: every non-ignored regular file with its size and mtime (no reads)."""

from __future__ import annotations

import os
from pathlib import Path

from .fsops import Stat
from .paths import IGNORED_DIRS, is_ignored


def scan(root: Path, under: str | None = None) -> dict[str, Stat]:
    """Map of canonical path -> Stat for every file below `under` (or the whole vault)."""
    out: dict[str, Stat] = {}
    start = root if under is None else root.joinpath(*under.split("/"))
    stack = [start]
    while stack:
        d = stack.pop()
        try:
            entries = list(os.scandir(d))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for e in entries:
            try:
                if e.is_dir(follow_symlinks=False):
                    if e.name not in IGNORED_DIRS:
                        stack.append(Path(e.path))
                    continue
                if not e.is_file(follow_symlinks=False):
                    continue
                rel = Path(e.path).relative_to(root).as_posix()
                if is_ignored(rel):
                    continue
                st = e.stat(follow_symlinks=False)
            except (FileNotFoundError, PermissionError):
                continue
            out[rel] = Stat(st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)
    return out
