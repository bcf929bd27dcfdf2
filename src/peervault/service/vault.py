"""The vault service: every operation a client can ask of a vault, implemented once.

It runs inside the daemon (the control API calls it, with the daemon as its `node`) or,
when no daemon runs, in the CLI's own process on the vault it has locked (`node` None).
Each method takes and returns plain JSON values, so the API and the CLI show the same.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ..config import Config
from ..crdt.entries import Entry
from ..errors import BadRequest, BadTicket, Conflict, NotFound, PeerVaultError
from ..sync.deleteguard import run_deletions_action
from ..vault.paths import check_remote_path
from . import history, settings
from .events import EventBus
from .status import collect, peer_rows

FILE_STATES = ("synced", "unpublished", "not_synced", "held")
MAX_LIMIT = 10_000


MIN_DEVICE_PREFIX = 4
MAX_TTL_S = 30 * 86400


def check_ttl(ttl: int) -> None:
    """A ticket's lifetime, checked before anything starts serving it."""
    if not 1 <= ttl <= MAX_TTL_S:
        raise BadRequest("ttl must be between 1 second and 30 days")


def device_prefix(device: str) -> str:
    """A device named by the start of its id: at least MIN_DEVICE_PREFIX characters, so that
    a slip (an empty argument, one letter) never removes whichever device it happens to match."""
    prefix = device.strip().lower()
    if len(prefix) < MIN_DEVICE_PREFIX:
        raise BadRequest(f"give at least {MIN_DEVICE_PREFIX} characters of the device's id (`peervault status` lists them)")
    return prefix


class Node(Protocol):
    """What only a running daemon can do."""

    def runtime(self) -> dict[str, Any]: ...  # the live figures daemon.json also gets
    def recorded(self) -> None: ...  # local changes were recorded: push them, refresh status
    def drop_device(self, peer: str) -> None: ...  # close its link and stop dialling it
    def endpoint_ticket(self) -> str: ...
    def dial(self, peer: str) -> None: ...  # a device was added: connect now
    def set_paused(self, paused: bool) -> None: ...
    def set_debounce(self, seconds: float) -> None: ...
    def switch_profile(self, cfg: Config) -> list[str]: ...  # apply its live settings; their names
    def samples(self) -> dict[str, Any]: ...  # the last hour's latency and traffic (metrics.Samples)
    def sync_now(self) -> None: ...
    def restart(self, before: Callable[[], None]) -> None: ...  # stop, run `before`, start again


class VaultService:
    """`engine` is the daemon's; in-process, `open_engine` locks the vault and loads one
    the first time an operation changes something (reading needs neither)."""

    def __init__(
        self,
        state: Any,
        cfg: Config,
        clock: Callable[[], float],
        engine: Any = None,
        node: Node | None = None,
        open_engine: Callable[[], Any] | None = None,
        events: EventBus | None = None,
    ) -> None:
        self.state = state
        self.cfg = cfg
        self.clock = clock
        self._engine = engine
        self._open_engine = open_engine
        self.node = node
        self.events = events if events is not None else EventBus()  # a daemon's since its start (daemon/importing.py)
        self.live: Any = None  # service/live.py's LiveNotes, set by the daemon
        self.debounce_ms = cfg.debounce_ms  # changed live by set_settings

    @property
    def engine(self) -> Any:
        if self._engine is None:
            if self._open_engine is None:
                raise RuntimeError("VaultService has no engine")
            self._engine = self._open_engine()
        return self._engine

    def _record(self, paths: set[str]) -> None:
        """What these paths hold now is recorded before an operation changes them."""
        self.engine.local_paths(paths, self.clock())

    def _recorded(self) -> None:
        if self.node is not None:
            self.node.recorded()

    # ------------------------------------------------------------------ reading
    def _entries(self) -> Mapping[str, Entry] | None:
        """The running engine's index entries; None where no engine runs here (then the
        services read those saved beside the index, never the index decoded in a daemon)."""
        return self._engine.entries if self._engine is not None else None

    def status(self) -> dict[str, Any]:
        return collect(self.state, self.node.runtime() if self.node else {}, self._entries())

    def peers(self) -> list[dict[str, Any]]:
        return peer_rows(self.state, self.node.runtime() if self.node else {})

    def files(self, state: str | None = None, offset: int = 0, limit: int = 1000) -> dict[str, Any]:
        if state is not None and state not in FILE_STATES:
            raise BadRequest(f"state must be one of {', '.join(FILE_STATES)}, not {state!r}")
        store = self.state.store
        unsynced = store.unsynced()
        held = {path for path, _, _ in store.held_deletions().values()}
        rows = []
        for fid, row in store.files().items():
            if row.path in held:
                st = "held"
            elif row.path in unsynced:
                st = "not_synced"
            else:
                st = "unpublished" if fid.startswith("u") else "synced"
            rows.append({"path": row.path, "file_id": fid, "size": row.size, "state": st, "reason": unsynced.get(row.path)})
        tracked = {r["path"] for r in rows}
        rows += [{"path": p, "file_id": None, "size": None, "state": "not_synced", "reason": r}
                 for p, r in unsynced.items() if p not in tracked]  # fmt: skip
        rows += [
            {"path": p, "file_id": None, "size": None, "state": "held", "reason": "deletion held"} for p in sorted(held - tracked)
        ]
        if state is not None:
            rows = [r for r in rows if r["state"] == state]
        rows.sort(key=lambda r: r["path"])
        limit = min(limit, MAX_LIMIT)
        ignored = self.status()["files"]["ignored"]
        return {"total": len(rows), "offset": offset, "files": rows[offset : offset + limit], "ignored": ignored}

    def history(self, path: str) -> list[dict[str, Any]]:
        return [
            {"version": v.number, "at": v.at, "device": v.origin, "size": v.size, "change": v.summary}
            for v in history.versions(self.state, path, self._entries())
        ]

    def version(self, path: str, n: int) -> dict[str, Any]:
        v = history.version(self.state, path, n, entries=self._entries())
        return {"version": v.number, "at": v.at, "device": v.origin, "size": v.size, "text": v.text, "blob": v.blob}

    def diff(self, path: str, n: int) -> dict[str, Any]:
        return history.diff(self.state, path, n, self._entries())

    def deleted(self) -> list[dict[str, Any]]:
        return history.deleted(self.state, self._entries())

    def deletions(self) -> list[dict[str, Any]]:
        return [
            {"file_id": fid, "path": path, "held_at": at, "reason": reason}
            for fid, (path, at, reason) in self.state.store.held_deletions().items()
        ]

    # ------------------------------------------------------------------ changing
    def restore(self, path: str, at: int | None = None) -> dict[str, Any]:
        try:
            check_remote_path(path)  # before the engine looks at it
        except PeerVaultError as exc:
            raise BadRequest(f"{path!r} is not a path inside a vault: {exc}") from None
        if self.engine.ignore.ignored_here(path):  # the file there is this device's own: never written over
            raise Conflict(
                f"{path} is ignored on this device (.peervault/ignore), so PeerVault never writes it here; "
                "remove the rule first, or restore it on another device"
            )
        self._record({path})
        chosen = history.restore(self.state, path, at, self.engine, self.clock())
        self._record({path})  # the restored text is a new edit, sent to every device
        self._recorded()
        return {"path": path, "version": chosen.number, "at": chosen.at, "device": chosen.origin, "from_peer": chosen.from_peer}

    def forget(self, device: str) -> dict[str, Any]:
        device = device_prefix(device)
        matches = [p.endpoint_id for p in self.state.store.peers() if p.endpoint_id.startswith(device)]
        if not matches:
            raise NotFound(f"no paired device {device!r} in {self.state.root}; `peervault status` lists them")
        if len(matches) > 1:
            raise BadRequest(f"{device!r} matches {len(matches)} devices; give more of its id")
        peer = matches[0]
        self.engine.forget_device(peer)
        if self.node is not None:
            self.node.drop_device(peer)
        self._recorded()
        return {"device": peer}

    def _held_action(self, action: str) -> dict[str, Any]:
        done = run_deletions_action(self.engine, action, self.clock())
        self._recorded()
        return done

    def apply_deletions(self) -> dict[str, Any]:
        return self._held_action("apply")

    def restore_deletions(self) -> dict[str, Any]:
        return self._held_action("restore")

    def gc(self) -> dict[str, int]:
        _ = self.engine  # in-process: the vault is locked first (no daemon adds versions meanwhile)
        return history.gc(self.state, self.cfg, self.clock(), self._entries())

    def pause(self) -> dict[str, bool]:
        return self._set_paused(True)

    def resume(self) -> dict[str, bool]:
        return self._set_paused(False)

    def _set_paused(self, paused: bool) -> dict[str, bool]:
        changed = bool(self.state.store.get_meta("paused")) != paused
        self.state.store.set_meta("paused", 1 if paused else None)
        if self.node is not None and changed:  # pausing twice is one pause (one event)
            self.node.set_paused(paused)
            self.events.publish("paused" if paused else "resumed", self.clock())
        return {"paused": paused}

    def samples(self) -> dict[str, Any]:
        return self._need_daemon("show the last hour's samples", "start it with `peervault run VAULT`").samples()

    def settings(self) -> dict[str, Any]:
        return settings.shown(self.state, self.cfg, self.debounce_ms, live=self.node is not None)

    def set_settings(self, profile: str | None = None, debounce_ms: int | None = None) -> dict[str, Any]:
        """`applied`: the settings that changed at once; `next_start` (in settings()): the
        saved ones that wait for the daemon's next start."""
        settings.save(self.state, profile, debounce_ms)
        applied: list[str] = []
        if profile is not None and profile != self.cfg.profile and self.node is not None:
            applied = self.node.switch_profile(settings.profile_config(self.state, profile, self.cfg))
        if debounce_ms is not None:
            self.debounce_ms = debounce_ms
            if self.node is not None:
                self.node.set_debounce(debounce_ms / 1000)
                applied = sorted({*applied, "debounce_ms"})
        return {**self.settings(), "applied": applied}

    def sync_now(self) -> dict[str, Any]:
        node = self._need_daemon("sync now", "`peervault sync VAULT` syncs once without one")
        node.sync_now()
        return {"dialling": [p.endpoint_id for p in self.state.store.peers()]}

    def invite(self, ttl: int = 3600) -> dict[str, Any]:
        from ..protocol.ticket import Ticket, encode_ticket

        node = self._need_daemon("create an invite", "`peervault invite VAULT` waits for the other device itself")
        check_ttl(ttl)
        secret = secrets.token_bytes(16)
        expires = int(self.clock() + ttl)
        self.state.store.add_invite(secret, expires)
        ticket = Ticket(bytes.fromhex(self.state.vault_id), secret, expires, node.endpoint_ticket())
        return {"ticket": encode_ticket(ticket), "expires_at": expires}

    def join(self, ticket: str) -> dict[str, Any]:
        """Pair with the ticket's device. A vault never paired takes the other vault's
        identity (its notes are kept and reconciled), which needs the engine restarted."""
        node = self._need_daemon("join", "`peervault join VAULT TICKET` pairs without one")
        inviter, addrs, t = check_ticket(self.state, ticket, self.clock())
        store = self.state.store
        if not needs_new_identity(self.state, t.vault_id.hex()):
            store.add_peer(inviter, addrs, t.secret)
            node.dial(inviter)
            return {"device": inviter, "restarting": False}

        def take_identity() -> None:  # once the engine has stopped: nothing writes the old ids
            store.reset_for_join(t.vault_id.hex())
            store.add_peer(inviter, addrs, t.secret)

        node.restart(take_identity)
        return {"device": inviter, "restarting": True}

    # ------------------------------------------------------------------ live editors (service/live.py)
    def _live(self) -> Any:
        if self.live is None:
            raise Conflict(f"no daemon runs for {self.state.root}: live editing needs `peervault run`")
        return self.live

    def live_open(self, path: str, client: str) -> dict[str, Any]:
        return dict(self._live().open(path, client))

    def live_update(self, path: str, client: str, update: str) -> dict[str, Any]:
        done = dict(self._live().update(path, client, update))
        if done["applied"]:
            self._recorded()
        return done

    def live_presence(self, path: str, client: str, data: str) -> dict[str, Any]:
        return dict(self._live().presence(path, client, data))

    def live_close(self, path: str, client: str) -> dict[str, Any]:
        return dict(self._live().close(path, client))

    def _need_daemon(self, what: str, instead: str) -> Node:
        if self.node is None:
            raise Conflict(f"no daemon runs for {self.state.root}, so it cannot {what}; {instead}")
        return self.node


def check_ticket(state: Any, ticket: str, now: float) -> tuple[str, list[str], Any]:
    """(inviter, its addresses, the decoded ticket), or the error a person can act on."""
    import time

    from ..net.endpoint import parse_endpoint_ticket
    from ..protocol.ticket import decode_ticket

    t = decode_ticket(ticket)
    if t.expires_at < now:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(t.expires_at))
        raise BadTicket(f"the ticket expired at {when}; ask for a new one with `peervault invite`")
    inviter, addrs = parse_endpoint_ticket(t.endpoint)
    if inviter == state.device_id:
        raise BadTicket(
            "this ticket was printed by this same device id; run `join` on the other device "
            "(for a second copy on this machine, make it with `peervault init --own-id DIR`)"
        )
    return inviter, addrs, t


def needs_new_identity(state: Any, vault_id: str) -> bool:
    """Joining another vault: allowed only to a vault never paired (it takes the other
    vault's identity, keeping its notes to reconcile), refused to one already in a vault."""
    if state.vault_id == vault_id:
        return False
    if any(p.pair_secret is None for p in state.store.peers()):
        raise Conflict(f"{state.root} is already paired into another vault; use a fresh folder to join this one")
    return True
