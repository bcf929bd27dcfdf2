"""The per-user vault list (userconfig.py): where it lives, what it accepts, how it is rewritten."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from peervault import userconfig
from peervault.errors import PeerVaultError


def test_where_the_list_lives():
    home = {"HOME": "/home/me"}
    assert userconfig.config_path(home, "linux") == Path("/home/me/.config/peervault/config.toml")
    assert userconfig.config_path({**home, "XDG_CONFIG_HOME": "/x/cfg"}, "linux") == Path("/x/cfg/peervault/config.toml")
    # the XDG spec: a relative XDG_CONFIG_HOME is invalid and ignored
    assert userconfig.config_path({**home, "XDG_CONFIG_HOME": "rel"}, "linux") == Path("/home/me/.config/peervault/config.toml")
    mac = Path("/home/me/Library/Application Support/peervault/config.toml")
    assert userconfig.config_path(home, "darwin") == mac
    assert userconfig.config_path({**home, "PEERVAULT_CONFIG": "/etc/pv.toml"}, "darwin") == Path("/etc/pv.toml")


def test_add_remove_keep_order_and_survive_odd_names(tmp_path: Path):
    cfg = tmp_path / "sub" / "config.toml"
    assert userconfig.load_vaults(cfg) == []
    odd = Path('/data/My "Notes" \\ été\ttab')
    assert userconfig.add(cfg, Path("/a")) and userconfig.add(cfg, odd) and userconfig.add(cfg, Path("/b"))
    assert not userconfig.add(cfg, Path("/a"))
    assert userconfig.load_vaults(cfg) == [Path("/a"), odd, Path("/b")]
    assert tomllib.loads(cfg.read_text())["vaults"][1] == str(odd)  # valid TOML for any other reader too
    assert userconfig.remove(cfg, odd) and not userconfig.remove(cfg, odd)
    assert userconfig.load_vaults(cfg) == [Path("/a"), Path("/b")]
    assert not list(cfg.parent.glob("*.tmp"))


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("vaults = [", "not valid TOML"),
        ('vaults = ["relative/path"]', "absolute paths"),
        ("vaults = 3", "absolute paths"),
        ('vaults = []\nprofile = "x"', "unknown setting(s) profile"),
    ],
)
def test_a_bad_file_is_one_clear_line(tmp_path: Path, text: str, says: str):
    cfg = tmp_path / "config.toml"
    cfg.write_text(text)
    with pytest.raises(PeerVaultError) as info:
        userconfig.load_vaults(cfg)
    assert says in str(info.value) and str(cfg) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(PeerVaultError):
        userconfig.add(cfg, Path("/a"))  # never overwrites a file it cannot read
    assert cfg.read_text() == text


def test_where_the_api_of_every_vault_listens(tmp_path: Path):
    home, none = {"HOME": "/home/me"}, tmp_path / "no-run-user"
    assert userconfig.runtime_dir({**home, "XDG_RUNTIME_DIR": "/run/user/1000"}, "linux") == Path("/run/user/1000/peervault")
    # no runtime folder: beside the list
    assert userconfig.runtime_dir(home, "linux", none) == Path("/home/me/.config/peervault")
    assert userconfig.runtime_dir(home, "darwin", none) == Path("/home/me/Library/Application Support/peervault")
    assert userconfig.runtime_dir({**home, "PEERVAULT_RUNTIME_DIR": "/tmp/x", "XDG_RUNTIME_DIR": "/run/u"}) == Path("/tmp/x")
    # the service names its vault list with PEERVAULT_CONFIG; the socket stays where `peervault dashboard` looks
    assert userconfig.runtime_dir({**home, "PEERVAULT_CONFIG": "/etc/pv.toml"}, "linux", none) == Path(
        "/home/me/.config/peervault"
    )


def test_a_login_without_xdg_runtime_dir_finds_the_users_runtime_folder(tmp_path: Path):
    """A `su` or SSH shell without XDG_RUNTIME_DIR looks where the service (which has it) listens."""
    home, run_user = {"HOME": "/home/me"}, tmp_path / "run-user"
    mine = run_user / str(os.getuid())
    mine.mkdir(parents=True)
    mine.chmod(0o700)
    assert userconfig.runtime_dir(home, "linux", run_user) == mine / "peervault"
    assert userconfig.runtime_dir({**home, "XDG_RUNTIME_DIR": str(mine)}, "linux", run_user) == mine / "peervault"
    mine.chmod(0o755)  # not private: not the folder systemd makes, not used
    assert userconfig.runtime_dir(home, "linux", run_user) == Path("/home/me/.config/peervault")
    mine.chmod(0o700)
    assert userconfig.runtime_dir(home, "darwin", run_user) == Path("/home/me/Library/Application Support/peervault")
