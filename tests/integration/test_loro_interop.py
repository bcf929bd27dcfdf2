"""Loro bytes cross between the plugin (loro-crdt in Node) and the daemon (loro in Python) both
ways: snapshots, updates, concurrent edits and EphemeralStore (presence) payloads. The live
co-editing path depends on it: the editor's updates are made in JS and imported in Python."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from loro import Cursor, EphemeralStore, LoroDoc, VersionVector

from peervault.crdt import notes

PLUGIN = Path(__file__).resolve().parents[2] / "obsidian-plugin"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(
    NODE is None or not (PLUGIN / "node_modules" / "loro-crdt").is_dir(),
    reason="needs node and obsidian-plugin/node_modules (cd obsidian-plugin && npm ci)",
)

# The body of an async function: gets `input` (JSON), returns a JSON-able value. Bytes travel base64.
_PRELUDE = """
import { LoroDoc, EphemeralStore, VersionVector } from "loro-crdt";
const b64 = (u8) => Buffer.from(u8).toString("base64");
const unb64 = (s) => new Uint8Array(Buffer.from(s, "base64"));
let raw = "";
for await (const chunk of process.stdin) raw += chunk;
const input = JSON.parse(raw);
const out = await (async () => { %s })();
// An EphemeralStore's expiry timer keeps Node alive for its timeout: leave once written.
process.stdout.write(JSON.stringify(out), () => process.exit(0));
"""


def node(body: str, **inputs: Any) -> Any:
    assert NODE is not None
    res = subprocess.run(
        [NODE, "--input-type=module", "-e", _PRELUDE % body],
        input=json.dumps(inputs),
        cwd=PLUGIN,  # so "loro-crdt" resolves from the plugin's node_modules
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(s: str) -> bytes:
    return base64.b64decode(s)


def test_same_loro_version_on_both_sides():
    js = json.loads((PLUGIN / "node_modules" / "loro-crdt" / "package.json").read_text())["version"]
    assert version("loro") == js


def test_updates_cross_both_ways():
    doc = notes.new_note("hello world\n", session_peer=11)
    got = node(
        """
        const doc = new LoroDoc();
        doc.import(unb64(input.snapshot));
        const before = doc.oplogVersion();
        const text = doc.getText("content");
        text.insert(5, ", dear");
        text.insert(text.length, "é 🎉\\n");
        doc.commit();
        return { seen: text.toString(), update: b64(doc.export({ mode: "update", from: before })),
                 vv: b64(doc.oplogVersion().encode()) };
        """,
        snapshot=b64(notes.snapshot(doc)),
    )
    assert got["seen"] == "hello, dear world\né 🎉\n"
    notes.apply(doc, unb64(got["update"]))
    assert notes.text_of(doc) == "hello, dear world\né 🎉\n"
    # and back: what Python adds after Node's version reaches Node as an update
    notes.set_text(doc, "hello, dear world\né 🎉\nfrom python\n")
    back = node(
        """
        const doc = new LoroDoc();
        doc.import(unb64(input.snapshot_before));
        doc.import(unb64(input.update));
        return doc.getText("content").toString();
        """,
        snapshot_before=b64(notes.snapshot(notes.load_note(notes.snapshot(doc), 12))),
        update=b64(notes.updates_since(doc, unb64(got["vv"]))),
    )
    assert back == "hello, dear world\né 🎉\nfrom python\n"


def test_an_empty_daemon_note_takes_edits_from_node():
    doc = notes.empty_note(session_peer=21)
    got = node(
        """
        const doc = new LoroDoc();
        doc.import(unb64(input.updates));
        doc.getText("content").insert(0, "first words\\n");
        doc.commit();
        return b64(doc.export({ mode: "update" }));
        """,
        updates=b64(notes.updates_since(doc, None)),
    )
    notes.apply(doc, unb64(got))
    assert notes.text_of(doc) == "first words\n"


def test_concurrent_edits_merge_to_the_same_text_on_both_sides():
    base = notes.new_note("line one\nline two\n", session_peer=31)
    base_snapshot = notes.snapshot(base)
    base_vv = notes.vv_bytes(base)
    # Python edits the start, Node the end, neither seeing the other first
    notes.set_text(base, "PY line one\nline two\n")
    py_update = notes.updates_since(base, base_vv)
    got = node(
        """
        const doc = new LoroDoc();
        doc.import(unb64(input.base));
        const before = doc.oplogVersion();
        const text = doc.getText("content");
        text.insert(text.length, "JS line three\\n");
        doc.commit();
        const mine = b64(doc.export({ mode: "update", from: before }));
        doc.import(unb64(input.theirs));
        return { mine, merged: text.toString() };
        """,
        base=b64(base_snapshot),
        theirs=b64(py_update),
    )
    notes.apply(base, unb64(got["mine"]))
    assert notes.text_of(base) == got["merged"] == "PY line one\nline two\nJS line three\n"


def test_a_snapshot_from_loro_crdt_loads_in_python():
    got = node(
        """
        const doc = new LoroDoc();
        doc.getText("content").insert(0, "made in the editor ✓\\n");
        doc.commit();
        return b64(doc.export({ mode: "snapshot" }));
        """
    )
    doc = notes.load_note(unb64(got), session_peer=41)
    assert notes.text_of(doc) == "made in the editor ✓\n"
    notes.set_text(doc, "made in the editor ✓\nthen the daemon\n")
    assert notes.text_of(notes.load_note(notes.snapshot(doc), 42)) == "made in the editor ✓\nthen the daemon\n"


def test_version_vectors_decode_on_both_sides():
    doc = notes.new_note("abc", session_peer=51)
    got = node(
        """
        const doc = new LoroDoc();
        doc.import(unb64(input.snapshot));
        const vv = VersionVector.decode(unb64(input.vv));
        return { same: doc.oplogVersion().compare(vv), vv: b64(doc.oplogVersion().encode()) };
        """,
        snapshot=b64(notes.snapshot(doc)),
        vv=b64(notes.vv_bytes(doc)),
    )
    assert got["same"] == 0
    assert VersionVector.decode(unb64(got["vv"])) == doc.oplog_vv


def test_presence_bytes_decode_both_ways():
    # the keys and values loro-codemirror's LoroEphemeralPlugin writes: "<peer>-cm-cursor", "<peer>-cm-user"
    got = node(
        """
        const store = new EphemeralStore(30000);
        store.set("7-cm-user", { name: "Laptop", colorClassName: "peervault-remote-1" });
        store.set("7-cm-cursor", { anchor: new Uint8Array([1, 2, 3]) });
        const all = b64(store.encodeAll());
        const one = b64(store.encode("7-cm-user"));
        const theirs = new EphemeralStore(30000);
        theirs.apply(unb64(input.py));
        return { all, one, decoded: theirs.getAllStates(), anchor: Array.from(theirs.get("9-cm-cursor").anchor) };
        """,
        py=b64(_python_presence()),
    )
    store = EphemeralStore(30000)
    store.apply(unb64(got["all"]))
    assert store.get("7-cm-user") == {"name": "Laptop", "colorClassName": "peervault-remote-1"}
    assert store.get("7-cm-cursor") == {"anchor": b"\x01\x02\x03"}
    single = EphemeralStore(30000)
    single.apply(unb64(got["one"]))
    assert single.keys() == ["7-cm-user"]
    assert got["decoded"]["9-cm-user"] == {"name": "Desktop", "colorClassName": "peervault-remote-2"}
    assert got["anchor"] == [4, 5, 6]


def _python_presence() -> bytes:
    store = EphemeralStore(30000)
    store.set("9-cm-user", {"name": "Desktop", "colorClassName": "peervault-remote-2"})
    store.set("9-cm-cursor", {"anchor": b"\x04\x05\x06"})
    return bytes(store.encode_all())


def test_a_cursor_made_in_node_resolves_in_python():
    """Remote cursors are Loro Cursor bytes inside presence: each side must read the other's."""
    doc = notes.new_note("0123456789\n", session_peer=61)
    got = node(
        """
        const doc = new LoroDoc();
        doc.import(unb64(input.snapshot));
        const cursor = doc.getText("content").getCursor(4);
        return b64(cursor.encode());
        """,
        snapshot=b64(notes.snapshot(doc)),
    )
    pos = doc.get_cursor_pos(Cursor.decode(unb64(got)))
    assert pos.current.pos == 4


def test_loro_doc_is_what_notes_use():
    assert notes.Note is LoroDoc
