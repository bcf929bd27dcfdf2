"""The paired devices and the open invites: `Store`'s rows of who may connect, on its
connection; `on_peers_changed` tells the vault's state (it keeps a copy outside)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class PeerRow:
    endpoint_id: str
    addrs: list[str]
    pair_secret: bytes | None
    added_at: float
    last_seen: float | None


class PeerTables:
    db: sqlite3.Connection
    on_peers_changed: Callable[[], None]

    # -- peers ---------------------------------------------------------------------------
    def peers(self) -> list[PeerRow]:
        rows = self.db.execute("SELECT endpoint_id, addrs, pair_secret, added_at, last_seen FROM peers ORDER BY added_at")
        return [PeerRow(r[0], json.loads(r[1]), None if r[2] is None else bytes(r[2]), r[3], r[4]) for r in rows]

    def peer(self, endpoint_id: str) -> PeerRow | None:
        return next((p for p in self.peers() if p.endpoint_id == endpoint_id), None)

    def add_peer(self, endpoint_id: str, addrs: list[str], pair_secret: bytes | None = None) -> None:
        self.db.execute(
            "INSERT INTO peers(endpoint_id, addrs, pair_secret, added_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(endpoint_id) DO UPDATE SET addrs=excluded.addrs, pair_secret=excluded.pair_secret",
            (endpoint_id, json.dumps(addrs), pair_secret, time.time()),
        )
        self.on_peers_changed()

    def update_peer(self, endpoint_id: str, *, addrs: list[str] | None = None, seen: bool = False, paired: bool = False) -> None:
        if addrs:
            self.db.execute("UPDATE peers SET addrs=? WHERE endpoint_id=?", (json.dumps(addrs), endpoint_id))
        if seen:
            self.db.execute("UPDATE peers SET last_seen=? WHERE endpoint_id=?", (time.time(), endpoint_id))
        if paired:
            self.db.execute("UPDATE peers SET pair_secret=NULL WHERE endpoint_id=?", (endpoint_id,))
        if paired or addrs:
            self.on_peers_changed()

    def remove_unpaired_peer(self, endpoint_id: str) -> None:
        """A pairing that failed (the inviter refused the ticket): forget the half-added device."""
        self.db.execute("DELETE FROM peers WHERE endpoint_id=? AND pair_secret IS NOT NULL", (endpoint_id,))
        self.on_peers_changed()

    def remove_peer(self, endpoint_id: str) -> None:
        self.db.execute("DELETE FROM peers WHERE endpoint_id=?", (endpoint_id,))
        self.on_peers_changed()

    # -- invites -------------------------------------------------------------------------
    def add_invite(self, secret: bytes, expires_at: float) -> None:
        self.db.execute("INSERT INTO invites(secret, expires_at) VALUES (?, ?)", (secret, expires_at))

    def open_invites(self, now: float) -> int:
        """Invites still usable: each names this device's current id."""
        row = self.db.execute("SELECT COUNT(*) FROM invites WHERE used_by IS NULL AND expires_at>?", (now,)).fetchone()
        return int(row[0])

    def redeem_invite(self, secret: bytes, endpoint_id: str, now: float) -> bool:
        """Single use: true only for an unexpired, unused secret, which it marks used."""
        cur = self.db.execute(
            "UPDATE invites SET used_by=? WHERE secret=? AND used_by IS NULL AND expires_at>?",
            (endpoint_id, secret, now),
        )
        return cur.rowcount == 1
