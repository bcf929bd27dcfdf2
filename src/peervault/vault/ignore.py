"""Which local files PeerVault picks up: built-in defaults, then the vault's
`.peervaultignore` (gitignore syntax, via pathspec; itself synced, so every device
follows the same rules), then this device's own `.peervault/ignore` (same syntax,
never synced: it lives in the state folder), as Syncthing's `.stignore` does.

The defaults sync `.obsidian/` except what is per device (`workspace*.json`, the
cache) and skip editors' temporary and swap files. A rule in `.peervaultignore` can
add to them or, with `!pattern`, take one back. `.peervault/` is never synced,
whatever the rules say.

As in git, rules decide what is picked up: a file that is already synced stays
synced when a rule later matches it (nothing is deleted on other devices because
a rule changed); delete or move it to stop syncing it.

The device's rules go further, because they only ever concern this device: a path
they match is not read, not written and not deleted here, synced before or not
(`ignored_here`; the engine's side of it is sync/ignorehere.py). A `!pattern` there
takes back only that file's own earlier rules: it cannot bring in what the synced
rules or the defaults keep out.
"""

from __future__ import annotations

import functools
import logging
import re
from fnmatch import fnmatchcase, translate
from pathlib import Path
from typing import Any

from ..config import STATE_DIR

log = logging.getLogger(__name__)

IGNORE_FILE = ".peervaultignore"
DEVICE_IGNORE_FILE = f"{STATE_DIR}/ignore"  # this device's own rules, never synced

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


def forget_checked_names() -> None:
    """Once idle: forget the names checked (4,096 names: 0.8 MB; a regex match each again)."""
    _name_ignored.cache_clear()


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


def _spec(text: str, source: str, before: str = "") -> Any:
    """The gitignore matcher of `text` (the file `source`), after the lines of `before`. A line
    that is no valid pattern (`!` alone, `[z-a]`) is skipped with a warning naming it: one
    bad line, perhaps from a peer, must not stop every device from starting."""
    from pathspec import GitIgnoreSpec

    lines = text.splitlines()
    try:
        return GitIgnoreSpec.from_lines(before.splitlines() + lines)
    except (ValueError, re.error):
        pass
    good = []
    for n, line in enumerate(lines, 1):
        try:
            GitIgnoreSpec.from_lines([line])
        except (ValueError, re.error) as exc:
            log.warning("%s, line %d: %r is not a valid pattern (%s); skipped: fix or remove it", source, n, line[:200], exc)
            continue
        good.append(line)
    return GitIgnoreSpec.from_lines(before.splitlines() + good)


def _read(path: Path) -> str:
    """A rules file's text; an unreadable or non-UTF-8 file counts as empty."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


class IgnoreRules:
    def __init__(self, user_rules: str = "", device_rules: str = "") -> None:
        self.user_rules = user_rules
        self.device_rules = device_rules
        self._spec: Any = _spec(user_rules, IGNORE_FILE, DEFAULT_RULES) if user_rules.strip() else None
        self._device: Any = _spec(device_rules, DEVICE_IGNORE_FILE) if device_rules.strip() else None
        self._folders: dict[str, bool] = {}  # see _folder_here

    @classmethod
    def load(cls, root: Path) -> IgnoreRules:
        """The rules of the vault at `root`: the synced file's and this device's."""
        return cls(_read(root / IGNORE_FILE), _read(root.joinpath(*DEVICE_IGNORE_FILE.split("/"))))

    def same_as(self, other: IgnoreRules) -> bool:
        return (self.user_rules, self.device_rules) == (other.user_rules, other.device_rules)

    def _match(self, rel: str, is_dir: bool) -> bool:
        if self._spec is None:
            return _default_ignores(rel, is_dir)
        return bool(self._spec.match_file(rel + "/" if is_dir else rel))

    def _match_here(self, rel: str, is_dir: bool) -> bool:
        return self._device is not None and bool(self._device.match_file(rel + "/" if is_dir else rel))

    def ignores_synced(self, rel: str) -> bool:
        """True if the synced rules (or the defaults) keep the file at `rel` from being picked up."""
        parts = rel.split("/")
        return parts[0] == STATE_DIR or any(p in UNWATCHED_DIRS for p in parts[:-1]) or self._match(rel, False)

    def any_here(self) -> bool:
        """Whether this device has rules of its own: without, nothing is `ignored_here`."""
        return self._device is not None

    def ignored_here(self, rel: str) -> bool:
        """True if this device's own rules (`.peervault/ignore`) match the file at `rel`:
        then it is neither read, written nor deleted here, whatever the other devices do."""
        if self._device is None:
            return False
        folder = rel.rpartition("/")[0]
        return (bool(folder) and self._folder_here(folder)) or self._match_here(rel, False)

    def _folder_here(self, folder: str) -> bool:
        """The device's rules match `folder` or a folder above it (as in git, nothing under
        an excluded folder comes back). Remembered: a vault has far fewer folders than files."""
        known = self._folders.get(folder)
        if known is None:
            parent = folder.rpartition("/")[0]
            known = self._folders[folder] = self._match_here(folder, True) or (bool(parent) and self._folder_here(parent))
        return known

    def ignores(self, rel: str) -> bool:
        """True if the file at vault path `rel` is not picked up (by either file's rules)."""
        return self.ignores_synced(rel) or self.ignored_here(rel)

    def ignores_dir(self, rel: str) -> bool:
        """True if nothing under folder `rel` can be picked up (the scanner skips it)."""
        return rel.rpartition("/")[2] in UNWATCHED_DIRS or self._match(rel, True) or self._match_here(rel, True)
