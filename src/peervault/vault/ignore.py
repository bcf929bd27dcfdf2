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

import functools
import re
from fnmatch import fnmatchcase, translate
from pathlib import Path
from typing import Any

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


_ANY_LEVEL_DIRS = frozenset({".trash", ".git", "node_modules", "__pycache__"})
_NAME_GLOBS = ("*.tmp", "*.swp", "*.swx", "*~", ".#*", "*.crdownload", "*.part", ".DS_Store", "Thumbs.db", "desktop.ini")
_NAME_RE = re.compile("|".join(f"(?:{translate(g)})" for g in _NAME_GLOBS))


@functools.lru_cache(maxsize=4096)
def _name_ignored(name: str) -> bool:
    """A file or folder name any of _NAME_GLOBS matches (folder names repeat: cached)."""
    return _NAME_RE.match(name) is not None


def _default_ignores(rel: str, is_dir: bool = False) -> bool:
    """DEFAULT_RULES without pathspec (~1.5 MB of memory, loaded only for a vault's own rules).
    Same answers as the gitignore engine on these patterns (a test compares them)."""
    parts = rel.split("/")
    if any(p in _ANY_LEVEL_DIRS for p in (parts if is_dir else parts[:-1])):
        return True
    if any(_name_ignored(p) for p in parts):
        return True
    if parts[0] == ".obsidian" and len(parts) > 1:
        return parts[1] == "cache" or (len(parts) == 2 and fnmatchcase(parts[1], "workspace*.json"))
    return False


class IgnoreRules:
    def __init__(self, user_rules: str = "") -> None:
        self.user_rules = user_rules
        self._spec: Any = None
        if user_rules.strip():
            from pathspec import GitIgnoreSpec

            self._spec = GitIgnoreSpec.from_lines((DEFAULT_RULES + "\n" + user_rules).splitlines())

    @classmethod
    def load(cls, root: Path) -> IgnoreRules:
        """The rules of the vault at `root` (an unreadable or non-UTF-8 file counts as empty)."""
        try:
            text = (root / IGNORE_FILE).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""
        return cls(text)

    def _match(self, rel: str, is_dir: bool) -> bool:
        if self._spec is None:
            return _default_ignores(rel, is_dir)
        return bool(self._spec.match_file(rel + "/" if is_dir else rel))

    def ignores(self, rel: str) -> bool:
        """True if the file at vault path `rel` is not picked up."""
        parts = rel.split("/")
        return parts[0] == STATE_DIR or any(p in UNWATCHED_DIRS for p in parts[:-1]) or self._match(rel, False)

    def ignores_dir(self, rel: str) -> bool:
        """True if nothing under folder `rel` can be picked up (the scanner skips it)."""
        return rel.rpartition("/")[2] in UNWATCHED_DIRS or self._match(rel, True)
