"""Syncthing on the same folder in the same run, driven as ../shared/anchors/syncthing_bench.py
drives it: two instances on loopback, each with its own --home, one send-receive folder.

Each instance knows the other's device ID and `tcp://127.0.0.1:PORT`; global and local
discovery, relays, NAT traversal, usage and crash reporting and upgrades are off; the REST
API listens on 127.0.0.1 with a random key. The watcher delay is 1 s (`fsWatcherDelayS`,
its fastest practical setting; the default is 10 s). `syncthing serve` runs as a monitor
and a worker: both are tracked by pid and stopped in `stop`, escalating to SIGKILL.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import psutil

from .harness import BenchError, wait_for

FOLDER_ID = "vault"
WATCHER_DELAY_S = 1
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_OPTIONS = {
    "globalAnnounceEnabled": "false",
    "localAnnounceEnabled": "false",
    "relaysEnabled": "false",
    "natEnabled": "false",
    "urAccepted": "-1",
    "urSeen": "3",
    "autoUpgradeIntervalH": "0",
    "crashReportingEnabled": "false",
    "startBrowser": "false",
    "stunKeepaliveStartS": "0",
    "announceLANAddresses": "false",
}


def binary() -> str | None:
    return shutil.which("syncthing")


def free_ports(k: int) -> list[int]:
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(k)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def _el(parent: ET.Element, tag: str) -> ET.Element:
    el = parent.find(tag)
    if el is None:
        raise BenchError(f"Syncthing's generated config.xml has no <{tag}>")
    return el


def _copy(el: ET.Element) -> ET.Element:
    return ET.fromstring(ET.tostring(el))


class Syncthing:
    def __init__(self, name: str, base: Path, folder: Path, exe: str) -> None:
        self.name, self.exe, self.folder = name, exe, folder
        self.home, self.userhome = base / f"st-{name}-home", base / f"st-{name}-user"
        for d in (self.home, self.userhome, folder / ".stfolder"):
            d.mkdir(parents=True, exist_ok=True)
        self.gui_port, self.sync_port = free_ports(2)
        self.apikey = secrets.token_urlsafe(24)
        self.device_id = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self.workers: list[int] = []
        self.log = base / f"st-{name}.log"

    def _env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.userhome),
            "LANG": "C",
            "STNODEFAULTFOLDER": "1",
            "STNOUPGRADE": "1",
            "STNORESTART": "1",
        }

    def generate(self) -> None:
        """Keys and a default config.xml (`syncthing generate`), and this device's ID."""
        env = self._env()
        gen = [self.exe, "generate", f"--home={self.home}", "--no-default-folder", "--skip-port-probing"]
        subprocess.run(gen, env=env, check=True, timeout=60, capture_output=True)
        ask = [self.exe, "serve", f"--home={self.home}", "--device-id"]
        self.device_id = subprocess.run(ask, env=env, check=True, timeout=60, capture_output=True, text=True).stdout.split()[-1]

    def configure(self, peers: list[Syncthing]) -> None:
        """Devices (this one and its peers at their loopback addresses), the shared folder, the
        REST API and the options that keep it on loopback (see the module doc)."""
        path = self.home / "config.xml"
        tree = ET.parse(path)
        root = tree.getroot()
        defaults = _el(root, "defaults")
        dev_tmpl, fold_tmpl = _el(defaults, "device"), _el(defaults, "folder")
        for old in root.findall("device") + root.findall("folder"):
            root.remove(old)
        folder = _copy(fold_tmpl)
        fdev = _el(folder, "device")
        for old in folder.findall("device"):
            folder.remove(old)
        for k, inst in enumerate([self, *peers]):
            d = _copy(dev_tmpl)
            d.set("id", inst.device_id)
            d.set("name", inst.name)
            _el(d, "address").text = f"tcp://127.0.0.1:{inst.sync_port}"
            root.insert(k, d)
            fd = _copy(fdev)
            fd.set("id", inst.device_id)
            folder.insert(1 + k, fd)
        attrs = {"id": FOLDER_ID, "label": FOLDER_ID, "path": str(self.folder), "type": "sendreceive"}
        for key, value in {**attrs, "fsWatcherEnabled": "true", "fsWatcherDelayS": str(WATCHER_DELAY_S)}.items():
            folder.set(key, value)
        root.insert(0, folder)
        gui = _el(root, "gui")
        gui.set("enabled", "true")
        gui.set("tls", "false")
        _el(gui, "address").text = f"127.0.0.1:{self.gui_port}"
        _el(gui, "apikey").text = self.apikey
        opts = _el(root, "options")
        for old in opts.findall("listenAddress"):
            opts.remove(old)
        listen = ET.Element("listenAddress")
        listen.text = f"tcp://127.0.0.1:{self.sync_port}"
        opts.insert(0, listen)
        for key, value in _OPTIONS.items():
            el = opts.find(key)
            (el if el is not None else ET.SubElement(opts, key)).text = value
        tree.write(path)

    def start(self) -> None:
        cmd = [self.exe, "serve", f"--home={self.home}", "--no-browser", "--no-restart", "--no-upgrade", "--logflags=7"]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, env=self._env(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        wait_for(lambda: bool(self._children()), 10, f"Syncthing {self.name}'s worker process", poll=0.002)

    def _children(self) -> list[int]:
        if self.proc is None:
            return []
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.proc.pid).children():
                if child.pid not in self.workers:
                    self.workers.append(int(child.pid))
        return self.workers

    @property
    def worker(self) -> int:
        return self._children()[-1]

    def pids(self) -> list[int]:
        return ([self.proc.pid] if self.proc is not None else []) + self._children()

    def api(self, path: str, method: str = "GET", body: object = None, timeout: float = 10.0) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.gui_port}{path}",
            data=data,
            method=method,
            headers={"X-API-Key": self.apikey, "Content-Type": "application/json"},
        )
        with _NO_PROXY.open(req, timeout=timeout) as r:
            raw = r.read()
        return json.loads(raw) if raw else None

    def check(self) -> None:
        """Raise BenchError if Syncthing exited."""
        if self.proc is not None and self.proc.poll() is not None:
            raise BenchError(f"Syncthing {self.name} exited with {self.proc.returncode}; see {self.log}")

    def _ask(self, path: str) -> Any:
        self.check()
        try:
            return self.api(path, timeout=2.0)
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def scanned(self) -> bool:
        """The folder is idle after a completed scan (its lastScan is set)."""
        st = self._ask(f"/rest/db/status?folder={FOLDER_ID}")
        stats = self._ask("/rest/stats/folder")
        last = ((stats or {}).get(FOLDER_ID) or {}).get("lastScan") or ""
        return bool(st and st.get("state") == "idle" and last and not last.startswith(("1970", "0001")))

    def stop(self) -> None:
        """SIGTERM the monitor (it forwards it to the worker); wait for both by pid, then
        SIGTERM and SIGKILL whatever is left."""
        if self.proc is None:
            return
        workers = list(self._children())
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        for pid in workers:
            for sig, grace in ((None, 10.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
                if sig is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, sig)
                if _gone(pid, grace):
                    break
        self.proc, self.workers = None, []


def _gone(pid: int, timeout: float) -> bool:
    """The process exited (or is a zombie left to whoever adopted it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False
