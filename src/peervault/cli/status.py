"""`peervault status` as a table (the figures come from the service: service/status.py)."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.table import Table


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
    importing = d.get("first_import")
    if importing:
        far = (
            f"{importing['files_done']:,} of {importing['files_total']:,} files"
            if importing["files_total"]
            else "looking at the folder"
        )
        out.print(f"[bold]Importing[/] the first import runs ({far}); history and sync start once it has ended", highlight=False)
    lan = info.get("lan", {})
    if d["running"]:
        on = f"on, announcing {', '.join(lan.get('announcing', [])) or 'no address yet'}; {len(lan.get('peers', {}))} device(s) found"
        out.print(f"[bold]LAN[/]       discovery {on if lan.get('enabled') else 'off'}", highlight=False)
    if d.get("paused"):
        out.print(
            f"[bold yellow]Paused[/]    sync is paused on this device; `peervault resume {info['vault']}` syncs again",
            highlight=False,
        )
    if info["removed"]:
        r = info["removed"]
        out.print(
            f"[bold red]Removed[/]   this device was removed from the vault (device {r['by'][:10]} said so, "
            f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(r['at']))}): it no longer dials "
            f"{len(r['peers'])} device(s). To rejoin: `peervault invite` on a device still in the vault, "
            f"then `peervault join {info['vault']} TICKET` here",
            highlight=False,
        )
    f = info["files"]
    out.print(
        f"[bold]Files[/]     {f['tracked']} tracked, {f['deleted']} deleted (recoverable), "
        f"{info['pending_changes']} change(s) pending, {len(info['not_synced'])} not synced"
        + (f" ({f['ignored_here']} of them ignored on this device)" if f.get("ignored_here") else "")
        + f", {f['ignored']} ignored (files and folders; see .peervaultignore and .peervault/ignore)",
        highlight=False,
    )
    disk = info.get("storage")
    if disk and (disk["binary_files"] or disk["blob_store_bytes"]):
        out.print(
            f"[bold]Storage[/]   {disk['binary_files']} binary file(s), {_size(disk['binary_bytes'])} in the vault; "
            f"blob store {_size(disk['blob_store_bytes'])} ({disk['blob_store_files']} file(s): versions kept here)",
            highlight=False,
        )
    blobs = info["binary_transfers"]
    if blobs["wanted"]:
        out.print(
            f"[bold]Binaries[/]  {blobs['wanted']} file(s) waiting for their content, {blobs['fetching']} transferring",
            highlight=False,
        )
    held = info["held_deletions"]
    if held["count"]:
        out.print(
            f"[bold yellow]Held[/]      {held['count']} local deletion(s) not published ({held['reason']}): "
            f"`peervault deletions list|apply|restore {info['vault']}`",
            highlight=False,
        )
    wipe = info["peer_mass_deletion"]
    if wipe:
        out.print(
            f"[bold yellow]Deleted[/]   device {wipe['peer'][:10]} deleted {wipe['count']} file(s) at once, "
            f"{_ago(wipe['at'])}: `peervault deleted` lists them, `peervault restore` brings one back",
            highlight=False,
        )
    table = Table(title="Peers", title_justify="left")
    for col in ("device", "paired", "connected", "last seen", "addresses"):
        table.add_column(col)
    for p in info["peers"]:
        table.add_row(
            p["id"][:16],
            "yes" if p["paired"] else "pending",
            p["state"] or ("yes" if p["connected"] else "removed this device" if p["removed_this_device"] else "no"),
            _ago(p["last_seen"]),
            ", ".join(p["addrs"][:3]),
        )
    out.print(table)
    if info["not_synced"]:
        t = Table(title="Not synced" if f.get("ignored_here") else "Not synced yet", title_justify="left")
        t.add_column("path")
        t.add_column("reason")
        for item in info["not_synced"][:50]:
            t.add_row(item["path"], item["reason"])
        out.print(t)
    mt = info["metrics"]
    if mt:
        out.print(_metrics_table(mt))


def _size(n: float) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 1024:.1f} KB" if n >= 1024 else f"{n:.0f} B"


def _metrics_table(mt: dict[str, Any]) -> Table:
    """The spec's PerformanceMetrics, grouped as it groups them."""
    t = Table(title=f"Performance ({mt.get('profile', 'default')} profile)", title_justify="left", show_header=False)
    t.add_column("group", style="bold")
    t.add_column("figures")
    t.add_row(
        "start-up",
        f"{mt.get('startup_time_ms', 0):.0f} ms to ready (modules {mt.get('module_load_ms', 0):.0f} ms, "
        f"transport {mt.get('transport_init_ms', 0):.0f} ms, storage {mt.get('storage_init_ms', 0):.0f} ms, "
        f"index {mt.get('index_load_ms', 0):.0f} ms)",
    )
    t.add_row(
        "sync",
        f"last {mt.get('last_sync_duration_ms', 0):.0f} ms, average {mt.get('avg_sync_latency_ms', 0):.0f} ms, "
        f"{mt.get('sync_error_count', 0)} error(s), {mt.get('sync_queued', 0)} note(s) queued",
    )
    t.add_row(
        "memory",
        f"{mt.get('memory_mb', 0)} MB; {mt.get('docs_cached', 0)} note(s) cached ({mt.get('cache_mb', 0)} MB), "
        f"hit rate {mt.get('cache_hit_rate', 0) * 100:.0f} %",
    )
    t.add_row(
        "network",
        f"sent {_size(mt.get('bytes_sent', 0))}, received {_size(mt.get('bytes_received', 0))}, "
        f"{mt.get('active_connections', 0)} connection(s)",
    )
    return t
