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
    unsynced = store.unsynced()
    counts = {
        "tracked": len(files),
        "in_index": len(live_ids),
        "deleted": len(entries) - len(live_ids),
        "not_yet_published": sum(1 for f in files if f.startswith("u")),
        "ignored": runtime["ignored"] if "ignored" in runtime else scan(state.root, IgnoreRules.load(state.root))[1],
        "ignored_here": sum(1 for r in unsynced.values() if r == IGNORED_HERE),  # peers' notes, by .peervault/ignore
    }
    return document(state, runtime, counts, unsynced, store.held_deletions(), storage(state, files))


def while_importing(state: Any, runtime: dict[str, Any]) -> dict[str, Any]:
    """The same document while the first import runs in its own process (daemon/importing.py):
    nothing it is writing is read (files, index, blob store), so this costs the daemon no
    memory; the files count is the import's progress."""
    done = runtime["first_import"]["files_done"]
    counts = {"tracked": done, "in_index": done, "deleted": 0, "not_yet_published": 0, "ignored": 0, "ignored_here": 0}
    return document(state, runtime, counts, {}, {}, dict.fromkeys(STORAGE_KEYS, 0))


STORAGE_KEYS = ("binary_files", "binary_bytes", "blob_store_files", "blob_store_bytes")


def document(
    state: Any,
    runtime: dict[str, Any],
    counts: dict[str, int],
    unsynced: dict[str, str],
    held: dict[str, tuple[str, float, str]],
    disk: dict[str, int],
) -> dict[str, Any]:
    store = state.store
    peer_wipe = store.get_meta("peer_mass_deletion")
    return {
        "vault": str(state.root),
        "device_id": state.device_id,
        "vault_id": state.vault_id,
        "daemon": {
            "running": bool(runtime),
            "pid": runtime.get("pid"),
            "addrs": runtime.get("addrs", []),
            "paused": bool(store.get_meta("paused")),
            # the start-up comparison of folder and database (a first import included) has ended
            "scan_done": bool(runtime.get("scan_done")),
            # {files_done, files_total} while a first import runs in its own process, else null
            "first_import": runtime.get("first_import"),
        },
        "peers": peer_rows(state, runtime),
        # LAN discovery (mDNS): what this device announces, and what it heard (daemon/discovery.py)
        "lan": runtime.get("lan", {"enabled": False}),
        "removed": removal.load(store),
        "files": counts,
        "pending_changes": runtime.get("pending", 0),
        "binary_transfers": runtime.get("blobs", {"wanted": 0, "fetching": 0, "bytes_received": 0}),
        "storage": disk,
        "not_synced": [{"path": p, "reason": r} for p, r in unsynced.items()],
        "held_deletions": {
            "count": len(held),
            "reason": next(iter(held.values()))[2] if held else None,
            "paths": [path for path, _, _ in held.values()][:1000],
        },
        "peer_mass_deletion": json.loads(str(peer_wipe)) if peer_wipe else None,
        "metrics": runtime.get("metrics", {}),
    }
