"""`peervault` processes run without Python's OpenSSL bindings (memory.without_openssl), and
what they hash and sign with `hashlib`, `hmac` and `secrets` is unchanged."""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from peervault.memory import child_command

SRC = str(Path(__file__).resolve().parents[2] / "src")

PROBE = textwrap.dedent(
    """
    import hashlib, hmac, secrets, sys, asyncio
    mapped = open("/proc/self/maps").read()
    print("libcrypto" in mapped, "libssl" in mapped, sys.modules.get("ssl"), len(secrets.token_bytes(16)))
    print(hashlib.sha256(b"vault").hexdigest(), hashlib.blake2b(b"vault", digest_size=16).hexdigest())
    print(hmac.new(b"key", b"vault", hashlib.sha256).hexdigest(), hmac.compare_digest(b"a", b"a"))
    print(asyncio.run(asyncio.sleep(0, "loop ran")), sys.argv[1:])
    """
)


def _env(extra: str = "") -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (extra, SRC, os.environ.get("PYTHONPATH", "")) if p)}


def _expected(argv: list[str]) -> list[str]:
    return [
        "False False None 16",
        f"{hashlib.sha256(b'vault').hexdigest()} {hashlib.blake2b(b'vault', digest_size=16).hexdigest()}",
        f"{hmac.new(b'key', b'vault', hashlib.sha256).hexdigest()} True",
        f"loop ran {argv}",
    ]


def test_the_cli_process_loads_no_openssl_and_hashes_as_before() -> None:
    code = "import peervault.cli.main\n" + PROBE
    out = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == _expected([])


def test_a_child_module_runs_as_main_without_openssl(tmp_path: Path) -> None:
    (tmp_path / "probe_child.py").write_text('if __name__ == "__main__":\n' + textwrap.indent(PROBE, "    "))
    cmd = [*child_command("probe_child"), "a b", "c"]
    out = subprocess.run(cmd, env=_env(str(tmp_path)), capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == _expected(["a b", "c"])


def test_a_process_that_loaded_asyncio_first_keeps_ssl() -> None:
    code = "import asyncio, sys\nfrom peervault.memory import without_openssl\nwithout_openssl()\nimport ssl\nprint(ssl.OPENSSL_VERSION[:7])"
    out = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, check=True).stdout
    assert out.strip() == "OpenSSL"
