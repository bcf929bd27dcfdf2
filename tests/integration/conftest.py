"""Real devices for integration tests: each `Device` is a vault folder driven by real
`peervault` processes (daemons in the background, one-shot commands in the foreground)
talking over loopback Iroh. Timeouts are generous; speed is measured by benchmarks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# PEERVAULT_DATA_DIR: the per-user device key (devicekey.py) is never the real user's; each
# Device has its own (`Device.env`), so two test devices never share an id unless a test says so
ENV = {
    **os.environ,
    "PEERVAULT_NO_RELAY": "1",
    "PEERVAULT_NO_MDNS": "1",
    "PYTHONUNBUFFERED": "1",
    "PEERVAULT_DATA_DIR": tempfile.mkdtemp(prefix="peervault-test-data-"),
}
TIMEOUT = 30.0


def wait_until(cond: Callable[[], object], timeout: float = TIMEOUT, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while True:
        if cond():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".peervault" not in p.relative_to(root).parts
    }


def read(p: Path) -> str | None:
    try:
        return p.read_text()
    except OSError:
        return None


class Device:
    def __init__(self, root: Path, logs: Path, data: Path | None = None) -> None:
        """`data`: the per-user data dir (device key) this device's commands see; its own by default."""
        self.root = root
        self.logs = logs
        self.env = {**ENV, "PEERVAULT_DATA_DIR": str(data or logs.parent / "userdata" / root.name)}
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_n = 0

    def cli(self, *args: str, check: bool = True, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(
            [sys.executable, "-m", "peervault", *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and res.returncode != 0:
            raise AssertionError(f"peervault {' '.join(args)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
        return res

    def init(self) -> str:
        return self.cli("init", str(self.root)).stdout.strip()

    def start(self, *extra: str, env: dict[str, str] | None = None) -> None:
        """`env`: more environment for this daemon (PEERVAULT_CRASH_AT: vault/faults.py)."""
        assert self.proc is None
        self._log_n += 1
        log = self._log = open(self.logs / f"{self.root.name}-{self._log_n}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "peervault", "--log-level", "debug", "run", str(self.root), "--bind", "127.0.0.1:0", *extra],
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_until(lambda: (self.runtime() or {}).get("pid") == self.proc.pid, what=f"{self.root.name} daemon ready")  # type: ignore[union-attr]

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        rc = self.proc.wait(30)
        self.proc = None
        self._log.close()
        return rc

    def runtime(self) -> dict | None:
        try:
            return json.loads((self.root / ".peervault" / "daemon.json").read_text())
        except (OSError, ValueError):
            return None

    def status(self) -> dict:
        return json.loads(self.cli("status", str(self.root), "--json").stdout)

    def connected(self) -> int:
        return len((self.runtime() or {}).get("connected", {})) if self.proc else 0

    def write(self, rel: str, text: str) -> None:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)

    def read(self, rel: str) -> str | None:
        return read(self.root / rel)

    def exists(self, rel: str) -> bool:
        return (self.root / rel).exists()

    def files(self) -> dict[str, bytes]:
        return snapshot(self.root)

    def invite(self, *extra: str) -> str:
        return self.cli("invite", str(self.root), *extra).stdout.strip()

    def join(self, ticket: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.cli("join", str(self.root), ticket, "--bind", "127.0.0.1:0", check=check)


@pytest.fixture
def make_device(tmp_path: Path) -> Iterator[Callable[[str], Device]]:
    devices: list[Device] = []
    logs = tmp_path / "logs"
    logs.mkdir()

    def make(name: str) -> Device:
        d = Device(tmp_path / name, logs)
        d.init()
        devices.append(d)
        return d

    yield make
    for d in devices:
        shut_down(d)


def shut_down(d: Device) -> None:
    """End a test's daemon however it is doing (SIGTERM, then SIGKILL after 15 s)."""
    if d.proc is not None:
        d.proc.send_signal(signal.SIGTERM)
        try:
            d.proc.wait(15)
        except subprocess.TimeoutExpired:
            d.proc.kill()
            d.proc.wait()
        d.proc = None
        d._log.close()


def pair_running(a: Device, b: Device) -> None:
    """a's daemon runs; b joins it and then starts its own daemon; both end up connected."""
    b.join(a.invite())
    b.start()
    wait_until(lambda: a.connected() >= 1 and b.connected() >= 1, what="devices connected")


def in_sync(*devices: Device) -> Callable[[], bool]:
    def check() -> bool:
        first = devices[0].files()
        return all(d.files() == first for d in devices[1:])

    return check
