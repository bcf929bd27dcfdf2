"""Realistic test vaults for `peervault bench`, made from (files, seed) alone, so runs on
different machines and days sync the very same bytes and paths.

Layout: `Daily/YYYY/MM/YYYY-MM-DD.md` (a quarter of the notes, at most 1,200), a few notes
at the root, a flat `Inbox`, and `Projects`, `Areas`, `Resources`, `Archive` split into
sub-folders up to four levels deep with at most 180 notes per folder. Names are unique
(case-insensitively) across the vault, so `[[wikilinks]]` by name resolve; some are non-ASCII.

Sizes: each note is exactly the size drawn from `SIZE_QUANTILES`, a piecewise-linear table
shaped like a real vault: p10 600 B, median 2 KB, p90 7 KB, p97 14 KB, p99 30 KB,
0.2 % between 50 and 120 KB (mean about 3.8 KB, so 10,000 notes are about 38 MB).

Randomness comes only from `random.Random` streams seeded with the seed (never `hash()`,
set order or the clock); `now` only moves mtimes.
"""

from __future__ import annotations

import argparse
import bisect
import os
import random
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from .notetext import CONTENT, FANCY_WORDS, LAST_DAY, SENTENCE_POOL, Writer, capitalised

# (quantile in 1/100,000, bytes); a note's size is interpolated linearly between neighbours.
SIZE_QUANTILES = (
    (0, 150),
    (10_000, 600),
    (25_000, 1_100),
    (50_000, 2_000),
    (75_000, 3_800),
    (90_000, 7_000),
    (97_000, 14_000),
    (99_000, 30_000),
    (99_800, 50_000),
    (100_000, 120_000),
)
HOUR, DAY, TWO_YEARS = 3600, 86_400, 2 * 365 * 86_400
MAX_DAILY, MAX_INBOX, MAX_PER_FOLDER, MAX_DEPTH = 1200, 150, 180, 4

_SUB = {
    ("Projects", 3): ["Meetings", "Research", "Drafts", "Specs", "Notes", "Reviews", "Planning", "Ideas"],
    ("Areas", 2): ["Health", "Finance", "Home", "Career", "Family", "Learning", "Travel", "Writing", "Fitness", "Cooking"],
    ("Resources", 2): ["Books", "Articles", "Programming", "Recipes", "Courses", "Podcasts", "Papers", "Tools", "Design"],
    ("Archive", 2): [str(y) for y in range(2018, 2026)],
}
_TOPICS = ["Café culture", "Zürich", "日本語", "Straße und Stadt", "Émile's notes", "Tools", "References", "Old"]
_FIRST = ["Zoë", "José", "Anna", "さくら", "Liam", "Björn", "Priya", "Chloé", "Tom", "Maria"]
_LAST = ["Martin", "Álvarez", "Kowalska", "田中", "O'Brien", "Lind", "Nair", "Dubois", "Smith", "Müller"]
_ROOT_NOTES = ["Home", "Dashboard", "Reading list"]


@dataclass(frozen=True)
class VaultManifest:
    """What `generate` wrote: vault-relative '/'-separated paths in writing order, and the
    mtime tiers (disjoint) the bench checks sync order against."""

    paths: tuple[str, ...]
    total_bytes: int
    last_hour: tuple[str, ...]  # mtime within the last hour
    last_day: tuple[str, ...]  # 1 to 24 hours ago
    older: tuple[str, ...]  # 1 day to 2 years ago


def sized(rng: random.Random, quantiles: tuple[tuple[int, int], ...] = SIZE_QUANTILES) -> int:
    """A size drawn from a (quantile in 1/100,000, bytes) table from 0 to 100,000, interpolated."""
    q = rng.randrange(100_000)
    i = bisect.bisect_right(quantiles, (q, 1 << 62)) - 1
    (q0, s0), (q1, s1) = quantiles[i], quantiles[i + 1]
    return s0 + (s1 - s0) * (q - q0) // (q1 - q0)


def unique_name(name: str, taken: set[str]) -> str:
    """Vault-wide unique ignoring case, so links resolve and case-insensitive disks keep every note."""
    k, out = 2, name
    while out.casefold() in taken:
        out, k = f"{name} {k}", k + 1
    taken.add(out.casefold())
    return out


def _title(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.35:
        return f"{capitalised(rng.choice(CONTENT))} {rng.choice(CONTENT)}"
    if r < 0.55:
        return f"{capitalised(rng.choice(CONTENT))} {rng.choice(CONTENT)} {rng.choice(('notes', 'plan', 'ideas', 'log', 'checklist'))}"
    if r < 0.65:
        return f"How to {rng.choice(CONTENT)} the {rng.choice(CONTENT)}"
    if r < 0.75:
        return f"Meeting {LAST_DAY - timedelta(days=rng.randrange(1500))} {rng.choice(CONTENT)}"
    if r < 0.85:
        return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    if r < 0.92:
        return f"{capitalised(rng.choice(FANCY_WORDS))} {rng.choice(CONTENT)}"
    return f"{capitalised(rng.choice(CONTENT))} – {rng.choice(CONTENT)} {rng.choice(CONTENT)}"


def _split(rng: random.Random, cat: str, folder: str, n: int, depth: int, out: list[tuple[str, int]]) -> None:
    """Spread `n` notes over `folder` and sub-folders: a few at this level, the rest in children
    until every folder holds at most MAX_PER_FOLDER."""
    cap = rng.randint(40, MAX_PER_FOLDER)
    if n <= cap or depth == MAX_DEPTH:
        out.append((folder, n))
        return
    own = rng.randint(0, 5)
    rest = n - own
    out.append((folder, own))
    if depth + 1 == MAX_DEPTH:  # children are leaves: split evenly so none overflows
        k = -(-rest // cap)
        counts = [rest // k + (i < rest % k) for i in range(k)]
    else:
        k = max(2, min(-(-rest // cap), 40 if depth == 1 else 8))
        weights = [rng.randint(3, 13) for _ in range(k)]
        counts = [rest * wt // sum(weights) for wt in weights]
        for i in range(rest - sum(counts)):
            counts[i] += 1
    pool = list(_SUB.get((cat, depth + 1), ()))
    taken: set[str] = set()
    for c in counts:
        if pool:
            name = pool.pop(rng.randrange(len(pool)))
        elif rng.random() < 0.1:
            name = rng.choice(_TOPICS)
        else:
            name = f"{capitalised(rng.choice(CONTENT))} {rng.choice(CONTENT)}"
        _split(rng, cat, f"{folder}/{unique_name(name, taken)}", c, depth + 1, out)


def _layout(rng: random.Random, files: int) -> list[tuple[str, str]]:
    """(folder, note name) for every note; root notes come first, so skewed links make them hubs."""
    taken: set[str] = set()
    notes = [("", unique_name(n, taken)) for n in _ROOT_NOTES[:files]]
    daily = min(files // 4, MAX_DAILY)
    inbox = min(files // 50, MAX_INBOX)
    rest = files - len(notes) - daily - inbox
    day = LAST_DAY
    for _ in range(daily):
        notes.append((f"Daily/{day.year}/{day.month:02d}", unique_name(day.isoformat(), taken)))
        day -= timedelta(days=1 if rng.random() < 0.8 else 2)
    notes += [("Inbox", unique_name(_title(rng), taken)) for _ in range(inbox)]
    shares = (("Projects", 30), ("Areas", 15), ("Resources", 20), ("Archive", 10))
    counts = [rest * s // 75 for _, s in shares]
    counts[0] += rest - sum(counts)
    for (cat, _), n in zip(shares, counts, strict=True):
        folders: list[tuple[str, int]] = []
        _split(rng, cat, cat, n, 1, folders)
        notes += [(folder, unique_name(_title(rng), taken)) for folder, c in folders for _ in range(c)]
    return notes


def generate(root: Path, files: int, seed: int = 0, *, now: float | None = None) -> VaultManifest:
    """Write `files` notes under `root` (created if missing). Content and paths depend only on
    (files, seed); mtimes are `now` (default: the current time) minus a seeded offset:
    1 % within the last hour, 5 % between 1 and 24 hours ago, the rest over the last 2 years."""
    now = time.time() if now is None else now
    layout = _layout(random.Random(f"{seed}:layout"), files)
    names = [name for _, name in layout]
    writer = Writer(random.Random(f"{seed}:content"), names)
    rng = writer.rng
    paths = [f"{folder}/{name}.md" if folder else f"{name}.md" for folder, name in layout]
    order = list(range(files))
    tier_rng = random.Random(f"{seed}:mtimes")
    tier_rng.shuffle(order)
    n_hour, n_day = (files + 50) // 100, (files * 5 + 50) // 100
    tiers = [(order[:n_hour], 1, HOUR), (order[n_hour : n_hour + n_day], HOUR, DAY), (order[n_hour + n_day :], DAY, TWO_YEARS)]
    offsets = [0] * files
    for members, lo, hi in tiers:
        for i in sorted(members):
            offsets[i] = tier_rng.randrange(lo, hi)
    root.mkdir(parents=True, exist_ok=True)
    made: set[str] = set()
    total = 0
    for i, ((folder, name), rel) in enumerate(zip(layout, paths, strict=True)):
        if folder not in made:
            (root / folder).mkdir(parents=True, exist_ok=True)
            made.add(folder)
        daily = folder.startswith("Daily/")
        created = date.fromisoformat(name) if daily else LAST_DAY - timedelta(days=rng.randrange(1500))
        data = writer.note(sized(rng), name, created, daily=daily, intl=rng.random() < 0.15).encode()
        target = os.path.join(root, rel)
        with open(target, "wb") as f:
            f.write(data)
        mtime = now - offsets[i]
        os.utime(target, (mtime, mtime))
        total += len(data)
    return VaultManifest(
        paths=tuple(paths),
        total_bytes=total,
        last_hour=tuple(paths[i] for i in sorted(tiers[0][0])),
        last_day=tuple(paths[i] for i in sorted(tiers[1][0])),
        older=tuple(paths[i] for i in sorted(tiers[2][0])),
    )


def note_of_size(size_bytes: int, seed: int) -> str:
    """A realistic note of exactly `size_bytes` UTF-8 bytes for single-file benchmarks. It always
    holds multi-byte characters, so code that mixes up byte and character offsets shows."""
    rng = random.Random(f"{seed}:note")
    taken: set[str] = set()
    writer = Writer(rng, [unique_name(_title(rng), taken) for _ in range(50)], pool=min(SENTENCE_POOL, 64 + size_bytes // 20))
    return writer.note(size_bytes, writer.names[0], LAST_DAY, intl=True)


def one_char_edit(text: str, seed: int) -> str:
    """`text` with one ASCII letter inserted mid-way through the prose line nearest the middle of
    the note (outside front matter and code), like a typing edit; the bytes-on-the-wire case."""
    rng = random.Random(f"{seed}:edit")
    best, pos, fence = None, 0, False
    lines = text.splitlines(keepends=True)
    in_front = bool(lines) and lines[0] == "---\n"
    for k, line in enumerate(lines):
        if line.startswith("```"):
            fence = not fence
        elif in_front and k and line == "---\n":
            in_front = False
        elif not (fence or in_front) and len(line) > 20 and line[0].isalnum() and not line.startswith("1. "):
            mid = pos + len(line.rstrip("\n")) // 2 + rng.randrange(-5, 6)
            if best is None or abs(mid - len(text) // 2) < abs(best - len(text) // 2):
                best = mid
        pos += len(line)
    at = len(text) // 2 if best is None else best
    return text[:at] + rng.choice("abcdefghijklmnopqrstuvwxyz") + text[at:]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m peervault.bench.vaultgen", description="Write a deterministic test vault.")
    p.add_argument("root", type=Path)
    p.add_argument("--files", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    t0 = time.monotonic()
    m = generate(a.root, a.files, a.seed)
    print(
        f"{len(m.paths)} notes, {m.total_bytes / 1e6:.1f} MB in {a.root} (seed {a.seed}) in {time.monotonic() - t0:.2f} s; "
        f"{len(m.last_hour)} modified in the last hour, {len(m.last_day)} in the last day"
    )


if __name__ == "__main__":
    main()
