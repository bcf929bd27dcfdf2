"""The settings a person may change while the daemon runs (the dashboard's Settings page,
GET/POST /settings): saved in .peervault/config.toml, its other lines kept. The debounce
applies at once; the profile (its timeouts, caches and watcher, fixed when the daemon's
parts are built) at the daemon's next start. Pause is its own operation."""

from __future__ import annotations

from typing import Any

from .. import config
from ..config import PROFILES
from ..errors import BadRequest

MAX_DEBOUNCE_MS = 60_000  # a minute: longer, and a note's edits reach the other devices too late to be "live"


def shown(state: Any, running_profile: str, debounce_ms: int) -> dict[str, Any]:
    """As they are in effect, and as the config file has them."""
    file = config.saved(state.dir)
    return {
        "profile": running_profile,
        "debounce_ms": debounce_ms,
        "paused": bool(state.store.get_meta("paused")),
        "profiles": list(PROFILES),
        "saved": {"profile": file.get("profile"), "debounce_ms": file.get("debounce_ms")},
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
