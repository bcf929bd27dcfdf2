"""One burst of watcher events turned into `Changes`: IN_MOVED_FROM and IN_MOVED_TO paired
by their cookie, what an ignored name on one side makes of a move, and a later burst's
moves carried over what an earlier one looks at. Pure logic (vault/inotify.py reads the
kernel's events and feeds it), so the pairing is tested alone."""

from __future__ import annotations

from .changes import Changes


def _take_under(paths: set[str], top: str) -> set[str]:
    """Remove and return `top` and the paths under it."""
    prefix = top + "/"
    taken = {p for p in paths if p == top or p.startswith(prefix)}
    paths -= taken
    return taken


class Burst:
    """The events of one burst, in the kernel's order, turned into `Changes`; no I/O, so the
    pairing can be tested alone.

    IN_MOVED_FROM and IN_MOVED_TO pair by their cookie, across reads, until `close`. A side
    that is `ignored` (an editor's temp, swap or backup name, a folder not synced) makes the
    move a path for the other side: `.note.md.swp` renamed over `note.md` is a change of
    `note.md`, `note.md` renamed to `note.md~` is `note.md` gone. A half whose other half
    never came (moved out of the vault, or in from outside) is a path. The engine applies
    the moves first, then looks at the paths; so a path touched before it was moved is
    looked at under its new name, and a move is never also a path unless other events
    touched that path."""

    def __init__(self) -> None:
        self.paths: set[str] = set()
        self.moves: list[tuple[str, str]] = []
        self.overflow = False
        self._from: dict[int, tuple[str, bool, set[str]]] = {}  # cookie -> path, ignored, paths it takes along

    def __bool__(self) -> bool:
        return bool(self.paths or self.moves or self.overflow or self._from)

    @property
    def moving(self) -> bool:
        """A move's first half waits for its second (it may come in the next read)."""
        return bool(self._from)

    def touch(self, rel: str) -> None:
        self.paths.add(rel)

    def moved_from(self, cookie: int, rel: str, ignored: bool) -> None:
        self._from[cookie] = (rel, ignored, set() if ignored else _take_under(self.paths, rel))

    def moved_to(self, cookie: int, rel: str, ignored: bool) -> str | None:
        """The path it was moved from, if that half was seen (reported as a move or not)."""
        pending = self._from.pop(cookie, None)
        if pending is None:  # moved in from outside the vault, or from a folder not watched
            if not ignored:
                self.paths.add(rel)
            return None
        src, src_ignored, carried = pending
        if ignored:
            if not src_ignored:
                self.paths.add(src)  # covers what it took along
        elif src_ignored:
            self.paths.add(rel)
        else:
            self.moves.append((src, rel))
            self.paths |= {rel + p[len(src) :] for p in carried}
        return src

    def lost(self) -> None:
        """Events were lost: everything is rescanned, and no move can be trusted."""
        self.overflow = True
        self._from.clear()

    def close(self) -> None:
        """The end of the burst: a move whose other half never came is a path."""
        self.paths.update(src for src, ignored, _ in self._from.values() if not ignored)
        self._from.clear()

    def then(self, later: Burst) -> None:
        """Append a later, closed burst: what this one looks at follows the later moves."""
        for src, dst in later.moves:
            self.paths |= {dst + p[len(src) :] for p in _take_under(self.paths, src)}
        self.moves += later.moves
        self.paths |= later.paths
        self.overflow |= later.overflow

    def changes(self) -> Changes:
        return Changes(overflow=True) if self.overflow else Changes(self.paths, self.moves)
