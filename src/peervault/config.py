"""Tunables in one frozen dataclass; every constant says why it has its value.

Two profiles (the spec's desktop and mobile configurations): `default` and
`low-power`. A vault picks one in `.peervault/config.toml`:

    profile = "low-power"      # or "default"
    debounce_ms = 1500         # any tunable may be overridden here (not no_relay/bind: flags)

and `--profile` on the command line wins over the file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from .errors import PeerVaultError

ALPN = b"peervault/sync/1"  # names the protocol and its version; bump on wire changes
STATE_DIR = ".peervault"
CONFIG_FILE = "config.toml"
PROFILES = ("default", "low-power")
LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class Config:
    profile: str = "default"
    # A burst of saves: the first change goes out at once, the rest within this window as one batch.
    debounce_ms: int = 1000
    # App-level keep-alive. iroh pings every ~5 s on its own and drops a dead peer after ~30 s;
    # ours detects a dead peer sooner (a few missed heartbeats) at one tiny frame per interval.
    heartbeat_interval_s: float = 5.0
    peer_silent_timeout_s: float = 15.0
    # Dials to dead addresses hang ~30 s in iroh; we give up sooner and retry with backoff.
    connect_timeout_s: float = 5.0
    reconnect_backoff_s: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
    # Unknown endpoints must prove a pairing secret quickly or be dropped.
    pair_timeout_s: float = 5.0
    # Background work: a periodic cheap (size+mtime) reconcile catches what the watcher
    # misses (directory renames, mkdir -p races). Off in low-power (start-up still does it).
    # The interval is the shortest: a vault whose rescan costs more waits longer, up to an
    # hour (daemon/timers.rescan_after: at most 0.02 % of a core).
    background_sync: bool = True
    reconcile_interval_s: float = 60.0
    # The watcher yields a burst once it has been quiet this long; once every file written in
    # it was closed again and nothing deleted, after 2 ms (vault/inotify.py CLOSED_STEP_S).
    watch_step_ms: int = 20
    watch_debounce_ms: int = 400
    # Lazy document cache (spec: 100 docs / 50 MB; low-power 50 / 25 MB).
    cache_docs: int = 100
    cache_bytes: int = 50 * 1024 * 1024
    # Sync messages of at least this many bytes are zstd-compressed (kept if >= 10 % smaller).
    compress_threshold: int = 1024
    # Note batches in flight per peer before waiting for the peer's acknowledgement.
    max_concurrent_syncs: int = 3
    # Binary files fetched at once (one QUIC stream each). Most attachments are small, so a
    # fetch costs a round trip more than its bytes: 3 at once kept a joining device waiting
    # on the network (the `real` tier's 4,200 attachments: ~9 ms each). Each holds at most one
    # 256 KB read in memory.
    blob_fetches: int = 16
    # Low-power: a connection with no vault traffic for this long is suspended; the next local
    # change or incoming dial brings it back. None keeps connections up.
    idle_suspend_s: float | None = None
    # Loro's char diff is quadratic on rewrites (100 KB rewrite: 2 min): always bounded.
    text_diff_timeout_ms: int = 100
    line_diff_timeout_ms: int = 1000
    # Binary files (and text above text_max_bytes) sync as blobs; larger than this, not at all.
    text_max_bytes: int = 5 * 1024 * 1024
    max_file_bytes: int = 1024**3
    # A large first import in a process of its own (sync/firstimport.py): the daemon then
    # keeps none of its memory (the `real` tier's A: ~9 MB less after a join, ~11 MB less at
    # its peak) for ~0.35 s more of import on 2 cores (a second interpreter, then a warm
    # start; docs/PERFORMANCE.md, "The first import's process by default"). `false`: in-process.
    first_import_process: bool = True
    # History: versions are kept 30 days or the last 10 per file, whichever keeps more (`gc`).
    history_keep_versions: int = 10
    history_keep_days: float = 30.0
    # Mass-deletion guard (sync/deleteguard.py): local deletions in one reconcile or within a
    # minute beyond either limit are held, not published, until `peervault deletions apply`.
    # Half the vault, or 200 files, is past what a person deletes by hand; 0 turns a limit off.
    delete_guard_percent: int = 50
    delete_guard_files: int = 200
    invite_ttl_s: float = 3600.0
    # The control API (api/): always on .peervault/control.sock; also on loopback TCP at this
    # port when set (every request then needs the token in .peervault/api-token). Web pages
    # may call it only from these origins (e.g. "app://obsidian.md"); none by default.
    api_port: int | None = None
    api_host: str = "127.0.0.1"
    api_origins: tuple[str, ...] = ()
    # LAN discovery (mDNS, daemon/discovery.py): paired devices on one network announce an opaque
    # vault tag and their endpoint id, and find each other's new addresses within seconds.
    # `mdns = false` here or `--no-mdns` turns it off (no zeroconf, no socket). On Linux the
    # kernel reports address changes (netlink); elsewhere they are read every mdns_poll_s.
    mdns: bool = True
    mdns_poll_s: float = 3.0
    no_relay: bool = False
    bind: str | None = None

    @staticmethod
    def for_profile(name: str, **overrides: Any) -> Config:
        if name not in PROFILES:
            raise PeerVaultError(f"unknown profile {name!r}; choose one of: {', '.join(PROFILES)}")
        base = Config() if name == "default" else LOW_POWER
        return replace(base, **overrides)


LOW_POWER = Config(
    profile="low-power",
    debounce_ms=2000,
    heartbeat_interval_s=60.0,  # iroh's own ~5 s keep-alive still detects a dead peer in ~30 s
    peer_silent_timeout_s=150.0,
    background_sync=False,
    watch_step_ms=50,
    cache_docs=50,
    cache_bytes=25 * 1024 * 1024,
    compress_threshold=512,
    max_concurrent_syncs=2,
    blob_fetches=4,
    idle_suspend_s=300.0,
    # Discovery stays on: a laptop that changes networks is where finding the other device
    # matters, and it costs no wake-up on Linux (netlink) and mDNS traffic only on a change;
    # where addresses must be polled, less often.
    mdns_poll_s=10.0,
)


def load(state_dir: Path, profile: str | None = None, **overrides: Any) -> Config:
    """The vault's config file, then the command line (`profile`, `overrides` not None)."""
    path = state_dir / CONFIG_FILE
    file_values: dict[str, Any] = {}
    if path.exists():
        try:
            file_values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise PeerVaultError(f"{path}: not valid TOML ({exc}); fix or delete the file") from None
    known = {f.name for f in fields(Config)} - {"profile", "no_relay", "bind"}
    unknown = set(file_values) - known - {"profile"}
    if unknown:
        raise PeerVaultError(
            f"{path}: unknown setting(s) {', '.join(sorted(unknown))}; known: profile, {', '.join(sorted(known))}"
        )
    name = profile or str(file_values.pop("profile", "default"))
    file_values.pop("profile", None)
    for key in ("reconnect_backoff_s", "api_origins"):
        if key in file_values:
            file_values[key] = tuple(file_values[key])
    if file_values.get("api_host", "127.0.0.1") not in LOOPBACK:
        raise PeerVaultError(f"{path}: api_host must be a loopback address ({', '.join(LOOPBACK)}): the API is this machine's")
    for key in ("mdns", "first_import_process"):
        if not isinstance(file_values.get(key, True), bool):
            raise PeerVaultError(f"{path}: {key} must be true or false, not {file_values[key]!r}")
    return Config.for_profile(name, **{**file_values, **{k: v for k, v in overrides.items() if v is not None}})


def saved(state_dir: Path) -> dict[str, Any]:
    """What the vault's config file sets (not the defaults)."""
    path = state_dir / CONFIG_FILE
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PeerVaultError(f"{path}: not valid TOML ({exc}); fix or delete the file") from None


def save(state_dir: Path, **values: Any) -> None:
    """Set these keys in the vault's config file, keeping its other lines (and comments) as
    they are; None removes a key. The new text must parse before it replaces the old file."""
    import json
    import re

    path = state_dir / CONFIG_FILE
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    for key, value in values.items():
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        lines = [line for line in lines if not pattern.match(line)]
        if value is not None:
            lines.append(f"{key} = {json.dumps(value)}")
    text = "\n".join(lines) + "\n"
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PeerVaultError(f"{path}: not valid TOML ({exc}); fix or delete the file") from None
    tmp = state_dir / (CONFIG_FILE + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def env_no_relay() -> bool:
    return os.environ.get("PEERVAULT_NO_RELAY", "") not in ("", "0", "false", "no")


def env_no_mdns() -> bool:
    return os.environ.get("PEERVAULT_NO_MDNS", "") not in ("", "0", "false", "no")
