"""HTTP/1.1 over a Unix socket for the CLI's client (api/client.py), in a module of its own:
`http.client` (and the `email` package under it, 0.5 MB) is imported only when a command
talks to a daemon, not by one that only checks whether a daemon answers (`join` with none)."""

from __future__ import annotations

import http.client
import socket


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)
