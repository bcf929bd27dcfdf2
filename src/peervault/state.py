"""A vault on disk: `.peervault/` with its database, identity key, lock and runtime file.

VAULT/.peervault/state.db       SQLite (WAL): notes, index, peers, invites
VAULT/.peervault/secret.key     the device's Iroh secret key, mode 0600: the vault's own, or a copy
                                of the per-user device key (devicekey.py) for a vault sharing the endpoint
VAULT/.peervault/lock           flock held by the process that runs the engine
VAULT/.peervault/daemon.json    what a running daemon last reported (rewritten within a second of a change)
VAULT/.peervault/control.sock   the running daemon's control API (api/), the owner's alone
VAULT/.peervault/api-token      the token for the API over loopback TCP, mode 0600
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import stat
import sys
import time
from pathlib import Path
from typing import Any

from .config import STATE_DIR
from .errors import NotAVault, PeerVaultError, StoreCorrupt, VaultBusy
from .net.endpoint import endpoint_id_of, new_secret_key
from .store.db import Store
from .vault.fsops import lock_dir

IDENTITY = "identity.json"


def _rebuild(d: Path, why: str) -> Store:
    """A damaged database: set it aside and start a fresh one with the vault's id and paired
    devices (from identity.json). The notes on disk are not touched: like a device joining
    with a copy, they are matched with the peers' versions at the next sync (identical text
    adopted, differing text merged), and the index comes back from the peers."""
    db = d / "state.db"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for suffix in ("", "-wal", "-shm"):
        src = d / f"state.db{suffix}"
        if src.exists():
            os.replace(src, d / f"state.db{suffix}.damaged-{stamp}")
    try:
        identity = json.loads((d / IDENTITY).read_text())
    except (OSError, ValueError):
        identity = {}
    store = Store(db)
    store.set_meta("vault_id", identity.get("vault_id") or secrets.token_hex(16))
    store.set_meta("published", 0 if identity.get("peers") else 1)
    for peer in identity.get("peers", []):
        store.add_peer(str(peer["id"]), [str(a) for a in peer.get("addrs", [])])
    print(  # noqa: T201 - one line for the user, before logging is set up
        f"warning: {why}; it was moved to state.db.damaged-{stamp} and rebuilt: your notes are untouched, "
        f"and {len(identity.get('peers', []))} paired device(s) will resend the rest",
        file=sys.stderr,
    )
    return store


class VaultState:
    def __init__(self, root: Path, store: Store, secret_key: bytes) -> None:
        self.root = root
        self.store = store
        self.secret_key = secret_key
        self.device_id = endpoint_id_of(secret_key)
        self._lock_fd: int | None = None
        store.on_peers_changed = self.save_identity

    @property
    def dir(self) -> Path:
        return self.root / STATE_DIR

    @staticmethod
    def init(root: Path, device_key: bytes | None = None) -> tuple[VaultState, bool]:
        """Make `root` a vault (harmless if it already is one). Returns (state, created).
        `device_key`: the per-user key a new vault takes (it shares the endpoint); None: a key of its own."""
        root = root.resolve()
        if root.exists() and not root.is_dir():
            raise PeerVaultError(f"{root} is a file, not a folder")
        d = root / STATE_DIR
        created = not (d / "state.db").exists()
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d, 0o700)  # the key, the database and the daemon's runtime file: the owner's alone
        key_path = d / "secret.key"
        if not key_path.exists():
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(device_key or new_secret_key())
                f.flush()
                os.fsync(f.fileno())
        store = Store(d / "state.db")
        if store.get_meta("vault_id") is None:
            store.set_meta("vault_id", secrets.token_hex(16))
            store.set_meta("published", 1)
        store.close()
        state = VaultState.open(root)
        state.save_identity()
        return state, created

    @staticmethod
    def open(root: Path) -> VaultState:
        root = root.resolve()
        d = root / STATE_DIR
        key_path = d / "secret.key"
        if not (d / "state.db").exists() or not key_path.exists():
            raise NotAVault(f"{root} is not a PeerVault vault; run `peervault init {root}` first")
        mode = key_path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise PeerVaultError(f"{key_path} is readable by other users; run `chmod 600 {key_path}`")
        key = key_path.read_bytes()
        if len(key) != 32:
            raise PeerVaultError(f"{key_path} is damaged (expected 32 bytes, found {len(key)})")
        try:
            store = Store(d / "state.db")
        except StoreCorrupt as exc:
            store = _rebuild(d, str(exc))
        state = VaultState(root, store, key)
        if not (d / IDENTITY).exists():
            state.save_identity()  # a vault made before identity.json existed
        return state

    def save_identity(self) -> None:
        """What a damaged database cannot lose: the vault's id and the paired devices, kept
        beside it (written atomically whenever they change)."""
        doc = {
            "vault_id": self.store.get_meta("vault_id"),
            "peers": [{"id": p.endpoint_id, "addrs": p.addrs} for p in self.store.peers() if p.pair_secret is None],
        }
        tmp = self.dir / (IDENTITY + ".tmp")
        tmp.write_text(json.dumps(doc, indent=1))
        os.replace(tmp, self.dir / IDENTITY)

    def take_device_key(self, key: bytes, now: float) -> str | None:
        """Give this vault the per-user key, so it shares the endpoint: only while no device
        knows its current id (its peers paired with it; an invite carries it). The caller
        holds the lock (no daemon runs on it). None when done, else why it keeps its own."""
        if key == self.secret_key:
            return None
        peers = self.store.peers()
        if peers:
            return f"it is paired with {len(peers)} device(s), which know its device id"
        if self.store.open_invites(now):
            return "an unexpired invite names its device id"
        if self.store.get_meta("removed_from_vault"):
            return "it was in a vault whose devices know its device id"
        self.write_key(key)
        return None

    def write_key(self, key: bytes) -> None:
        """Replace the vault's key (and so its device id) atomically: the old key or the new
        one, never half of either. Only `take_device_key` and a confirmed move call it."""
        path = self.dir / "secret.key"
        tmp = self.dir / "secret.key.tmp"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # the old key or the new one, never half of either
        dfd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        self.secret_key = key
        self.device_id = endpoint_id_of(key)

    @property
    def vault_id(self) -> str:
        return str(self.store.get_meta("vault_id"))

    def lock(self, held: int | None = None) -> None:
        """Only one engine per vault: a second daemon (or `sync` beside `run`) is refused.
        `held`: the lock, taken already by this process (sync/firstimport.start_early)."""
        fd = held if held is not None else lock_dir(self.dir)
        if fd is None:
            pid = (self.runtime() or {}).get("pid", "?")
            raise VaultBusy(f"a PeerVault daemon (pid {pid}) is already running on {self.root}; stop it first") from None
        self._lock_fd = fd

    def daemon_running(self) -> bool:
        fd = lock_dir(self.dir)
        if fd is None:
            return True
        os.close(fd)
        return False

    def write_runtime(self, doc: dict[str, Any]) -> None:
        tmp = self.dir / "daemon.json.tmp"
        tmp.write_text(json.dumps(doc, indent=1))
        os.replace(tmp, self.dir / "daemon.json")

    def runtime(self) -> dict[str, Any] | None:
        return read_runtime(self.dir) or None

    def close(self) -> None:
        self.store.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def read_runtime(state_dir: Path) -> dict[str, Any]:
    """What a daemon last wrote to `daemon.json` ({} if none)."""
    try:
        return dict(json.loads((state_dir / "daemon.json").read_text()))
    except (OSError, ValueError):
        return {}
