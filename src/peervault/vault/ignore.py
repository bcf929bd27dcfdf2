"""Which local files PeerVault picks up: built-in defaults, then the vault's
`.peervaultignore` (gitignore syntax, via pathspec; itself synced, so every device
follows the same rules).

The defaults sync `.obsidian/` except what is per device (`workspace*.json`, the
cache) and skip editors' temporary and swap files. A rule in `.peervaultignore` can
add to them or, with `!pattern`, take one back. `.peervault/` is never synced,
whatever the rules say.

As in git, rules decide what is picked up: a file that is already synced stays
synced when a rule later matches it (nothing is deleted on other devices because
a rule changed); delete or move it to stop syncing it.
"""

from __future__ import annotations

from pathlib import Path

from pathspec import GitIgnoreSpec

from ..config import STATE_DIR

IGNORE_FILE = ".peervaultignore"

DEFAULT_RULES = """\
# Per-device Obsidian state (the rest of .obsidian/ syncs)
.obsidian/workspace*.json
.obsidian/cache
# Obsidian's trash, version control and tool folders
.trash/
.git/
node_modules/
__pycache__/
# Editors' temporary, swap and partial files
*.tmp
*.swp
*.swx
*~
.#*
*.crdownload
*.part
.DS_Store
Thumbs.db
desktop.ini
"""

# Folders the watcher never watches and the scanner never enters, whatever the rules:
# our own state, and trees that are large, busy and never notes.
UNWATCHED_DIRS = frozenset({STATE_DIR, ".git", "node_modules", "__pycache__"})


class IgnoreRules:
    def __init__(self, user_rules: str = "") -> None:
        self.user_rules = user_rules
        self._spec = GitIgnoreSpec.from_lines((DEFAULT_RULES + "\n" + user_rules).splitlines())

    @classmethod
    def load(cls, root: Path) -> IgnoreRules:
        """The rules of the vault at `root` (an unreadable or non-UTF-8 file counts as empty)."""
        try:
            text = (root / IGNORE_FILE).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""
        return cls(text)

    def ignores(self, rel: str) -> bool:
        """True if the file at vault path `rel` is not picked up."""
        parts = rel.split("/")
        return parts[0] == STATE_DIR or any(p in UNWATCHED_DIRS for p in parts[:-1]) or bool(self._spec.match_file(rel))

    def ignores_dir(self, rel: str) -> bool:
        """True if nothing under folder `rel` can be picked up (the scanner skips it)."""
        return rel.rpartition("/")[2] in UNWATCHED_DIRS or bool(self._spec.match_file(rel + "/"))
