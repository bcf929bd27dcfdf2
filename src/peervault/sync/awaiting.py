"""The blobs files here wait for: blob hash -> the ids of the files waiting for it.

Almost every blob is awaited by one file (a joining device: 4,201 attachments, each its
own), so a lone id is held as itself and a set made only for a second one: a set of one
is 216 bytes, 0.9 MB of Python's arenas from the index's arrival through the notes phase.
Otherwise it behaves as the dict of sets it replaces, down to a hash whose files were all
discarded staying (with none) until `wanted_blobs` drops it."""

from __future__ import annotations

from collections.abc import Iterator

_NONE: frozenset[str] = frozenset()  # every file waiting for the blob was discarded


class Awaiting:
    __slots__ = ("_by",)

    def __init__(self) -> None:
        self._by: dict[str, str | set[str] | frozenset[str]] = {}

    def add(self, h: str, file_id: str) -> None:
        held = self._by.get(h)
        if isinstance(held, set):
            held.add(file_id)
        elif isinstance(held, str):
            if held != file_id:
                self._by[h] = {held, file_id}
        else:  # none yet, or every one discarded
            self._by[h] = file_id

    def discard(self, h: str, file_id: str) -> None:
        held = self._by.get(h)
        if isinstance(held, str):
            if held == file_id:
                self._by[h] = _NONE
        elif isinstance(held, set):
            held.discard(file_id)

    def pop(self, h: str) -> frozenset[str] | set[str]:
        """The files that waited for `h` (none if none did); `h` no longer awaited."""
        return _as_set(self._by.pop(h, _NONE))

    def files(self) -> set[str]:
        """Every file waiting for some blob."""
        out: set[str] = set()
        for held in self._by.values():
            if isinstance(held, str):
                out.add(held)
            else:
                out |= held
        return out

    def items(self) -> Iterator[tuple[str, frozenset[str] | set[str]]]:
        """(hash, its files), as the dict's `items()`: not a copy, so none may be removed
        while it runs (`del` after)."""
        for h, held in self._by.items():
            yield h, _as_set(held)

    def __contains__(self, h: object) -> bool:
        return h in self._by

    def __delitem__(self, h: str) -> None:
        del self._by[h]

    def __len__(self) -> int:
        return len(self._by)


def _as_set(held: str | set[str] | frozenset[str]) -> frozenset[str] | set[str]:
    return frozenset((held,)) if isinstance(held, str) else held
