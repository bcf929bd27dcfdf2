"""Walking the vault: every regular file the ignore rules let through, with its size and
mtime (no reads), and how many files the rules kept out."""

from __future__ import annotations

import os
from pathlib import Path

from ..config import STATE_DIR
from .fsops import Stat
from .ignore import IgnoreRules


def scan(root: Path, rules: IgnoreRules, under: str | None = None) -> tuple[dict[str, Stat], int]:
    """(canonical path -> Stat for every file below `under` or the whole vault, files ignored)."""
    out: dict[str, Stat] = {}
    ignored = 0
    start = root if under is None else root.joinpath(*under.split("/"))
    stack = [(str(start), under.strip("/") + "/" if under else "")]
    while stack:
        d, prefix = stack.pop()
        try:
            entries = list(os.scandir(d))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for e in entries:
            try:
                rel = prefix + e.name  # (string work: a Path per file costs more than the stat)
                if e.is_dir(follow_symlinks=False):
                    if rel == STATE_DIR:
                        continue  # ours, not the user's: not counted as ignored
                    if rules.ignores_dir(rel):
                        ignored += 1  # a whole ignored folder counts once
                    else:
                        stack.append((e.path, rel + "/"))
                    continue
                if not e.is_file(follow_symlinks=False):
                    continue
                if rules.ignores(rel):
                    ignored += 1
                    continue
                st = e.stat(follow_symlinks=False)
            except (FileNotFoundError, PermissionError):
                continue
            out[rel] = Stat(st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, st.st_dev)
    return out, ignored
