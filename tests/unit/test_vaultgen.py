"""Generated bench vaults: same (files, seed) gives the same bytes, and the shape is as documented."""

from __future__ import annotations

import os
import statistics
import unicodedata
from pathlib import Path

import pytest

from peervault.bench.vaultgen import generate, note_of_size, one_char_edit
from peervault.vault.ignore import IgnoreRules
from peervault.vault.paths import check_remote_path

NOW = 1_800_000_000.0


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("vault")
    return root, generate(root, 300, seed=7, now=NOW)


def test_same_seed_is_byte_identical_and_another_seed_differs(vault, tmp_path):
    root, manifest = vault
    again = generate(tmp_path / "again", 300, seed=7, now=NOW + 1000)  # `now` only moves mtimes
    assert again == manifest
    assert snapshot(tmp_path / "again") == snapshot(root)
    other = generate(tmp_path / "other", 300, seed=8, now=NOW)
    assert other.paths != manifest.paths
    assert snapshot(tmp_path / "other") != snapshot(root)


def test_file_count_and_manifest_match_the_disk(vault):
    root, manifest = vault
    files = snapshot(root)
    assert len(files) == len(manifest.paths) == len(set(manifest.paths)) == 300
    assert set(files) == set(manifest.paths)
    assert manifest.total_bytes == sum(len(b) for b in files.values())
    assert len({p.casefold() for p in manifest.paths}) == 300  # distinct on case-insensitive disks too


def test_files_are_utf8_without_nul_and_paths_are_valid(vault):
    root, manifest = vault
    for rel, data in snapshot(root).items():
        assert b"\0" not in data
        data.decode("utf-8")
        assert check_remote_path(rel) == rel and not IgnoreRules().ignores(rel)
        assert unicodedata.is_normalized("NFC", rel) and rel.endswith(".md")
        assert rel.count("/") <= 4
    assert any(not p.isascii() for p in manifest.paths)


def test_size_distribution_is_as_documented(vault):
    root, manifest = vault
    sizes = sorted(len(b) for b in snapshot(root).values())
    assert 1_600 <= statistics.median(sizes) <= 2_500
    assert sizes[0] >= 150 and sizes[-1] <= 120_000
    assert 4_500 <= sizes[int(0.9 * len(sizes))] <= 10_000


def test_mtime_tiers(vault):
    root, m = vault
    assert (len(m.last_hour), len(m.last_day), len(m.older)) == (3, 15, 282)
    assert sorted(m.last_hour + m.last_day + m.older) == sorted(m.paths)
    for tier, lo, hi in ((m.last_hour, 0, 3600), (m.last_day, 3600, 86_400), (m.older, 86_400, 2 * 365 * 86_400)):
        for rel in tier:
            assert lo < NOW - os.stat(root / rel).st_mtime <= hi


def test_notes_look_like_obsidian_notes(vault):
    root, manifest = vault
    texts = [b.decode() for b in snapshot(root).values()]
    names = {p.rsplit("/", 1)[-1][: -len(".md")] for p in manifest.paths}
    assert sum(t.startswith("---\ntags: ") for t in texts) > 150
    assert any("```" in t for t in texts) and any("\n| --- |" in t for t in texts) and any("- [ ] " in t for t in texts)
    links = [t.split("[[", 1)[1].split("]]", 1)[0].split("|")[0].split("#")[0] for t in texts if "[[" in t]
    assert len(links) > 150 and set(links) <= names
    assert any(p.startswith("Daily/2026/11/") for p in manifest.paths)


@pytest.mark.parametrize("size", [1000, 100_000])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_note_of_size_is_exact_with_multibyte_text(size, seed):
    text = note_of_size(size, seed)
    assert len(text.encode("utf-8")) == size
    assert len(text) < size  # multi-byte characters present
    assert note_of_size(size, seed) == text


def test_note_of_size_small_sizes():
    for size in range(300):
        assert len(note_of_size(size, size).encode()) == size


@pytest.mark.parametrize("seed", range(5))
def test_one_char_edit_inserts_one_character_mid_note(seed):
    text = note_of_size(100_000, seed)
    edited = one_char_edit(text, seed)
    assert len(edited) == len(text) + 1
    at = next(i for i, (a, b) in enumerate(zip(text, edited, strict=False)) if a != b)
    assert edited[:at] + edited[at + 1 :] == text
    assert 0.3 < at / len(text) < 0.7
    assert one_char_edit(text, seed) == edited
