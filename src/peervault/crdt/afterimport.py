"""What a device writes again after importing a peer's index changes, so that the changes
of its own that should win do, on every device.

* A binary file's later value that lost Loro's lamport order to an earlier concurrent one
  (`keep_later_blobs`): the map orders concurrent values by lamport, not by stamp.
* A delete of its own that another device's mass-deletion guard took back without having
  seen it (`keep_own_deletes`). The guard undoes the deletes its own device published
  (sync/deletions.py); a file a person on this device deleted meanwhile was meant to go.
  The take-back carries a marker (`TAKEN_BACK`): the index version it was made at. A
  device that finds one of its deleted entries made live by a take-back looks in its own
  history for a delete of that entry the marked version lacks, and if it finds one writes
  its delete again, as it was (a text note's tombstone with the version it deleted, so an
  edit it had not seen still wins; a binary file's stamped after the take-back). Any other
  write of an entry's state clears the marker (`mark`), so a restore made later by a person
  is never taken for a take-back; where a restore and a take-back are concurrent, each
  writes the marker and the state in one commit, in the same order, and the marker counts
  only if the same device's write won both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, MutableMapping
from typing import TYPE_CHECKING

from loro import ID, LoroMap, ValueOrContainer, VersionVector

from . import CrdtError, guard
from .entries import Entry, blob_value

if TYPE_CHECKING:
    from .index import VaultIndex

TAKEN_BACK = "taken_back"
_DELETED_SUFFIX = ":deleted"  # a binary file's deleted content value (entries.blob_value)
_ENTRY_MAP = re.compile(r"cid:root-.*\$files>([0-9a-f]+):Map")  # an entry's map in Loro's JSON history


def mark(entry: LoroMap, version: bytes) -> None:
    """Before a write of the entry's state (`deleted`, a binary file's `content`): the marker
    of a take-back made at `version`, or, for any other write (b""), none. Written only
    where it changes: an entry never taken back holds no marker."""
    if version or _value(entry, TAKEN_BACK):
        entry.insert(TAKEN_BACK, version)


def keep_later_blobs(index: VaultIndex, before: Mapping[str, Entry], after: MutableMapping[str, Entry]) -> bytes | None:
    """`before`: the entries held until the import, `after`: now. A binary file whose value
    lost to a concurrent one with an earlier stamp gets its later value written again.
    `after` is updated; returns the index version before these writes, None if none."""
    vv: bytes | None = None
    for fid, now in after.items():
        held = before.get(fid)
        if now.kind != "blob" or held is None or held.kind != "blob" or held.stamp <= now.stamp:
            continue
        if vv is None:
            vv = index.vv()
        entry = index.entry_map(fid)
        entry.insert("content", blob_value(held.blob, held.size, held.mtime_ms, held.stamp, held.deleted))
        if (e := index.entry(fid)) is not None:
            after[fid] = e
    if vv is not None:
        index.doc.commit()
    return vv


def keep_own_deletes(
    index: VaultIndex, before: Mapping[str, Entry], after: MutableMapping[str, Entry], earlier_peers: Iterable[int] = ()
) -> bytes | None:
    """An entry deleted here that a take-back made live, where this device deleted it in ops
    the take-back had not seen, is deleted again as it was. This device's ops are those of
    the peer its index writes as and of `earlier_peers` (its earlier sessions'). `after` is
    updated; returns the index version before these writes, None if none."""
    peers = {index.peer, *earlier_peers}
    by_version: dict[bytes, set[str]] = {}
    for fid, held in before.items():  # (the touched entries there were: none in a join)
        now = after.get(fid) if held.deleted else None
        if now is not None and not now.deleted and held.kind == now.kind:
            version = _taken_back_at(index, fid, now.kind)
            if version is not None:
                by_version.setdefault(version, set()).add(fid)
    ours = set().union(*(deleted_by(index, peers, version, fids) for version, fids in by_version.items()))
    vv: bytes | None = None
    for fid in sorted(ours):
        held = before[fid]
        if vv is None:
            vv = index.vv()
        entry = index.entry_map(fid)
        mark(entry, b"")
        if held.kind == "blob":
            stamp = index.next_stamp(fid, None)  # after the take-back's, which it must win over
            entry.insert("content", blob_value(held.blob, held.size, held.mtime_ms, stamp, True))
        else:
            entry.insert("deleted", True)
            entry.insert("dvv", held.dvv)
        if (e := index.entry(fid)) is not None:
            after[fid] = e
    if vv is not None:
        index.doc.commit()
    return vv


def deleted_by(index: VaultIndex, peers: set[int], version: bytes, file_ids: set[str]) -> set[str]:
    """Which of `file_ids` the ops of `peers` (this device's) missing from `version` deleted,
    read from the history (none, if it cannot be read: the take-back then stands, as before)."""
    try:
        return guard("read the index's history", lambda: _deleted_by(index, peers, version, file_ids))
    except (CrdtError, ValueError, KeyError, TypeError):
        return set()


def _deleted_by(index: VaultIndex, peers: set[int], version: bytes, file_ids: set[str]) -> set[str]:
    doc = index.doc
    start, end = VersionVector.decode(version), VersionVector.decode(version)
    for peer in peers:
        last = doc.oplog_vv.get_last(peer)
        if last is not None and not start.includes_id(ID(peer, last)):
            end.set_last(ID(peer, last))  # its version and our own ops since: nobody else's
    if start.includes_vv(end):
        return set()  # the take-back had seen every op of ours
    out = set()
    for change in json.loads(doc.export_json_updates(start, end))["changes"]:
        for op in change["ops"]:
            content = op["content"]
            key, value = content.get("key"), content.get("value")
            deletes = (key == "deleted" and value is True) or (
                key == "content" and isinstance(value, str) and value.endswith(_DELETED_SUFFIX)
            )
            m = _ENTRY_MAP.fullmatch(op["container"]) if deletes and content.get("type") == "insert" else None
            if m is not None and m.group(1) in file_ids:
                out.add(m.group(1))
    return out


def _taken_back_at(index: VaultIndex, file_id: str, kind: str) -> bytes | None:
    """The version of the take-back that made this entry live, if one did: its marker set,
    by the device whose write of the state won."""
    entry = index.entry_map(file_id)
    version = _value(entry, TAKEN_BACK)
    state = "content" if kind == "blob" else "deleted"
    if not isinstance(version, bytes) or not version or entry.get_last_editor(TAKEN_BACK) != entry.get_last_editor(state):
        return None
    return version


def _value(entry: LoroMap, key: str) -> object:
    v = entry.get(key)
    return v.value if v is not None and ValueOrContainer.is_value(v) else None
