"""Ignore rules: the built-in defaults, a vault's .peervaultignore, and the scanner using them."""

from __future__ import annotations

from pathlib import Path

import pytest

from peervault.vault.ignore import IGNORE_FILE, IgnoreRules
from peervault.vault.scanner import scan


@pytest.mark.parametrize(
    "rel",
    [
        ".peervault/state.db",
        ".peervault/tmp/123-abc",
        ".obsidian/workspace.json",
        ".obsidian/workspace-mobile.json",
        ".obsidian/cache",
        ".git/HEAD",
        "sub/.git/config",
        "a/node_modules/x.js",
        ".trash/old note.md",
        "note.tmp",
        "dir/note.md.tmp",
        ".note.md.swp",
        "dir/.x.swx",
        "note.md~",
        ".DS_Store",
        "dir/Thumbs.db",
        ".#note.md",
        "file.part",
        "dl.crdownload",
    ],
)
def test_ignored_by_default(rel: str) -> None:
    assert IgnoreRules().ignores(rel)


@pytest.mark.parametrize(
    "rel",
    [
        "note.md",
        "a/b/c.md",
        ".obsidian/app.json",
        ".obsidian/plugins/dataview/data.json",
        "canvas.canvas",
        "tmp/file.md",
        "x.tmp.md",
        "~home.md",
        ".hidden.md",
        IGNORE_FILE,
    ],
)
def test_synced_by_default(rel: str) -> None:
    assert not IgnoreRules().ignores(rel)


def test_user_rules_add_and_take_back() -> None:
    rules = IgnoreRules("private/\n*.log\n!keep.tmp\n")
    assert rules.ignores("private/diary.md") and rules.ignores("a/b.log")
    assert not rules.ignores("keep.tmp")  # `!` takes a default back
    assert rules.ignores("other.tmp")
    assert rules.ignores_dir("private") and not rules.ignores_dir("public")


def test_state_folder_can_never_be_taken_back() -> None:
    rules = IgnoreRules("!.peervault/\n!.peervault/state.db\n")
    assert rules.ignores(".peervault/state.db") and rules.ignores_dir(".peervault")


def test_load_reads_the_vault_file_and_tolerates_a_bad_one(tmp_path: Path) -> None:
    assert IgnoreRules.load(tmp_path).user_rules == ""
    (tmp_path / IGNORE_FILE).write_text("drafts/\n")
    assert IgnoreRules.load(tmp_path).ignores("drafts/x.md")
    (tmp_path / IGNORE_FILE).write_bytes(b"\xff\xfe not utf-8")
    assert IgnoreRules.load(tmp_path).user_rules == ""


def test_scan_applies_the_rules_and_counts_what_they_keep_out(tmp_path: Path) -> None:
    for rel in ["a.md", "drafts/b.md", "drafts/c.md", ".obsidian/app.json", ".obsidian/workspace.json", "x.swp", ".git/HEAD"]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(rel)
    files, ignored = scan(tmp_path, IgnoreRules("drafts/\n"))
    assert set(files) == {"a.md", ".obsidian/app.json"}
    assert ignored == 4  # drafts/ and .git/ (each once), workspace.json, x.swp


SAMPLE_PATHS = [
    "a.md", "x.tmp", "d/x.tmp", "d.tmp/inner.md", ".obsidian/workspace.json", ".obsidian/workspace-mobile.json",
    ".obsidian/workspaces.json", ".obsidian/workspace/x.json", "sub/.obsidian/workspace.json", ".obsidian/cache",
    ".obsidian/cache/x", ".obsidian/app.json", ".trash/a.md", "a/.trash/b.md", ".trashy/a.md", "node_modules/x.js",
    "a/node_modules/b/c.js", "__pycache__/m.pyc", ".#lock.md", "x.md~", "~x.md", "Thumbs.db", "a/Thumbs.db",
    ".DS_Store", "x.part", "x.partial", "x.crdownload", "x.swp", ".x.swx", "desktop.ini", "notes/desktop.ini.md",
]  # fmt: skip


@pytest.mark.parametrize("rel", SAMPLE_PATHS)
def test_built_in_matcher_agrees_with_the_gitignore_engine(rel: str) -> None:
    native = IgnoreRules()
    gitignore = IgnoreRules("# a comment only: forces the pathspec engine\n")
    assert gitignore._spec is not None and native._spec is None
    assert native.ignores(rel) == gitignore.ignores(rel)
    folder = rel.rpartition("/")[0]
    if folder:
        assert native.ignores_dir(folder) == gitignore.ignores_dir(folder)


@pytest.mark.parametrize("bad", ["!", "\\", "[z-a]"])
def test_a_line_that_is_no_pattern_is_skipped_with_a_warning(bad: str, caplog: pytest.LogCaptureFixture) -> None:
    """One bad line (perhaps from a peer's .peervaultignore) must not stop the daemon."""
    rules = IgnoreRules(f"drafts/\n{bad}\n*.log\n", f"private/\n{bad}\n")
    assert rules.ignores("drafts/a.md") and rules.ignores("x.log") and rules.ignores("a.tmp")  # the defaults too
    assert rules.ignored_here("private/a.md") and not rules.ignores("notes/a.md")
    assert f"{IGNORE_FILE}, line 2" in caplog.text and ".peervault/ignore, line 2" in caplog.text
