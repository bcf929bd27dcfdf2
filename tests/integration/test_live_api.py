"""Live co-editing through the control API, from outside: two real daemons, an editor on
each (played here by a Loro document in the test, as the plugin's loro-crdt one is),
updates and cursors crossing the devices at once, the files on disk in step, and a file
saved under a live editor never typed in twice nor lost."""

from __future__ import annotations

import base64
import time
from typing import Any

from loro import EphemeralStore, ExportMode, LoroDoc, VersionVector

from .conftest import Device, pair_running, wait_until
from .test_control_api import UnixConnection, sock_of, unix


class Editor:
    """What the plugin does for one open note: a Loro replica fed by the API."""

    def __init__(self, dev: Device, path: str, client: str) -> None:
        self.dev, self.path, self.client = dev, path, client
        status, body = unix(dev, "POST", "/live/open", {"path": path, "client": client})
        assert status == 200, body
        self.file_id = body["file_id"]
        self.doc = LoroDoc()
        self.doc.import_(base64.b64decode(body["snapshot"]))
        self.since = unix(dev, "GET", "/events?since=0&timeout=0")[1]["last_id"]

    @property
    def text(self) -> str:
        return self.doc.get_text("content").to_string()

    def type(self, pos: int, s: str) -> dict[str, Any]:
        before = self.doc.oplog_vv
        self.doc.get_text("content").insert(pos, s)
        self.doc.commit()
        update = self.doc.export(ExportMode.Updates(before))
        status, body = unix(self.dev, "POST", "/live/update", {"path": self.path, "client": self.client, "update": b64(update)})
        assert status == 200, body
        return body

    def events(self, kind: str, wait: float = 5) -> list[dict[str, Any]]:
        _, got = unix(self.dev, "GET", f"/events?since={self.since}&timeout={wait}")
        self.since = got["last_id"]
        return [e for e in got["events"] if e["kind"] == kind and e["file_id"] == self.file_id and e["from"] != self.client]

    def pull(self, until: str, timeout: float = 20) -> None:
        """Import live updates until the text holds `until`."""
        deadline = time.monotonic() + timeout
        while until not in self.text:
            assert time.monotonic() < deadline, f"{self.dev.root.name}'s editor never got {until!r}: {self.text!r}"
            for e in self.events("live_update", wait=1):
                self.doc.import_(base64.b64decode(e["update"]))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_an_edit_typed_on_one_device_reaches_the_editor_and_the_file_on_the_other(make_device):
    a, b = make_device("A"), make_device("B")
    a.write("n.md", "hello\n")
    a.start()
    pair_running(a, b)
    wait_until(lambda: b.read("n.md") == "hello\n", what="n.md on B")
    ea, eb = Editor(a, "n.md", "plugin-a"), Editor(b, "n.md", "plugin-b")
    assert ea.file_id == eb.file_id and ea.text == eb.text == "hello\n"

    t0 = time.monotonic()
    assert ea.type(5, ", world") == {"applied": True}
    eb.pull(until="hello, world")
    took = time.monotonic() - t0
    assert eb.text == "hello, world\n" and took < 5
    wait_until(lambda: a.read("n.md") == "hello, world\n" and b.read("n.md") == "hello, world\n", what="both files")

    # concurrent typing on both sides: both kept, in both editors and files
    ea.type(0, "A1 ")
    eb.type(len(eb.text), "B1\n")
    ea.pull(until="B1")
    eb.pull(until="A1 ")
    assert ea.text == eb.text == "A1 hello, world\nB1\n"
    wait_until(lambda: a.read("n.md") == b.read("n.md") == ea.text, what="files equal to the editors")

    # a repeat (a reconnecting editor re-sends) changes nothing
    again = ea.doc.export(ExportMode.Updates(VersionVector()))
    assert unix(a, "POST", "/live/update", {"path": "n.md", "client": "plugin-a", "update": b64(again)})[1] == {"applied": False}

    # a cursor crosses over as EphemeralStore bytes
    cursors = EphemeralStore(30_000)
    cursors.set("plugin-a", "cursor at 3")
    status, _ = unix(a, "POST", "/live/presence", {"path": "n.md", "client": "plugin-a", "data": b64(cursors.encode_all())})
    assert status == 200
    deadline = time.monotonic() + 10
    seen: list[dict[str, Any]] = []
    while not seen and time.monotonic() < deadline:
        seen = eb.events("presence", wait=1)
    assert seen and seen[0]["from"] == a.status()["device_id"]
    theirs = EphemeralStore(30_000)
    theirs.apply(base64.b64decode(seen[0]["data"]))
    assert theirs.get("plugin-a") == "cursor at 3"

    # bad input: a clear 4xx, nothing changed
    for body, code, says in [
        ({"path": "n.md", "client": "x", "update": "not base64!"}, 400, "base64"),
        ({"path": "n.md", "client": "x", "update": b64(b"\x00garbage")}, 400, "does not apply"),
        ({"path": "missing.md", "client": "x", "update": ""}, 404, "not a note"),
        ({"path": "../etc/passwd", "client": "x", "update": ""}, 400, "not a path inside"),
    ]:
        got, err = unix(a, "POST", "/live/update", body)
        assert got == code and says in err["error"]["message"], (body, got, err)
    assert a.read("n.md") == ea.text


def test_a_save_racing_the_editors_updates_is_not_typed_twice_and_a_foreign_edit_is_kept(make_device):
    a = make_device("A")
    a.write("n.md", "one\n")
    a.start()
    wait_until(lambda: unix(a, "GET", "/files")[1]["total"] == 1, what="n.md tracked")
    ed = Editor(a, "n.md", "plugin")
    # the editor saves the buffer before its update for the same keystrokes arrives
    a.write("n.md", "one\ntwo\n")
    time.sleep(1.0)  # the watcher sees the save; the note is live, so it is not read in
    ed.type(4, "two\n")
    wait_until(lambda: a.read("n.md") == "one\ntwo\n", what="the file as the editor has it")
    time.sleep(1.0)
    assert a.read("n.md") == "one\ntwo\n"  # once, not twice
    history = unix(a, "GET", "/history?path=n.md")[1]
    assert len(history) <= 3

    # another program edits the file while the editor holds the note, then the editor closes
    a.write("n.md", "one\ntwo\nthree from vim\n")
    time.sleep(1.0)
    assert a.read("n.md") == "one\ntwo\nthree from vim\n"  # not overwritten while live
    assert unix(a, "POST", "/live/close", {"path": "n.md", "client": "plugin"})[0] == 200
    wait_until(
        lambda: (
            (st := unix(a, "GET", "/history/version?path=n.md&n=" + str(len(unix(a, "GET", "/history?path=n.md")[1]))))[0] == 200
            and st[1]["text"] == "one\ntwo\nthree from vim\n"
        ),
        what="the foreign edit read into the note once the editor let go",
    )
    assert a.read("n.md") == "one\ntwo\nthree from vim\n"


def test_cors_answers_an_allowed_page_and_refuses_others(make_device):
    a = make_device("A")
    page = "http://127.0.0.1:1234"
    cfg = a.root / ".peervault" / "config.toml"
    cfg.write_text(f'api_origins = ["{page}"]\n')
    a.start()
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
    conn = UnixConnection(sock_of(a))
    conn.request("OPTIONS", "/live/open", headers={"Origin": page, **preflight})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    assert resp.status == 204 and resp.getheader("Access-Control-Allow-Origin") == page
    assert "Authorization" in (resp.getheader("Access-Control-Allow-Headers") or "")
    got, body = unix(a, "GET", "/status", headers={"Origin": page})
    assert got == 200
    got, err = unix(a, "OPTIONS", "/live/open", headers={"Origin": "http://evil.example", **preflight})
    assert got == 403 and "web page" in err["error"]["message"]
