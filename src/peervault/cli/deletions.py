"""`peervault deletions`: the local deletions the mass-deletion guard held back.

With a daemon running, the request is queued in the database and the daemon is woken
(SIGUSR2, as `forget` does): it owns the vault index. With none, the vault is opened
here and the same engine operation runs in-process.
"""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

from ..config import load as load_config
from ..errors import PeerVaultError
from ..sync.deleteguard import run_deletions_action

WAIT_S = 120.0  # a restore of many files writes each of them before it answers


def held(state: Any) -> list[dict[str, Any]]:
    return [
        {"file_id": fid, "path": path, "held_at": at, "reason": reason}
        for fid, (path, at, reason) in state.store.held_deletions().items()
    ]


def run_action(state: Any, action: str) -> dict[str, Any]:
    """Apply or restore the held deletions, through the daemon if one runs."""
    if state.daemon_running():
        state.store.request_deletions(action)
        os.kill(int((state.runtime() or {})["pid"]), signal.SIGUSR2)
        deadline = time.monotonic() + WAIT_S
        while (raw := state.store.get_meta("deletions_result")) is None:
            if time.monotonic() > deadline:
                raise PeerVaultError(f"the running daemon did not {action} the held deletions within {WAIT_S:.0f} s; see its log")
            time.sleep(0.05)
        result: dict[str, Any] = json.loads(str(raw))
    else:
        from ..sync.engine import Engine

        state.lock()
        result = run_deletions_action(Engine(state.root, state.store, load_config(state.dir)), action, time.time())
    if "error" in result:
        raise PeerVaultError(f"could not {action} the held deletions: {result['error']}")
    return result


def describe(result: dict[str, Any], running: bool) -> str:
    if not result["held"]:
        return "No deletions are held; nothing to do."
    if result["action"] == "apply":
        when = "now" if running else "at the next `peervault run` or `sync`"
        return f"Published {result['done']} deletion(s) (of {result['held']} held); other devices delete them {when}."
    return f"Put back {result['done']} file(s) (of {result['held']} held) from this device's copy; nothing was deleted elsewhere."
