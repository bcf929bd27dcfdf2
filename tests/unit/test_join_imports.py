"""What a `join` (or any command) imports before it knows whether a daemon runs: not the
HTTP client's `http.client` and `email` (0.5 MB for the whole join), only once a daemon
answers (api/unixhttp.py)."""

from __future__ import annotations

import subprocess
import sys

_JOIN_IMPORTS = """
import sys
import peervault.cli.main, peervault.cli.connect, peervault.daemon, peervault.service.vault
print(sorted(m for m in ("http.client", "email") if m in sys.modules))
"""


def test_the_join_command_and_the_daemon_do_not_import_the_http_client() -> None:
    out = subprocess.run([sys.executable, "-c", _JOIN_IMPORTS], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
