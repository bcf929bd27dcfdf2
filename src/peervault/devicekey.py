"""The per-user device key: one Iroh identity that every vault holding it shares, so one
daemon serves them all on one endpoint (daemon/router.py) instead of one per vault.

    $PEERVAULT_DATA_DIR/device.key                 if set (tests give each device its own)
    $XDG_DATA_HOME/peervault/device.key            else, default ~/.local/share/peervault/
    ~/Library/Application Support/peervault/device.key   on macOS

beside it `endpoint-port`, the UDP port the shared endpoint listened on last (tickets and
peers know it), and `endpoint.lock`, held by the one daemon that serves the shared endpoint
(two endpoints with one id would each be refused the other's vaults). The key is 32 bytes, mode 0600, created by `peervault vaults add` the first
time; a vault takes it by holding the same bytes in its own `.peervault/secret.key` (so a
lost per-user file never changes a vault's device id). A vault's device id is what its
peers paired with, so only a vault nobody knows yet takes the key: `init` while the key
exists, `vaults add` of a vault with no device paired or invited. A vault with a key of its
own keeps it, and its own endpoint, until a migration (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import sys
from collections.abc import Mapping
from pathlib import Path

from .errors import PeerVaultError, VaultBusy
from .net.endpoint import new_secret_key
from .userconfig import user_folder

ENV = "PEERVAULT_DATA_DIR"
KEY = "device.key"
PORT = "endpoint-port"
LOCK = "endpoint.lock"


def data_dir(env: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """Where the per-user key lives on this system (`env`, `platform`: tests pass their own)."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if env.get(ENV):
        return Path(env[ENV]).expanduser().absolute()
    return user_folder(env, platform, "XDG_DATA_HOME", ".local/share")


def load(d: Path | None = None) -> bytes | None:
    """The per-user key, or None when there is none yet."""
    path = (d or data_dir()) / KEY
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PeerVaultError(f"{path} is readable by other users; run `chmod 600 {path}`")
    key = path.read_bytes()
    if len(key) != 32:
        raise PeerVaultError(f"{path} is damaged (expected 32 bytes, found {len(key)}); vaults holding it keep their ids")
    return key


def ensure(d: Path | None = None) -> bytes:
    """The per-user key, made now if there is none (written whole, or not at all)."""
    d = d or data_dir()
    key = load(d)
    if key is not None:
        return key
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = d / (KEY + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(new_secret_key())
        f.flush()
        os.fsync(f.fileno())
    try:
        with contextlib.suppress(FileExistsError):
            os.link(tmp, d / KEY)  # never replaces a key another process made meanwhile
    finally:
        tmp.unlink()
    made = load(d)
    if made is None:
        raise PeerVaultError(f"cannot create {d / KEY}")
    return made


def last_port(d: Path | None = None) -> int | None:
    try:
        return int(((d or data_dir()) / PORT).read_text().strip())
    except (OSError, ValueError):
        return None


def save_port(port: int, d: Path | None = None) -> None:
    d = d or data_dir()
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / (PORT + ".tmp")
    tmp.write_text(f"{port}\n")
    os.replace(tmp, d / PORT)


def lock_endpoint(d: Path | None = None) -> int:
    """Hold the shared endpoint for this process (the fd; closing it lets go): one daemon
    per user serves every vault with the per-user key."""
    d = d or data_dir()
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(d / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise VaultBusy(
            "another PeerVault daemon serves the vaults with this device's shared id; "
            "serve this vault there (`peervault vaults add VAULT`, then restart it), or stop that daemon"
        ) from None
    return fd
