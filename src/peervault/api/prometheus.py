"""`/metrics`: the status figures in Prometheus' text format (version 0.0.4), so the
tools people already run can scrape a vault."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Status fields outside `metrics` that are worth a graph.
_GAUGES: dict[str, tuple[str, Callable[[dict[str, Any]], float]]] = {
    "peervault_files_tracked": ("files tracked in the vault", lambda s: s["files"]["tracked"]),
    "peervault_files_deleted": ("deleted files that can be restored", lambda s: s["files"]["deleted"]),
    "peervault_files_ignored": ("files and folders ignored", lambda s: s["files"]["ignored"]),
    "peervault_files_not_synced": ("files that cannot be synced", lambda s: len(s["not_synced"])),
    "peervault_pending_changes": ("local changes not yet sent", lambda s: s["pending_changes"]),
    "peervault_held_deletions": ("local deletions held by the guard", lambda s: s["held_deletions"]["count"]),
    "peervault_peers": ("paired devices", lambda s: len(s["peers"])),
    "peervault_peers_connected": ("paired devices connected now", lambda s: sum(p["connected"] for p in s["peers"])),
    "peervault_paused": ("1 while sync is paused", lambda s: int(s["daemon"]["paused"])),
    "peervault_binary_bytes": ("bytes of binary files in the vault", lambda s: s["storage"]["binary_bytes"]),
    "peervault_blob_store_bytes": ("bytes of the blob store (kept versions)", lambda s: s["storage"]["blob_store_bytes"]),
}
_COUNTERS = {"bytes_sent", "bytes_received", "sync_error_count"}


def render(status: dict[str, Any]) -> str:
    lines: list[str] = []

    def emit(name: str, kind: str, help_text: str, value: float) -> None:
        lines.extend([f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {value:g}"])

    for name, (help_text, get) in _GAUGES.items():
        emit(name, "gauge", help_text, float(get(status)))
    for key, value in sorted(status.get("metrics", {}).items()):
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue  # phases_ms (a dict), the profile's name
        kind = "counter" if key in _COUNTERS else "gauge"
        name = f"peervault_{key}_total" if kind == "counter" else f"peervault_{key}"
        emit(name, kind, f"the daemon's {key.replace('_', ' ')}", float(value))
    return "\n".join(lines) + "\n"
