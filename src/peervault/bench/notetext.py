"""Note text for the bench's vaults: Markdown written from one seeded stream (sentences,
bullets, tasks, headings, code, tables, quotes, links, front matter) to an exact byte size.
`vaultgen.py` lays the vault out and names its notes; this module writes what they say."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta

LAST_DAY = date(2026, 11, 30)  # fixed, not today: daily-note names must not depend on the clock
SENTENCE_POOL = 8192  # sentences made once per vault; notes pick from them, which keeps 50k notes fast

COMMON = """
the a an and or but of to in on for with about from by at as is was are be have has will can
should could would this that these those it we they you our their my not very more most some many
few each every other another same new old
""".split()
CONTENT = """
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
WORDS = COMMON + CONTENT  # every word at most 11 letters: see filler_words
FANCY_WORDS = "café naïve façade résumé jalapeño Zürich Ångström déjà crème brûlée Straße Kraków piñata über fiancée".split()
WORDS_CUM = [20 * (i + 1) for i in range(len(WORDS))]
WORDS_CUM += [WORDS_CUM[-1] + i + 1 for i in range(len(FANCY_WORDS))]  # about 1 word in 250 is accented
BY_LEN = {n: [w for w in WORDS + ["relationship", "conversation"] if len(w) == n] for n in range(1, 13)}
CJK = (
    "今日は会議があります。",
    "このメモは後で整理する。",
    "東京で新しいカフェを見つけた。",
    "下周一之前完成草稿。",
    "我们需要重新考虑这个计划。",
    "读书笔记：第三章很有意思。",
    "회의 내용을 정리했습니다.",
    "日本語の勉強を続けること。",
)
EMOJI = "✅ 🚀 📚 💡 🔥 🌱 📌 🎯 🧪 ☕ 🗓 ✨ 🐛 📝 🤔".split()
CODE = (  # (fence language, snippet with {a} {b} {c} for content words)
    ("python", "def {a}_{b}(items):\n    return [x for x in items if x.{c}]\n"),
    ("bash", "for f in *.md; do\n  grep -l '{a}' \"$f\"\ndone\n"),
    ("sql", "SELECT {a}, count(*) FROM {b}\nWHERE {c} IS NOT NULL\nGROUP BY {a};\n"),
    ("js", "const {a} = await fetch('/api/{b}');\nconsole.log({a}.{c});\n"),
    ("json", '{{"{a}": true, "{b}": [1, 2, 3], "{c}": null}}\n'),
    ("yaml", "{a}:\n  {b}: 3\n  {c}: [one, two]\n"),
)
TAGS = ["idea", "todo", "reading", "meeting", "project", "draft", "reference", "health", "finance", "travel", "日本"]


def capitalised(s: str) -> str:
    return s[:1].upper() + s[1:]


def filler_words(rng: random.Random, n: int) -> str:
    """Plain ASCII words exactly `n` bytes long: what makes every note exactly its size."""
    words: list[str] = []
    left = n
    while left > 0:
        if left <= 12:
            words.append(rng.choice(BY_LEN[left]))
            break
        w = rng.choice(WORDS)  # at most 11 letters here, so at least 1 byte stays for the next word
        words.append(w)
        left -= len(w) + 1
    return " ".join(words)


class Writer:
    """Note text from one seeded stream. Sentences are made once per vault and picked per block,
    so a note costs a few random draws per ~300 bytes."""

    def __init__(self, rng: random.Random, names: list[str], pool: int = SENTENCE_POOL) -> None:
        self.rng, self.names = rng, names
        vocab = WORDS + FANCY_WORDS
        self.sentences: list[str] = []
        for _ in range(pool):
            words = rng.choices(vocab, cum_weights=WORDS_CUM, k=rng.randint(4, 16))
            r = rng.random()
            if r < 0.1:
                words[-1] = f"**{words[-1]}**"
            elif r < 0.15:
                words[-1] = f"`{words[-1]}`"
            if len(words) > 7 and rng.random() < 0.3:
                words[3] += ","
            self.sentences.append(capitalised(" ".join(words)) + rng.choice(".........?!"))
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
            return f"[[{name}|{self.rng.choice(WORDS)}]]"
        if r < 0.16:
            return f"[[{name}#{capitalised(self.rng.choice(WORDS))}]]"
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
            "".join(r.choices(CJK, k=r.randint(1, 4)))
            + f" {r.choice(FANCY_WORDS)} {r.choice(EMOJI)} {r.choice(self.sentences)}\n"
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
            extra = f" {r.choice(EMOJI)} {LAST_DAY - timedelta(days=r.randrange(700))}" if r.random() < 0.25 else ""
            lines.append(f"- [{r.choice(' x')}] {self.fragment()}{extra}")
        return "\n".join(lines) + "\n"

    def heading(self) -> str:
        r = self.rng
        emoji = f" {r.choice(EMOJI)}" if r.random() < 0.1 else ""
        return f"{r.choice(('##', '##', '###'))} {capitalised(' '.join(r.choices(CONTENT, k=r.randint(1, 4))))}{emoji}\n"

    def code(self) -> str:
        r = self.rng
        lang, snippet = r.choice(CODE)
        return f"```{lang}\n{snippet.format(a=r.choice(CONTENT), b=r.choice(CONTENT), c=r.choice(CONTENT))}```\n"

    def table(self) -> str:
        r = self.rng
        cols = r.randint(2, 4)
        rows = [" | ".join(capitalised(w) for w in r.choices(CONTENT, k=cols)), " | ".join(["---"] * cols)]
        for _ in range(r.randint(2, 8)):
            rows.append(" | ".join([r.choice(CONTENT)] + [str(r.randrange(1000)) for _ in range(cols - 1)]))
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
            tags = ["daily"] if daily else r.sample(TAGS, r.randint(1, 3))
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
        parts.append(capitalised(filler_words(r, gap - 2)) + ".\n" if gap >= 2 else "\n" * gap)
        return "\n".join(parts)
