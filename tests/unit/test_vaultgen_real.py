"""The `real` bench vault: the shape the issue asks for, the same bytes from the same seed,
attachments that are what they claim and do not compress, and a cache that is reused."""

from __future__ import annotations

import collections
import os
import statistics
import unicodedata
import zlib
from pathlib import Path

import pytest

from peervault.bench import realvault
from peervault.bench.probe import tree_digest
from peervault.bench.realvault import materialize
from peervault.vault.ignore import IgnoreRules
from peervault.vault.paths import check_remote_path, windows_problem

NOW = 1_800_000_000.0
SMALL = 0.05  # 300 notes, 250 attachments, 12.5 MB


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, realvault.RealManifest]:
    root = tmp_path_factory.mktemp("real") / "vault"
    return root, realvault.generate(root, 0, now=NOW)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, realvault.RealManifest]:
    root = tmp_path_factory.mktemp("small") / "vault"
    return root, realvault.generate(root, 3, now=NOW, scale=SMALL)


def by_ext(m: realvault.RealManifest) -> dict[str, list[int]]:
    out: dict[str, list[int]] = collections.defaultdict(list)
    for f in m.files:
        out[f.rel.rsplit(".", 1)[-1]].append(f.size)
    return out


def test_full_vault_has_the_issues_shape(full: tuple[Path, realvault.RealManifest]) -> None:
    root, m = full
    sizes = by_ext(m)
    assert m.notes == len(sizes["md"]) == 6000 and m.attachments == 5000
    blobs = [s for ext in ("png", "jpg", "pdf", "mp4", "svg") for s in sizes[ext]]
    assert len(blobs) == 5000 and sum(blobs) == 250 * 2**20
    assert 4 <= sum(5 * 2**20 <= s <= 20 * 2**20 for s in blobs) <= 8  # a few of 5-20 MB
    assert statistics.median(sizes["png"]) < 100_000 and len(sizes["png"]) > 2000  # many small images
    assert 2_000 <= statistics.median(sizes["md"]) <= 5_000
    assert tree_digest(root) == m.expected()
    per_folder = collections.Counter(f.rel.rpartition("/")[0] for f in m.files)
    assert max(per_folder.values()) <= realvault.MAX_PER_FOLDER
    top = {f.rel.split("/")[0] for f in m.files if "/" in f.rel}
    assert {"English", "Русский", "中文", "日本語", "한국어", "العربية", "हिन्दी", "Ελληνικά", "_attachments", "_media"} <= top
    assert 2_500 <= (root / m.edit_target).stat().st_size <= 3_600 and m.edit_target.startswith("English/")


def test_paths_are_valid_and_unique(small: tuple[Path, realvault.RealManifest]) -> None:
    _, m = small
    rels = [f.rel for f in m.files]
    assert len({r.casefold() for r in rels}) == len(rels)
    for rel in rels:
        assert check_remote_path(rel) == rel and unicodedata.is_normalized("NFC", rel)
        assert windows_problem(rel) is None and not IgnoreRules().ignores(rel)
    assert sum(not r.isascii() for r in rels) > len(rels) // 2


def test_same_seed_same_bytes_other_seed_differs(small: tuple[Path, realvault.RealManifest], tmp_path: Path) -> None:
    _, m = small
    again = realvault.generate(tmp_path / "again", 3, now=NOW + 5000, scale=SMALL)  # `now` only moves mtimes
    assert again == m
    other = realvault.generate(tmp_path / "other", 4, now=NOW, scale=SMALL)
    assert other.expected() != m.expected()


def test_notes_are_markdown_in_ten_scripts_with_links_and_embeds(small: tuple[Path, realvault.RealManifest]) -> None:
    root, m = small
    notes = {f.rel: (root / f.rel).read_text(encoding="utf-8") for f in m.files if f.rel.endswith(".md")}
    text = "".join(notes.values())
    assert sum(t.startswith("---\ntitle: ") for t in notes.values()) > len(notes) // 2
    assert "[[" in text and "![[" in text and "translation_of:" in text and "```" in text
    for sample in ("ф", "α", "件", "ル", "설", "ل", "स", "é", "ß"):  # Cyrillic, Greek, Han, kana, Hangul, Arabic, Devanagari
        assert sample in text, sample
    embedded = {line[3:].split("|")[0].rstrip("]") for t in notes.values() for line in t.splitlines() if line.startswith("![[")}
    names = {f.rel.rsplit("/", 1)[-1] for f in m.files if not f.rel.endswith(".md")}
    assert names - {"app.json", "appearance.json", "core-plugins.json", "community-plugins.json"} <= embedded


def test_attachments_look_like_their_formats_and_do_not_compress(small: tuple[Path, realvault.RealManifest]) -> None:
    root, m = small
    magic = {"png": b"\x89PNG\r\n\x1a\n", "jpg": b"\xff\xd8\xff\xe0", "pdf": b"%PDF-1.7", "mp4": b"\x00\x00\x00\x20ftyp"}
    seen = set()
    for f in m.files:
        ext = f.rel.rsplit(".", 1)[-1]
        data = (root / f.rel).read_bytes()
        if ext in magic:
            seen.add(ext)
            assert data.startswith(magic[ext]) and len(data) == f.size
            assert len(zlib.compress(data)) > 0.95 * len(data)
            with pytest.raises(UnicodeDecodeError):
                data.decode("utf-8")  # a blob, not a note
        if ext == "png":
            assert data.endswith(b"IEND\xaeB`\x82")
        elif ext == "jpg":
            assert data.endswith(b"\xff\xd9") and b"\xff" not in data[200:-2]
        elif ext == "pdf":
            assert data.rstrip().endswith(b"%%EOF") and b"xref" in data
        elif ext == "svg":
            assert data.startswith(b"<?xml") and data.endswith(b"</svg>\n")
            data.decode("utf-8")
    assert seen == set(magic)


def test_mtimes_follow_now(small: tuple[Path, realvault.RealManifest]) -> None:
    root, m = small
    ages = [NOW - os.stat(root / f.rel).st_mtime for f in m.files]
    assert all(0 < a <= 2 * 365 * 86_400 for a in ages)
    assert sum(a <= 3600 for a in ages) >= len(ages) // 100


def test_cache_is_made_once_then_copied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    first = materialize(tmp_path / "a", 5, now=NOW, cache=cache, scale=0.01)
    calls = []
    monkeypatch.setattr(realvault, "generate", lambda *a, **k: calls.append(a) or pytest.fail("generated again"))
    second = materialize(tmp_path / "b", 5, now=NOW + 100, cache=cache, scale=0.01)
    assert second == first and not calls
    assert tree_digest(tmp_path / "b") == first.expected()
    f = first.files[0]
    assert os.stat(tmp_path / "b" / f.rel).st_mtime == pytest.approx(NOW + 100 - f.age_s)
    (tmp_path / "b" / f.rel).write_bytes(b"edited")  # a copy: the bench's edits never reach the cache
    assert tree_digest(next(cache.iterdir()) / "vault") == first.expected()


def test_a_damaged_cache_is_made_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = materialize(tmp_path / "a", 5, now=NOW, cache=cache, scale=0.01)
    slot = next(cache.iterdir())
    (slot / "vault" / first.files[-1].rel).write_bytes(b"")  # a size no longer matches
    again = materialize(tmp_path / "b", 5, now=NOW, cache=cache, scale=0.01)
    assert again == first and tree_digest(tmp_path / "b") == first.expected()
