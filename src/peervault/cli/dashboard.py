"""`peervault dashboard [VAULT]`: a one-time login link to the running daemon's dashboard,
opened in the default browser (and printed, as Jupyter does, for another browser).

The link comes from the API of every vault (`peervault run`'s per-user socket), so the
page shows every vault of that process, opened on VAULT when one is named. A vault served
by a process that does not hold the per-user socket (a second `peervault run`) gets its
link from its own socket: a dashboard of that process's vaults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..config import STATE_DIR
from ..errors import DaemonNotRunning, NotAVault
from .console import err, out


@click.command()
@click.argument("vault", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--no-open", is_flag=True, help="Print the login link only; open it in a browser yourself.")
def dashboard(vault: str | None, no_open: bool) -> None:
    """Open the running daemon's dashboard in the browser (a login link that works once):
    every vault of `peervault run`, opened on VAULT if given."""
    import webbrowser

    from ..api.client import ControlClient
    from ..api.registry import handle
    from ..userconfig import runtime_dir

    root = Path(vault).resolve() if vault is not None else None
    if root is not None and not (root / STATE_DIR).is_dir():
        raise NotAVault(f"{root} is not a vault; run `peervault init {vault}` first")
    client, chosen = _process_api(ControlClient(runtime_dir()), root)
    if client is None and root is not None:
        own = ControlClient(root / STATE_DIR)
        if not own.answers():
            raise DaemonNotRunning(f"no daemon runs for {root}; start it with `peervault run {vault}`, then run this again")
        client, chosen = own, handle(root)
    if client is None:
        raise DaemonNotRunning(
            f"no `peervault run` answers on {runtime_dir() / 'control.sock'}; start it (or `peervault service install`), "
            "or name a VAULT"
        )
    link = client.request("POST", "/dashboard/code", json.dumps({"vault": chosen} if chosen else {}).encode())
    out.print(link["url"], highlight=False, soft_wrap=True)
    err.print("This login link works once, within a minute; it sets a cookie for this browser only.", highlight=False)
    if not no_open and not webbrowser.open(link["url"]):
        err.print("No browser could be opened here: open the link above in one on this machine.", highlight=False)


def _process_api(client: Any, root: Path | None) -> tuple[Any, str | None]:
    """(the process-wide API's client, the vault to open on), or (None, None) when no
    process serves it, or it does not serve `root`."""
    if not client.answers():
        return None, None
    if root is None:
        return client, None
    row = next((r for r in client.request("GET", "/vaults") if Path(r["path"]) == root), None)
    return (client, row["id"]) if row is not None else (None, None)
