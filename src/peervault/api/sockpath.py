"""Where a vault's control socket is: shared by the daemon (server.py binds it) and the
CLI (client.py connects), in a module of its own so that a command does not import the
server (asyncio and the HTTP code) just to find the path."""

from __future__ import annotations

import os
from pathlib import Path

SOCKET = "control.sock"


def socket_path(state_dir: Path) -> str:
    """The address to bind or connect: sockets' paths are limited to ~107 bytes, so a deep
    vault is reached through /proc's short name for an open folder (Linux), else as is."""
    path = str(state_dir / SOCKET)
    return path if len(path.encode()) < 100 else _short(state_dir)


def _short(state_dir: Path) -> str:
    fd = os.open(state_dir, os.O_RDONLY | os.O_DIRECTORY)  # kept open: the name lives while it does
    return f"/proc/self/fd/{fd}/{SOCKET}"
