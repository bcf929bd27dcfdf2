"""Binding an endpoint: on the port of the last run (tickets and peers know it), unless
`--bind` says otherwise or it is taken. A vault's own endpoint keeps its port in the
vault's database; the shared one (daemon/router.py) beside the per-user key."""

from __future__ import annotations

from ..config import Config
from ..errors import PeerVaultError
from ..net import endpoint as netep
from ..state import VaultState


async def bind(state: VaultState, cfg: Config, remember: bool = True) -> netep.Endpoint:
    """The vault's own endpoint, on the port of the last run (tickets and peers know it).
    `remember=False`: the port is not written yet (`remember_port`: another process writes
    the database meanwhile, sync/firstimport.py)."""
    last = state.store.get_meta("port")
    ep = await bind_key(state.secret_key, cfg, int(str(last)) if last else None)
    if remember:
        remember_port(state, ep)
    return ep


def remember_port(state: VaultState, ep: netep.Endpoint) -> None:
    bound = netep.bound_port(ep)
    if bound:
        state.store.set_meta("port", bound)


async def bind_key(secret: bytes, cfg: Config, port: int | None) -> netep.Endpoint:
    """Listen on `port` (the last run's), unless `--bind` says otherwise or it is taken."""
    candidates: list[str | None] = []
    if cfg.bind:
        host, _, p = cfg.bind.rpartition(":")
        if p == "0" and port:
            candidates.append(f"{host}:{port}")  # keep the address tickets and peers know
        candidates.append(cfg.bind)
    else:
        if port:
            candidates.append(f"0.0.0.0:{port}")
        candidates.append(None)
    last: Exception | None = None
    for addr in candidates:
        try:
            return await netep.bind(secret, no_relay=cfg.no_relay, bind_addr=addr)
        except Exception as exc:  # noqa: BLE001 - port taken: try the next candidate
            last = exc
    where = cfg.bind or "the default address"
    raise PeerVaultError(
        f"cannot listen on {where} ({netep.describe(last) if last else 'unknown error'}); choose another --bind HOST:PORT"
    )
