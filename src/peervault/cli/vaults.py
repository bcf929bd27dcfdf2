"""`peervault vaults add|remove|list`: the per-user list of vaults that `peervault run`
(with no VAULT) and the installed service serve. The file is userconfig.py's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .. import userconfig
from ..config import STATE_DIR
from ..errors import NotAVault, PeerVaultError, VaultBusy
from .console import err, out, table


def vault_problem(root: Path) -> str | None:
    """Why `root` cannot be served, in a few words (None: it can)."""
    if not root.is_dir():
        return "missing"
    if not (root / STATE_DIR / "state.db").exists() or not (root / STATE_DIR / "secret.key").exists():
        return "not a vault"
    return None


def describe(root: Path) -> dict[str, Any]:
    """One row of `vaults list` (and of `service status`): is it there, is a daemon serving it."""
    from ..api.client import ControlClient

    problem = vault_problem(root)
    running = problem is None and ControlClient(root / STATE_DIR, timeout=2.0).answers()
    return {"path": str(root), "state": problem or "ok", "running": running}


def run_roots(vaults: tuple[str, ...]) -> list[Path]:
    """What `run` serves: the command line's vaults, else the listed ones; each once."""
    if vaults:
        roots = [Path(v).expanduser().absolute() for v in vaults]
    else:
        path = userconfig.config_path()
        roots = userconfig.load_vaults(path)
        if not roots:
            raise PeerVaultError(f"no VAULT given and none listed in {path}; name one, or `peervault vaults add VAULT`")
    return list(dict.fromkeys(r.resolve() for r in roots))


@click.group()
def vaults() -> None:
    """The vaults `peervault run` serves when no VAULT is given (and the service)."""


@vaults.command("add")
@click.argument("vault", type=click.Path(file_okay=False))
@click.option(
    "--migrate",
    is_flag=True,
    help="A paired vault: move it to this device's id once each of its devices confirmed (they ask no one).",
)
def add_vault(vault: str, migrate: bool) -> None:
    """List VAULT (an initialised vault) in the per-user config file."""
    root = Path(vault).resolve()
    problem = vault_problem(root)
    if problem == "missing":
        raise PeerVaultError(f"{root} does not exist; create the folder and run `peervault init {root}` first")
    if problem is not None:
        raise NotAVault(f"{root} is not a PeerVault vault; run `peervault init {root}` first")
    path = userconfig.config_path()
    if userconfig.add(path, root):
        err.print(f"Added {root} to {path}; restart `peervault run` (or the service) to serve it.", highlight=False)
    else:
        err.print(f"{root} is already listed in {path}; nothing changed.", highlight=False)
    share_endpoint(root, migrate)


def share_endpoint(root: Path, migrate: bool = False) -> None:
    """A vault no device knows yet takes the per-user key (made now if there is none), so
    one daemon serves it on one endpoint with the others; a known one keeps its id."""
    import time

    from .. import devicekey
    from ..state import VaultState

    key = devicekey.ensure()
    state = VaultState.open(root)
    try:
        if state.secret_key == key:
            return
        try:
            state.lock()
        except VaultBusy:
            err.print(
                f"{root} keeps its own device id for now: a daemon runs on it; stop it and add it again to share "
                "this device's endpoint",
                highlight=False,
            )
            return
        why = state.take_device_key(key, time.time())
        if why is not None and migrate:
            why = start_move(state, key)
    finally:
        state.close()
    if why is None:
        err.print(f"{root} now shares this device's id {state.device_id[:10]} (one endpoint for your vaults).", highlight=False)
    elif why:
        hint = "" if migrate else "; `peervault vaults add --migrate` moves it once its devices confirmed"
        err.print(f"{root} keeps its own device id: {why}{hint}.", highlight=False)


def start_move(state: Any, key: bytes) -> str:
    """Mark a paired vault to move to the per-user id (daemon/moving.py does it): '' once
    marked, else why it cannot move."""
    import time

    from ..daemon import moving
    from ..net.endpoint import endpoint_id_of

    if state.store.open_invites(time.time()):
        return "an unexpired invite names its device id; add it again with --migrate once the invite has expired"
    new = endpoint_id_of(key)
    if moving.moving_to(state) != new:
        moving.start(state, new)
    n = sum(1 for p in state.store.peers() if p.pair_secret is None)
    err.print(
        f"{state.root} moves to this device's id {new[:10]} once each of its {n} paired device(s) confirmed it "
        "(each must run this PeerVault version): `peervault run` asks them, then restarts the vault on the shared "
        "endpoint; until then it keeps its id and syncs as before.",
        highlight=False,
    )
    return ""


@vaults.command("remove")
@click.argument("vault", type=click.Path(file_okay=False))
def remove_vault(vault: str) -> None:
    """Take VAULT off the list (its folder and data are not touched)."""
    root = Path(vault).resolve()
    path = userconfig.config_path()
    if not userconfig.remove(path, root) and not userconfig.remove(path, Path(vault).absolute()):
        raise PeerVaultError(f"{root} is not listed in {path}; `peervault vaults list` shows the list")
    err.print(f"Removed {root} from {path}; its folder and data are untouched.", highlight=False)


@vaults.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_vaults(as_json: bool) -> None:
    """The listed vaults: whether each is there and whether a daemon serves it now."""
    path = userconfig.config_path()
    rows = [describe(v) for v in userconfig.load_vaults(path)]
    if as_json:
        click.echo(json.dumps({"config": str(path), "vaults": rows}, indent=2, sort_keys=True))
        return
    if not rows:
        err.print(f"No vaults listed in {path}; add one with `peervault vaults add VAULT`.", highlight=False)
        return
    cells = [[r["path"], r["state"], "yes" if r["running"] else "no"] for r in rows]
    out.print(table(f"Vaults in {path}", ["vault", "state", "served now"], cells))
