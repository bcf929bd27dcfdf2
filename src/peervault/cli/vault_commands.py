"""Commands that read or change a vault: each is one VaultService operation, run by the
daemon when one holds the vault (through its control API) or here when none does."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from .console import device, err, out, table, when

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from .connect import LocalVault, RemoteVault


def connect(vault: str) -> AbstractContextManager[RemoteVault | LocalVault]:
    """cli/connect.py's, imported when a command runs: the API client costs `run` 13 ms of start-up."""
    from .connect import connect as open_vault

    return open_vault(vault)


VAULT = click.argument("vault", type=click.Path(exists=True, file_okay=False))
AS_JSON = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True))


@click.command()
@VAULT
@AS_JSON
def status(vault: str, as_json: bool) -> None:
    """Device, peers, files, pending work and metrics."""
    from .status import render

    with connect(vault) as v:
        info = v.call("status")
    if as_json:
        _print_json(info)
    else:
        render(out.get(), info)


@click.command()
@VAULT
@click.option("--state", type=click.Choice(["synced", "unpublished", "not_synced", "held"]), help="Only files in this state.")
@click.option("--limit", default=1000, show_default=True, help="At most this many files.")
@AS_JSON
def files(vault: str, state: str | None, limit: int, as_json: bool) -> None:
    """Tracked files with their state, and why any is not synced."""
    with connect(vault) as v:
        res = v.call("files", state=state, limit=limit)
    if as_json:
        _print_json(res)
        return
    rows = [[f["path"], f["state"].replace("_", " "), f["reason"] or ""] for f in res["files"]]
    out.print(table(f"{res['total']} file(s), {res['ignored']} ignored", ["path", "state", "reason"], rows))
    if res["total"] > len(rows):
        err.print(f"Showing {len(rows)} of {res['total']}; use --limit or --state.", highlight=False)


@click.command()
@VAULT
@click.argument("device_id", metavar="DEVICE")
def forget(vault: str, device_id: str) -> None:
    """Remove a paired DEVICE (its id, or the start of it): it can no longer connect, and
    your other devices drop it as soon as they hear of it."""
    from ..service.vault import device_prefix

    device_prefix(device_id)  # checked here too: a daemon's API never sees an empty id (no such route)
    with connect(vault) as v:
        peer = v.call("forget", device=device_id)["device"]
    err.print(f"Removed device {peer[:10]}; your other devices drop it when they next sync with this one.", highlight=False)


@click.group()
def deletions() -> None:
    """Local deletions the mass-deletion guard held back (see `status`)."""


@deletions.command("list")
@VAULT
@AS_JSON
def deletions_list(vault: str, as_json: bool) -> None:
    """The held deletions: files gone here that other devices still have."""
    with connect(vault) as v:
        rows = v.call("deletions")
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        err.print("No deletions are held.", highlight=False)
        return
    out.print(table(f"{len(rows)} held deletion(s): {rows[0]['reason']}", ["path", "held since"],
                    [[r["path"], when(r["held_at"])] for r in rows]))  # fmt: skip
    err.print(f"Publish them: peervault deletions apply {vault}   Put them back: peervault deletions restore {vault}")


def _deletions_action(vault: str, action: str, as_json: bool) -> None:
    with connect(vault) as v:
        result = v.call(f"{action}_deletions")
        running = v.running
    if as_json:
        click.echo(json.dumps(result))
    elif not result["held"]:
        err.print("No deletions are held; nothing to do.")
    elif action == "apply":
        then = "now" if running else "at the next `peervault run` or `sync`"
        err.print(f"Published {result['done']} deletion(s) (of {result['held']} held); other devices delete them {then}.")
    else:
        err.print(f"Put back {result['done']} file(s) (of {result['held']} held) from this device's copy; nothing was deleted elsewhere.")  # fmt: skip


@deletions.command("apply")
@VAULT
@AS_JSON
def deletions_apply(vault: str, as_json: bool) -> None:
    """Publish the held deletions: your other devices delete those files too."""
    _deletions_action(vault, "apply", as_json)


@deletions.command("restore")
@VAULT
@AS_JSON
def deletions_restore(vault: str, as_json: bool) -> None:
    """Put the held files back here, byte for byte, from this device's copy."""
    _deletions_action(vault, "restore", as_json)


@click.command()
@VAULT
@click.argument("path")
@AS_JSON
def history(vault: str, path: str, as_json: bool) -> None:
    """Versions of PATH kept on this device (deleted files too), oldest first."""
    with connect(vault) as v:
        kept = v.call("history", path=path)
    if as_json:
        click.echo(json.dumps(kept, indent=2))
        return
    rows = [[str(k["version"]), when(k["at"]), device(k["device"]), f"{k['size']:,} B", k["change"]] for k in kept]
    out.print(table(f"History of {path}", ["version", "time", "device", "size", "change"], rows, right=("version", "size")))
    out.print(f"Bring one back with: peervault restore {vault} {path} --at N", highlight=False)


@click.command()
@VAULT
@click.argument("path")
@click.option("--at", "at", type=int, help="Version number from `history` (default: the newest that differs).")
def restore(vault: str, path: str, at: int | None) -> None:
    """Bring a version of PATH back, as a new edit that syncs to every device."""
    with connect(vault) as v:
        chosen = v.call("restore", path=path, at=at)
        running = v.running
    then = "the running daemon sends it to your devices" if running else f"`peervault sync {vault}` or `run` sends it"
    if chosen.get("from_peer"):
        then = "its bytes are on another device: the file changes once they arrive from it, and " + then
    err.print(f"Restored version {chosen['version']} of {path} ({when(chosen['at'])}); {then}.", highlight=False)


@click.command()
@VAULT
@AS_JSON
def deleted(vault: str, as_json: bool) -> None:
    """Deleted files that can be restored."""
    with connect(vault) as v:
        rows = v.call("deleted")
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        out.print("No deleted files.")
        return
    out.print(table("Deleted files", ["path", "kind", "last version seen"],
                    [[r["path"], r["kind"], when(r["last_version_at"])] for r in rows]))  # fmt: skip
    out.print(f"Bring one back with: peervault restore {vault} PATH", highlight=False)


@click.command()
@VAULT
def gc(vault: str) -> None:
    """Forget versions beyond the retention policy and reclaim the space of unused blobs."""
    with connect(vault) as v:
        res = v.call("gc")
    err.print(
        f"Forgot {res['versions_forgotten']} version(s) beyond retention; removed {res['blobs_removed']} blob(s) "
        f"({res['blobs_removed'] - res.get('duplicates_removed', 0)} unused, {res.get('duplicates_removed', 0)} copies "
        f"of files the vault holds unchanged), {res['bytes_freed']:,} bytes.",
        highlight=False,
    )


@click.command()
@VAULT
def pause(vault: str) -> None:
    """Stop syncing until `resume` (also across restarts); changes here are still recorded."""
    with connect(vault) as v:
        v.call("pause")
        running = v.running
    err.print("Paused: no device is sent or asked anything until `peervault resume`." + ("" if running else " (takes effect when the daemon starts)"))  # fmt: skip


@click.command()
@VAULT
def resume(vault: str) -> None:
    """Sync again after `pause`."""
    with connect(vault) as v:
        v.call("resume")
    err.print("Resumed: syncing with your devices again.")


COMMANDS = (status, files, forget, deletions, history, restore, deleted, gc, pause, resume)
