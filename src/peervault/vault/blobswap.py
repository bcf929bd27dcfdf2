"""Moving binary files between the vault and the blob store without copying them, crash-safe.

A peer's version replaces a vault file (`replace`): the file there is first hard-linked
into `blobs/moving/` (its journal beside it, fsynced first), then the new version is
renamed over the vault path (atomic: the path always holds one complete version), then
the linked old version is renamed to its blob name. A file deleted by a peer, or left
behind by a move, is renamed into `moving/` and named the same way (`keep`). Nothing is
copied, except across file systems (a link or rename is impossible there).

Crash safety: at every step both versions are on disk, and `recover` (at start-up, before
anything else touches the store) finishes or undoes each journal entry:

| found at start-up | meaning | recovery |
|---|---|---|
| journal, no staged file | crashed before the link, or after naming it | journal dropped |
| staged file, the vault path has its inode | crashed before the new version replaced it | staged link dropped (the vault file is intact; the pending write redoes the swap) |
| staged file, the vault path has another inode or none | the swap happened | hashed, named by its digest |

The old version's recorded digest is trusted only when its stat (size, mtime, inode) is
unchanged and it has no other name; otherwise it is hashed, and kept under the digest it
really has (a write that reached it during the swap is a version of its own, not lost).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from .blobio import hash_stable
from .blobstore import BlobStore, copy_file
from .faults import crash_point
from .fsops import Stat, put_in_place, stat_of, sync_dirs

# A link or rename that cannot be made here (another file system, no hard links on
# FAT/exFAT, a link count at its limit): the old version is copied into the store instead.
_NO_LINK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}


@dataclass(frozen=True)
class Kept:
    """A vault file's bytes now kept in the store."""

    digest: str
    size: int
    changed: bool  # not the digest it was recorded as: a version of its own


def replace(
    store: BlobStore,
    src: Path,
    target: Path,
    tmp_dir: Path,
    *,
    move: bool,
    keep: tuple[str, Stat] | None,
    mtime_ns: int | None = None,
    expect: Stat | None = None,
    later: set[Path] | None = None,
    absent: bool = False,
) -> tuple[Stat, Kept | None]:
    """Put the bytes of `src` at `target`: moved (a verified download in ready/) or copied
    (a kept blob, or another vault file that must still show `expect`). `keep`: the digest
    and recorded stat of the version at `target`, to keep in the store. Returns the new
    file's Stat and what was kept. `later`: the folders of a write batch, synced when it
    commits (before the database says the file is written); a move that keeps nothing
    leaves its folder there instead of syncing it at once (until then a crash can only
    leave the download in ready/, and the pending write moves it again). `absent`: the
    caller found nothing at `target`; a file that appeared there since is not overwritten
    (FileExistsError, see fsops.rename_new)."""
    token = None
    kept = None
    if keep is not None:
        try:
            token = _stage(store, target, keep, link=True)
            if token is None:
                kept = _copy_in(store, target, keep[0])
        except FileNotFoundError:
            pass  # gone meanwhile: nothing left there to keep
    try:
        crash_point("swap:staged")
        if move:
            _move(src, target, tmp_dir, mtime_ns, later if token is None else None, absent)
        else:
            copy_file(src, target, tmp_dir, expect, mtime_ns, absent)
    except BaseException:
        if token is not None:
            _undo(store, token)
        raise
    crash_point("swap:replaced")
    if token is not None:
        kept = _finalize(store, token, trust=True)
    st = stat_of(target)
    if st is None:
        raise FileNotFoundError(errno.ENOENT, "the file vanished as it was written", str(target))
    return st, kept


def keep(store: BlobStore, target: Path, known: tuple[str, Stat]) -> Kept | None:
    """Move the vault file at `target` (recorded as `known`: digest, stat) into the store;
    the path is free afterwards. None if it was gone already."""
    try:
        token = _stage(store, target, known, link=False)
    except FileNotFoundError:
        return None
    if token is None:
        kept = _copy_in(store, target, known[0])
        target.unlink(missing_ok=True)
        sync_dirs({target.parent})
        return kept
    crash_point("keep:staged")
    return _finalize(store, token, trust=True)


def recover(store: BlobStore) -> list[tuple[Path | None, Kept]]:
    """Finish or undo what a crash interrupted (see the module docstring). Returns the
    vault path each kept file came from (None if unknown) and what it was kept as."""
    out: list[tuple[Path | None, Kept]] = []
    for journal in sorted(store.moving_dir.glob("*.json")):
        staged = journal.with_suffix("")
        try:
            target: Path | None = Path(json.loads(journal.read_text())["target"])
        except (OSError, ValueError, KeyError, TypeError):
            target = None
        try:
            s = os.lstat(staged)
        except FileNotFoundError:
            journal.unlink(missing_ok=True)
            continue
        t = None
        if target is not None:
            with contextlib.suppress(OSError):
                t = os.lstat(target)
        if t is not None and (t.st_dev, t.st_ino) == (s.st_dev, s.st_ino):
            staged.unlink()  # the vault file is still the one staged: nothing was swapped
            journal.unlink(missing_ok=True)
            sync_dirs({store.moving_dir})
            continue
        kept = _finalize(store, journal.stem, trust=False)
        if kept is not None:
            out.append((target, kept))
    for staged in sorted(store.moving_dir.iterdir()):
        if staged.suffix == "" and not staged.with_suffix(".json").exists() and staged.is_file():
            staged.with_suffix(".json").write_text("{}")  # no journal: keep it, under its digest
            kept = _finalize(store, staged.name, trust=False)
            if kept is not None:
                out.append((None, kept))
    return out


# -- the steps ----------------------------------------------------------------------------


def _stage(store: BlobStore, target: Path, known: tuple[str, Stat], link: bool) -> str | None:
    """Journal, then link (or rename) `target` into moving/. None if no link can be made here."""
    st = os.lstat(target)
    if not stat.S_ISREG(st.st_mode):
        raise OSError(errno.EINVAL, "not a regular file", str(target))
    digest, recorded = known
    token = secrets.token_hex(8)
    journal = store.moving_dir / f"{token}.json"
    staged = store.moving_dir / token
    record = {"target": str(target), "digest": digest, "size": recorded.size, "mtime_ns": recorded.mtime_ns}
    record["ino"] = recorded.ino
    fd = os.open(journal, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, json.dumps(record).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        if link:
            os.link(target, staged, follow_symlinks=False)
        else:
            os.rename(target, staged)
    except OSError as exc:
        journal.unlink(missing_ok=True)
        if exc.errno in _NO_LINK:
            return None
        raise
    sync_dirs({store.moving_dir} if link else {store.moving_dir, target.parent})
    return token


def _finalize(store: BlobStore, token: str, trust: bool) -> Kept | None:
    """Name the staged file by its digest (or drop it if the store has that blob already)."""
    journal = store.moving_dir / f"{token}.json"
    staged = store.moving_dir / token
    try:
        j = json.loads(journal.read_text())
    except (OSError, ValueError):
        j = {}
    try:
        st = os.lstat(staged)
    except FileNotFoundError:
        journal.unlink(missing_ok=True)
        return None
    digest = j.get("digest") if isinstance(j, dict) else None
    same = isinstance(j, dict) and (st.st_size, st.st_mtime_ns, st.st_ino) == (j.get("size"), j.get("mtime_ns"), j.get("ino"))
    if trust and isinstance(digest, str) and digest and same and st.st_nlink == 1:
        real, size = digest, st.st_size
    else:
        real, size, _ = hash_stable(staged, strict=False)
    if store.has(real):
        staged.unlink()
    else:
        with open(staged, "rb") as f:
            os.fsync(f.fileno())  # its bytes durable before they carry a blob's name
        store.move_in(staged, real)
    journal.unlink(missing_ok=True)
    sync_dirs({store.moving_dir})
    return Kept(real, size, changed=real != digest)


def _undo(store: BlobStore, token: str) -> None:
    """The new version could not be put in place: drop the staged link (the vault file is intact)."""
    (store.moving_dir / token).unlink(missing_ok=True)
    (store.moving_dir / f"{token}.json").unlink(missing_ok=True)


def _copy_in(store: BlobStore, target: Path, digest: str) -> Kept:
    h, size = store.add_file(target)
    return Kept(h, size, changed=h != digest)


def _move(
    src: Path, target: Path, tmp_dir: Path, mtime_ns: int | None, later: set[Path] | None = None, absent: bool = False
) -> None:
    """Rename a verified download over `target` (after giving it the version's time); onto it
    only if nothing is there, if `absent`."""
    if mtime_ns is not None:
        os.utime(src, ns=(mtime_ns, mtime_ns))
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        put_in_place(src, target, absent=absent)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        copy_file(src, target, tmp_dir, mtime_ns=mtime_ns, absent=absent)  # the folder is another file system
        src.unlink()
        return
    if later is not None:
        later.add(target.parent)
    else:
        sync_dirs({target.parent})
