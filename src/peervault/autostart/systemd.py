"""The systemd user unit, as text: what `service install` writes on Linux (pure functions,
tested by content and by `systemd-analyze verify`).

The unit runs this installation's interpreter (`python -m peervault run`, the venv's own
path: no PATH lookup, no console script that may belong to another install) on the vault
list named by PEERVAULT_CONFIG, so `peervault vaults add` and a restart serve a new vault
without installing again. Output goes to the journal (`journalctl --user -u peervault`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..errors import PeerVaultError

UNIT = "peervault.service"
_SPECIAL = set(" \t\n\"\\'")
_UNSAFE = set("\"'\\$")  # systemd refuses these in the executable's path (it allows spaces and %)


def unit_path(home: Path, env: Mapping[str, str]) -> Path:
    """Where systemd looks for the user's own units ($XDG_CONFIG_HOME/systemd/user)."""
    xdg = env.get("XDG_CONFIG_HOME", "")
    base = Path(xdg) if xdg.startswith("/") else home / ".config"
    return base / "systemd" / "user" / UNIT


def _escape(value: str, variables: bool = True) -> str:
    """systemd expands `%` specifiers everywhere, and `$` variables in ExecStart."""
    value = value.replace("%", "%%")
    return value.replace("$", "$$") if variables else value


def quote(arg: str, variables: bool = True) -> str:
    """One word as systemd splits a command line or an assignment (double quotes, C escapes)."""
    arg = _escape(arg, variables)
    if arg and not _SPECIAL & set(arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def unit_text(command: list[str], config_file: Path) -> str:
    """The whole unit: restarted on failure (not after a clean stop), logs to the journal,
    started with the user's session (default.target)."""
    if _UNSAFE & set(command[0]) or any(ord(c) < 32 for c in command[0]):
        raise PeerVaultError(
            f"systemd cannot start a program whose path contains quotes, backslashes or '$': {command[0]}; "
            "install PeerVault in a folder without them"
        )
    return "\n".join(
        [
            "# Written by `peervault service install`; `peervault service uninstall` removes it.",
            "[Unit]",
            f"Description=PeerVault: peer-to-peer sync of the vaults listed in {_escape(str(config_file), False)}",
            "",
            "[Service]",
            "Type=exec",
            "ExecStart=" + " ".join(quote(a) for a in command),
            "Environment=" + quote(f"PEERVAULT_CONFIG={config_file}", variables=False),
            "Environment=PYTHONUNBUFFERED=1",
            "Restart=on-failure",
            "RestartSec=5",
            "StandardOutput=journal",
            "StandardError=journal",
            "# each vault pushes what is pending and waits (2 s at most) for its peers to confirm",
            "TimeoutStopSec=30",
            "",
            "[Install]",
            "WantedBy=default.target",
            "",
        ]
    )
