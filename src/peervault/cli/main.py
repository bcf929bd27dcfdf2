"""The `peervault` command. Errors become one line and an exit code here, and only here."""

from __future__ import annotations

from ..metrics import mark_process_start

mark_process_start()

from ..memory import without_openssl, without_rust_lib_backtraces  # noqa: E402

without_openssl()  # before asyncio: 4.7 MB of OpenSSL no `peervault` process needs
without_rust_lib_backtraces()  # before any Rust code: 52 MB at iroh's first failed handshake

import asyncio  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import click  # noqa: E402

from ..config import PROFILES, STATE_DIR, Config, env_no_mdns, env_no_relay  # noqa: E402
from ..config import load as load_config  # noqa: E402
from ..errors import NoPeerReachable, NotAVault, PairingRefused, PeerVaultError  # noqa: E402
from .console import err, out  # noqa: E402
from .dashboard import dashboard  # noqa: E402
from .labs import bench, demo  # noqa: E402
from .obsidian import obsidian  # noqa: E402
from .service import service as service_group  # noqa: E402
from .vault_commands import COMMANDS  # noqa: E402
from .vaults import vaults as vaults_group  # noqa: E402


def _config(
    state_dir: Path, profile: str | None, no_relay: bool, no_mdns: bool, bind: str | None, debounce_ms: int | None = None
) -> Config:
    """The vault's profile and config file, then the command line's options."""
    mdns = False if no_mdns or env_no_mdns() else None  # None: the config file decides
    no_relay = no_relay or env_no_relay()
    return load_config(state_dir, profile, no_relay=no_relay, bind=bind, debounce_ms=debounce_ms, mdns=mdns)


def _setup_logging(level: str) -> None:
    from ..vaultlog import FORMAT, tag_handlers

    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), format=FORMAT, datefmt="%H:%M:%S", stream=sys.stderr)
    tag_handlers()  # `[vault] ` before each line when one process serves several vaults


net_options = [
    click.option("--no-relay", is_flag=True, help="Direct addresses only (LAN, offline, tests). Also PEERVAULT_NO_RELAY=1."),
    click.option(
        "--no-mdns", is_flag=True, help="No LAN discovery (mDNS); also `mdns = false` in config.toml, PEERVAULT_NO_MDNS=1."
    ),
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
@click.option(
    "--own-id",
    is_flag=True,
    help="Give the vault a device id of its own instead of this device's shared one (a second "
    "copy of a vault on this machine, or a vault that must not be linkable to your others).",
)
def init(vault: str, own_id: bool) -> None:
    """Make VAULT a vault and print this device's id (the per-user one, if there is one)."""
    from .. import devicekey
    from ..state import VaultState

    shared = None if own_id else devicekey.load()
    state, created = VaultState.init(Path(vault), device_key=shared)
    if created:
        how = "; it shares this device's id with your other vaults" if shared == state.secret_key else ""
        err.print(f"Initialised vault in {state.root}{how}", highlight=False)
    else:
        err.print(f"{state.root} is already a vault; nothing changed", highlight=False)
    out.print(state.device_id, highlight=False)


@cli.command()
@click.argument("vault", type=click.Path(exists=True, file_okay=False))
@click.option("--ttl", default=3600, show_default=True, help="Seconds the ticket stays valid.")
@click.option("--wait/--no-wait", default=True, help="With no daemon running: wait here until a device joins.")
@with_net
def invite(vault: str, ttl: int, wait: bool, no_relay: bool, no_mdns: bool, bind: str | None, profile: str | None) -> None:
    """Print a one-line pairing ticket for another device."""
    from ..service.vault import check_ttl
    from .connect import connect

    check_ttl(ttl)  # before a waiting daemon starts (it would leave its socket behind)
    with connect(vault) as v:
        if v.running:
            res = v.call("invite", ttl=ttl)
            out.print(res["ticket"], highlight=False, soft_wrap=True)
            until = time.strftime("%H:%M", time.localtime(res["expires_at"]))
            err.print(f"The running daemon will accept it until {until}.")
            return
    from ..daemon import Daemon
    from ..service.vault import VaultService

    state = _open(vault)
    state.lock()
    cfg = _config(state.dir, profile, no_relay, no_mdns, bind)
    daemon = Daemon(state, cfg, mode="serve", timeout=ttl if wait else 0)

    def emit() -> None:  # the same operation as the API's, on the daemon that waits here
        out.print(VaultService(state, cfg, time.time, node=daemon.node).invite(ttl)["ticket"], highlight=False, soft_wrap=True)
        sys.stdout.flush()

    daemon.on_ready = emit
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
def join(vault: str, ticket: str, timeout: float, no_relay: bool, no_mdns: bool, bind: str | None, profile: str | None) -> None:
    """Pair VAULT with the device that printed TICKET, then sync."""
    from ..daemon import Daemon
    from ..service.vault import check_ticket, needs_new_identity
    from .connect import connect

    with connect(vault) as v:
        if v.running:
            inviter = v.call("join", ticket=ticket)["device"]
            _await_pairing(vault, inviter, timeout)
            return
    state = _open(vault)
    inviter, addrs, t = check_ticket(state, ticket, time.time())
    state.lock()
    if needs_new_identity(state, t.vault_id.hex()):
        state.store.reset_for_join(t.vault_id.hex())
    state.store.add_peer(inviter, addrs, t.secret)
    daemon = Daemon(state, _config(state.dir, profile, no_relay, no_mdns, bind), mode="join", timeout=timeout)
    outcome = asyncio.run(daemon.main())
    if outcome.refused:
        state.store.remove_unpaired_peer(inviter)
        raise PairingRefused(f"device {inviter[:10]} refused to pair ({outcome.refused}); ask for a new ticket")
    if not outcome.synced_peers:
        raise NoPeerReachable(
            f"could not reach device {inviter[:10]} at {', '.join(addrs) or 'no address'} within {timeout:.0f} s; "
            "is `peervault invite` or `peervault run` active there? The pairing is saved: `peervault run` here completes it."
        )
    files, waiting = daemon.engine.counts()["tracked"], daemon.engine.awaited()
    if waiting:
        err.print(
            f"Paired with {inviter[:10]}; {files} files here, {waiting} attachment(s) not received yet "
            "(the other device lacks them, or the transfer did not finish in time): `peervault run` fetches them.",
            highlight=False,
        )
    else:
        err.print(f"Paired with {inviter[:10]}; vault in sync ({files} files).", highlight=False)


def _await_pairing(vault: str, inviter: str, timeout: float) -> None:
    """The running daemon dials the inviter (restarting first if the vault took the other
    vault's identity): wait until the device shows as paired and connected."""
    from .connect import connect

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with connect(vault) as v:
                peer = next((p for p in v.call("peers") if p["id"] == inviter), None)
        except PeerVaultError:  # the daemon is restarting
            peer = None
        if peer is not None and peer["paired"] and peer["connected"]:
            err.print(f"Paired with {inviter[:10]}; the running daemon syncs the vault with it.", highlight=False)
            return
        time.sleep(0.2)
    raise NoPeerReachable(
        f"the running daemon did not pair with device {inviter[:10]} within {timeout:.0f} s; is `peervault invite` or "
        "`peervault run` active there? The pairing is saved: the daemon keeps trying."
    )


@cli.command()
@click.argument("vaults", metavar="[VAULT]...", nargs=-1, type=click.Path(file_okay=False))
@click.option("--debounce-ms", type=int, default=None, help="Batch window for bursts of saves (default 1000).")
@click.option(
    "--api",
    "api",
    metavar="HOST:PORT",
    help="Also serve the control API on loopback TCP: one vault's (token in .peervault/api-token), or with several "
    "vaults the API of all of them (token in the runtime folder: docs/API.md).",
)
@with_net
def run(
    vaults: tuple[str, ...],
    debounce_ms: int | None,
    api: str | None,
    no_relay: bool,
    no_mdns: bool,
    bind: str | None,
    profile: str | None,
) -> None:
    """Foreground daemon: watch each VAULT and sync live with paired devices. With no VAULT:
    the vaults of `peervault vaults list`. One process serves them all, each on its own."""
    from dataclasses import replace
    from functools import partial

    from ..sync import firstimport
    from .vaults import run_roots

    roots = run_roots(vaults)
    for root in roots:  # a large first import starts now, beside the loading of the daemon's modules
        firstimport.start_early(root, partial(_config, root / STATE_DIR, profile, no_relay, no_mdns, bind, debounce_ms))
    from .. import devicekey
    from ..daemon.host import Host
    from ..metrics import early_phase
    from ..state import VaultState

    early_phase("module_load")
    if len(roots) > 1 and bind is not None and not bind.endswith(":0"):
        raise PeerVaultError("a --bind port serves one vault; with several, use --bind HOST:0")
    every_vault = None  # with several vaults, --api is the one port of the API of every vault
    if len(roots) > 1 and api is not None:
        address = _api_address(api)
        every_vault, api = (address["api_host"], address["api_port"]), None

    def open_vault(root: Path) -> tuple[Any, Config]:
        if not root.is_dir():
            raise NotAVault(f"vault folder {root} does not exist; check the path, or `peervault vaults remove {root}`")
        t0 = time.perf_counter()
        state = VaultState.open(root)
        early_phase("storage_init", t0)
        try:
            state.lock(firstimport.held_lock(root))
            cfg = _config(state.dir, profile, no_relay, no_mdns, bind, debounce_ms)
        except BaseException:
            state.close()
            raise
        return state, replace(cfg, **_api_address(api)) if api is not None else cfg

    failed = asyncio.run(Host(roots, open_vault, device_key=devicekey.load(), api=every_vault).main())
    if failed and len(failed) == len(roots):  # nothing left to serve: exit with the (first) error
        root, exc = next(iter(failed.items()))
        if isinstance(exc, PeerVaultError):
            raise exc
        raise PeerVaultError(f"vault {root} stopped by an unexpected error ({exc!r}); the log above has the details") from exc
    for root, exc in failed.items():
        err.print(f"[yellow]warning:[/] vault {root} had stopped: {exc}", highlight=False, soft_wrap=True)
    err.print("Stopped; all local changes are saved.")


def _api_address(api: str) -> dict[str, Any]:
    from ..config import LOOPBACK

    host, _, port = api.rpartition(":")
    host = host.strip("[]")
    if host not in LOOPBACK or not port.isdigit() or not 0 < int(port) < 65536:
        raise PeerVaultError(f"--api takes a loopback HOST:PORT such as 127.0.0.1:8384, not {api!r}")
    return {"api_host": host, "api_port": int(port)}


@cli.command()
@click.argument("vault", type=click.Path(exists=True, file_okay=False))
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for peers.")
@with_net
def sync(vault: str, timeout: float, no_relay: bool, no_mdns: bool, bind: str | None, profile: str | None) -> None:
    """One-shot: sync with reachable paired devices, exit when converged (with a daemon
    running: ask it to look at the folder and dial every device now)."""
    from ..daemon import Daemon
    from ..store import removal
    from .connect import connect

    with connect(vault) as v:
        if v.running:
            dialling = v.call("sync_now")["dialling"]
            err.print(f"The running daemon is syncing now with {len(dialling)} device(s); `peervault status` shows them.")
            return
    state = _open(vault)
    if not state.store.peers():
        raise NoPeerReachable(f"{state.root} has no paired devices yet; pair one with `peervault invite` / `peervault join`")
    state.lock()
    daemon = Daemon(state, _config(state.dir, profile, no_relay, no_mdns, bind), mode="once", timeout=timeout)
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


for _command in COMMANDS:
    cli.add_command(_command)
cli.add_command(obsidian)
cli.add_command(vaults_group)
cli.add_command(service_group)
cli.add_command(dashboard)
cli.add_command(bench)
cli.add_command(demo)


def main() -> None:
    cli(prog_name="peervault")


__all__ = ["main", "cli"]
