"""This device's removal from the vault, as its peers told it (REFUSED 410), kept in the store.

A removed device stops dialling the peers that refused it, at once and at every later start,
until a new pairing (`peervault join`) clears the record. One meta key holds it as JSON:

    {"by": the first peer that refused us, "at": when (unix time), "peers": [every such peer]}
"""

from __future__ import annotations

import json
from typing import Any

from .db import Store

KEY = "removed_from_vault"


def load(store: Store) -> dict[str, Any] | None:
    raw = store.get_meta(KEY)
    return json.loads(str(raw)) if raw else None


def record(store: Store, by: str, at: float) -> bool:
    """Note that `by` refused us as removed; False if it had already (nothing new to say)."""
    rec = load(store) or {"by": by, "at": at, "peers": []}
    if by in rec["peers"]:
        return False
    rec["peers"] = sorted({*rec["peers"], by})
    store.set_meta(KEY, json.dumps(rec, sort_keys=True))
    return True


def refused_by(store: Store) -> set[str]:
    rec = load(store)
    return set(rec["peers"]) if rec else set()


def clear(store: Store) -> None:
    """A new pairing succeeded: this device is in the vault again."""
    store.set_meta(KEY, None)
