"""Live co-editing: editors (the Obsidian plugin) bound to notes' Loro documents.

An editor opens a note (`open`: it gets the note's snapshot), sends each change as a
Loro update (`update`: imported, written to the file and sent to every device at once),
and its cursor as EphemeralStore bytes (`presence`: relayed to the other editors here and
on the other devices, never stored). Changes from elsewhere reach it as `live_update`
events, cursors as `presence` events; `from` names the client or device, so an editor
skips its own. A binding is a lease: any call renews it, and a client that goes silent
for LEASE_S lets go (a closed laptop lid, a crashed plugin), after which the note is an
ordinary file again (sync/live.py says what that means for the file).
"""

from __future__ import annotations

import base64
import binascii
import socket
from collections.abc import Callable
from typing import Any, Protocol

from ..errors import BadRequest, Conflict, NotFound, PeerVaultError
from ..vault.paths import check_remote_path
from .events import EventBus

LEASE_S = 15.0
MAX_CLIENTS = 64  # editors bound at once on one daemon: far above one person's windows


class LiveNode(Protocol):
    def push_now(self, file_id: str) -> None: ...  # send a note's pending change to every peer now
    def send_presence(self, file_id: str, data: bytes) -> None: ...
    def call_later(self, delay: float, fn: Callable[[], None]) -> None: ...


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(name: str, value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"parameter {name!r} must be base64") from None


class LiveNotes:
    def __init__(self, engine: Any, node: LiveNode, events: EventBus, clock: Callable[[], float], device_id: str) -> None:
        self.engine = engine
        self.node = node
        self.events = events
        self.clock = clock  # wall clock: lease expiries and event times
        self.device_id = device_id
        self.device_name = socket.gethostname()
        self.leases: dict[str, dict[str, float]] = {}  # file_id -> client -> lease expiry
        self._expiry_due = False  # a timer runs only while some lease exists: nothing when idle

    def _note(self, path: str) -> str:
        try:
            check_remote_path(path)
        except PeerVaultError as exc:
            raise BadRequest(f"{path!r} is not a path inside a vault: {exc}") from None
        file_id = self.engine.file_id_at.get(path)
        if file_id is None and self.engine.ignore.ignored_here(path):
            raise Conflict(f"{path} is ignored on this device (.peervault/ignore): it is not synced, so not edited live")
        if file_id is None:
            raise NotFound(f"{path} is not a note this device tracks (yet); save it once, then open it again")
        entry = self.engine.entries.get(file_id)
        if entry is not None and entry.kind == "blob":
            raise Conflict(f"{path} is a binary file: only text notes can be edited live")
        return str(file_id)

    def _renew(self, file_id: str, client: str) -> None:
        held = self.leases.setdefault(file_id, {})
        if client not in held and sum(len(c) for c in self.leases.values()) >= MAX_CLIENTS:
            raise Conflict(f"{MAX_CLIENTS} editors are bound already; close some notes")
        held[client] = self.clock() + LEASE_S
        if not self._expiry_due:
            self._expiry_due = True
            self.node.call_later(LEASE_S / 3, self.expire)

    def open(self, path: str, client: str) -> dict[str, Any]:
        file_id = self._note(path)
        self._renew(file_id, client)
        snapshot = self.engine.bind_live(file_id)
        return {"file_id": file_id, "snapshot": b64(snapshot), "device_id": self.device_id, "device_name": self.device_name}

    def update(self, path: str, client: str, update: str) -> dict[str, Any]:
        file_id = self._note(path)
        self._renew(file_id, client)
        data = unb64("update", update)
        applied = self.engine.apply_editor(file_id, data, self.clock())
        if applied:
            self.node.push_now(file_id)
            self.events.publish("live_update", self.clock(), path=path, file_id=file_id, update=update, **{"from": client})
        return {"applied": applied}

    def presence(self, path: str, client: str, data: str) -> dict[str, Any]:
        file_id = self._note(path)
        self._renew(file_id, client)
        raw = unb64("data", data)
        self.node.send_presence(file_id, raw)
        self.events.publish("presence", self.clock(), path=path, file_id=file_id, data=data, **{"from": client})
        return {}

    def close(self, path: str, client: str) -> dict[str, Any]:
        file_id = self._note(path)
        held = self.leases.get(file_id, {})
        held.pop(client, None)
        if not held:
            self._release(file_id)
        return {}

    def expire(self) -> None:
        """Let go of the leases nobody renewed (every LEASE_S / 3 while any exist)."""
        self._expiry_due = False
        now = self.clock()
        for file_id, held in list(self.leases.items()):
            for client, until in list(held.items()):
                if until < now:
                    del held[client]
            if not held:
                self._release(file_id)
        if self.leases:
            self._expiry_due = True
            self.node.call_later(LEASE_S / 3, self.expire)

    def _release(self, file_id: str) -> None:
        self.leases.pop(file_id, None)
        self.engine.unbind_live(file_id, self.clock())

    # ------------------------------------------------------------------ from the devices
    def from_peers(self, device: str) -> None:
        """Updates peers sent for live notes: to the editors, as events."""
        for file_id, update in self.engine.take_live():
            self._publish_to_editors("live_update", file_id, device, update=b64(update))

    def presence_from(self, device: str, file_id: str, data: bytes) -> None:
        if file_id in self.leases:
            self._publish_to_editors("presence", file_id, device, data=b64(data))

    def _publish_to_editors(self, kind: str, file_id: str, device: str, **fields: Any) -> None:
        entry = self.engine.entries.get(file_id)
        path = entry.path if entry is not None else None
        self.events.publish(kind, self.clock(), path=path, file_id=file_id, **fields, **{"from": device})
