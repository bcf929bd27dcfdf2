"""How a command reaches a vault: through the running daemon's control API when there is
one, else through the same VaultService opened in this process. Either way the command
calls `vault.call(operation, **params)` and gets the same JSON values back."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..api.client import ControlClient
from ..config import STATE_DIR
from ..errors import PeerVaultError
from ..service.operations import BY_NAME, coerce

DAEMON_STARTING_S = 10.0  # a daemon holds the lock before its socket is bound: wait this long


class RemoteVault:
    running = True

    def __init__(self, client: ControlClient) -> None:
        self.client = client

    def call(self, name: str, **params: Any) -> Any:
        return self.client.call(name, **params)


class LocalVault:
    running = False

    def __init__(self, state: Any) -> None:
        from ..config import load as load_config
        from ..service.vault import VaultService

        def open_engine() -> Any:
            from ..sync.engine import Engine

            state.lock()  # a daemon started meanwhile is refused until this command ends
            return Engine(state.root, state.store, cfg, time.time)

        cfg = load_config(state.dir)
        self.service = VaultService(state, cfg, time.time, open_engine=open_engine)

    def call(self, name: str, **params: Any) -> Any:
        kwargs = coerce(BY_NAME[name], {k: v for k, v in params.items() if v is not None})
        return json.loads(json.dumps(getattr(self.service, name)(**kwargs)))  # exactly what the API would send


@contextmanager
def connect(vault: str) -> Iterator[RemoteVault | LocalVault]:
    from ..state import VaultState

    root = Path(vault).resolve()
    client = ControlClient(root / STATE_DIR)
    if client.answers():
        yield RemoteVault(client)
        return
    state = VaultState.open(root)  # NotAVault, with what to do
    try:
        if _daemon_answers(state, client):
            yield RemoteVault(client)
        else:
            yield LocalVault(state)
    finally:
        state.close()


def _daemon_answers(state: Any, client: ControlClient) -> bool:
    """The lock is held but the socket is silent: a daemon starting (its socket comes within
    moments), one stopping (the lock goes soon), or another command working in-process.
    Wait for one of those; False once nobody holds the vault."""
    deadline = time.monotonic() + DAEMON_STARTING_S
    while state.daemon_running():
        if client.answers():
            return True
        if time.monotonic() > deadline:
            pid = (state.runtime() or {}).get("pid", "?")
            raise PeerVaultError(
                f"{state.root} is held by another PeerVault process (pid {pid}) whose control API does not answer; "
                "wait for it to finish, or restart the daemon if it is an older version"
            )
        time.sleep(0.05)
    return False
