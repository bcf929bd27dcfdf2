"""The vault service while its first import runs in a process of its own (sync/firstimport.py).

The daemon is ready and its control API answers from the start (daemon/importing.py), but
its engine is built only once the import has ended: until then the child writes the
database and the daemon must write nothing to it. So this service answers only what reads
no table the import writes: `status` (with the import's progress) and `peers`. Every other
operation, reading or changing, answers `FirstImportRunning` (503, with Retry-After and how
far the import is), which the CLI's client waits out and the plugin and dashboard show; the
daemon's own VaultService takes over on the same sockets, with the same event ring.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from ..errors import FirstImportRunning
from .events import EventBus
from .operations import BY_NAME
from .status import peer_rows, while_importing


class ImportingVault:
    """`runtime()`: what daemon.json says now, with `first_import` {files_done, files_total}."""

    def __init__(self, state: Any, runtime: Callable[[], dict[str, Any]], events: EventBus) -> None:
        self.state = state
        self.runtime = runtime
        self.events = events

    def status(self) -> dict[str, Any]:
        return while_importing(self.state, self.runtime())

    def peers(self) -> list[dict[str, Any]]:
        return peer_rows(self.state, self.runtime())

    def __getattr__(self, name: str) -> Callable[..., NoReturn]:
        """Any other operation of service/operations.py: not before the import has ended."""
        if name not in BY_NAME:  # not an operation: no stand-in
            raise AttributeError(name)
        return lambda **params: self.refuse()

    def refuse(self) -> NoReturn:
        progress = self.runtime()["first_import"]
        done, total = progress["files_done"], progress["files_total"]
        far = f"{done:,} of {total:,} files" if total else "looking at the folder"
        raise FirstImportRunning(
            f"the first import of {self.state.root} is running ({far}); this answers once it has ended, in a few seconds"
        )
