"""`peervault obsidian install VAULT`: put the Obsidian plugin that ships inside this package
(built from obsidian-plugin/ by `npm run build`) into VAULT/.obsidian/plugins/peervault/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..config import STATE_DIR
from ..errors import NotAVault, PeerVaultError
from .console import err

PLUGIN_ID = "peervault"
PLUGIN_FILES = ("main.js", "manifest.json", "styles.css")


@click.group()
def obsidian() -> None:
    """The PeerVault plugin for Obsidian (desktop)."""


@obsidian.command()
@click.argument("vault", type=click.Path(file_okay=True, dir_okay=True))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def install(vault: str, as_json: bool) -> None:
    """Copy the plugin into VAULT/.obsidian/plugins/peervault/ (again: replace it)."""
    root = Path(vault).expanduser()
    if not root.is_dir():
        raise NotAVault(f"{root} is not a folder; give the vault's folder (the one Obsidian opens)")
    result = install_plugin(root.resolve())
    if as_json:
        click.echo(json.dumps(result, indent=2, sort_keys=True))
        return
    verb = "Updated" if result["replaced"] else "Installed"
    err.print(f"{verb} the PeerVault plugin {result['version']} in {result['plugin_dir']}", highlight=False)
    if not result["peervault_vault"]:
        err.print(
            f"{root} is not a PeerVault vault yet: run `peervault init {root}`, then `peervault run {root}`.", highlight=False
        )
    err.print(
        "Enable it in Obsidian: Settings → Community plugins (turn off Restricted mode if asked) → PeerVault. "
        "Reload Obsidian if it was open. It syncs to your other devices with .obsidian/, as your other plugins do.",
        highlight=False,
    )


def install_plugin(root: Path) -> dict[str, Any]:
    from importlib import resources  # here, not at import: every command's start-up pays for this module

    source = resources.files("peervault").joinpath("obsidian_plugin")
    missing = [f for f in PLUGIN_FILES if not source.joinpath(f).is_file()]
    if missing:
        raise PeerVaultError(
            f"this PeerVault package has no built Obsidian plugin ({', '.join(missing)} missing); "
            "build it with `npm ci && npm run build` in obsidian-plugin/"
        )
    manifest = json.loads(source.joinpath("manifest.json").read_text("utf-8"))
    target = root / ".obsidian" / "plugins" / PLUGIN_ID
    replaced = (target / "main.js").exists()
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name in PLUGIN_FILES:
            tmp = target / f".{name}.tmp"
            tmp.write_bytes(source.joinpath(name).read_bytes())
            tmp.replace(target / name)  # Obsidian never reads half a main.js
    except OSError as exc:
        raise PeerVaultError(f"could not write the plugin into {target}: {exc.strerror or exc}") from None
    return {
        "vault": str(root),
        "plugin_dir": str(target),
        "plugin_id": manifest["id"],
        "version": manifest["version"],
        "files": list(PLUGIN_FILES),
        "replaced": replaced,
        "peervault_vault": (root / STATE_DIR).is_dir(),
    }
