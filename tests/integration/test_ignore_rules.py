"""Ignore rules with real daemons: .peervaultignore syncs, and both sides follow it."""

from __future__ import annotations

from .conftest import pair_running, wait_until


def test_ignore_rules_are_synced_and_respected_on_both_sides(make_device):
    a, b = make_device("A"), make_device("B")
    a.write(".peervaultignore", "private/\n")
    a.write("note.md", "shared\n")
    a.write("private/secret.md", "only on A\n")
    a.write(".obsidian/app.json", '{"theme": "dark"}\n')  # settings sync...
    a.write(".obsidian/workspace.json", '{"open": "note.md"}\n')  # ...except per-device state
    a.start()
    pair_running(a, b)
    wait_until(lambda: b.read("note.md") == "shared\n", what="note on B")
    wait_until(lambda: b.read(".obsidian/app.json") == '{"theme": "dark"}\n', what="settings on B")
    wait_until(lambda: b.read(".peervaultignore") == "private/\n", what="the rules on B")
    b.write("private/mine.md", "only on B\n")  # B follows the synced rules
    b.write("after.md", "a marker written after it\n")
    wait_until(lambda: a.read("after.md") == "a marker written after it\n", what="marker on A")
    assert not b.exists("private/secret.md") and not b.exists(".obsidian/workspace.json")
    assert not a.exists("private/mine.md")
    assert a.status()["files"]["ignored"] >= 2  # private/ and workspace.json
