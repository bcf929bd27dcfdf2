"""History, restore, deleted files and gc: the versions a device kept, read from its
database and blob store.

A restore writes the chosen version into the vault folder, as the user would, and the
engine records it as a new edit that every device gets, so nothing about history is
ever rewritten.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import STATE_DIR, Config
from ..crdt import CrdtError, notes
from ..crdt.entries import Entry
from ..errors import BadRequest, Conflict, NotFound, PeerVaultError
from ..sync import savedindex
from ..vault.blobstore import BlobStore, hash_file
from ..vault.fsops import atomic_write, stat_of
from ..vault.paths import check_remote_path, safe_target


@dataclass
class Version:
    number: int
    at: float
    origin: str  # "local" or a peer's endpoint id
    size: int
    summary: str
    text: str | None = None  # text notes
    blob: str | None = None  # binary files
    file_id: str = ""
    from_peer: bool = False  # restored: its bytes are not here, they come from a peer


Entries = Mapping[str, Entry] | None  # a running engine's; None: those saved beside the index


def _entries(state: Any, entries: Entries) -> Mapping[str, Entry]:
    """The engine's entries in a daemon; else the saved ones (not decoded from the index where
    they are saved beside it: savedindex.read_entries)."""
    return savedindex.read_entries(state.store) if entries is None else entries


def _file_ids(state: Any, path: str, entries: Entries) -> list[str]:
    """Files that lived at `path` (now, or before they were deleted or moved)."""
    try:
        check_remote_path(path)
    except PeerVaultError as exc:
        raise BadRequest(f"{path!r} is not a path inside a vault: {exc}") from None
    fids = [fid for fid, e in _entries(state, entries).items() if e.path == path]
    fids += [fid for fid in state.store.file_ids_at(path) if fid not in fids]
    if not fids:
        raise NotFound(f"no history for {path!r} in {state.root}; `peervault deleted` lists deleted files")
    return fids


def versions(state: Any, path: str, entries: Entries = None) -> list[Version]:
    """Every version kept of the file(s) at `path`, oldest first, numbered from 1."""
    out: list[Version] = []
    for fid in _file_ids(state, path, entries):
        snap = state.store.load_doc(fid)
        if snap is not None:
            doc = notes.load_note(snap, 1)
            for at, frontiers, origin, _ in state.store.versions(fid):
                try:
                    text = notes.text_at(doc, frontiers)
                except CrdtError:
                    continue
                out.append(Version(0, at, origin, len(text.encode("utf-8")), "", text=text))
        for blob, size, _, at, origin in state.store.blob_versions(fid):
            out.append(Version(0, at, origin, size, f"binary {blob[:12]}…", blob=blob, file_id=fid))
    out.sort(key=lambda v: v.at)
    previous = ""
    for n, v in enumerate(out, start=1):
        v.number = n
        if v.text is not None:
            v.summary = _diff_summary(previous, v.text)
            previous = v.text
    return out


def version(state: Any, path: str, number: int, kept: list[Version] | None = None, entries: Entries = None) -> Version:
    kept = versions(state, path, entries) if kept is None else kept
    for v in kept:
        if v.number == number:
            return v
    raise NotFound(f"{path} has versions 1 to {len(kept)}; there is no version {number}")


MAX_DIFF_LINES = 5000  # lines of a diff shown; a larger one is cut (`truncated`)
MAX_DIFF_CHARS = 2 * 2**20  # texts beyond this are not compared line by line (difflib is quadratic at worst)


def diff(state: Any, path: str, number: int, entries: Entries = None) -> dict[str, Any]:
    """What restoring version `number` would change: a unified line diff from the file as it
    is now (its newest version when it is missing or binary) to that version."""
    kept = versions(state, path, entries)
    chosen = version(state, path, number, kept)
    now = _fingerprint(safe_target(state.root, path))
    if now is not None and now[0] == "text":
        before, against = now[1], "the file now"
    else:
        texts = [v for v in kept if v.text is not None]
        before, against = (texts[-1].text or "", f"version {texts[-1].number}") if texts else ("", "nothing")
    out: dict[str, Any] = {"version": number, "against": against, "binary": chosen.text is None, "lines": [], "truncated": False}
    if chosen.text is None or len(before) + len(chosen.text) > MAX_DIFF_CHARS:
        out["truncated"] = chosen.text is not None
        return out
    import difflib  # here: 0.4 MB a daemon needs only once someone asks for a diff

    lines = list(difflib.unified_diff(before.splitlines(), chosen.text.splitlines(), lineterm="", n=3))[2:]  # no ---/+++
    out["lines"] = lines[:MAX_DIFF_LINES]
    out["truncated"] = len(lines) > MAX_DIFF_LINES
    return out


def _diff_summary(old: str, new: str) -> str:
    import difflib

    added = removed = 0
    for line in difflib.ndiff(old.splitlines(), new.splitlines()):
        added += line.startswith("+ ")
        removed += line.startswith("- ")
    return "no change in lines" if not (added or removed) else f"+{added} −{removed} lines"


def restore(state: Any, path: str, at: int | None, engine: Any = None, now: float = 0.0) -> Version:
    """Write version `at` (default: the newest that differs from the file now) back into the
    vault. The caller has recorded the file as it is first, so what it holds now is a version
    too and the restore loses nothing. A binary version goes through the `engine` (when
    given): the version the file holds moves into the blob store, and a version whose bytes
    are on another device only is fetched from it (`from_peer`)."""
    kept = versions(state, path, engine.entries if engine is not None else None)
    target = safe_target(state.root, path)
    shown = _fingerprint(target)
    if at is None:
        candidates = [v for v in kept if _fingerprint_of(v) != shown]
        if not candidates:
            raise Conflict(f"{path} already holds its latest version; pick one with --at N (see `peervault history`)")
        chosen = candidates[-1]
    else:
        chosen = version(state, path, at, kept)
    if chosen.blob is not None and engine is not None:
        chosen.from_peer = not engine.restore_blob(chosen.file_id, path, chosen.blob, chosen.size, now)
    elif chosen.blob is not None:
        blobs = BlobStore(state.root / STATE_DIR)
        if blobs.held(chosen.blob) is None:
            raise NotFound(f"version {chosen.number} of {path} is kept on another device, not here")
        blobs.copy_to(chosen.blob, target, state.root / STATE_DIR / "tmp")
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:  # a file made there since the look above is the user's: not written over
            atomic_write(state.root, target, (chosen.text or "").encode("utf-8"), absent=shown is None)
        except FileExistsError:
            raise Conflict(
                f"{path} was created while restoring it; nothing was changed: look at it, then restore again"
            ) from None
    return chosen


def _fingerprint(path: Path) -> tuple[str, str] | None:
    """What the file holds now, comparable with versions without reading a large file whole."""
    try:
        if path.stat().st_size > 5 * 2**20:
            return ("blob", hash_file(path)[0])
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return ("text", data.decode("utf-8"))
    except UnicodeDecodeError:
        return ("blob", hash_file(path)[0])


def _fingerprint_of(v: Version) -> tuple[str, str]:
    return ("blob", v.blob) if v.blob is not None else ("text", v.text or "")


def _live(e: Entry, vvs: dict[str, bytes]) -> bool:
    """As the engine decides: a text note deleted while holding edits the deleter had not
    seen is live (the edit won)."""
    if not e.deleted:
        return True
    vv = vvs.get(e.file_id)
    try:
        return e.kind == "text" and bool(e.dvv) and vv is not None and not notes.includes(e.dvv, vv)
    except CrdtError:
        return False


def deleted(state: Any, entries: Entries = None) -> list[dict[str, Any]]:
    """Deleted files that can be restored: path, kind, and when this device last saw a version.
    A path that holds a live file again (restored, or the edit won over the delete) is not listed."""
    out = []
    entries = _entries(state, entries)
    vvs = dict(state.store.published_versions())
    live_paths = {e.path for e in entries.values() if _live(e, vvs)}
    for fid, e in entries.items():
        if _live(e, vvs) or e.path in live_paths:
            continue
        times = [at for at, *_ in state.store.versions(fid)] + [row[3] for row in state.store.blob_versions(fid)]
        out.append({"path": e.path, "kind": e.kind, "last_version_at": max(times) if times else None, "file_id": fid})
    return sorted(out, key=lambda d: d["path"])


def gc(state: Any, cfg: Config, now: float, entries: Entries = None) -> dict[str, int]:
    """Forget versions beyond retention, then delete blobs nothing refers to any more, and
    the store's copies of blobs a vault file holds unchanged (its stat as recorded): the
    current version lives in the vault, a second copy is only what an older PeerVault kept
    (or a restore left). Never touches a vault file."""
    forgotten = state.store.prune_history(cfg.history_keep_versions, cfg.history_keep_days * 86400, now)
    blobs = BlobStore(state.root / STATE_DIR)
    referenced = state.store.kept_blobs() | {
        e.blob for e in _entries(state, entries).values() if e.kind == "blob" and not e.deleted
    }
    in_vault = _unchanged_in_vault(state)
    freed = removed = duplicates = 0
    for h in list(blobs.all_hashes()):
        if h not in referenced or h in in_vault:
            freed += blobs.size(h) or 0
            blobs.remove(h)
            removed += 1
            duplicates += h in referenced
    return {"versions_forgotten": forgotten, "blobs_removed": removed, "duplicates_removed": duplicates, "bytes_freed": freed}


def _unchanged_in_vault(state: Any) -> set[str]:
    """Digests of binary files in the vault that still show the stat recorded with them."""
    out = set()
    for row in state.store.files().values():
        if len(row.hash) == 32:
            st = stat_of(state.root.joinpath(*row.path.split("/")))
            if st is not None and st.key == row.stat:
                out.add(row.hash.hex())
    return out
