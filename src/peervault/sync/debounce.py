"""Debounced sync, per key (a note id: its text and its index entry; see
publishing.pending_keys): the first change of a burst goes out at once; follow-ups
within the window wait for the window's end and go out together. A change to another
note is another key, so it goes at once too. Pure logic: time is an argument."""

from __future__ import annotations


class Debouncer:
    def __init__(self, window_s: float) -> None:
        self.window = window_s
        self._sent: dict[str, float] = {}  # key -> when its changes last went out

    def due(self, pending: set[str], now: float) -> tuple[set[str], float | None]:
        """Which pending keys to send now (they count as sent at `now`), and when to ask again."""
        self._sent = {k: t for k, t in self._sent.items() if now - t < self.window}
        ready = {k for k in pending if k not in self._sent}
        for k in ready:
            self._sent[k] = now
        waiting = pending - ready
        wake = min(self._sent[k] for k in waiting) + self.window if waiting else None
        return ready, wake
