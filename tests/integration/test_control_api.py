"""The daemon's control API from outside, as a script, the plugin or the CLI uses it: the
owner's Unix socket, loopback TCP with the token, bad input, events, pause, metrics, join."""

from __future__ import annotations

import http.client
import json
import socket
import stat
import time
from pathlib import Path
from typing import Any

from .conftest import Device, pair_running, wait_until


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path) -> None:
        super().__init__("localhost", timeout=30)
        self.path = str(path)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.path)


def sock_of(dev: Device) -> Path:
    return dev.root / ".peervault" / "control.sock"


def call(conn: http.client.HTTPConnection, method: str, path: str, body: Any = None, headers: dict | None = None,
         raw: bytes | None = None) -> tuple[int, Any]:  # fmt: skip
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    try:
        conn.request(method, path, body=data, headers=headers or {})
        resp = conn.getresponse()
        text = resp.read().decode()
    finally:
        conn.close()
    ctype = resp.getheader("Content-Type", "")
    return resp.status, json.loads(text) if ctype.startswith("application/json") else text


def unix(dev: Device, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
    return call(UnixConnection(sock_of(dev)), method, path, body, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_socket_is_the_owners_and_bad_requests_get_json_errors(make_device):
    a = make_device("A")
    a.write("n.md", "one\n")
    a.start()
    mode = sock_of(a).stat().st_mode
    assert stat.S_ISSOCK(mode) and mode & 0o777 == 0o600
    status, body = unix(a, "GET", "/status")
    assert status == 200 and body["daemon"]["running"] and body["daemon"]["pid"] == a.proc.pid
    wait_until(lambda: unix(a, "GET", "/files")[1]["total"] == 1, what="n.md tracked")
    assert unix(a, "GET", "/files")[1]["files"][0] | {"file_id": None} == {
        "path": "n.md", "file_id": None, "size": 4, "state": "synced", "reason": None}  # fmt: skip
    for method, path, body, code, says in [
        ("GET", "/nope", None, 404, "no API resource"),
        ("GET", "/pause", None, 405, "does not take"),
        ("POST", "/restore", {}, 400, "'path'"),
        ("POST", "/restore", {"path": "n.md", "at": "x"}, 400, "integer"),
        ("POST", "/restore", {"path": "../../etc/passwd"}, 400, "not a path inside a vault"),
        ("GET", "/history?path=missing.md", None, 404, "no history"),
        ("DELETE", "/peers/ffff", None, 404, "no paired device"),
        ("POST", "/join", {"ticket": "pvt1garbage"}, 400, "ticket"),
        ("POST", "/invite", {"ttl": 0}, 400, "ttl"),
    ]:
        got, err = unix(a, method, path, body)
        assert got == code and says in err["error"]["message"], (method, path, got, err)
    got, err = unix(a, "POST", "/restore", raw=b"{not json", headers={"Content-Type": "application/json"})
    assert got == 400 and "not valid JSON" in err["error"]["message"]
    got, err = unix(a, "POST", "/restore", raw=b"x" * 100_000, headers={"Content-Type": "application/json"})
    assert got == 413 and err["error"]["code"] == "BadRequest"
    got, err = unix(a, "GET", "/status", headers={"Origin": "https://evil.example"})
    assert got == 403 and "web page" in err["error"]["message"]
    assert unix(a, "GET", "/status")[0] == 200 and a.proc.poll() is None  # still serving
    assert a.read("n.md") == "one\n"


def test_loopback_tcp_needs_the_token(make_device):
    a = make_device("A")
    port = free_port()
    a.start("--api", f"127.0.0.1:{port}")
    token_file = a.root / ".peervault" / "api-token"
    assert token_file.stat().st_mode & 0o777 == 0o600
    token = token_file.read_text().strip()
    tcp = lambda: http.client.HTTPConnection("127.0.0.1", port, timeout=30)  # noqa: E731
    got, err = call(tcp(), "GET", "/status")
    assert got == 401 and "Bearer" in err["error"]["message"]
    assert call(tcp(), "GET", "/status", headers={"Authorization": "Bearer wrong"})[0] == 401
    got, body = call(tcp(), "GET", "/status", headers={"Authorization": f"Bearer {token}"})
    assert got == 200 and body["device_id"] == a.status()["device_id"]
    got, text = call(tcp(), "GET", "/metrics", headers={"Authorization": f"Bearer {token}"})
    assert got == 200 and "# TYPE peervault_files_tracked gauge" in text and "peervault_peers 0" in text


def test_events_pause_and_metrics_between_two_devices(make_device):
    a, b = make_device("A"), make_device("B")
    a.start()
    pair_running(a, b)
    b_id = b.status()["device_id"]
    _, first = unix(a, "GET", "/events?since=0&timeout=0")
    mark = first["last_id"]
    assert any(e["kind"] == "peer_connected" and e["device"] == b_id for e in first["events"])
    b.write("from-b.md", "hello\n")
    wait_until(lambda: a.read("from-b.md") == "hello\n", what="B's note on A")
    _, later = unix(a, "GET", f"/events?since={mark}&timeout=5")
    kinds = {(e["kind"], p) for e in later["events"] for p in e.get("paths", [])}
    assert ("remote_change", "from-b.md") in kinds, later
    # Server-Sent Events: a local edit on A arrives as it happens
    conn = UnixConnection(sock_of(a))
    conn.request("GET", "/events", headers={"Accept": "text/event-stream", "Last-Event-ID": str(later["last_id"])})
    stream = conn.getresponse()
    assert stream.getheader("Content-Type").startswith("text/event-stream")
    a.write("from-a.md", "typed on A\n")
    seen: list[dict] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any("from-a.md" in e.get("paths", []) for e in seen):
        line = stream.fp.readline().decode()
        if line.startswith("data: "):
            seen.append(json.loads(line[6:]))
    assert any(e["kind"] == "local_change" and "from-a.md" in e["paths"] for e in seen), seen
    conn.close()
    # pause: nothing is exchanged, local edits are still recorded; kept across a restart
    _, before = unix(b, "GET", "/events?since=0&timeout=0")
    assert b.cli("pause", str(b.root)).returncode == 0
    assert b.cli("pause", str(b.root)).returncode == 0  # twice: still one pause
    wait_until(lambda: a.connected() == 0, what="A to see B's link closed")
    _, on_b = unix(b, "GET", f"/events?since={before['last_id']}&timeout=2")
    assert [e["kind"] for e in on_b["events"]].count("paused") == 1, on_b
    assert [e["reason"] for e in on_b["events"] if e["kind"] == "peer_lost"] == ["sync is paused on this device"], on_b
    wait_until(
        lambda: any(e["kind"] == "peer_lost" for e in unix(a, "GET", "/events?since=0&timeout=0")[1]["events"]),
        what="A's peer_lost",
    )
    _, on_a = unix(a, "GET", "/events?since=0&timeout=0")
    # the reason alone, not the transport's text around it
    assert [e["reason"] for e in on_a["events"] if e["kind"] == "peer_lost"][-1] == "sync is paused on that device", on_a
    a.write("while-paused.md", "wait\n")
    time.sleep(3)
    assert not b.exists("while-paused.md") and b.status()["daemon"]["paused"]
    b.stop()
    b.start()
    time.sleep(2)
    assert not b.exists("while-paused.md") and b.status()["daemon"]["paused"]
    b.cli("resume", str(b.root))
    wait_until(lambda: b.read("while-paused.md") == "wait\n", what="the note after resume")
    assert not b.status()["daemon"]["paused"]
    _, text = unix(a, "GET", "/metrics")
    assert "peervault_peers_connected 1" in text


def test_join_through_a_running_daemon(make_device):
    a, b = make_device("A"), make_device("B")
    a.write("shared.md", "from A\n")
    b.write("mine.md", "B had this before joining\n")
    a.start()
    b.start()  # a fresh vault of its own: joining takes A's vault identity, keeping B's notes
    res = b.join(a.invite())
    assert "Paired with" in res.stderr
    wait_until(lambda: b.read("shared.md") == "from A\n" and a.read("mine.md") == "B had this before joining\n",
               what="both notes on both devices")  # fmt: skip
    assert b.status()["vault_id"] == a.status()["vault_id"]
    assert b.proc.poll() is None  # the same daemon process, restarted inside


def test_commands_print_the_same_through_the_daemon_and_in_process(make_device):
    """One implementation: `history`, `deleted`, `deletions list`, `files` and `status` give the
    same answer from the running daemon (socket) and from the command's own process."""
    a = make_device("A")
    a.write("n.md", "one\n")
    a.start()
    a.write("n.md", "one\ntwo\n")
    wait_until(lambda: len(json.loads(a.cli("history", str(a.root), "n.md", "--json").stdout)) == 2, what="two versions")
    a.write("gone.md", "bye\n")
    wait_until(lambda: unix(a, "GET", "/files")[1]["total"] == 2, what="gone.md tracked")
    (a.root / "gone.md").unlink()
    wait_until(lambda: unix(a, "GET", "/deleted")[1] != [], what="gone.md deleted")
    v = str(a.root)
    commands = [["history", v, "n.md"], ["deleted", v], ["deletions", "list", v], ["files", v]]
    through_daemon = [a.cli(*c, "--json").stdout for c in commands]
    live = json.loads(a.cli("status", str(a.root), "--json").stdout)
    assert live["daemon"]["running"]
    gc = a.cli("gc", str(a.root))  # beside a running daemon: the daemon does it
    assert "Forgot" in gc.stderr
    a.stop()
    assert not sock_of(a).exists()  # removed at shutdown
    in_process = [a.cli(*c, "--json").stdout for c in commands]
    assert in_process == through_daemon
    offline = json.loads(a.cli("status", str(a.root), "--json").stdout)
    assert not offline["daemon"]["running"]
    for key in ("device_id", "vault_id", "files", "held_deletions", "not_synced", "peers"):
        assert offline[key] == live[key], key
    restored = a.cli("restore", str(a.root), "gone.md")
    assert "Restored version 1 of gone.md" in restored.stderr and a.read("gone.md") == "bye\n"
