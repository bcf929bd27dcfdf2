"""`peervault vaults …`, `run` with no VAULT and `peervault service …` as a user types them,
in a home of the test's own (systemctl is real: where no user session exists, as in a
container, install writes the unit and says what to run)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from .conftest import ENV, wait_until


def pv(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in ENV.items() if k not in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "PEERVAULT_CONFIG", "PEERVAULT_DATA_DIR")
    }
    env["HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "peervault", *args], env=env, capture_output=True, text=True, timeout=60)


def test_vault_list_run_without_vault_and_the_service(tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    one, two, plain = tmp_path / "One", tmp_path / "Two", tmp_path / "plain"
    plain.mkdir()
    for v in (one, two):
        assert pv(home, "init", str(v)).returncode == 0
    res = pv(home, "run")
    assert res.returncode == 1 and "none listed in" in res.stderr and "vaults add" in res.stderr
    res = pv(home, "vaults", "add", str(plain))
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1 and "peervault init" in res.stderr
    assert pv(home, "vaults", "add", str(one)).returncode == 0
    assert pv(home, "vaults", "add", str(two)).returncode == 0
    config = home / ".config" / "peervault" / "config.toml"
    listed = json.loads(pv(home, "vaults", "list", "--json").stdout)
    assert listed["config"] == str(config) and [v["path"] for v in listed["vaults"]] == [str(one), str(two)]

    env = {**ENV, "HOME": str(home)}
    env.pop("PEERVAULT_CONFIG", None)
    env.pop("XDG_CONFIG_HOME", None)
    env.pop("PEERVAULT_DATA_DIR", None)
    env.pop("XDG_DATA_HOME", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "peervault", "run", "--bind", "127.0.0.1:0"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        for v in (one, two):
            wait_until(lambda: _pid(v) == proc.pid, what=f"{v.name} served by one process")
        listed = json.loads(pv(home, "vaults", "list", "--json").stdout)
        assert all(v["running"] for v in listed["vaults"])
        status = json.loads(pv(home, "status", str(two), "--json").stdout)  # each vault answers on its own socket
        assert status["daemon"]["pid"] == proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Stopped; all local changes are saved." in stderr

    assert pv(home, "service", "status").returncode == 4  # not installed
    res = pv(home, "service", "install", "--no-start")
    assert res.returncode == 0, res.stderr
    unit = home / ".config" / "systemd" / "user" / "peervault.service"
    text = unit.read_text()
    assert f"ExecStart={os.path.abspath(sys.executable)} -m peervault run\n" in text
    assert f"Environment=PEERVAULT_CONFIG={config}\n" in text and "Restart=on-failure\n" in text
    doc = json.loads((st := pv(home, "service", "status", "--json")).stdout)
    assert doc["installed"] and doc["up_to_date"] and [v["path"] for v in doc["vaults"]] == [str(one), str(two)]
    assert st.returncode == (0 if doc["active"] else 3)
    assert "systemctl --user" in res.stderr or doc["enabled"] is not None  # what to run, when it could not
    res = pv(home, "service", "uninstall")
    assert res.returncode == 0 and not unit.exists() and "untouched" in res.stderr
    assert pv(home, "service", "status").returncode == 4
    assert pv(home, "vaults", "remove", str(one)).returncode == 0
    assert pv(home, "vaults", "remove", str(one)).returncode == 1
    assert [v["path"] for v in json.loads(pv(home, "vaults", "list", "--json").stdout)["vaults"]] == [str(two)]


def _pid(v: Path) -> object:
    try:
        return json.loads((v / ".peervault" / "daemon.json").read_text()).get("pid")
    except (OSError, ValueError):
        return None
