"""The per-user vault list: which vaults `peervault run` (and the service) serves when no
VAULT is named, so adding a vault is `peervault vaults add` and a restart, not a new unit.

    $PEERVAULT_CONFIG                          if set (the service's unit names the file it was
                                               installed with; tests use it too)
    $XDG_CONFIG_HOME/peervault/config.toml     else, default ~/.config/peervault/config.toml
    ~/Library/Application Support/peervault/config.toml   on macOS

The process-wide control API (every vault of a `peervault run` process: api/registry.py)
listens on `control.sock` in the per-user runtime folder, `runtime_dir()`:

    $PEERVAULT_RUNTIME_DIR                     if set (tests)
    $XDG_RUNTIME_DIR/peervault                 else, on Linux normally /run/user/UID/peervault
    /run/user/UID/peervault                    else, if that folder is the user's own (a `su` or
                                               SSH login without XDG_RUNTIME_DIR finds the
                                               service's socket there too)
    the config file's folder                   else (macOS, or no runtime folder)

The file is TOML: `vaults = ["/abs/path", ...]`. It is rewritten whole (atomically) by
`vaults add|remove`; a key PeerVault does not know is refused rather than dropped.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path

from .errors import PeerVaultError

ENV = "PEERVAULT_CONFIG"
RUNTIME_ENV = "PEERVAULT_RUNTIME_DIR"
KNOWN = ("vaults",)


def user_folder(env: Mapping[str, str], platform: str, xdg: str, default: str) -> Path:
    """PeerVault's folder of one kind for this user: `$xdg/peervault` (XDG_CONFIG_HOME,
    XDG_DATA_HOME) or `~/default/peervault` on Linux, Application Support on macOS."""
    home = Path(env.get("HOME") or Path.home())
    if platform == "darwin":
        return home / "Library" / "Application Support" / "peervault"
    base = Path(env[xdg]) if env.get(xdg, "").startswith("/") else home / default
    return base / "peervault"


def config_path(env: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """Where the vault list lives on this system (`env`, `platform`: tests pass their own)."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if env.get(ENV):
        return Path(env[ENV]).expanduser().absolute()
    return user_folder(env, platform, "XDG_CONFIG_HOME", ".config") / "config.toml"


def runtime_dir(env: Mapping[str, str] | None = None, platform: str | None = None, run_user: Path = Path("/run/user")) -> Path:
    """Where the process-wide API's socket, lock and token live (made 0700 by the daemon).
    `run_user`: where systemd makes each user's runtime folder (tests pass their own)."""
    env = os.environ if env is None else env
    if env.get(RUNTIME_ENV):
        return Path(env[RUNTIME_ENV]).expanduser().absolute()
    if env.get("XDG_RUNTIME_DIR", "").startswith("/"):
        return Path(env["XDG_RUNTIME_DIR"]) / "peervault"
    if (platform or sys.platform).startswith("linux") and _own_private(mine := run_user / str(os.getuid())):
        return mine / "peervault"  # a login without XDG_RUNTIME_DIR: where the service's socket is
    return config_path({k: v for k, v in env.items() if k != ENV}, platform).parent


def _own_private(folder: Path) -> bool:
    """`folder` is a directory of this user's that no one else may enter (as systemd makes it)."""
    try:
        st = folder.stat()
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077


def load_vaults(path: Path) -> list[Path]:
    """The listed vaults, in order ([] when the file does not exist)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise PeerVaultError(f"cannot read {path}: {exc.strerror}") from None
    try:
        doc = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PeerVaultError(f"{path}: not valid TOML ({exc}); fix it or remove it") from None
    unknown = set(doc) - set(KNOWN)
    if unknown:
        raise PeerVaultError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}; known: {', '.join(KNOWN)}")
    vaults = doc.get("vaults", [])
    if not isinstance(vaults, list) or not all(isinstance(v, str) and v.startswith("/") for v in vaults):
        raise PeerVaultError(f'{path}: `vaults` must be a list of absolute paths, e.g. vaults = ["/home/me/Notes"]')
    return [Path(v) for v in vaults]


def render(vaults: list[Path]) -> str:
    """The file's text. JSON's string escapes are a subset of TOML's basic strings."""
    lines = ["# PeerVault: the vaults `peervault run` serves (edit with `peervault vaults add|remove`)", "vaults = ["]
    lines += [f"  {json.dumps(str(v))}," for v in vaults]
    return "\n".join([*lines, "]", ""])


def save_vaults(path: Path, vaults: list[Path]) -> None:
    """Write the list atomically: a crash leaves the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(render(vaults))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def add(path: Path, vault: Path) -> bool:
    """Append `vault` (absolute); False if it was listed already."""
    vaults = load_vaults(path)
    if vault in vaults:
        return False
    save_vaults(path, [*vaults, vault])
    return True


def remove(path: Path, vault: Path) -> bool:
    """Drop `vault`; False if it was not listed."""
    vaults = load_vaults(path)
    if vault not in vaults:
        return False
    save_vaults(path, [v for v in vaults if v != vault])
    return True
