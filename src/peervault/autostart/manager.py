"""Install, remove and ask about the service: the file (systemd.py, launchd.py) and the
service manager's commands around it (`systemctl --user`, `launchctl`).

Where the manager cannot be reached (no systemd user session: a container, an SSH login
without lingering), the file is still written and the one command to run is said. The
commands go through `run`, so the tests can record them; launchctl is only ever called
on macOS.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PeerVaultError
from . import launchd, systemd

Runner = Callable[[list[str]], "subprocess.CompletedProcess[str]"]


def run_command(args: list[str]) -> subprocess.CompletedProcess[str]:
    """A service manager's command; a missing program answers like a failed one (127)."""
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(args, 127, "", str(exc))


def daemon_command() -> list[str]:
    """This installation's interpreter, as invoked (a venv's python is a symlink: resolving
    it would leave the venv and its packages behind)."""
    return [os.path.abspath(sys.executable), "-m", "peervault", "run"]


@dataclass(frozen=True)
class Target:
    kind: str  # "systemd" or "launchd"
    path: Path  # the unit or plist
    text: str  # what install writes there
    logs: str  # where the daemon's output goes, for people


def target(platform: str, home: Path, env: Mapping[str, str], config_file: Path, command: list[str]) -> Target:
    if platform == "darwin":
        logs = launchd.log_dir(home)
        return Target("launchd", launchd.plist_path(home), launchd.plist_text(command, config_file, logs), str(logs))
    if platform.startswith("linux"):
        text = systemd.unit_text(command, config_file)
        return Target("systemd", systemd.unit_path(home, env), text, "the journal: journalctl --user -u peervault")
    raise PeerVaultError(
        f"`peervault service` knows Linux (systemd) and macOS (launchd), not {platform}; run `peervault run` yourself"
    )


class Manager:
    def __init__(self, t: Target, run: Runner = run_command, uid: int | None = None) -> None:
        self.t = t
        self.run = run
        self.uid = os.getuid() if uid is None else uid

    # ------------------------------------------------------------------ systemd
    def _systemctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(["systemctl", "--user", *args])

    def _systemd_reachable(self) -> bool:
        return self._systemctl("show-environment").returncode == 0

    def _checked(self, res: subprocess.CompletedProcess[str]) -> None:
        if res.returncode != 0:
            why = (res.stderr or res.stdout).strip().splitlines()
            raise PeerVaultError(f"`{' '.join(res.args)}` failed: {why[-1] if why else f'exit code {res.returncode}'}")

    # ------------------------------------------------------------------ launchd
    @property
    def _domain(self) -> str:
        return f"gui/{self.uid}"

    @property
    def _service(self) -> str:
        return f"{self._domain}/{launchd.LABEL}"

    def _launchctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        if sys.platform != "darwin":  # generated anywhere (tests), loaded only on a Mac
            return subprocess.CompletedProcess(["launchctl", *args], 127, "", "launchctl exists on macOS only")
        return self.run(["launchctl", *args])

    # ------------------------------------------------------------------ operations
    def install(self, start: bool) -> list[str]:
        """Write the file, then enable (and start) it; the lines to print."""
        _write(self.t.path, self.t.text)
        lines = [f"Wrote {self.t.path}."]
        if self.t.kind == "systemd":
            now = ["--now"] if start else []
            if not self._systemd_reachable():
                cmd = f"systemctl --user daemon-reload && systemctl --user enable {' '.join(now + [systemd.UNIT])}"
                return [*lines, f"No systemd user session here; to enable it, run: {cmd}"]
            self._checked(self._systemctl("daemon-reload"))
            self._checked(self._systemctl("enable", *now, systemd.UNIT))
            return [*lines, f"Enabled{' and started' if start else ''} {systemd.UNIT}; logs: {self.t.logs}."]
        Path(self.t.logs).mkdir(parents=True, exist_ok=True)
        self._launchctl("bootout", self._service)  # an older copy, if loaded
        if sys.platform != "darwin":
            return [*lines, f"Not on macOS: load it there with `launchctl bootstrap {self._domain} {self.t.path}`."]
        self._checked(self._launchctl("enable", self._service))
        if start:
            self._checked(self._launchctl("bootstrap", self._domain, str(self.t.path)))
        return [
            *lines,
            f"Enabled{' and started' if start else ' (starts at the next login)'} {launchd.LABEL}; logs: {self.t.logs}.",
        ]

    def uninstall(self) -> list[str]:
        """Stop, disable, remove; harmless when not installed."""
        stopped = False
        if self.t.kind == "systemd" and self._systemd_reachable():
            stopped = self._systemctl("disable", "--now", systemd.UNIT).returncode == 0  # fails if never enabled
        if self.t.kind == "launchd":
            stopped = self._launchctl("bootout", self._service).returncode == 0  # fails if not loaded
        if not self.t.path.exists():
            return [f"Not installed ({self.t.path} does not exist); nothing to do."]
        self.t.path.unlink()
        if self.t.kind == "systemd" and self._systemd_reachable():
            self._systemctl("daemon-reload")
        done = "Stopped, disabled and removed" if stopped else "Removed"
        return [f"{done} {self.t.path}; your vaults and the vault list are untouched."]

    def status(self) -> dict[str, Any]:
        """installed: the file is there; enabled, active: what the manager says (None when
        it cannot be asked)."""
        installed = self.t.path.exists()
        enabled: bool | None = None
        active: bool | None = None
        if self.t.kind == "systemd" and self._systemd_reachable():
            enabled = self._systemctl("is-enabled", systemd.UNIT).stdout.strip() == "enabled"
            active = self._systemctl("is-active", systemd.UNIT).stdout.strip() == "active"
        elif self.t.kind == "launchd" and sys.platform == "darwin":
            res = self._launchctl("print", self._service)
            enabled = res.returncode == 0
            active = enabled and "state = running" in res.stdout
        current = installed and self.t.path.read_text(encoding="utf-8") == self.t.text
        return {
            "manager": self.t.kind,
            "file": str(self.t.path),
            "installed": installed,
            "up_to_date": current,  # False: installed by another PeerVault (or edited): install again
            "enabled": enabled,
            "active": active,
            "logs": self.t.logs,
        }


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
