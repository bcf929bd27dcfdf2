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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

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
LAST_DAY = date(2026, 11, 30)  # fixed, not today: daily-note names must not depend on the clock
MAX_DAILY, MAX_INBOX, MAX_PER_FOLDER, MAX_DEPTH = 1200, 150, 180, 4
SENTENCE_POOL = 8192  # sentences made once per vault; notes pick from them, which keeps 50k notes fast

_COMMON = """
the a an and or but of to in on for with about from by at as is was are be have has will can
should could would this that these those it we they you our their my not very more most some many
few each every other another same new old
""".split()
_CONTENT = """
plan idea meeting budget garden kitchen project design draft review report summary question answer
problem solution habit routine goal task list book article paper chapter library server client
database schema query index cache network protocol release version feature bug test issue ticket
customer team manager friend family trip journey city river mountain forest recipe dinner breakfast
coffee tea music song album movie course lesson language grammar word sentence note folder file
system process workflow tool script function module package model theory experiment result data
chart table map weather season morning evening week month year invoice account tax salary health
workout run sleep diet doctor appointment house window door car bike train phone laptop screen
keyboard camera photo soil seed light water energy write read build ship move change keep start
finish learn teach share check fix measure compare improve track collect sort sync merge clean quick
slow small large early late simple careful rough clear open quiet busy useful strange important
recent common local remote background information
""".split()
_WORDS = _COMMON + _CONTENT  # every word at most 11 letters: see _filler_words
_FANCY_WORDS = "café naïve façade résumé jalapeño Zürich Ångström déjà crème brûlée Straße Kraków piñata über fiancée".split()
_WORDS_CUM = [20 * (i + 1) for i in range(len(_WORDS))]
_WORDS_CUM += [_WORDS_CUM[-1] + i + 1 for i in range(len(_FANCY_WORDS))]  # about 1 word in 250 is accented
_BY_LEN = {n: [w for w in _WORDS + ["relationship", "conversation"] if len(w) == n] for n in range(1, 13)}
_CJK = (
    "今日は会議があります。",
    "このメモは後で整理する。",
    "東京で新しいカフェを見つけた。",
    "下周一之前完成草稿。",
    "我们需要重新考虑这个计划。",
    "读书笔记：第三章很有意思。",
    "회의 내용을 정리했습니다.",
    "日本語の勉強を続けること。",
)
_EMOJI = "✅ 🚀 📚 💡 🔥 🌱 📌 🎯 🧪 ☕ 🗓 ✨ 🐛 📝 🤔".split()
_CODE = (  # (fence language, snippet with {a} {b} {c} for content words)
    ("python", "def {a}_{b}(items):\n    return [x for x in items if x.{c}]\n"),
    ("bash", "for f in *.md; do\n  grep -l '{a}' \"$f\"\ndone\n"),
    ("sql", "SELECT {a}, count(*) FROM {b}\nWHERE {c} IS NOT NULL\nGROUP BY {a};\n"),
    ("js", "const {a} = await fetch('/api/{b}');\nconsole.log({a}.{c});\n"),
    ("json", '{{"{a}": true, "{b}": [1, 2, 3], "{c}": null}}\n'),
    ("yaml", "{a}:\n  {b}: 3\n  {c}: [one, two]\n"),
)
_SUB = {
    ("Projects", 3): ["Meetings", "Research", "Drafts", "Specs", "Notes", "Reviews", "Planning", "Ideas"],
    ("Areas", 2): ["Health", "Finance", "Home", "Career", "Family", "Learning", "Travel", "Writing", "Fitness", "Cooking"],
    ("Resources", 2): ["Books", "Articles", "Programming", "Recipes", "Courses", "Podcasts", "Papers", "Tools", "Design"],
    ("Archive", 2): [str(y) for y in range(2018, 2026)],
}
_TOPICS = ["Café culture", "Zürich", "日本語", "Straße und Stadt", "Émile's notes", "Tools", "References", "Old"]
_FIRST = ["Zoë", "José", "Anna", "さくら", "Liam", "Björn", "Priya", "Chloé", "Tom", "Maria"]
_LAST = ["Martin", "Álvarez", "Kowalska", "田中", "O'Brien", "Lind", "Nair", "Dubois", "Smith", "Müller"]
_TAGS = ["idea", "todo", "reading", "meeting", "project", "draft", "reference", "health", "finance", "travel", "日本"]
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


def _size(rng: random.Random) -> int:
    q = rng.randrange(100_000)
    i = bisect.bisect_right(SIZE_QUANTILES, (q, 1 << 62)) - 1
    (q0, s0), (q1, s1) = SIZE_QUANTILES[i], SIZE_QUANTILES[i + 1]
    return s0 + (s1 - s0) * (q - q0) // (q1 - q0)


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _unique(name: str, taken: set[str]) -> str:
    """Vault-wide unique ignoring case, so links resolve and case-insensitive disks keep every note."""
    k, out = 2, name
    while out.casefold() in taken:
        out, k = f"{name} {k}", k + 1
    taken.add(out.casefold())
    return out


def _title(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.35:
        return f"{_cap(rng.choice(_CONTENT))} {rng.choice(_CONTENT)}"
    if r < 0.55:
        return f"{_cap(rng.choice(_CONTENT))} {rng.choice(_CONTENT)} {rng.choice(('notes', 'plan', 'ideas', 'log', 'checklist'))}"
    if r < 0.65:
        return f"How to {rng.choice(_CONTENT)} the {rng.choice(_CONTENT)}"
    if r < 0.75:
        return f"Meeting {LAST_DAY - timedelta(days=rng.randrange(1500))} {rng.choice(_CONTENT)}"
    if r < 0.85:
        return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    if r < 0.92:
        return f"{_cap(rng.choice(_FANCY_WORDS))} {rng.choice(_CONTENT)}"
    return f"{_cap(rng.choice(_CONTENT))} – {rng.choice(_CONTENT)} {rng.choice(_CONTENT)}"


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
            name = f"{_cap(rng.choice(_CONTENT))} {rng.choice(_CONTENT)}"
        _split(rng, cat, f"{folder}/{_unique(name, taken)}", c, depth + 1, out)


def _layout(rng: random.Random, files: int) -> list[tuple[str, str]]:
    """(folder, note name) for every note; root notes come first, so skewed links make them hubs."""
    taken: set[str] = set()
    notes = [("", _unique(n, taken)) for n in _ROOT_NOTES[:files]]
    daily = min(files // 4, MAX_DAILY)
    inbox = min(files // 50, MAX_INBOX)
    rest = files - len(notes) - daily - inbox
    day = LAST_DAY
    for _ in range(daily):
        notes.append((f"Daily/{day.year}/{day.month:02d}", _unique(day.isoformat(), taken)))
        day -= timedelta(days=1 if rng.random() < 0.8 else 2)
    notes += [("Inbox", _unique(_title(rng), taken)) for _ in range(inbox)]
    shares = (("Projects", 30), ("Areas", 15), ("Resources", 20), ("Archive", 10))
    counts = [rest * s // 75 for _, s in shares]
    counts[0] += rest - sum(counts)
    for (cat, _), n in zip(shares, counts, strict=True):
        folders: list[tuple[str, int]] = []
        _split(rng, cat, cat, n, 1, folders)
        notes += [(folder, _unique(_title(rng), taken)) for folder, c in folders for _ in range(c)]
    return notes


def _filler_words(rng: random.Random, n: int) -> str:
    """Plain ASCII words exactly `n` bytes long: what makes every note exactly its size."""
    words: list[str] = []
    left = n
    while left > 0:
        if left <= 12:
            words.append(rng.choice(_BY_LEN[left]))
            break
        w = rng.choice(_WORDS)  # at most 11 letters here, so at least 1 byte stays for the next word
        words.append(w)
        left -= len(w) + 1
    return " ".join(words)


class _Writer:
    """Note text from one seeded stream. Sentences are made once per vault and picked per block,
    so a note costs a few random draws per ~300 bytes."""

    def __init__(self, rng: random.Random, names: list[str], pool: int = SENTENCE_POOL) -> None:
        self.rng, self.names = rng, names
        vocab = _WORDS + _FANCY_WORDS
        self.sentences: list[str] = []
        for _ in range(pool):
            words = rng.choices(vocab, cum_weights=_WORDS_CUM, k=rng.randint(4, 16))
            r = rng.random()
            if r < 0.1:
                words[-1] = f"**{words[-1]}**"
            elif r < 0.15:
                words[-1] = f"`{words[-1]}`"
            if len(words) > 7 and rng.random() < 0.3:
                words[3] += ","
            self.sentences.append(_cap(" ".join(words)) + rng.choice(".........?!"))
        self.blocks: list[Callable[[], str]] = [
            self.paragraph,
            self.bullets,
            self.tasks,
            self.heading,
            self.code,
            self.table,
            self.quote,
        ]
        self.weights = [40, 54, 62, 76, 80, 83, 88]

    def link(self) -> str:
        r = self.rng.random()
        name = self.names[int(len(self.names) * r * r)]  # skewed: early notes are hubs
        if r < 0.08:
            return f"[[{name}|{self.rng.choice(_WORDS)}]]"
        if r < 0.16:
            return f"[[{name}#{_cap(self.rng.choice(_WORDS))}]]"
        return f"[[{name}]]"

    def fragment(self) -> str:
        s = self.rng.choice(self.sentences)[:-1]
        return f"{s} {self.link()}" if self.rng.random() < 0.2 else s

    def paragraph(self) -> str:
        parts = self.rng.choices(self.sentences, k=self.rng.randint(1, 6))
        if self.rng.random() < 0.4:
            parts.insert(self.rng.randrange(len(parts) + 1), f"See {self.link()}.")
        return " ".join(parts) + "\n"

    def intl(self) -> str:
        r = self.rng
        return (
            "".join(r.choices(_CJK, k=r.randint(1, 4)))
            + f" {r.choice(_FANCY_WORDS)} {r.choice(_EMOJI)} {r.choice(self.sentences)}\n"
        )

    def bullets(self) -> str:
        r = self.rng
        mark = r.choice(("- ", "- ", "* ", "1. "))
        lines = [("  - " if i and r.random() < 0.2 else mark) + self.fragment() for i in range(r.randint(2, 8))]
        return "\n".join(lines) + "\n"

    def tasks(self) -> str:
        r = self.rng
        lines = []
        for _ in range(r.randint(2, 6)):
            extra = f" {r.choice(_EMOJI)} {LAST_DAY - timedelta(days=r.randrange(700))}" if r.random() < 0.25 else ""
            lines.append(f"- [{r.choice(' x')}] {self.fragment()}{extra}")
        return "\n".join(lines) + "\n"

    def heading(self) -> str:
        r = self.rng
        emoji = f" {r.choice(_EMOJI)}" if r.random() < 0.1 else ""
        return f"{r.choice(('##', '##', '###'))} {_cap(' '.join(r.choices(_CONTENT, k=r.randint(1, 4))))}{emoji}\n"

    def code(self) -> str:
        r = self.rng
        lang, snippet = r.choice(_CODE)
        return f"```{lang}\n{snippet.format(a=r.choice(_CONTENT), b=r.choice(_CONTENT), c=r.choice(_CONTENT))}```\n"

    def table(self) -> str:
        r = self.rng
        cols = r.randint(2, 4)
        rows = [" | ".join(_cap(w) for w in r.choices(_CONTENT, k=cols)), " | ".join(["---"] * cols)]
        for _ in range(r.randint(2, 8)):
            rows.append(" | ".join([r.choice(_CONTENT)] + [str(r.randrange(1000)) for _ in range(cols - 1)]))
        return "".join(f"| {row} |\n" for row in rows)

    def quote(self) -> str:
        r = self.rng
        head = f"> [!{r.choice(('note', 'tip', 'warning'))}]\n" if r.random() < 0.3 else ""
        return head + "".join(f"> {s}\n" for s in r.choices(self.sentences, k=r.randint(1, 3)))

    def front_matter(self, title: str, created: date, tags: list[str]) -> str:
        aliases = f"aliases: [{title.lower()}]\n" if self.rng.random() < 0.2 else ""
        return f"---\ntags: [{', '.join(tags)}]\ncreated: {created}\n{aliases}---\n"

    def note(self, size: int, title: str, created: date, *, daily: bool = False, intl: bool = False) -> str:
        """Exactly `size` UTF-8 bytes: whole blocks while they fit, then a filler sentence."""
        r = self.rng
        parts: list[str] = []
        used = -1  # no separator before the first block

        def add(block: str) -> bool:
            nonlocal used
            n = len(block.encode()) + 1
            if used + n > size - 24:  # keep room for a filler sentence of a few words
                return False
            parts.append(block)
            used += n
            return True

        if r.random() < 0.7:
            tags = ["daily"] if daily else r.sample(_TAGS, r.randint(1, 3))
            add(self.front_matter(title, created, tags))
        if r.random() < 0.8:
            add(f"# {title}\n")
        if daily:
            add("## Tasks\n")
            add(self.tasks())
        if intl:
            add(self.intl())
        while add(self.intl() if intl and r.random() < 0.1 else r.choices(self.blocks, cum_weights=self.weights)[0]()):
            pass
        gap = size - used - 1 if parts else size  # >= 23 after any block (see add); all filler if none fits
        parts.append(_cap(_filler_words(r, gap - 2)) + ".\n" if gap >= 2 else "\n" * gap)
        return "\n".join(parts)


def generate(root: Path, files: int, seed: int = 0, *, now: float | None = None) -> VaultManifest:
    """Write `files` notes under `root` (created if missing). Content and paths depend only on
    (files, seed); mtimes are `now` (default: the current time) minus a seeded offset:
    1 % within the last hour, 5 % between 1 and 24 hours ago, the rest over the last 2 years."""
    now = time.time() if now is None else now
    layout = _layout(random.Random(f"{seed}:layout"), files)
    names = [name for _, name in layout]
    writer = _Writer(random.Random(f"{seed}:content"), names)
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
        data = writer.note(_size(rng), name, created, daily=daily, intl=rng.random() < 0.15).encode()
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
    writer = _Writer(rng, [_unique(_title(rng), taken) for _ in range(50)], pool=min(SENTENCE_POOL, 64 + size_bytes // 20))
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
