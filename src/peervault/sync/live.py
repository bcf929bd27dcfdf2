"""Notes open in a live editor (the Obsidian plugin's CodeMirror bound to the note's Loro
document through the control API): their edits arrive as Loro updates, not as files.

While a note is live, the editor is its source and the file on disk its output:
- an editor's update is imported, saved and written to the file at once (`apply_editor`);
- a file on disk that differs from the note is never diffed into it: it is the editor's
  own save racing its updates (the text typed is on its way as an update; diffing it in
  too would type it twice), so it is left alone and not overwritten (`holds_file`);
  once the file matches the note again (the editor saved what the note holds) it is
  recorded as usual;
- when the last editor lets go (`unbind`), a file that still differs is read as any
  local edit is (diffed against the version it showed): a change another program made
  meanwhile is merged in, never lost;
- updates from peers for a live note are queued for the editors (`live_out`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..crdt import CrdtError, notes
from ..errors import BadRequest
from . import ingest, writeback
from .documents import batch, doc, mark_pending, save

if TYPE_CHECKING:
    from .enginestate import EngineState

MAX_LIVE_OUT = 10_000  # updates queued for editors if nobody drains them: bounded


def bind(s: EngineState, file_id: str) -> bytes:
    """The note becomes live; returns its snapshot for the editor to start from."""
    d = doc(s, file_id)
    if d is None:
        raise BadRequest(f"note {file_id} has no document here yet")
    s.live.add(file_id)
    return notes.snapshot(d)


def unbind(s: EngineState, file_id: str) -> int:
    """No editor holds the note any more: a file that differs is now read as a local edit."""
    s.live.discard(file_id)
    if file_id not in s.live_dirty:
        return 0
    s.live_dirty.discard(file_id)
    row = s.files.get(file_id)
    return ingest.ingest_paths(s, {row.path}, s.now) if row is not None else 0


def apply_editor(s: EngineState, file_id: str, update: bytes) -> bool:
    """An editor's update: imported, saved (pending for peers) and written to the file.
    False if it held nothing new (a repeat after a reconnect)."""
    d = doc(s, file_id)
    if d is None:
        raise BadRequest(f"note {file_id} has no document here")
    before = notes.vv_bytes(d)
    with batch(s):
        try:
            notes.apply(d, update)
        except CrdtError as exc:
            s.cache.discard(file_id)  # maybe half-applied: reloaded from the database
            raise BadRequest(f"the update does not apply to this note: {exc}") from None
        if notes.includes(before, notes.vv_bytes(d)):
            return False
        save(s, file_id, d)
        mark_pending(s, file_id, before)
        s.store.add_pending_writes({file_id})
    writeback.write_out(s, {file_id})
    return True


def holds_file(s: EngineState, file_id: str, disk_text: str) -> bool:
    """True when the file must be neither read into the note nor overwritten: it is live
    and its text differs from the note's (see above). A match clears the hold."""
    if file_id not in s.live:
        return False
    d = doc(s, file_id)
    if d is not None and notes.text_of(d) == disk_text:
        s.live_dirty.discard(file_id)
        return False
    s.live_dirty.add(file_id)
    return True


def from_peer(s: EngineState, file_id: str, update: bytes) -> None:
    if file_id in s.live and len(s.live_out) < MAX_LIVE_OUT:
        s.live_out.append((file_id, update))


def updates_since(s: EngineState, file_id: str, vv: bytes | None) -> bytes:
    d = doc(s, file_id)
    return b"" if d is None else notes.updates_since(d, vv)
