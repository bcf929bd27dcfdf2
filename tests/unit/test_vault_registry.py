"""How the API of every vault names a vault (api/registry.py): a handle of its folder,
unique and stable, or its vault id where only one vault of the process has it."""

from __future__ import annotations

from pathlib import Path

import pytest

from peervault.api import registry
from peervault.errors import NotFound, VaultUnavailable


def test_a_vault_is_found_by_its_handle_or_by_an_unambiguous_vault_id():
    a, b, copy = Path("/n/A"), Path("/n/B"), Path("/n/A-copy")
    rows = [(a, "aa" * 16), (b, "bb" * 16), (copy, "aa" * 16), (Path("/n/broken"), None)]
    assert registry.handle(a) == registry.handle(Path("/n/A")) != registry.handle(copy)
    assert len(registry.handle(a)) == registry.HANDLE_CHARS
    assert registry.find(registry.handle(copy), rows) == copy
    assert registry.find("BB" * 16, rows) == b  # a vault id, any case
    with pytest.raises(NotFound, match="'" + "aa" * 16 + "'"):
        registry.find("aa" * 16, rows)  # two copies of one vault: only their handles tell them apart
    with pytest.raises(NotFound, match="GET /vaults"):
        registry.find("nope", rows)


def test_a_vault_not_running_says_why():
    err = registry.unavailable(Path("/n/A"), "restarting", "No space left on device")
    assert isinstance(err, VaultUnavailable) and err.http_status == 503
    assert str(err) == "vault /n/A stopped after an error and is being opened again: No space left on device"
    row = registry.row(Path("/n/A"), None, "failed", "not a vault")
    assert row["state"] == "failed" and row["reason"] == "not a vault" and row["files"] is None and row["name"] == "A"
