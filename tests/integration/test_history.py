"""History, restore and deleted with real daemons: restored versions reach the other device."""

from __future__ import annotations

import json

from .conftest import pair_running, wait_until


def _history(device, path):  # type: ignore[no-untyped-def]
    return json.loads(device.cli("history", str(device.root), path, "--json").stdout)


def test_restore_an_overwritten_note_and_a_deleted_one(make_device):
    a, b = make_device("A"), make_device("B")
    a.start()
    pair_running(a, b)
    a.write("note.md", "first draft\n")
    wait_until(lambda: b.read("note.md") == "first draft\n", what="v1 on B")
    a.write("note.md", "overwritten by mistake\n")
    wait_until(lambda: b.read("note.md") == "overwritten by mistake\n", what="v2 on B")
    kept = _history(a, "note.md")
    assert len(kept) >= 2 and kept[0]["device"] == "local"
    first = kept[0]["version"]
    a.cli("restore", str(a.root), "note.md", "--at", str(first))
    assert a.read("note.md") == "first draft\n"
    wait_until(lambda: b.read("note.md") == "first draft\n", what="restored version on B")

    b.write("gone.md", "a note deleted by mistake\n")
    wait_until(lambda: a.read("gone.md") == "a note deleted by mistake\n", what="note on A")
    (b.root / "gone.md").unlink()
    wait_until(lambda: not a.exists("gone.md"), timeout=30, what="delete reached A")
    listed = json.loads(a.cli("deleted", str(a.root), "--json").stdout)
    assert [d["path"] for d in listed] == ["gone.md"]
    a.cli("restore", str(a.root), "gone.md")  # default: the newest version that differs (it is gone)
    wait_until(lambda: b.read("gone.md") == "a note deleted by mistake\n", what="restored note on B")
    assert json.loads(a.cli("deleted", str(a.root), "--json").stdout) == []


def test_restore_an_earlier_binary_version(make_device):
    a, b = make_device("A"), make_device("B")
    a.start()
    pair_running(a, b)
    v1, v2 = b"\x89PNG first \xff", b"\x89PNG second \xff"
    (a.root / "pic.png").write_bytes(v1)
    wait_until(lambda: (b.root / "pic.png").exists() and (b.root / "pic.png").read_bytes() == v1, what="v1 on B")
    (a.root / "pic.png").write_bytes(v2)
    wait_until(lambda: (b.root / "pic.png").read_bytes() == v2, what="v2 on B")
    kept = _history(a, "pic.png")
    assert [k["size"] for k in kept] == [len(v1), len(v2)]
    a.cli("restore", str(a.root), "pic.png", "--at", str(kept[0]["version"]))
    wait_until(lambda: (b.root / "pic.png").read_bytes() == v1, what="restored image on B")


def test_history_of_an_unknown_path_is_one_clear_line(make_device):
    a = make_device("A")
    res = a.cli("history", str(a.root), "nothing-here.md", check=False)
    assert res.returncode == 1 and "no history for 'nothing-here.md'" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
