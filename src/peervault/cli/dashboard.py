"""`peervault dashboard VAULT`: a one-time login link to the running daemon's dashboard,
opened in the default browser (and printed, as Jupyter does, for another browser)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..config import STATE_DIR
from ..errors import DaemonNotRunning, NotAVault
from .console import err, out


@click.command()
@click.argument("vault", type=click.Path(exists=True, file_okay=False))
@click.option("--no-open", is_flag=True, help="Print the login link only; open it in a browser yourself.")
def dashboard(vault: str, no_open: bool) -> None:
    """Open the running daemon's dashboard in the browser (a login link that works once)."""
    import webbrowser

    from ..api.client import ControlClient

    root = Path(vault).resolve()
    if not (root / STATE_DIR).is_dir():
        raise NotAVault(f"{root} is not a vault; run `peervault init {vault}` first")
    client = ControlClient(root / STATE_DIR)
    if not client.answers():
        raise DaemonNotRunning(f"no daemon runs for {root}; start it with `peervault run {vault}`, then run this again")
    link = client.request("POST", "/dashboard/code", json.dumps({}).encode())
    out.print(link["url"], highlight=False, soft_wrap=True)
    err.print("This login link works once, within a minute; it sets a cookie for this browser only.", highlight=False)
    if not no_open and not webbrowser.open(link["url"]):
        err.print("No browser could be opened here: open the link above in one on this machine.", highlight=False)
