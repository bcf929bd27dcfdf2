"""The per-user device key (devicekey.py) and which vaults may take it (state.py): a vault
whose device id some device knows never changes it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from peervault import devicekey
from peervault.errors import PeerVaultError
from peervault.protocol import messages as m
from peervault.protocol.codes import Code, stranger_refusal
from peervault.state import VaultState


def test_where_the_key_lives():
    assert devicekey.data_dir({"HOME": "/h"}, "linux") == Path("/h/.local/share/peervault")
    assert devicekey.data_dir({"HOME": "/h", "XDG_DATA_HOME": "/x"}, "linux") == Path("/x/peervault")
    assert devicekey.data_dir({"HOME": "/h", "XDG_DATA_HOME": "relative"}, "linux") == Path("/h/.local/share/peervault")
    assert devicekey.data_dir({"HOME": "/h"}, "darwin") == Path("/h/Library/Application Support/peervault")
    assert devicekey.data_dir({"HOME": "/h", "PEERVAULT_DATA_DIR": "/d"}, "linux") == Path("/d")


def test_ensure_makes_one_private_key_and_keeps_it(tmp_path: Path):
    d = tmp_path / "data"
    assert devicekey.load(d) is None
    key = devicekey.ensure(d)
    assert len(key) == 32 and devicekey.ensure(d) == key == devicekey.load(d)
    assert (d / "device.key").stat().st_mode & 0o777 == 0o600 and not (d / "device.key.tmp").exists()
    os.chmod(d / "device.key", 0o644)
    with pytest.raises(PeerVaultError, match="readable by other users"):
        devicekey.load(d)
    os.chmod(d / "device.key", 0o600)
    (d / "device.key").write_bytes(b"short")
    with pytest.raises(PeerVaultError, match="damaged"):
        devicekey.load(d)


def test_port_is_remembered(tmp_path: Path):
    assert devicekey.last_port(tmp_path) is None
    devicekey.save_port(4242, tmp_path)
    assert devicekey.last_port(tmp_path) == 4242


def test_a_new_vault_takes_the_key_and_a_known_one_keeps_its_own(tmp_path: Path):
    key = devicekey.ensure(tmp_path / "data")
    fresh, _ = VaultState.init(tmp_path / "New", device_key=key)
    assert fresh.secret_key == key
    fresh.close()
    own, _ = VaultState.init(tmp_path / "Own")
    before = own.device_id
    own.store.add_invite(b"s" * 16, 2_000.0)
    assert own.take_device_key(key, now=1_000.0) == "an unexpired invite names its device id"
    own.store.add_peer("ab" * 32, ["127.0.0.1:1"])
    assert own.take_device_key(key, now=3_000.0) == "it is paired with 1 device(s), which know its device id"
    assert own.device_id == before and (own.dir / "secret.key").read_bytes() != key
    own.close()
    alone, _ = VaultState.init(tmp_path / "Alone")
    assert alone.take_device_key(key, now=1_000.0) is None
    alone.close()
    again = VaultState.open(tmp_path / "Alone")
    assert again.secret_key == key and (again.dir / "secret.key").stat().st_mode & 0o777 == 0o600
    again.close()


def test_a_vault_not_served_and_a_vault_not_paired_for_get_one_answer():
    hello = m.Hello(m.PROTOCOL_VERSION, bytes(16), (), b"", bytes(m.BUCKETS * 8))
    assert stranger_refusal(hello) == (Code.UNKNOWN_PEER, "unknown device: pair with a ticket first")
    assert stranger_refusal(m.Pair(bytes(16), bytes(16))) == (Code.UNKNOWN_PEER, "pairing ticket is invalid, used or expired")
    assert stranger_refusal(None, pair_timeout=5.0) == (Code.UNKNOWN_PEER, "unknown device: did not pair within 5 s")
