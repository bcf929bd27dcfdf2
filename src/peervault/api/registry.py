"""Which vaults an API answers for: `/vaults` and the routes under `/vaults/{vault}/`.

A vault is named in those routes by a short handle of its folder's path (`handle`): unique
in the process even when two folders hold copies of one vault (the same vault id), known
even for a vault that could not be opened (its database unreadable), and the same after a
restart, so a bookmarked dashboard page keeps its vault. A vault's id (`vault_id`) is also
accepted where it names one vault of the process.

The process-wide API's list is daemon/hostapi.py's (every vault of `peervault run`, in
whatever state it is); a vault's own socket answers for its one vault (`OneVault`), so
the dashboard works the same from either.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Protocol

from ..errors import NotFound, VaultUnavailable

HANDLE_CHARS = 12  # 48 bits of the path's hash: no two folders of one person collide


def handle(root: Path) -> str:
    return hashlib.sha256(str(root).encode()).hexdigest()[:HANDLE_CHARS]


class Vaults(Protocol):
    def listing(self) -> list[dict[str, Any]]: ...  # one row each, as `row` makes it
    def service(self, key: str) -> Any: ...  # its VaultService, or NotFound / VaultUnavailable


def row(root: Path, service: Any, state: str = "running", reason: str | None = None) -> dict[str, Any]:
    """One vault of `/vaults`: its figures when it serves (`service` not None), else its
    state and why."""
    doc: dict[str, Any] = {"id": handle(root), "path": str(root), "name": root.name, "state": state, "reason": reason}
    if service is None:
        return {**doc, "vault_id": None, "files": None, "pending": None, "errors": None, "not_synced": None,
                "held_deletions": None, "paused": None, "devices": []}  # fmt: skip
    status = service.status()
    devices = [{k: p[k] for k in ("id", "connected", "state", "last_seen")} for p in status["peers"] if p["paired"]]
    return {
        **doc,
        "vault_id": status["vault_id"],
        "files": status["files"]["tracked"],
        "pending": status["pending_changes"],
        "errors": status["metrics"].get("sync_error_count", 0),
        "not_synced": len(status["not_synced"]),
        "held_deletions": status["held_deletions"]["count"],
        "paused": status["daemon"]["paused"],
        "devices": devices,
    }


def find(key: str, rows: list[tuple[Path, str | None]]) -> Path:
    """The vault `key` names among (root, vault id) pairs: its handle, or a vault id that
    only one of them has; else NotFound naming it."""
    for root, _ in rows:
        if handle(root) == key:
            return root
    same_id = [root for root, vault_id in rows if vault_id is not None and vault_id == key.lower()]
    if len(same_id) == 1:
        return same_id[0]
    raise NotFound(f"no vault {key[:80]!r} here; GET /vaults lists the vaults this API answers for, with their ids")


class OneVault:
    """A vault's own socket and port: `/vaults` lists just it."""

    def __init__(self, root: Path, service: Any) -> None:
        self.root = root
        self._service = service

    def serve(self, service: Any) -> None:
        self._service = service

    def listing(self) -> list[dict[str, Any]]:
        return [row(self.root, self._service)]

    def service(self, key: str) -> Any:
        find(key, [(self.root, self._service.state.vault_id)])
        return self._service


def unavailable(root: Path, state: str, reason: str | None) -> VaultUnavailable:
    what = {"starting": "is starting", "restarting": "stopped after an error and is being opened again"}
    return VaultUnavailable(f"vault {root} {what.get(state, 'has stopped')}: {reason or 'no reason known'}")
