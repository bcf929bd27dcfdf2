"""`peervault status`: gathered from the database and, if a daemon runs, its runtime file."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.table import Table

from ..crdt.index import VaultIndex


def collect(state: Any) -> dict[str, Any]:
    store = state.store
    running = state.daemon_running()
    runtime = (state.runtime() or {}) if running else {}
    connected = runtime.get("connected", {})
    snap = store.get_meta("index_snapshot")
    entries = VaultIndex.load(bytes(snap), 1).entries() if snap else {}
    files = store.files()
    live_ids = {fid for fid, e in entries.items() if not e.deleted}
    peers = [
        {
            "id": p.endpoint_id,
            "addrs": p.addrs,
            "paired": p.pair_secret is None,
            "connected": p.endpoint_id in connected,
            "state": connected.get(p.endpoint_id),
            "last_seen": p.last_seen,
        }
        for p in store.peers()
    ]
    unsynced = store.unsynced()
    return {
        "vault": str(state.root),
        "device_id": state.device_id,
        "vault_id": state.vault_id,
        "daemon": {"running": running, "pid": runtime.get("pid"), "addrs": runtime.get("addrs", [])},
        "peers": peers,
        "files": {
            "tracked": len(files),
            "in_index": len(live_ids),
            "deleted": len(entries) - len(live_ids),
            "not_yet_published": sum(1 for f in files if f.startswith("u")),
        },
        "pending_changes": runtime.get("pending", 0),
        "not_synced": [{"path": p, "reason": r} for p, r in unsynced.items()],
        "metrics": runtime.get("metrics", {}),
    }


def _ago(ts: float | None) -> str:
    if not ts:
        return "never"
    s = max(0, time.time() - ts)
    return f"{s:.0f} s ago" if s < 120 else f"{s / 60:.0f} min ago" if s < 7200 else f"{s / 3600:.0f} h ago"


def render(out: Console, info: dict[str, Any]) -> None:
    d = info["daemon"]
    out.print(f"[bold]Vault[/]     {info['vault']}  (id {info['vault_id'][:8]})", highlight=False)
    out.print(f"[bold]Device[/]    {info['device_id']}", highlight=False)
    out.print(
        f"[bold]Daemon[/]    {'running, pid ' + str(d['pid']) + ' on ' + ', '.join(d['addrs']) if d['running'] else 'not running'}",
        highlight=False,
    )
    f = info["files"]
    out.print(
        f"[bold]Files[/]     {f['tracked']} tracked, {f['deleted']} deleted (recoverable), "
        f"{info['pending_changes']} change(s) pending, {len(info['not_synced'])} not synced",
        highlight=False,
    )
    table = Table(title="Peers", title_justify="left")
    for col in ("device", "paired", "connected", "last seen", "addresses"):
        table.add_column(col)
    for p in info["peers"]:
        table.add_row(
            p["id"][:16],
            "yes" if p["paired"] else "pending",
            p["state"] or ("yes" if p["connected"] else "no"),
            _ago(p["last_seen"]),
            ", ".join(p["addrs"][:3]),
        )
    out.print(table)
    if info["not_synced"]:
        t = Table(title="Not synced yet", title_justify="left")
        t.add_column("path")
        t.add_column("reason")
        for item in info["not_synced"][:50]:
            t.add_row(item["path"], item["reason"])
        out.print(t)
    mt = info["metrics"]
    if mt:
        out.print(
            f"[bold]Metrics[/]   start-up {mt.get('startup_time_ms', 0):.0f} ms, RSS {mt.get('rss_mb', 0)} MB, "
            f"last sync {mt.get('last_sync_duration_ms', 0):.0f} ms, sent {mt.get('bytes_sent', 0)} B, "
            f"received {mt.get('bytes_received', 0)} B, errors {mt.get('sync_error_count', 0)}",
            highlight=False,
        )
