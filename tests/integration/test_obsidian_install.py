"""`peervault obsidian install VAULT`: the real CLI copies the plugin the package ships."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

from .conftest import ENV

FILES = ("main.js", "manifest.json", "styles.css")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "peervault", *args], env=ENV, capture_output=True, text=True, timeout=60)


def packaged(name: str) -> bytes:
    return resources.files("peervault").joinpath("obsidian_plugin", name).read_bytes()


def test_install_copies_the_packaged_plugin_and_reinstall_overwrites(tmp_path: Path) -> None:
    vault = tmp_path / "notes"
    assert cli("init", str(vault)).returncode == 0
    res = cli("obsidian", "install", str(vault))
    assert res.returncode == 0, res.stderr
    target = vault / ".obsidian" / "plugins" / "peervault"
    assert "Installed the PeerVault plugin 0.1.0" in res.stderr
    assert "Community plugins" in res.stderr
    for name in FILES:
        assert (target / name).read_bytes() == packaged(name), name
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["id"] == "peervault" and manifest["isDesktopOnly"] is True
    assert sorted(p.name for p in target.iterdir()) == sorted(FILES)  # no temp files left

    (target / "main.js").write_text("// an old build\n")
    (target / "data.json").write_text("{}")  # the user's own file in the folder stays
    res = cli("obsidian", "install", str(vault), "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["replaced"] is True and out["peervault_vault"] is True and out["plugin_id"] == "peervault"
    assert out["plugin_dir"] == str(target.resolve())
    assert (target / "main.js").read_bytes() == packaged("main.js")
    assert (target / "data.json").read_text() == "{}"


def test_install_into_a_plain_folder_says_it_is_not_a_vault_yet(tmp_path: Path) -> None:
    res = cli("obsidian", "install", str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert "is not a PeerVault vault yet" in res.stderr and "peervault init" in res.stderr
    assert (tmp_path / ".obsidian" / "plugins" / "peervault" / "main.js").is_file()


def test_install_needs_a_folder(tmp_path: Path) -> None:
    for bad in (tmp_path / "missing", tmp_path / "file.md"):
        if bad.name == "file.md":
            bad.write_text("a note\n")
        res = cli("obsidian", "install", str(bad))
        assert res.returncode == 2, res.stderr  # NotAVault, as every command that needs a vault
        assert "is not a folder" in res.stderr
        assert not (bad / ".obsidian").exists()
