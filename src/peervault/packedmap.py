"""A mapping by file id whose values are kept packed and made again when read.

The engine keeps a row and an index entry for every file for its whole life; as objects
they cost 100-300 bytes more each than packed (store/filetable.py, crdt/entries.py). A
value read is an equal copy, never the object stored.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, MutableMapping, ValuesView
from typing import Any, TypeVar

V = TypeVar("V")


class PackedMap(MutableMapping[str, V]):
    """Subclasses say how a value is packed under its key (`_pack`; a value that does not
    fit the packing is kept as it is) and how it is made again (`_unpack`)."""

    def __init__(self) -> None:
        self._rows: dict[str, Any] = {}

    def _pack(self, key: str, value: V) -> Any:
        raise NotImplementedError

    def _unpack(self, key: str, stored: Any) -> V:
        raise NotImplementedError

    def __getitem__(self, key: str) -> V:
        return self._unpack(key, self._rows[key])

    def get(self, key: str, default: V | None = None) -> V | None:  # type: ignore[override]
        stored = self._rows.get(key)
        return default if stored is None else self._unpack(key, stored)

    def __setitem__(self, key: str, value: V) -> None:
        self._rows[key] = self._pack(key, value)

    def __delitem__(self, key: str) -> None:
        del self._rows[key]

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def items(self) -> ItemsView[str, V]:
        return _Items(self)

    def values(self) -> ValuesView[V]:
        return _Values(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} values)"


class _Items(ItemsView[str, V]):
    """One pass over the packed values (the mixin's looks each key up again)."""

    _mapping: PackedMap[V]

    def __iter__(self) -> Iterator[tuple[str, V]]:
        unpack = self._mapping._unpack
        for key, stored in self._mapping._rows.items():
            yield key, unpack(key, stored)


class _Values(ValuesView[V]):
    _mapping: PackedMap[V]

    def __iter__(self) -> Iterator[V]:
        unpack = self._mapping._unpack
        for key, stored in self._mapping._rows.items():
            yield unpack(key, stored)
