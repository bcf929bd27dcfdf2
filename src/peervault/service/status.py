"""The vault's status: the database's figures, and the running daemon's live ones when the
service runs inside it (`runtime` is the document the daemon also writes to daemon.json)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..config import STATE_DIR
from ..crdt.entries import Entry
from ..store import removal
from ..store.filetable import FileRow
from ..sync import savedindex
from ..sync.layout import IGNORED_HERE
from ..vault.blobstore import BlobStore
from ..vault.ignore import IgnoreRules
from ..vault.scanner import scan


def peer_rows(state: Any, runtime: dict[str, Any]) -> list[dict[str, Any]]:
    connected = runtime.get("connected", {})
    suspended = set(runtime.get("suspended", []))  # low-power: idle links closed until a change
    removed = removal.load(state.store)  # a device of the vault refused us as removed (410)
    traffic = runtime.get("traffic", {})  # bytes [sent, received] per device since the daemon started
    return [
        {
            "id": p.endpoint_id,
            "addrs": p.addrs,
            "paired": p.pair_secret is None,
            "connected": p.endpoint_id in connected,
            "state": connected.get(p.endpoint_id) or ("suspended" if p.endpoint_id in suspended else None),
            "last_seen": p.last_seen,
            "removed_this_device": removed is not None and p.endpoint_id in removed["peers"],
            "bytes_sent": traffic.get(p.endpoint_id, [0, 0])[0],
            "bytes_received": traffic.get(p.endpoint_id, [0, 0])[1],
        }
        for p in state.store.peers()
    ]


def storage(state: Any, files: dict[str, FileRow]) -> dict[str, int]:
    """Disk use of binary files: in the vault (current versions, counted once) and in the
    blob store (kept versions, downloads under way), from the database and one walk of
    the store; the vault's own files are not read."""
    binary = [row.size for row in files.values() if len(row.hash) == 32]  # a blob row's hash is its BLAKE3 digest
    used, count = BlobStore(state.root / STATE_DIR).bytes_used()
    return {"binary_files": len(binary), "binary_bytes": sum(binary), "blob_store_files": count, "blob_store_bytes": used}


def collect(state: Any, runtime: dict[str, Any], entries: Mapping[str, Entry] | None = None) -> dict[str, Any]:
    """`runtime` is {} when no daemon runs (the service was opened in-process). `entries`:
    the running engine's, else those saved (read here: the index is not decoded for them
    where they are saved beside it, savedindex.read_entries)."""
    store = state.store
    if entries is None:
        entries = savedindex.read_entries(store)
    files = store.files()
    live_ids = {fid for fid, e in entries.items() if not e.deleted}
    held = store.held_deletions()
    peer_wipe = store.get_meta("peer_mass_deletion")
    unsynced = store.unsynced()
    return {
        "vault": str(state.root),
        "device_id": state.device_id,
        "vault_id": state.vault_id,
        "daemon": {
            "running": bool(runtime),
            "pid": runtime.get("pid"),
            "addrs": runtime.get("addrs", []),
            "paused": bool(store.get_meta("paused")),
        },
        "peers": peer_rows(state, runtime),
        # LAN discovery (mDNS): what this device announces, and what it heard (daemon/discovery.py)
        "lan": runtime.get("lan", {"enabled": False}),
        "removed": removal.load(store),
        "files": {
            "tracked": len(files),
            "in_index": len(live_ids),
            "deleted": len(entries) - len(live_ids),
            "not_yet_published": sum(1 for f in files if f.startswith("u")),
            "ignored": runtime["ignored"] if "ignored" in runtime else scan(state.root, IgnoreRules.load(state.root))[1],
            "ignored_here": sum(1 for r in unsynced.values() if r == IGNORED_HERE),  # peers' notes, by .peervault/ignore
        },
        "pending_changes": runtime.get("pending", 0),
        "binary_transfers": runtime.get("blobs", {"wanted": 0, "fetching": 0, "bytes_received": 0}),
        "storage": storage(state, files),
        "not_synced": [{"path": p, "reason": r} for p, r in unsynced.items()],
        "held_deletions": {
            "count": len(held),
            "reason": next(iter(held.values()))[2] if held else None,
            "paths": [path for path, _, _ in held.values()][:1000],
        },
        "peer_mass_deletion": json.loads(str(peer_wipe)) if peer_wipe else None,
        "metrics": runtime.get("metrics", {}),
    }
