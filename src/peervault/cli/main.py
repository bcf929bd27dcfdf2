"""The `peervault` command. Errors become one line and an exit code here, and only here."""

from __future__ import annotations

from ..metrics import mark_process_start

mark_process_start()

import asyncio  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import secrets  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import click  # noqa: E402

from ..config import PROFILES, Config, env_no_relay  # noqa: E402
from ..config import load as load_config  # noqa: E402
from ..errors import BadTicket, NoPeerReachable, PairingRefused, PeerVaultError  # noqa: E402


class _LazyConsole:
    """rich costs ~5 MB of memory: the daemon (`run`) only loads it if it prints."""

    def __init__(self, stderr: bool = False) -> None:
        self._stderr = stderr
        self._console: Any = None

    def get(self) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr, width=None if sys.stdout.isatty() else 160)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


out: Any = _LazyConsole()
err: Any = _LazyConsole(stderr=True)


def _config(state: Any, profile: str | None, no_relay: bool, bind: str | None, debounce_ms: int | None = None) -> Config:
    """The vault's profile and config file, then the command line's options."""
    return load_config(state.dir, profile, no_relay=no_relay or env_no_relay(), bind=bind, debounce_ms=debounce_ms)


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )


net_options = [
    click.option("--no-relay", is_flag=True, help="Direct addresses only (LAN, offline, tests). Also PEERVAULT_NO_RELAY=1."),
    click.option("--bind", metavar="HOST:PORT", help="Fix the address to listen on."),
    click.option(
        "--profile",
        type=click.Choice(PROFILES),
        help="Performance profile (default: the vault's .peervault/config.toml, else 'default').",
    ),
]


def with_net(f: Any) -> Any:
    for opt in reversed(net_options):
        f = opt(f)
    return f


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PeerVaultError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            sys.exit(130)


@click.group(cls=_Group)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="Default: info for `run`, warning for the other commands.",
)
@click.version_option(package_name="peervault")
@click.pass_context
def cli(ctx: click.Context, log_level: str | None) -> None:
    """PeerVault: keep a folder of notes identical across your devices, peer to peer."""
    _setup_logging(log_level or ("info" if ctx.invoked_subcommand == "run" else "warning"))
    logging.getLogger("watchfiles").setLevel(logging.WARNING)


def _open(vault: str) -> Any:
    from ..state import VaultState

    return VaultState.open(Path(vault))


@cli.command()
@click.argument("vault", type=click.Path(file_okay=False))
def init(vault: str) -> None:
    """Make VAULT a vault and print this device's id."""
    from ..state import VaultState

    state, created = VaultState.init(Path(vault))
    if created:
        err.print(f"Initialised vault in {state.root}", highlight=False)
    else:
        err.print(f"{state.root} is already a vault; nothing changed", highlight=False)
    out.print(state.device_id, highlight=False)


@cli.command()
@click.argument("vault", type=click.Path(exists=True, file_okay=False))
@click.option("--ttl", default=3600, show_default=True, help="Seconds the ticket stays valid.")
@click.option("--wait/--no-wait", default=True, help="With no daemon running: wait here until a device joins.")
@with_net
def invite(vault: str, ttl: int, wait: bool, no_relay: bool, bind: str | None, profile: str | None) -> None:
    """Print a one-line pairing ticket for another device."""
    from ..protocol.ticket import Ticket, encode_ticket

    state = _open(vault)
    secret = secrets.token_bytes(16)
    expires = int(time.time() + ttl)
    vault_id = bytes.fromhex(state.vault_id)
    state.store.add_invite(secret, expires)

    def emit(endpoint_ticket: str) -> None:
        out.print(encode_ticket(Ticket(vault_id, secret, expires, endpoint_ticket)), highlight=False, soft_wrap=True)
        sys.stdout.flush()

    if state.daemon_running():
        emit(str((state.runtime() or {}).get("endpoint_ticket", "")))
        err.print(f"The running daemon will accept it until {time.strftime('%H:%M', time.localtime(expires))}.")
        return
    from ..daemon import Daemon
    from ..net.endpoint import ticket_for

    state.lock()
    cfg = _config(state, profile, no_relay, bind)
    daemon = Daemon(state, cfg, mode="serve", timeout=ttl if wait else 0)
    daemon.on_ready = lambda: emit(ticket_for(daemon.ep))
    if wait:
        err.print("Waiting for the other device to run `peervault join` (Ctrl-C to stop)…")
    outcome = asyncio.run(daemon.main())
    if wait and outcome.paired:
        err.print(f"Paired with {', '.join(p[:10] for p in outcome.paired)} and in sync.")
    elif wait:
        err.print("No device joined; the ticket still works while `peervault run` is active.")


@cli.command()
@click.argument("vault", type=click.Path(exists=True, file_okay=False))
@click.argument("ticket")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for the inviting device.")
@with_net
def join(vault: str, ticket: str, timeout: float, no_relay: bool, bind: str | None, profile: str | None) -> None:
    """Pair VAULT with the device that printed TICKET, then sync."""
    from ..daemon import Daemon
    from ..net.endpoint import parse_endpoint_ticket
    from ..protocol.ticket import decode_ticket

    state = _open(vault)
    t = decode_ticket(ticket)
    if t.expires_at < time.time():
        raise BadTicket(
            f"the ticket expired at {time.strftime('%Y-%m-%d %H:%M', time.localtime(t.expires_at))}; ask for a new one with `peervault invite`"
        )
    inviter, addrs = parse_endpoint_ticket(t.endpoint)
    if inviter == state.device_id:
        raise BadTicket("this ticket was printed by this same device; run `join` on the other device")
    state.lock()
    if state.vault_id != t.vault_id.hex():
        if any(p.pair_secret is None for p in state.store.peers()):
            raise PeerVaultError(f"{state.root} is already paired into another vault; use a fresh folder to join this one")
        state.store.reset_for_join(t.vault_id.hex())
    state.store.add_peer(inviter, addrs, t.secret)
    daemon = Daemon(state, _config(state, profile, no_relay, bind), mode="join", timeout=timeout)
    outcome = asyncio.run(daemon.main())
    if outcome.refused:
        state.store.db.execute("DELETE FROM peers WHERE endpoint_id=? AND pair_secret IS NOT NULL", (inviter,))
        raise PairingRefused(f"device {inviter[:10]} refused to pair ({outcome.refused}); ask for a new ticket")
    if not outcome.synced_peers:
        raise NoPeerReachable(
            f"could not reach device {inviter[:10]} at {', '.join(addrs) or 'no address'} within {timeout:.0f} s; "
            "is `peervault invite` or `peervault run` active there? The pairing is saved: `peervault run` here completes it."
        )
    files = daemon.engine.counts()["tracked"]
    err.print(f"Paired with {inviter[:10]}; vault in sync ({files} files).", highlight=False)


@cli.command()
@click.argument("vault", type=click.Path(exists=True, file_okay=False))
@click.option("--debounce-ms", type=int, default=None, help="Batch window for bursts of saves (default 1000).")
@with_net
def run(vault: str, debounce_ms: int | None, no_relay: bool, bind: str | None, profile: str | None) -> None:
    """Foreground daemon: watch VAULT and sync live with paired devices."""
    from ..daemon import Daemon
    from ..metrics import early_phase

    early_phase("module_load")
    t0 = time.perf_counter()
    state = _open(vault)
    early_phase("storage_init", t0)
    state.lock()
    daemon = Daemon(state, _config(state, profile, no_relay, bind, debounce_ms), mode="run")
    asyncio.run(daemon.main())
    err.print("Stopped; all local changes are saved.")


@cli.command()
@click.argument("vault", type=click.Path(exists=True, file_okay=False))
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for peers.")
@with_net
def sync(vault: str, timeout: float, no_relay: bool, bind: str | None, profile: str | None) -> None:
    """One-shot: sync with reachable paired devices, exit when converged."""
    from ..daemon import Daemon
    from ..store import removal

    state = _open(vault)
    if not state.store.peers():
        raise NoPeerReachable(f"{state.root} has no paired devices yet; pair one with `peervault invite` / `peervault join`")
    state.lock()
    daemon = Daemon(state, _config(state, profile, no_relay, bind), mode="once", timeout=timeout)
    outcome = asyncio.run(daemon.main())
    removed = removal.load(state.store)
    if not outcome.synced_peers and removed:  # its peers are not dialled: say why
        raise PairingRefused(
            f"this device was removed from the vault (device {removed['by'][:10]} said so); to rejoin, run "
            f"`peervault invite` on a device still in the vault, then `peervault join {vault} TICKET` here"
        )
    if not outcome.synced_peers:
        raise NoPeerReachable(f"no paired device was reachable within {timeout:.0f} s; start `peervault run` on one of them")
    err.print(f"In sync with {len(outcome.synced_peers)} device(s).")


@cli.command()
@click.argument("vault", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(vault: str, as_json: bool) -> None:
    """Device, peers, files, pending work and metrics."""
    from .status import collect, render

    info = collect(_open(vault))
    if as_json:
        click.echo(json.dumps(info, indent=2, sort_keys=True))
    else:
        render(out.get(), info)


@cli.command()
@click.argument("vault", type=click.Path(exists=True, file_okay=False))
@click.argument("device")
def forget(vault: str, device: str) -> None:
    """Remove a paired DEVICE (its id, or the start of it): it can no longer connect, and
    your other devices drop it as soon as they hear of it."""
    import os
    import signal

    state = _open(vault)
    matches = [p.endpoint_id for p in state.store.peers() if p.endpoint_id.startswith(device.lower())]
    if not matches:
        raise PeerVaultError(f"no paired device {device!r} in {state.root}; `peervault status {vault}` lists them")
    if len(matches) > 1:
        raise PeerVaultError(f"{device!r} matches {len(matches)} devices; give more of its id")
    peer = matches[0]
    if state.daemon_running():
        state.store.request_forget(peer)
        os.kill(int((state.runtime() or {})["pid"]), signal.SIGUSR2)  # the daemon owns the index
        deadline = time.monotonic() + 10
        while state.store.peer(peer) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        if state.store.peer(peer) is not None:
            raise PeerVaultError(f"the running daemon did not remove {peer[:10]} within 10 s; see its log")
    else:
        from ..sync.engine import Engine

        state.lock()
        Engine(state.root, state.store, load_config(state.dir)).forget_device(peer)
    err.print(f"Removed device {peer[:10]}; your other devices drop it when they next sync with this one.", highlight=False)


@cli.group()
def deletions() -> None:
    """Local deletions the mass-deletion guard held back (see `status`)."""


@deletions.command("list")
@click.argument("vault", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def deletions_list(vault: str, as_json: bool) -> None:
    """The held deletions: files gone here that other devices still have."""
    from rich.table import Table

    from .deletions import held

    rows = held(_open(vault))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        err.print("No deletions are held.", highlight=False)
        return
    table = Table(title=f"{len(rows)} held deletion(s): {rows[0]['reason']}", title_justify="left")
    table.add_column("path")
    table.add_column("held since")
    for r in rows:
        table.add_row(r["path"], _when(r["held_at"]))
    out.print(table)
    err.print(f"Publish them: peervault deletions apply {vault}   Put them back: peervault deletions restore {vault}")


def _deletions_action(vault: str, action: str, as_json: bool) -> None:
    from .deletions import describe, run_action

    state = _open(vault)
    running = state.daemon_running()
    result = run_action(state, action)
    if as_json:
        click.echo(json.dumps(result))
    else:
        err.print(describe(result, running), highlight=False)


@deletions.command("apply")
@click.argument("vault", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def deletions_apply(vault: str, as_json: bool) -> None:
    """Publish the held deletions: your other devices delete those files too."""
    _deletions_action(vault, "apply", as_json)


@deletions.command("restore")
@click.argument("vault", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def deletions_restore(vault: str, as_json: bool) -> None:
    """Put the held files back here, byte for byte, from this device's copy."""
    _deletions_action(vault, "restore", as_json)


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "—"


def _device(origin: str) -> str:
    return "this device" if origin == "local" else origin[:10]


@cli.command()
@click.argument("vault", type=click.Path(exists=True, file_okay=False))
@click.argument("path")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def history(vault: str, path: str, as_json: bool) -> None:
    """Versions of PATH kept on this device (deleted files too), oldest first."""
    from rich.table import Table

    from .history import versions

    state = _open(vault)
    kept = versions(state, path)
    if as_json:
        rows = [{"version": v.number, "at": v.at, "device": v.origin, "size": v.size, "change": v.summary} for v in kept]
        click.echo(json.dumps(rows, indent=2))
        return
    t = Table(title=f"History of {path}", title_justify="left")
    for col in ("version", "time", "device", "size", "change"):
        t.add_column(col, justify="right" if col in ("version", "size") else "left")
    for v in kept:
        t.add_row(str(v.number), _when(v.at), _device(v.origin), f"{v.size:,} B", v.summary)
    out.print(t)
    out.print(f"Bring one back with: peervault restore {vault} {path} --at N", highlight=False)


@cli.command()
@click.argument("vault", type=click.Path(exists=True, file_okay=False))
@click.argument("path")
@click.option("--at", "at", type=int, help="Version number from `history` (default: the newest that differs).")
def restore(vault: str, path: str, at: int | None) -> None:
    """Bring a version of PATH back, as a new edit that syncs to every device."""
    from .history import restore as restore_version

    state = _open(vault)
    running = state.daemon_running()
    chosen = restore_version(state, path, at, running)
    then = "the running daemon sends it to your devices" if running else f"`peervault sync {vault}` or `run` sends it"
    err.print(f"Restored version {chosen.number} of {path} ({_when(chosen.at)}); {then}.", highlight=False)


@cli.command()
@click.argument("vault", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def deleted(vault: str, as_json: bool) -> None:
    """Deleted files that can be restored."""
    from rich.table import Table

    from .history import deleted as deleted_files

    rows = deleted_files(_open(vault))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        out.print("No deleted files.")
        return
    t = Table(title="Deleted files", title_justify="left")
    for col in ("path", "kind", "last version seen"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["path"], r["kind"], _when(r["last_version_at"]))
    out.print(t)
    out.print(f"Bring one back with: peervault restore {vault} PATH", highlight=False)


@cli.command()
@click.argument("vault", type=click.Path(exists=True, file_okay=False))
def gc(vault: str) -> None:
    """Forget versions beyond the retention policy and reclaim the space of unused blobs."""
    from .history import gc as collect

    state = _open(vault)
    state.lock()  # it needs the vault to itself: a running daemon may be adding versions
    cfg = load_config(state.dir)
    res = collect(state, cfg)
    err.print(
        f"Forgot {res['versions_forgotten']} version(s) beyond retention ({cfg.history_keep_versions} per file or "
        f"{cfg.history_keep_days:g} days); removed {res['blobs_removed']} unused blob(s), {res['bytes_freed']:,} bytes.",
        highlight=False,
    )


@cli.command()
@click.option(
    "--tier",
    "tiers",
    multiple=True,
    type=click.Choice(["small", "medium", "large", "xl", "all"]),
    help="Which vault sizes (repeatable). Default: small, medium, large; `xl` is 50,000 files.",
)
@click.option("--quick", is_flag=True, help="Fewer runs and no 10,000-file figures: the subset CI gates on.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the results as JSON here.")
@click.option(
    "--compare", "compare_path", type=click.Path(exists=True, dir_okay=False), help="Baseline JSON: exit 1 on a REGRESSION."
)
@click.option("--dir", "base", type=click.Path(file_okay=False), help="Where to create the scratch vaults.")
def bench(tiers: tuple[str, ...], quick: bool, json_path: str | None, compare_path: str | None, base: str | None) -> None:
    """Measure start-up, sync latency, memory, idle cost and bytes on real daemons."""
    from ..bench.run import run as run_bench
    from ..bench.suite import DEFAULT_TIERS, TIERS

    chosen = TIERS if "all" in tiers else tiers or DEFAULT_TIERS
    code = run_bench(
        out.get(),
        tuple(t for t in TIERS if t in chosen),
        quick,
        Path(json_path) if json_path else None,
        Path(compare_path) if compare_path else None,
        Path(base) if base else None,
    )
    sys.exit(code)


@cli.command()
@click.option("--keep", is_flag=True, help="Keep the demo folders afterwards.")
@click.option("--dir", "base", type=click.Path(file_okay=False), help="Where to create the demo vaults.")
def demo(keep: bool, base: str | None) -> None:
    """Two throw-away vaults on this machine, paired and syncing live."""
    from .demo import run_demo

    run_demo(out.get(), keep=keep, base=Path(base) if base else None)


def main() -> None:
    cli(prog_name="peervault")


__all__ = ["main", "cli"]
