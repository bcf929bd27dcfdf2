"""Where commands print: tables and results to stdout, messages to stderr (rich, loaded
only when something is printed), and the few formats every command shares."""

from __future__ import annotations

import sys
import time
from typing import Any


class _LazyConsole:
    """rich costs ~5 MB of memory: the daemon (`run`) only loads it if it prints."""

    def __init__(self, stderr: bool = False) -> None:
        self._stderr = stderr
        self._console: Any = None

    def get(self) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr, width=None if sys.stdout.isatty() else 160)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


out: Any = _LazyConsole()
err: Any = _LazyConsole(stderr=True)


def when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "—"


def device(origin: str) -> str:
    return "this device" if origin == "local" else origin[:10]


def table(title: str, columns: list[str], rows: list[list[str]], right: tuple[str, ...] = ()) -> Any:
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for col in columns:
        t.add_column(col, justify="right" if col in right else "left")
    for row in rows:
        t.add_row(*row)
    return t
