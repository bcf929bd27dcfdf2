"""The settings a person may change while the daemon runs (the dashboard's Settings page,
GET/POST /settings): saved in .peervault/config.toml, its other lines kept.

The debounce applies at once. A new profile applies at once too, for each of its settings
the daemon's parts read as they go (`LIVE`: daemon/profile.py applies them); the others
(the watcher's timings, LAN discovery's polling) are fixed when the parts are built and
take effect at the next start: `next_start` names them, until then. Pause is its own
operation."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from .. import config
from ..config import PROFILES, Config
from ..errors import BadRequest

MAX_DEBOUNCE_MS = 60_000  # a minute: longer, and a note's edits reach the other devices too late to be "live"
LIVE = frozenset({
    "debounce_ms", "heartbeat_interval_s", "peer_silent_timeout_s", "connect_timeout_s", "reconnect_backoff_s",
    "pair_timeout_s", "background_sync", "reconcile_interval_s", "cache_docs", "cache_bytes", "compress_threshold",
    "max_concurrent_syncs", "blob_fetches", "idle_suspend_s",
})  # fmt: skip
PROCESS = ("no_relay", "bind", "mdns", "api_port", "api_host", "api_origins")  # the command line's: kept as started


def changes(old: Config, new: Config) -> tuple[list[str], list[str]]:
    """(can apply at once, only at the next start): the settings that differ, by name."""
    differ = [f.name for f in fields(Config) if f.name != "profile" and getattr(old, f.name) != getattr(new, f.name)]
    return [n for n in differ if n in LIVE], [n for n in differ if n not in LIVE]


def profile_config(state: Any, profile: str, running: Config) -> Config:
    """What the daemon would run with under `profile`: the profile, the config file's own
    values over it, and the running process's command-line settings."""
    fresh = config.load(state.dir, profile)
    return replace(fresh, **{name: getattr(running, name) for name in PROCESS})


def shown(state: Any, running: Config, debounce_ms: int, live: bool) -> dict[str, Any]:
    """As they are in effect, as the config file has them, and what differs until the next
    start (`live` False: no daemon runs, so everything waits for its start)."""
    file = config.saved(state.dir)
    saved_profile = str(file.get("profile") or running.profile)
    now, later = changes(running, profile_config(state, saved_profile, running)) if saved_profile in PROFILES else ([], [])
    return {
        "profile": running.profile,
        "debounce_ms": debounce_ms,
        "paused": bool(state.store.get_meta("paused")),
        "profiles": list(PROFILES),
        "saved": {"profile": file.get("profile"), "debounce_ms": file.get("debounce_ms")},
        "live_settings": sorted(LIVE),
        "next_start": sorted(later if live else [*now, *later]),
    }


def save(state: Any, profile: str | None, debounce_ms: int | None) -> None:
    """Checked first: a bad value changes nothing."""
    if profile is not None and profile not in PROFILES:
        raise BadRequest(f"profile must be one of {', '.join(PROFILES)}, not {profile!r}")
    if debounce_ms is not None and debounce_ms > MAX_DEBOUNCE_MS:
        raise BadRequest(f"debounce_ms must be between 0 and {MAX_DEBOUNCE_MS}")
    changes = {k: v for k, v in (("profile", profile), ("debounce_ms", debounce_ms)) if v is not None}
    if changes:
        config.save(state.dir, **changes)
