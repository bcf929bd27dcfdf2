"""Which update goes to which link: the forwarding rule, apart from the links themselves.

An update received from one peer is applied to the engine, and what was new here goes
on to every other connected peer, so a device learns of an edit made on one it has no
link to. What only repeats known operations stops where it arrives: with three devices
linked to each other an update would otherwise go round the triangle for ever. A local
change goes to every connected peer. No sockets, timers or logging here: the daemon and
the three-peer property test (its `Mesh`) both run these functions, so the test checks
the rule the daemon runs, not a copy of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

from ..protocol import messages as m

Update = m.IndexUpdates | m.DocUpdates
Received = Update | m.IndexSnapshot
L = TypeVar("L")  # a link: the daemon's Link, or the property test's device number


class Applier(Protocol):
    """What routing needs from the engine."""

    def apply_index(self, blob: bytes, now: float, origin: str = ...) -> bool:
        """Import index updates; False if they held nothing new."""
        ...

    def adopt_index(self, msg: m.IndexSnapshot, now: float, origin: str = ...) -> bool:
        """Take a peer's index as saved (a join); False if it held nothing new."""
        ...

    def index_snapshot_updates(self, msg: m.IndexSnapshot) -> bytes:
        """INDEX_SNAPSHOT's snapshot, as INDEX_UPDATES carries it."""
        ...

    def apply_docs(
        self, entries: tuple[tuple[bytes, bytes], ...], now: float, origin: str = ...
    ) -> tuple[tuple[bytes, bytes], ...]:
        """Import note updates; the entries that brought something new."""
        ...


def receive(engine: Applier, msg: Received, origin: str, sender: L, links: Iterable[L], now: float) -> list[tuple[L, Update]]:
    """Apply `msg`, received over `sender` from device `origin` at `now` (wall clock); what to send to whom.

    Index updates go on whole if they held anything new; of note updates only the entries
    that were new here go on. Nothing goes back over `sender`. The engine's errors (a
    full disk, an update that will not import) propagate: the caller closes the link. A
    peer's index as saved (INDEX_SNAPSHOT) goes on as INDEX_UPDATES carrying its snapshot,
    which every version reads (inflated only if there is a link to send it to)."""
    if isinstance(msg, m.IndexSnapshot):
        news = engine.adopt_index(msg, now, origin=origin)
        others = [other for other in links if other != sender]
        if not news or not others:
            return []
        update = m.IndexUpdates(engine.index_snapshot_updates(msg))
        return [(other, update) for other in others]
    if isinstance(msg, m.IndexUpdates):
        news = engine.apply_index(msg.blob, now, origin=origin)
    else:
        accepted = engine.apply_docs(msg.entries, now, origin=origin)
        msg = m.DocUpdates(accepted)  # forward only what was new here
        news = bool(accepted)
    if not news:
        return []
    return [(other, msg) for other in links if other != sender]


def fan_out(msgs: Iterable[Update], links: Iterable[L]) -> list[tuple[L, Update]]:
    """Local changes: each message (taken from the engine once) to every connected link."""
    targets = list(links)
    return [(link, msg) for msg in msgs for link in targets]
