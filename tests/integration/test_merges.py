"""What users of other sync tools lose and PeerVault must not (issue #2, point 7).

Each case edits the vaults while one daemon is stopped (the two devices are
"apart"), then restarts it and checks, on both disks, that every edit's text is
present, not merely that the folders agree."""

from __future__ import annotations

from .conftest import in_sync, pair_running, wait_until

BASE = "line one\nline two\nline three\n"


def _apart(make_device, files: dict[str, str]):
    a, b = make_device("A"), make_device("B")
    for rel, text in files.items():
        a.write(rel, text)
    a.start()
    pair_running(a, b)
    for rel, text in files.items():
        wait_until(lambda: b.read(rel) == text, what=f"{rel} on B")
    assert b.stop() == 0
    return a, b


def _meet(a, b):
    b.start()
    wait_until(in_sync(a, b), what="vaults identical after meeting")


def test_a_both_offline_edits_survive(make_device):
    a, b = _apart(make_device, {"note.md": BASE})
    a.write("note.md", BASE.replace("line one", "line one EDITED ON A"))
    b.write("note.md", BASE.replace("line three", "line three EDITED ON B"))
    _meet(a, b)
    for d in (a, b):
        text = d.read("note.md")
        assert "EDITED ON A" in text and "EDITED ON B" in text
        assert text.count("line two") == 1


def test_b_delete_while_other_offline_stays_deleted(make_device):
    a, b = _apart(make_device, {"gone.md": "delete me\n", "stay.md": "stay\n"})
    (a.root / "gone.md").unlink()
    _meet(a, b)
    assert not a.exists("gone.md") and not b.exists("gone.md")
    assert b.read("stay.md") == "stay\n"
    b.stop()
    b.start()  # a stale restart must not bring it back either
    wait_until(in_sync(a, b), what="in sync after second restart")
    assert not a.exists("gone.md") and not b.exists("gone.md")


def test_c_edit_beats_concurrent_delete(make_device):
    a, b = _apart(make_device, {"contested.md": BASE})
    (a.root / "contested.md").unlink()
    b.write("contested.md", BASE + "an edit made while A deleted it\n")
    _meet(a, b)
    for d in (a, b):
        assert "an edit made while A deleted it" in (d.read("contested.md") or "")


def test_d_rename_and_concurrent_edit_give_one_note(make_device):
    a, b = _apart(make_device, {"old name.md": BASE, "note.md": "case\n"})
    (a.root / "old name.md").rename(a.root / "new name.md")
    (a.root / "note.md").rename(a.root / "Note.md")  # case-only rename
    b.write("old name.md", BASE + "edited on B\n")
    _meet(a, b)
    for d in (a, b):
        assert sorted(d.files()) == ["Note.md", "new name.md"]
        assert "edited on B" in d.read("new name.md")
        assert d.read("Note.md") == "case\n"


def test_e_same_path_created_on_both(make_device):
    a, b = _apart(make_device, {"seed.md": "seed\n"})
    template = "# Daily note\n\n## Tasks\n"
    a.write("daily/2026-11-26.md", template)
    b.write("daily/2026-11-26.md", template)
    a.write("daily/2026-11-27.md", "A's own words\n")
    b.write("daily/2026-11-27.md", "B's own words\n")
    _meet(a, b)
    for d in (a, b):
        assert sorted(d.files()) == ["daily/2026-11-26.md", "daily/2026-11-27.md", "seed.md"]
        assert d.read("daily/2026-11-26.md") == template  # identical content: one copy
        merged = d.read("daily/2026-11-27.md")
        assert "A's own words" in merged and "B's own words" in merged
    assert not any("conflict" in p for p in a.files())


def test_f_empty_new_file_never_empties_content(make_device):
    a, b = _apart(make_device, {"seed.md": "seed\n"})
    a.write("shared.md", "real content from A\n")
    b.write("shared.md", "")
    _meet(a, b)
    for d in (a, b):
        assert d.read("shared.md") == "real content from A\n"


def test_f_fresh_device_with_stale_copy_never_overwrites(make_device):
    a = make_device("A")
    a.write("n1.md", "version 1\n")
    a.write("n2.md", "same everywhere\n")
    a.start()
    wait_until(lambda: a.status()["files"]["tracked"] == 2, what="A tracked its notes")
    a.write("n1.md", "version 1\nversion 2 line\n")
    wait_until(lambda: (a.runtime() or {}).get("metrics", {}).get("local_changes", 0) >= 1, what="A recorded edit")
    # A device that lost its state: a folder copied from an old backup, freshly initialised.
    c = make_device("C")
    c.write("n1.md", "version 1\n")
    c.write("n2.md", "same everywhere\n")
    c.join(a.invite())
    c.start()
    wait_until(in_sync(a, c), what="fresh device in sync")
    for d in (a, c):
        assert d.read("n2.md") == "same everywhere\n"  # identical: not duplicated
        assert d.read("n1.md") == "version 1\nversion 2 line\n"  # newer content kept, not duplicated
