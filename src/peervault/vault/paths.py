"""Path rules. Every path that comes from a peer passes `check_remote_path`;
every local path is turned into the vault's canonical form with `rel_path`.

Canonical form: relative, '/'-separated, no '.', '..' or empty parts, nothing
under .peervault/, no NUL or control characters.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from ..config import STATE_DIR
from ..errors import UnsafePath

MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255
_CONTROL = re.compile("[\x00-\x1f\x7f]")
GIT_DIR = ".git"  # never written from a peer, at any depth: git hooks run code


def check_remote_path(path: str) -> str:
    """Return `path` if it is a safe vault-relative path, else raise UnsafePath."""
    if not isinstance(path, str) or not path:
        raise UnsafePath("empty path")
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise UnsafePath(f"path longer than {MAX_PATH_BYTES} bytes")
    if _CONTROL.search(path):
        raise UnsafePath(f"control character in path {path!r}")
    if path.startswith("/") or "\\" in path:  # (drive paths like C:x are refused on Windows only)
        raise UnsafePath(f"absolute or non-POSIX path {path!r}")
    parts = path.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise UnsafePath(f"path {path!r} has an empty, '.' or '..' component")
        if len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
            raise UnsafePath(f"name longer than {MAX_NAME_BYTES} bytes in {path!r}")
    if parts[0] == STATE_DIR or GIT_DIR in parts[:-1]:
        raise UnsafePath(f"path {path!r} is inside {STATE_DIR}/ or .git/, which PeerVault never writes")
    return path


_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
)
_WINDOWS_BAD_CHARS = set('<>:"|?*\\')
WINDOWS_MAX_PATH = 259  # MAX_PATH less the terminator, for the vault-relative part at best


def windows_problem(path: str) -> str | None:
    """Why Windows could not hold `path` (it would refuse it, or silently change it), or None.
    Such files still sync between devices that can hold them."""
    if len(path) > WINDOWS_MAX_PATH:
        return f"path longer than Windows allows ({len(path)} > {WINDOWS_MAX_PATH} characters)"
    for part in path.split("/"):
        bad = sorted(_WINDOWS_BAD_CHARS.intersection(part))
        if bad:
            return f"{part!r} holds {' '.join(bad)}, which Windows does not allow in names"
        if part.endswith((".", " ")):
            return f"{part!r} ends with a dot or a space, which Windows drops"
        if part.split(".")[0].upper() in _WINDOWS_RESERVED:
            return f"{part!r} is a reserved device name on Windows"
    return None


def printable_path(path: str) -> str:
    """A peer's path as `status` and logs show it: control characters escaped (a terminal
    would obey them), at most 1024 characters."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in path)[:1024]


def rel_path(root: Path, abs_path: str | Path) -> str | None:
    """The canonical vault path of a local absolute path, or None if outside the vault."""
    try:
        rel = Path(os.path.abspath(abs_path)).relative_to(root)
    except ValueError:
        return None
    s = rel.as_posix()
    return None if s in ("", ".") else s


def safe_target(root: Path, rel: str) -> Path:
    """The absolute path for `rel`, refusing any parent that is a symlink leaving the vault."""
    check_remote_path(rel)
    target = root.joinpath(*rel.split("/"))
    if _linked_parent(root, rel):
        # Walk up to the deepest existing ancestor; it must resolve inside the vault.
        real_root = os.path.realpath(root)
        probe = target.parent
        while not probe.exists() and probe != root:
            probe = probe.parent
        real = os.path.realpath(probe)
        if real != real_root and not real.startswith(real_root + os.sep):
            raise UnsafePath(f"{rel!r} would be written through a link leaving the vault")
    if target.is_symlink():
        raise UnsafePath(f"{rel!r} is a symbolic link; PeerVault does not write through links")
    return target


def _linked_parent(root: Path, rel: str) -> bool:
    """Whether a folder on the way to `rel` that exists is a symlink. Without one, the deepest
    existing folder is inside the vault as it stands: a stat per folder below the root instead
    of resolving every component of the whole path twice (an initial sync writes thousands)."""
    folder = os.fspath(root)
    for part in rel.split("/")[:-1]:
        folder = os.path.join(folder, part)
        try:
            mode = os.lstat(folder).st_mode
        except OSError:
            return False  # missing (or under a file): nothing deeper exists
        if stat.S_ISLNK(mode):
            return True
        if not stat.S_ISDIR(mode):
            return False
    return False
