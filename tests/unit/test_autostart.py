"""The service files `peervault service install` writes, checked by content (and the unit by
systemd's own `systemd-analyze verify` when it is installed), and the manager's commands."""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from peervault.autostart import launchd, systemd
from peervault.autostart.manager import Manager, daemon_command, target
from peervault.errors import PeerVaultError

CONFIG = Path("/home/me/.config/peervault/config.toml")


def assignments(text: str) -> dict[str, list[str]]:
    """Key → values of a unit file (keys may repeat), sections ignored."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


def test_the_unit_runs_this_interpreter_on_the_vault_list_restarts_on_failure_and_logs_to_the_journal():
    text = systemd.unit_text(daemon_command(), CONFIG)
    keys = assignments(text)
    assert keys["ExecStart"] == [f"{os.path.abspath(sys.executable)} -m peervault run"]
    assert os.path.isabs(keys["ExecStart"][0].split()[0])
    assert keys["Environment"] == [f"PEERVAULT_CONFIG={CONFIG}", "PYTHONUNBUFFERED=1"]
    assert keys["Restart"] == ["on-failure"]
    assert keys["StandardOutput"] == keys["StandardError"] == ["journal"]
    assert keys["WantedBy"] == ["default.target"]
    assert text.index("[Unit]") < text.index("[Service]") < text.index("[Install]")
    assert systemd.unit_path(Path("/home/me"), {}) == Path("/home/me/.config/systemd/user/peervault.service")
    assert systemd.unit_path(Path("/home/me"), {"XDG_CONFIG_HOME": "/cfg"}) == Path("/cfg/systemd/user/peervault.service")


def test_odd_paths_are_quoted_as_systemd_splits_them():
    assert systemd.quote("/usr/bin/python3") == "/usr/bin/python3"
    assert systemd.quote("/My Apps/py") == '"/My Apps/py"'
    assert systemd.quote('/a"b\\c') == '"/a\\"b\\\\c"'
    assert systemd.quote("/100%/$HOME") == "/100%%/$$HOME"  # no specifier, no variable expanded
    assert systemd.quote("/100%/$HOME", variables=False) == "/100%%/$HOME"  # Environment= expands no variables


def _verify(unit: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`systemd-analyze verify --user` needs a runtime directory; a container has none."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    cmd = ["systemd-analyze", "verify", "--user", str(unit)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60, check=False)
    if res.returncode != 0 and "Failed to initialize manager" in res.stderr:  # no user manager possible here
        res = subprocess.run([c for c in cmd if c != "--user"], capture_output=True, text=True, timeout=60, check=False)
    return res


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed (apt-get install systemd)")
@pytest.mark.parametrize("odd", [False, True])
def test_systemd_accepts_the_unit(tmp_path: Path, odd: bool):
    python = Path(sys.executable)
    config = CONFIG
    if odd:  # the interpreter in a folder with a space and %, the config file with quotes and $ too
        folder, cfg_folder = tmp_path / "my venv 100%", tmp_path / 'my "cfg" 100% $HOME'
        folder.mkdir()
        (folder / "python").symlink_to(sys.executable)
        python, config = folder / "python", cfg_folder / "config.toml"
    unit = tmp_path / "peervault.service"
    unit.write_text(systemd.unit_text([str(python), "-m", "peervault", "run"], config))
    res = _verify(unit, tmp_path)
    assert res.returncode == 0, res.stderr
    assert "peervault.service" not in res.stderr + res.stdout, res.stderr  # no warning about our unit either
    bad = tmp_path / "bad" / "peervault.service"  # the check can fail: a program that is not there
    bad.parent.mkdir()
    bad.write_text(systemd.unit_text(["/nonexistent/python", "-m", "peervault", "run"], config))
    assert _verify(bad, tmp_path / "bad").returncode != 0


def test_an_interpreter_path_systemd_cannot_run_is_refused_with_one_line():
    with pytest.raises(PeerVaultError, match="systemd cannot start a program"):
        systemd.unit_text(['/opt/my "venv"/bin/python', "-m", "peervault", "run"], CONFIG)


def test_the_launchd_agent_starts_at_login_restarts_on_failure_and_logs_to_files():
    home = Path("/Users/me")
    logs = launchd.log_dir(home)
    doc = plistlib.loads(launchd.plist_text(["/opt/venv/bin/python", "-m", "peervault", "run"], CONFIG, logs).encode())
    assert doc["Label"] == launchd.LABEL
    assert doc["ProgramArguments"] == ["/opt/venv/bin/python", "-m", "peervault", "run"]
    assert doc["EnvironmentVariables"]["PEERVAULT_CONFIG"] == str(CONFIG)
    assert doc["RunAtLoad"] is True and doc["KeepAlive"] == {"SuccessfulExit": False}
    assert doc["StandardOutPath"] == doc["StandardErrorPath"] == "/Users/me/Library/Logs/PeerVault/peervault.log"
    assert launchd.plist_path(home) == Path(f"/Users/me/Library/LaunchAgents/{launchd.LABEL}.plist")


class Recorder:
    def __init__(self, reachable: bool) -> None:
        self.reachable = reachable
        self.calls: list[list[str]] = []

    def __call__(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(args)
        ok = self.reachable or args[2:] != ["show-environment"]
        out = {"is-enabled": "enabled\n", "is-active": "active\n"}.get(args[2], "")
        return subprocess.CompletedProcess(args, 0 if ok else 1, out, "" if ok else "Failed to connect to bus")


def test_install_enables_and_starts_through_systemctl_when_a_user_session_exists(tmp_path: Path):
    t = target("linux", tmp_path, {}, CONFIG, daemon_command())
    run = Recorder(reachable=True)
    lines = Manager(t, run).install(start=True)
    assert t.path.read_text() == t.text and "Enabled and started" in lines[-1]
    assert run.calls[1:] == [
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", "--now", "peervault.service"],
    ]
    status = Manager(t, run).status()
    assert status["installed"] and status["up_to_date"] and status["enabled"] and status["active"]
    run.calls.clear()
    assert "Stopped, disabled and removed" in Manager(t, run).uninstall()[0] and not t.path.exists()
    assert ["systemctl", "--user", "disable", "--now", "peervault.service"] in run.calls


def test_without_a_user_session_the_file_is_written_and_the_command_to_run_is_said(tmp_path: Path):
    t = target("linux", tmp_path, {}, CONFIG, daemon_command())
    run = Recorder(reachable=False)
    lines = Manager(t, run).install(start=False)
    assert t.path.exists() and len(run.calls) == 1
    assert lines[-1].endswith("run: systemctl --user daemon-reload && systemctl --user enable peervault.service")
    assert Manager(t, run).status()["enabled"] is None


def test_an_unknown_system_is_one_clear_line(tmp_path: Path):
    with pytest.raises(PeerVaultError, match="knows Linux .* and macOS"):
        target("win32", tmp_path, {}, CONFIG, daemon_command())
