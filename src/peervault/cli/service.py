"""`peervault service install|uninstall|status`: run PeerVault with the user's session on
the vaults of `peervault vaults list` (autostart/ writes the files and talks to systemd or
launchd)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from .. import userconfig
from .console import err, out
from .vaults import describe

# `service status` exit codes, as systemctl's and LSB's: 0 running, 3 not running, 4 unknown
RUNNING, NOT_RUNNING, NOT_INSTALLED = 0, 3, 4


def _manager() -> Any:
    from ..autostart.manager import Manager, daemon_command, target

    return Manager(target(sys.platform, Path.home(), os.environ, userconfig.config_path(), daemon_command()))


@click.group()
def service() -> None:
    """Start PeerVault with your session (systemd user unit on Linux, launchd agent on macOS)."""


@service.command()
@click.option("--no-start", is_flag=True, help="Enable it for the next login, but do not start it now.")
def install(no_start: bool) -> None:
    """Write and enable the service: `peervault run` on the listed vaults, restarted on failure."""
    path = userconfig.config_path()
    vaults = userconfig.load_vaults(path)  # a broken list is reported now, not by a failing service
    for line in _manager().install(start=not no_start):
        err.print(line, highlight=False, soft_wrap=True)
    if not vaults:
        err.print(
            f"[yellow]warning:[/] no vaults listed in {path} yet: `peervault vaults add VAULT`, then restart the service",
            highlight=False,
            soft_wrap=True,
        )


@service.command()
def uninstall() -> None:
    """Stop, disable and remove the service (vaults and the vault list stay)."""
    for line in _manager().uninstall():
        err.print(line, highlight=False, soft_wrap=True)


def _yes(value: bool | None, unknown: str) -> str:
    return unknown if value is None else "yes" if value else "no"


@service.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(as_json: bool) -> None:
    """Installed? enabled? running? which vaults. Exit code 0 running, 3 not running (or
    unknown), 4 not installed."""
    path = userconfig.config_path()
    doc = _manager().status()
    doc["config"] = str(path)
    doc["vaults"] = [describe(v) for v in userconfig.load_vaults(path)]
    code = NOT_INSTALLED if not doc["installed"] else RUNNING if doc["active"] else NOT_RUNNING
    if as_json:
        click.echo(json.dumps(doc, indent=2, sort_keys=True))
        sys.exit(code)
    unknown = f"unknown (cannot ask {'systemd' if doc['manager'] == 'systemd' else 'launchd'} here)"
    installed = "no" if not doc["installed"] else "yes" if doc["up_to_date"] else "yes, but not as this PeerVault writes it"
    rows = [
        ("service", doc["file"]),
        ("installed", installed + ("" if doc["installed"] else ": `peervault service install`")),
        ("enabled", _yes(doc["enabled"], unknown)),
        ("running", _yes(doc["active"], unknown)),
        ("logs", doc["logs"]),
        ("vault list", doc["config"]),
    ]
    for key, value in rows:
        out.print(f"{key:<11}{value}", highlight=False, soft_wrap=True)
    for v in doc["vaults"]:
        served = "served now" if v["running"] else "not served"
        out.print(f"  {v['path']}  ({v['state']}, {served})", highlight=False, soft_wrap=True)
    if not doc["vaults"]:
        out.print("  no vaults listed: `peervault vaults add VAULT`", highlight=False)
    sys.exit(code)
