"""The `real` bench vault: a documentation vault as people keep them, made from a seed.

About 6,000 notes in ten languages (`English/`, `Русский/`, `中文/`, `العربية/`…, each split
into sections of at most 150 pages), with front matter, `[[links]]` within a language,
`translation_of` links to the English pages and `![[embeds]]` of attachments; and 5,000
attachments of 250 MB (MiB, as everywhere in the bench): screenshots pasted the Obsidian way
(`_attachments/2025-03/Pasted image 20250312101512.png`), pictures, handouts, diagrams and
clips in each section's `assets/`, and six files of 5-20 MB (`_media/`). See realtext.py and
attachments.py for the bytes. Paths and bytes depend only on the seed; `now` only sets
mtimes (1 % in the last hour, 5 % in the last day, the rest over two years).

Generating it takes well under a minute, but it is 275 MB: `materialize` keeps one copy per
(version, seed) in a cache folder and copies it from there on later runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import secrets
import shutil
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from . import attachments, realtext
from .notetext import LAST_DAY
from .vaultgen import sized, unique_name

VERSION = 1  # bump whenever the bytes change: a cached copy of another version is not used
NOTES = 6000
ATTACHMENT_BYTES = 250 * 2**20
MAX_PER_FOLDER = 150
ROOT_NOTES = ("Home", "README", "Contributing")
# the few large files: (kind, MiB)
LARGE = (("mp4", 20.0), ("mp4", 14.5), ("pdf", 11.0), ("mp4", 8.5), ("pdf", 6.2), ("png", 5.4))
# the rest: (kind, count, smallest, largest bytes), log-uniform, then scaled to ATTACHMENT_BYTES
SMALL = (
    ("png", 2800, 3_000, 120_000),
    ("svg", 800, 1_000, 30_000),
    ("jpg", 750, 10_000, 200_000),
    ("pdf", 584, 5_000, 180_000),
    ("mp4", 60, 100_000, 1_000_000),
)
ATTACHMENTS = len(LARGE) + sum(c for _, c, _, _ in SMALL)
# note sizes, (quantile in 1/100,000, bytes): documentation pages run longer than personal notes
NOTE_SIZES = (
    (0, 200),
    (10_000, 800),
    (25_000, 1_600),
    (50_000, 3_000),
    (75_000, 5_500),
    (90_000, 10_000),
    (97_000, 20_000),
    (99_000, 40_000),
    (99_800, 80_000),
    (100_000, 200_000),
)
EDIT_SIZE = 3 * 1024  # the bench edits the English note nearest this size
HOUR, DAY, TWO_YEARS = 3600, 86_400, 2 * 365 * 86_400
OBSIDIAN = {
    ".obsidian/app.json": '{\n  "attachmentFolderPath": "_attachments",\n  "newLinkFormat": "shortest",\n  "useMarkdownLinks": false\n}\n',
    ".obsidian/appearance.json": '{\n  "baseFontSize": 16,\n  "theme": "obsidian"\n}\n',
    ".obsidian/core-plugins.json": '[\n  "file-explorer",\n  "global-search",\n  "backlink",\n  "outline"\n]\n',
    ".obsidian/community-plugins.json": '[\n  "peervault"\n]\n',
}


@dataclass(frozen=True)
class RealFile:
    rel: str
    size: int
    sha256: str
    age_s: int  # mtime is `now` minus this


@dataclass(frozen=True)
class RealManifest:
    seed: int
    files: tuple[RealFile, ...]
    notes: int
    attachments: int
    edit_target: str

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def expected(self) -> dict[str, tuple[int, str]]:
        """rel -> (size, sha256): what every device must hold, byte for byte."""
        return {f.rel: (f.size, f.sha256) for f in self.files}


@dataclass
class _Note:
    folder: str
    name: str
    lang: realtext.Language
    embeds: list[str]

    @property
    def rel(self) -> str:
        return f"{self.folder}/{self.name}.md" if self.folder else f"{self.name}.md"


def _notes(rng: random.Random, taken: set[str], total: int) -> list[_Note]:
    """Root notes, then each language's sections (sub-folders where one would pass 150 pages)."""
    en = realtext.LANGUAGES[0]
    notes = [_Note("", unique_name(n, taken), en, []) for n in ROOT_NOTES]
    counts = [(total - len(ROOT_NOTES)) * lang.share // 100 for lang in realtext.LANGUAGES]
    counts[0] += total - len(ROOT_NOTES) - sum(counts)
    for lang, n in zip(realtext.LANGUAGES, counts, strict=True):
        k = max(3, n // 80)
        weights = [rng.randint(3, 12) for _ in range(k)]
        per = [n * w // sum(weights) for w in weights]
        per[0] += n - sum(per)
        used: set[str] = set()
        for c in per:
            section = f"{lang.folder}/{unique_name(realtext.title(rng, lang, rng.randint(1, 2)), used)}"
            parts = max(1, -(-c // MAX_PER_FOLDER))
            for p in range(parts):
                folder = section if parts == 1 else f"{section}/{unique_name(realtext.title(rng, lang, 1), used)}"
                share = c // parts + (p < c % parts)
                notes += [_Note(folder, unique_name(realtext.title(rng, lang), taken), lang, []) for _ in range(share)]
    return notes


def _attachment_sizes(rng: random.Random, scale: float) -> list[tuple[str, int, bool]]:
    """(kind, bytes, one of the large files), in writing order; exactly ATTACHMENT_BYTES × scale."""
    large = [(kind, int(mb * 2**20 * scale), True) for kind, mb in LARGE]
    small = [
        (kind, int(math.exp(rng.uniform(math.log(lo), math.log(hi)))), False)
        for kind, count, lo, hi in SMALL
        for _ in range(max(1, round(count * scale)))
    ]
    rest = int(ATTACHMENT_BYTES * scale) - sum(s for _, s, _ in large)
    factor = rest / sum(s for _, s, _ in small)
    small = [(kind, max(600, round(s * factor)), False) for kind, s, _ in small]
    i = max(range(len(small)), key=lambda j: small[j][1])
    small[i] = (small[i][0], small[i][1] + rest - sum(s for _, s, _ in small), False)
    out = large + small
    rng.shuffle(out)
    return out


def _place(rng: random.Random, kind: str, large: bool, host: _Note, taken: set[str]) -> str:
    """Where an attachment lives and its name, the way people and Obsidian name them."""
    if large:
        name = unique_name(
            f"{rng.choice(('Webinar', 'Walkthrough', 'Handbook', 'Recording'))} {rng.randrange(2019, 2026)}", taken
        )
        return f"_media/{name}.{kind}"
    if kind == "png" and rng.random() < 0.6:
        day = LAST_DAY - timedelta(days=rng.randrange(730))
        stamp = f"{day:%Y%m%d}{rng.randrange(24):02d}{rng.randrange(60):02d}{rng.randrange(60):02d}"
        return f"_attachments/{day:%Y-%m}/{unique_name(f'Pasted image {stamp}', taken)}.png"
    prefix = {"png": "screenshot", "jpg": "photo", "pdf": "handout", "mp4": "clip", "svg": "diagram"}[kind]
    word = rng.choice(host.lang.words)
    return f"{host.folder or '_attachments'}/assets/{unique_name(f'{prefix}-{word}-{rng.randrange(1000)}', taken)}.{kind}"


def _ages(rng: random.Random, n: int) -> list[int]:
    order = list(range(n))
    rng.shuffle(order)
    hour, day = n // 100, n * 5 // 100
    ages = [0] * n
    for k, i in enumerate(order):
        lo, hi = (1, HOUR) if k < hour else (HOUR, DAY) if k < hour + day else (DAY, TWO_YEARS)
        ages[i] = rng.randrange(lo, hi)
    return ages


def generate(root: Path, seed: int = 0, *, now: float, scale: float = 1.0) -> RealManifest:
    """Write the vault under `root` (created if missing); see the module doc. `scale` shrinks
    the counts and bytes (tests); the layout rules and formats stay."""
    rng = random.Random(f"{seed}:real:layout")
    taken: set[str] = set()
    notes = _notes(rng, taken, max(len(ROOT_NOTES) + 10, round(NOTES * scale)))
    blobs = []
    for kind, size, large in _attachment_sizes(rng, scale):
        host = rng.choice(notes)
        rel = _place(rng, kind, large, host, taken)
        host.embeds.append(rel.rsplit("/", 1)[1])
        blobs.append((rel, kind, size, host))
    writers = {
        lang.code: realtext.NoteWriter(random.Random(f"{seed}:real:text:{lang.code}"), lang) for lang in realtext.LANGUAGES
    }
    names = {lang.code: [n.name for n in notes if n.lang is lang] for lang in realtext.LANGUAGES}
    english = names["en"]
    contents: list[tuple[str, bytes]] = []
    for note in notes:
        w = writers[note.lang.code]
        original = rng.choice(english) if note.lang.code != "en" and rng.random() < 0.5 else None
        created = LAST_DAY - timedelta(days=rng.randrange(1500))
        text = w.note(sized(rng, NOTE_SIZES), note.name, created, names[note.lang.code], note.embeds, original)
        contents.append((note.rel, text.encode()))
    contents += [(rel, text.encode()) for rel, text in OBSIDIAN.items()]
    for rel, kind, size, host in blobs:
        labels = writers[host.lang.code].lang.words
        contents.append((rel, attachments.make(kind, size, f"{seed}:{rel}", rng, list(labels))))
    ages = _ages(random.Random(f"{seed}:real:mtimes"), len(contents))
    files = []
    made: set[str] = set()
    for (rel, data), age in zip(contents, ages, strict=True):
        folder = rel.rpartition("/")[0]
        if folder not in made:
            (root / folder).mkdir(parents=True, exist_ok=True)
            made.add(folder)
        path = os.path.join(root, rel)
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (now - age, now - age))
        files.append(RealFile(rel, len(data), hashlib.sha256(data).hexdigest(), age))
    en_notes = [(abs(len(d) - EDIT_SIZE), rel) for (rel, d), n in zip(contents, notes, strict=False) if n.lang.code == "en"]
    return RealManifest(seed, tuple(files), len(notes), len(blobs), min(en_notes)[1])


def _to_json(m: RealManifest) -> str:
    files = [[f.rel, f.size, f.sha256, f.age_s] for f in m.files]
    return json.dumps(
        {
            "version": VERSION,
            "seed": m.seed,
            "notes": m.notes,
            "attachments": m.attachments,
            "edit_target": m.edit_target,
            "files": files,
        },
        ensure_ascii=False,
    )


def _load(slot: Path, seed: int) -> RealManifest | None:
    """The cached copy, if complete and of this version: every file there, at its size."""
    try:
        doc = json.loads((slot / "manifest.json").read_text(encoding="utf-8"))
        if doc["version"] != VERSION or doc["seed"] != seed:
            return None
        files = tuple(RealFile(rel, size, sha, age) for rel, size, sha, age in doc["files"])
        if any(os.stat(os.path.join(slot, "vault", f.rel)).st_size != f.size for f in files):
            return None
        return RealManifest(seed, files, doc["notes"], doc["attachments"], doc["edit_target"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def materialize(root: Path, seed: int, *, now: float, cache: Path | None = None, scale: float = 1.0) -> RealManifest:
    """The vault under `root`: generated there, or with a `cache`, copied from the cached copy
    (made first if missing; a copy of another version or a damaged one is made again)."""
    if cache is None:
        return generate(root, seed, now=now, scale=scale)
    slot = cache / (f"real-v{VERSION}-seed{seed}" + ("" if scale == 1 else f"-x{scale:g}"))
    m = _load(slot, seed)
    if m is None:
        tmp = cache / f".real-{os.getpid()}-{secrets.token_hex(4)}"
        m = generate(tmp / "vault", seed, now=now, scale=scale)
        (tmp / "manifest.json").write_text(_to_json(m), encoding="utf-8")  # last: marks it complete
        shutil.rmtree(slot, ignore_errors=True)
        os.replace(tmp, slot)
    shutil.copytree(slot / "vault", root, dirs_exist_ok=True)
    for f in m.files:
        t = now - f.age_s
        os.utime(os.path.join(root, f.rel), (t, t))
    return m


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m peervault.bench.realvault", description="Write the `real` bench vault.")
    p.add_argument("root", type=Path)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", type=Path, help="Keep a copy here and copy from it next time.")
    a = p.parse_args(argv)
    t0 = time.monotonic()
    m = materialize(a.root, a.seed, now=time.time(), cache=a.cache)
    print(
        f"{m.notes} notes and {m.attachments} attachments, {len(m.files)} files, {m.total_bytes / 2**20:.1f} MB "
        f"in {a.root} (seed {a.seed}) in {time.monotonic() - t0:.1f} s; edit target: {m.edit_target}"
    )


if __name__ == "__main__":
    main()
