"""Profiles and the vault's config file: the file, then the command line, win in that order."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from peervault.config import CONFIG_FILE, PROFILES, Config, load
from peervault.errors import PeerVaultError


def write_config(state_dir: Path, text: str | bytes) -> Path:
    state_dir.mkdir(parents=True, exist_ok=True)
    path: Path = state_dir / CONFIG_FILE
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------- profiles
def test_default_profile_is_the_plain_config() -> None:
    cfg = Config.for_profile("default")
    assert cfg == Config()
    assert cfg.profile == "default"
    assert cfg.idle_suspend_s is None and cfg.background_sync is True


def test_low_power_profile_has_the_spec_mobile_values() -> None:
    cfg = Config.for_profile("low-power")
    assert cfg.profile == "low-power"
    assert cfg.cache_docs == 50
    assert cfg.cache_bytes == 25 * 1024 * 1024
    assert cfg.debounce_ms == 2000
    assert cfg.heartbeat_interval_s == 60.0
    assert cfg.background_sync is False
    assert cfg.compress_threshold == 512
    assert cfg.max_concurrent_syncs == 2
    assert cfg.idle_suspend_s is not None and cfg.idle_suspend_s > 0
    # a peer is declared silent only after several missed keep-alives
    assert cfg.peer_silent_timeout_s > cfg.heartbeat_interval_s
    assert cfg != Config()


def test_profile_overrides_are_applied_on_top_of_the_profile() -> None:
    cfg = Config.for_profile("low-power", debounce_ms=700)
    assert cfg.debounce_ms == 700
    assert cfg.cache_docs == 50  # the rest stays low-power
    assert Config.for_profile("default", cache_docs=7) == dataclasses.replace(Config(), cache_docs=7)


def test_unknown_profile_names_the_choices() -> None:
    with pytest.raises(PeerVaultError) as info:
        Config.for_profile("turbo")
    msg = str(info.value)
    assert "turbo" in msg
    for name in PROFILES:
        assert name in msg


# ------------------------------------------------------------------------------- load
def test_load_without_a_file_gives_defaults(tmp_path: Path) -> None:
    assert load(tmp_path) == Config()
    assert load(tmp_path / "does-not-exist") == Config()


def test_load_reads_profile_and_overrides_from_the_file(tmp_path: Path) -> None:
    write_config(tmp_path, 'profile = "low-power"\ndebounce_ms = 1500\n')
    cfg = load(tmp_path)
    assert cfg == Config.for_profile("low-power", debounce_ms=1500)
    assert cfg.profile == "low-power" and cfg.debounce_ms == 1500 and cfg.cache_docs == 50


def test_file_overrides_without_profile_apply_to_default(tmp_path: Path) -> None:
    write_config(tmp_path, "cache_docs = 10\nreconnect_backoff_s = [1, 2.5]\n")
    cfg = load(tmp_path)
    assert cfg.profile == "default" and cfg.cache_docs == 10
    assert cfg.reconnect_backoff_s == (1, 2.5)
    assert isinstance(cfg.reconnect_backoff_s, tuple)
    hash(cfg)  # still a hashable frozen value


def test_command_line_profile_wins_over_the_file(tmp_path: Path) -> None:
    write_config(tmp_path, 'profile = "low-power"\ndebounce_ms = 1500\n')
    cfg = load(tmp_path, profile="default")
    assert cfg.profile == "default"
    assert cfg.cache_docs == Config().cache_docs
    assert cfg.debounce_ms == 1500  # the file's overrides still apply to the chosen profile


def test_command_line_overrides_combine_with_the_file(tmp_path: Path) -> None:
    write_config(tmp_path, 'profile = "low-power"\ndebounce_ms = 1500\n')
    cfg = load(tmp_path, cache_docs=9, no_relay=True, bind="127.0.0.1:0")
    assert cfg.profile == "low-power"
    assert cfg.debounce_ms == 1500
    assert cfg.cache_docs == 9 and cfg.no_relay is True and cfg.bind == "127.0.0.1:0"


def test_command_line_override_wins_over_the_same_key_in_the_file(tmp_path: Path) -> None:
    write_config(tmp_path, 'profile = "low-power"\ndebounce_ms = 1500\n')
    cfg = load(tmp_path, debounce_ms=700)  # `peervault ... --debounce-ms 700`
    assert cfg.profile == "low-power"
    assert cfg.debounce_ms == 700


def test_none_overrides_are_ignored(tmp_path: Path) -> None:
    write_config(tmp_path, 'profile = "low-power"\ndebounce_ms = 1500\n')
    cfg = load(tmp_path, profile=None, debounce_ms=None, bind=None)
    assert cfg == Config.for_profile("low-power", debounce_ms=1500)
    assert load(tmp_path / "empty", profile=None, cache_docs=None) == Config()


def test_command_line_profile_without_a_file(tmp_path: Path) -> None:
    assert load(tmp_path, profile="low-power") == Config.for_profile("low-power")


def test_unknown_profile_in_the_file_is_an_error(tmp_path: Path) -> None:
    write_config(tmp_path, 'profile = "turbo"\n')
    with pytest.raises(PeerVaultError, match="turbo"):
        load(tmp_path)


def test_unknown_key_in_the_file_is_named(tmp_path: Path) -> None:
    path = write_config(tmp_path, 'profile = "low-power"\ndebounce_msec = 1500\n')
    with pytest.raises(PeerVaultError) as info:
        load(tmp_path)
    msg = str(info.value)
    assert "debounce_msec" in msg
    assert str(path) in msg


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "profile = low-power\n")  # unquoted string
    with pytest.raises(PeerVaultError) as info:
        load(tmp_path)
    assert str(path) in str(info.value)


def test_non_utf8_file_names_the_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, b'profile = "\xff"\n')
    with pytest.raises(PeerVaultError) as info:
        load(tmp_path)
    assert str(path) in str(info.value)


# ------------------------------------------------------------------------------- LAN discovery


def test_lan_discovery_is_on_by_default_and_in_low_power() -> None:
    assert Config().mdns and Config.for_profile("low-power").mdns
    assert Config.for_profile("low-power").mdns_poll_s > Config().mdns_poll_s  # polls less on battery


def test_mdns_false_in_the_file_turns_discovery_off_and_the_flag_wins(tmp_path: Path) -> None:
    write_config(tmp_path, "mdns = false\n")
    assert load(tmp_path).mdns is False
    write_config(tmp_path, "mdns = true\n")
    assert load(tmp_path, mdns=False).mdns is False  # `--no-mdns`
    assert load(tmp_path, mdns=None).mdns is True  # no flag: the file decides


def test_mdns_must_be_a_boolean(tmp_path: Path) -> None:
    path = write_config(tmp_path, 'mdns = "no"\n')
    with pytest.raises(PeerVaultError, match="mdns must be true or false") as info:
        load(tmp_path)
    assert str(path) in str(info.value)


def test_the_first_import_runs_in_a_process_unless_the_file_says_false(tmp_path: Path) -> None:
    assert load(tmp_path).first_import_process is True  # the default (sync/firstimport.py)
    write_config(tmp_path, "first_import_process = false\n")
    assert load(tmp_path).first_import_process is False
    assert load(tmp_path, profile="low-power").first_import_process is False
    write_config(tmp_path, 'first_import_process = "no"\n')
    with pytest.raises(PeerVaultError, match="first_import_process must be true or false"):
        load(tmp_path)


def test_saving_settings_keeps_the_files_other_lines_and_refuses_what_would_not_parse(tmp_path: Path) -> None:
    from peervault.config import save, saved

    (tmp_path / CONFIG_FILE).write_text('# my notes\ndebounce_ms = 1000\napi_origins = ["app://obsidian.md"]\n')
    save(tmp_path, profile="low-power", debounce_ms=250)
    text = (tmp_path / CONFIG_FILE).read_text()
    assert text == '# my notes\napi_origins = ["app://obsidian.md"]\nprofile = "low-power"\ndebounce_ms = 250\n'
    assert load(tmp_path).debounce_ms == 250 and load(tmp_path).profile == "low-power"
    save(tmp_path, debounce_ms=None)
    assert saved(tmp_path) == {"api_origins": ["app://obsidian.md"], "profile": "low-power"}
    with pytest.raises(PeerVaultError, match="not valid TOML"):
        save(tmp_path, profile=float("nan"))
    assert saved(tmp_path)["profile"] == "low-power"  # the old file stays


def test_a_profile_switch_names_what_applies_now_and_what_at_the_next_start():
    from dataclasses import fields

    from peervault.config import LOW_POWER, Config
    from peervault.service.settings import LIVE, changes

    assert LIVE <= {f.name for f in fields(Config)}  # no misspelt setting is "applied"
    now, later = changes(Config(), LOW_POWER)
    assert later == ["watch_step_ms", "mdns_poll_s"]  # built into the watcher and LAN discovery at start
    assert {"debounce_ms", "heartbeat_interval_s", "idle_suspend_s", "background_sync", "cache_docs"} <= set(now)
    assert "profile" not in now + later and changes(LOW_POWER, LOW_POWER) == ([], [])
