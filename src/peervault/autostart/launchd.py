"""The launchd agent, as a property list: what `service install` writes on macOS (pure
functions; the tests parse it with plistlib on any OS).

RunAtLoad starts it at login; KeepAlive restarts it only after a failure (a clean stop
stays stopped); output goes to ~/Library/Logs/PeerVault/peervault.log. Like the systemd
unit, it runs this installation's interpreter on the vault list of PEERVAULT_CONFIG.
"""

from __future__ import annotations

import plistlib
from pathlib import Path

LABEL = "org.peervault.daemon"


def plist_path(home: Path) -> Path:
    return home / "Library" / "LaunchAgents" / f"{LABEL}.plist"


def log_dir(home: Path) -> Path:
    return home / "Library" / "Logs" / "PeerVault"


def plist_text(command: list[str], config_file: Path, logs: Path) -> str:
    doc = {
        "Label": LABEL,
        "ProgramArguments": command,
        "EnvironmentVariables": {"PEERVAULT_CONFIG": str(config_file), "PYTHONUNBUFFERED": "1"},
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},  # restarted after a crash or an error exit only
        "ThrottleInterval": 10,  # at most one restart every 10 s
        "StandardOutPath": str(logs / "peervault.log"),
        "StandardErrorPath": str(logs / "peervault.log"),
        "ExitTimeOut": 30,  # each vault pushes what is pending before it stops
    }
    return plistlib.dumps(doc, sort_keys=False).decode("utf-8")
