"""What happened in the daemon, for clients that watch it (the plugin, a dashboard, a
script): a bounded ring of numbered events, as Syncthing's /rest/events keeps.

A client asks for the events after the last id it saw; if it fell so far behind that
those were dropped, it learns so (`missed`) and reads the status afresh.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

KEEP = 1000  # events kept for clients that poll; about 200 KB at most

KINDS = (
    "local_change",  # paths changed in this folder and recorded
    "remote_change",  # paths changed by a peer and written here
    "merge",  # a note edited on two devices was merged and written
    "peer_connected",
    "peer_lost",
    "held_deletions",  # the mass-deletion guard held deletions back
    "error",
    "paused",
    "resumed",
    "live_update",  # a note open in an editor changed elsewhere: a Loro update (service/live.py)
    "presence",  # an editor's cursor in an open note: EphemeralStore bytes
    "first_import",  # a first import's progress in its own process: files_done, files_total, done
)


class EventBus:
    def __init__(self, keep: int = KEEP) -> None:
        self._ring: deque[dict[str, Any]] = deque(maxlen=keep)
        self._last = 0
        self._changed = asyncio.Event()

    @property
    def last_id(self) -> int:
        return self._last

    def publish(self, kind: str, at: float, **data: Any) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        self._last += 1
        self._ring.append({"id": self._last, "kind": kind, "at": at, **data})
        self._changed.set()
        self._changed = asyncio.Event()

    def since(self, after: int) -> tuple[list[dict[str, Any]], bool]:
        """Events with an id above `after`, and whether some were already dropped (or `after`
        came from an earlier daemon, whose ids this one does not share)."""
        if after > self._last:
            return list(self._ring), True
        events = [e for e in self._ring if e["id"] > after]
        oldest = self._ring[0]["id"] if self._ring else self._last + 1
        return events, after + 1 < oldest and after < self._last

    async def wait(self, after: int, timeout: float) -> tuple[list[dict[str, Any]], bool]:
        """As `since`, waiting up to `timeout` for the first new event (long-poll, SSE)."""
        if self._last <= after:
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), timeout)
            except TimeoutError:
                pass
        return self.since(after)
