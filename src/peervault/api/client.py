"""The CLI's client of the control API: HTTP over the vault's Unix socket with the
standard library only, so a command that talks to the daemon starts in milliseconds.

`call(name, **params)` takes the operation's name from service/operations.py and
returns what the daemon's VaultService returned; an error the daemon answered is
raised here as the same PeerVaultError class, so the CLI shows it and exits with the
same code as when it runs the operation itself. An answer to ask again soon (503 with
Retry-After: the vault's first import is running, daemon/importing.py) is waited out, up
to `wait_s`, so a command given while a new vault imports just takes a few seconds more.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from ..errors import PeerVaultError, by_code
from ..service.operations import BY_NAME
from .sockpath import socket_path

TIMEOUT_S = 180.0  # restoring thousands of held deletions writes each file before it answers
WAIT_S = 120.0  # the longest a command waits for a daemon that said "ask again" (50,000 files import in ~6 s)
POLL_S = 0.5  # asked again this often meanwhile (a local socket: cheaper than Retry-After's seconds)


class ControlClient:
    def __init__(self, state_dir: Path, timeout: float = TIMEOUT_S, wait_s: float = WAIT_S) -> None:
        self.state_dir = state_dir
        self.timeout = timeout
        self.wait_s = wait_s

    def answers(self) -> bool:
        """A daemon is listening on the vault's socket (not a stale file of a killed one)."""
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.settimeout(2.0)
            probe.connect(socket_path(self.state_dir))
            return True
        except OSError:
            return False
        finally:
            probe.close()

    def call(self, name: str, **params: Any) -> Any:
        op = BY_NAME[name]
        params = {k: v for k, v in params.items() if v is not None}
        path = op.path
        for key in list(params):
            if "{" + key + "}" in path:
                path = path.replace("{" + key + "}", quote(str(params.pop(key)), safe=""))
        body = None
        if op.method == "GET":
            path += "?" + urlencode(params) if params else ""
        else:
            body = json.dumps(params).encode()
        return self.request(op.method, path, body)

    def request(self, method: str, path: str, body: bytes | None = None) -> Any:
        deadline = time.monotonic() + self.wait_s
        while True:
            status, retry, raw = self._once(method, path, body)
            if status != 503 or retry is None or time.monotonic() >= deadline:
                break
            time.sleep(POLL_S)  # the operation did nothing: asking again is safe
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = None
        if status >= 400:
            err = (doc or {}).get("error", {}) if isinstance(doc, dict) else {}
            raise by_code(str(err.get("code", "")))(str(err.get("message") or f"the daemon answered {status}"))
        return doc

    def _once(self, method: str, path: str, body: bytes | None) -> tuple[int, str | None, bytes]:
        """(status, Retry-After, body) of one request."""
        from .unixhttp import UnixConnection

        conn = UnixConnection(socket_path(self.state_dir), self.timeout)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.getheader("Retry-After"), resp.read()
        except OSError as exc:
            raise PeerVaultError(f"the daemon of {self.state_dir.parent} did not answer ({exc}); is it still running?") from None
        finally:
            conn.close()
