"""Tunables in one frozen dataclass; every constant says why it has its value."""

from __future__ import annotations

import os
from dataclasses import dataclass

ALPN = b"peervault/sync/1"  # names the protocol and its version; bump on wire changes
STATE_DIR = ".peervault"


@dataclass(frozen=True)
class Config:
    # A burst of saves: the first change goes out at once, the rest within this window as one batch.
    debounce_ms: int = 1000
    # App-level heartbeat: iroh's idle timeout is ~30 s and not configurable from Python.
    heartbeat_interval_s: float = 2.5
    peer_silent_timeout_s: float = 10.0
    # Dials to dead addresses hang ~30 s in iroh; we give up sooner and retry with backoff.
    connect_timeout_s: float = 5.0
    reconnect_backoff_s: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
    # Unknown endpoints must prove a pairing secret quickly or be dropped.
    pair_timeout_s: float = 5.0
    # Catches what watchfiles misses (dir renames, mkdir -p races); cheap: size+mtime first.
    reconcile_interval_s: float = 60.0
    # watchfiles latency is about 2 x step; 20 ms keeps one edit well under the 50 ms budget.
    watch_step_ms: int = 20
    watch_debounce_ms: int = 400
    # Lazy document cache (spec: 100 docs / 50 MB).
    cache_docs: int = 100
    cache_bytes: int = 50 * 1024 * 1024
    # Loro's char diff is quadratic on rewrites (100 KB rewrite: 2 min): always bounded.
    text_diff_timeout_ms: int = 100
    line_diff_timeout_ms: int = 1000
    invite_ttl_s: float = 3600.0
    no_relay: bool = False
    bind: str | None = None


def env_no_relay() -> bool:
    return os.environ.get("PEERVAULT_NO_RELAY", "") not in ("", "0", "false", "no")
