"""Path rules: what a peer may name, where we may write, what we ignore."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from peervault.errors import UnsafePath
from peervault.vault.paths import MAX_NAME_BYTES, MAX_PATH_BYTES, check_remote_path, rel_path, safe_target, windows_problem

BAD_PATHS = [
    "",
    "../x",
    "..",
    ".",
    "./x",
    "a/./b",
    "a/../../x",
    "a/..",
    "/etc/passwd",
    "/",
    "a//b",
    "a/",
    "/a",
    ".peervault/state.db",
    ".peervault",
    ".peervault/tmp/x",
    "a\x00b",
    "note\x01.md",
    "tab\there.md",
    "new\nline.md",
    "del\x7f.md",
    "esc\x1b[31m.md",
    "a\\b",
    "..\\..\\windows",
    "c:\\x",
    "x" * (MAX_NAME_BYTES + 1),
    "dir/" + "é" * (MAX_NAME_BYTES // 2 + 1),  # 256+ bytes in UTF-8 though fewer chars
    "/".join(["abc"] * 1100),  # 4399 bytes
]


@pytest.mark.parametrize("path", BAD_PATHS)
def test_check_remote_path_refuses(path: str) -> None:
    with pytest.raises(UnsafePath):
        check_remote_path(path)


@pytest.mark.parametrize("path", [None, b"a.md", 3])
def test_check_remote_path_refuses_non_strings(path: object) -> None:
    with pytest.raises(UnsafePath):
        check_remote_path(path)  # type: ignore[arg-type]


GOOD_PATHS = [
    "a.md",
    "Notes/Daily/2024-01-01.md",
    "日本語/ノート.md",
    "Ünïcödé folder/émoji 🎉.md",
    "with space/and-dash_underscore.md",
    ".hidden.md",
    "..double-dot-prefix.md",
    "a/b/c/d/e/f/g.md",
    "x" * MAX_NAME_BYTES,
    "peervault/not-state.md",
    "sub/.peervault/ok-only-at-top.md",
]


@pytest.mark.parametrize("path", GOOD_PATHS)
def test_check_remote_path_accepts(path: str) -> None:
    assert check_remote_path(path) == path


def test_path_length_limit_is_in_bytes() -> None:
    # 16 names of 255 bytes + 15 separators = 4095 bytes: accepted; "/b" more makes 4097: refused.
    ok = "/".join(["a" * 255] * 16)
    assert len(ok.encode()) == 4095
    assert check_remote_path(ok) == ok
    with pytest.raises(UnsafePath, match="longer"):
        check_remote_path(ok + "/b")  # 4097 bytes
    # multibyte: fewer than 4096 characters but more than 4096 UTF-8 bytes
    wide = "/".join(["語" * 85] * 17)
    assert len(wide) < MAX_PATH_BYTES < len(wide.encode())
    with pytest.raises(UnsafePath, match="longer"):
        check_remote_path(wide)


# ------------------------------------------------------------------------------- safe_target
def test_safe_target_plain(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    vault.mkdir()
    assert safe_target(vault, "a/b/c.md") == vault / "a" / "b" / "c.md"
    (vault / "a").mkdir()
    assert safe_target(vault, "a/b.md") == vault / "a" / "b.md"


def test_safe_target_refuses_unsafe_rel(tmp_path: Path) -> None:
    with pytest.raises(UnsafePath):
        safe_target(tmp_path, "../escape.md")


def test_safe_target_refuses_symlinked_dir_leaving_vault(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    outside = tmp_path / "outside"
    vault.mkdir()
    outside.mkdir()
    (vault / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePath):
        safe_target(vault, "link/evil.md")
    with pytest.raises(UnsafePath):
        safe_target(vault, "link/deeper/not/existing/evil.md")
    assert list(outside.iterdir()) == []


def test_safe_target_refuses_nested_symlink_leaving_vault(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    outside = tmp_path / "outside"
    (vault / "real").mkdir(parents=True)
    outside.mkdir()
    (vault / "real" / "link").symlink_to(outside)
    with pytest.raises(UnsafePath):
        safe_target(vault, "real/link/x.md")


def test_safe_target_allows_symlinked_dir_inside_vault(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    (vault / "real").mkdir(parents=True)
    (vault / "alias").symlink_to(vault / "real")
    assert safe_target(vault, "alias/x.md") == vault / "alias" / "x.md"


def test_safe_target_refuses_sibling_with_common_prefix(tmp_path: Path) -> None:
    # /tmp/vault-evil starts with the string "/tmp/vault" but is outside it.
    vault = tmp_path / "vault"
    evil = tmp_path / "vault-evil"
    vault.mkdir()
    evil.mkdir()
    (vault / "link").symlink_to(evil)
    with pytest.raises(UnsafePath):
        safe_target(vault, "link/x.md")


def test_safe_target_refuses_symlink_file(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    vault.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("keep me")
    (vault / "note.md").symlink_to(secret)
    with pytest.raises(UnsafePath):
        safe_target(vault, "note.md")
    # even a symlink pointing inside the vault, or a dangling one, is not written through
    (vault / "real.md").write_text("x")
    (vault / "inner.md").symlink_to(vault / "real.md")
    with pytest.raises(UnsafePath):
        safe_target(vault, "inner.md")
    (vault / "dangling.md").symlink_to(tmp_path / "nowhere")
    with pytest.raises(UnsafePath):
        safe_target(vault, "dangling.md")
    assert secret.read_text() == "keep me"


def test_safe_target_works_when_vault_root_itself_is_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real-vault"
    real.mkdir()
    alias = tmp_path / "alias"
    alias.symlink_to(real)
    assert safe_target(alias, "a/b.md") == alias / "a" / "b.md"


# ------------------------------------------------------------------------------- rel_path
def test_rel_path(tmp_path: Path) -> None:
    assert rel_path(tmp_path, tmp_path / "a" / "b.md") == "a/b.md"
    assert rel_path(tmp_path, tmp_path) is None
    assert rel_path(tmp_path, tmp_path.parent / "other") is None
    assert rel_path(tmp_path, str(tmp_path) + os.sep + "x" + os.sep + ".." + os.sep + "y.md") == "y.md"


# ------------------------------------------------------------------------------- names other systems cannot hold
@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("C:/x", "does not allow"),  # a drive path there; an ordinary name on Linux and macOS
        ("C:x", "does not allow"),
        ("a:b.md", "does not allow"),
        ('say "hi".md', "does not allow"),
        ("what?.md", "does not allow"),
        ("folder./note.md", "ends with a dot"),
        ("note.md ", "ends with a dot or a space"),
        ("CON.md", "reserved device name"),
        ("sub/lpt1", "reserved device name"),
        ("a/" * 130 + "x.md", "longer than Windows allows"),
    ],
)
def test_windows_problem_names_the_reason(path: str, why: str) -> None:
    problem = windows_problem(path)
    assert problem is not None and why in problem


@pytest.mark.parametrize("path", ["note.md", "Console.md", "a/b c/d-e_f.md", "ümlaut.md", "CONTENTS.md", ".hidden"])
def test_windows_accepts_ordinary_names(path: str) -> None:
    assert windows_problem(path) is None


def test_on_windows_the_engine_reports_instead_of_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from peervault.sync import layout as layout_module
    from twin_engines import deliver, engine, twin_vaults

    sa, sb = twin_vaults(tmp_path)
    a, b = engine(sa), engine(sb)
    (sa.root / "a:b.md").write_text("made on Linux\n")
    (sa.root / "fine.md").write_text("fine\n")
    a.reconcile(time.time())
    monkeypatch.setattr(layout_module, "ON_WINDOWS", True)
    deliver(a, b)
    assert (sb.root / "fine.md").exists() and not (sb.root / "a:b.md").exists()
    assert "Windows does not allow" in sb.store.unsynced()["a:b.md"]
    sa.close()
    sb.close()
