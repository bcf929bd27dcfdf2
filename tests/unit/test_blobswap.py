"""Moving binary files between the vault and the blob store: no copies, and a real kill -9
(a child process SIGKILLs itself at each step, PEERVAULT_CRASH_AT) leaves both versions
on disk, after which `recover` finishes or undoes the job."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import blake3
import pytest

from peervault.vault import blobswap
from peervault.vault.blobstore import BlobStore
from peervault.vault.fsops import stat_of

OLD = b"\x89PNG old version \xff" * 1000
NEW = b"\x89PNG new version from a peer \xff" * 900


def b3(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


@pytest.fixture
def setup(tmp_path: Path) -> tuple[BlobStore, Path, Path]:
    """A store with NEW downloaded and verified (in ready/), and a vault file holding OLD."""
    store = BlobStore(tmp_path / "vault" / ".peervault")
    store.append_partial(b3(NEW), 0, NEW)
    assert store.finish_partial(b3(NEW), len(NEW))
    target = tmp_path / "vault" / "img" / "pic.png"
    target.parent.mkdir(parents=True)
    target.write_bytes(OLD)
    return store, target, tmp_path / "vault" / ".peervault" / "tmp"


def moving(store: BlobStore) -> list[str]:
    return sorted(p.name for p in store.moving_dir.iterdir())


def test_replace_moves_both_versions_without_a_copy(setup: tuple[BlobStore, Path, Path]) -> None:
    store, target, tmp = setup
    old_ino, new_ino = target.stat().st_ino, store.ready_path(b3(NEW)).stat().st_ino
    st, kept = blobswap.replace(
        store,
        store.ready_path(b3(NEW)),
        target,
        tmp,
        move=True,
        keep=(b3(OLD), stat_of(target)),
        mtime_ns=10**18,  # type: ignore[arg-type]
    )
    assert target.read_bytes() == NEW and target.stat().st_ino == new_ino  # the download itself, renamed
    assert st.mtime_ns == 10**18  # the version's own time
    assert kept == blobswap.Kept(b3(OLD), len(OLD), changed=False)
    assert store.path(b3(OLD)).read_bytes() == OLD and store.path(b3(OLD)).stat().st_ino == old_ino  # renamed too
    assert store.path(b3(OLD)).stat().st_nlink == 1
    assert store.held(b3(NEW)) is None  # nothing of the new version left in the store
    assert moving(store) == [] and list(tmp.glob("*")) == []


def test_replace_by_a_copy_leaves_the_source(setup: tuple[BlobStore, Path, Path]) -> None:
    """A kept version (or another vault file) is copied: the store keeps its version."""
    store, target, tmp = setup
    other = target.parent / "other.png"
    other.write_bytes(NEW)
    st, kept = blobswap.replace(store, other, target, tmp, move=False, keep=None, expect=stat_of(other))
    assert target.read_bytes() == NEW == other.read_bytes() and target.stat().st_ino != other.stat().st_ino
    assert kept is None and store.held(b3(OLD)) is None


def test_a_source_that_changed_since_it_was_recorded_is_not_copied(setup: tuple[BlobStore, Path, Path]) -> None:
    store, target, tmp = setup
    other = target.parent / "other.png"
    other.write_bytes(NEW)
    recorded = stat_of(other)
    other.write_bytes(NEW + b"edited")
    with pytest.raises(OSError, match="changed"):
        blobswap.replace(store, other, target, tmp, move=False, keep=(b3(OLD), stat_of(target)), expect=recorded)  # type: ignore[arg-type]
    assert target.read_bytes() == OLD and moving(store) == [] and store.held(b3(OLD)) is None  # undone


def test_a_write_into_the_old_version_during_the_swap_is_kept_as_its_own(
    setup: tuple[BlobStore, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An editor still writing into the file as it is replaced: its bytes are not lost, and
    not filed under the digest the file was recorded with."""
    store, target, tmp = setup
    recorded = stat_of(target)

    def editor_writes(step: str) -> None:
        if step == "swap:staged":
            with open(target, "ab") as f:  # the same inode as the staged link
                f.write(b"late bytes")

    monkeypatch.setattr(blobswap, "crash_point", editor_writes)
    _, kept = blobswap.replace(store, store.ready_path(b3(NEW)), target, tmp, move=True, keep=(b3(OLD), recorded))  # type: ignore[arg-type]
    assert kept is not None and kept.changed and kept.digest == b3(OLD + b"late bytes")
    assert store.path(kept.digest).read_bytes() == OLD + b"late bytes" and not store.has(b3(OLD))


def test_keep_renames_a_vault_file_into_the_store(setup: tuple[BlobStore, Path, Path]) -> None:
    store, target, _ = setup
    ino = target.stat().st_ino
    kept = blobswap.keep(store, target, (b3(OLD), stat_of(target)))  # type: ignore[arg-type]
    assert kept == blobswap.Kept(b3(OLD), len(OLD), changed=False)
    assert not target.exists() and store.path(b3(OLD)).stat().st_ino == ino
    assert blobswap.keep(store, target, (b3(OLD), stat_of(store.path(b3(OLD))))) is None  # type: ignore[arg-type]


def test_no_hard_links_here_falls_back_to_a_copy(setup: tuple[BlobStore, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    store, target, tmp = setup

    def no_links(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")  # FAT, exFAT

    monkeypatch.setattr(os, "link", no_links)
    _, kept = blobswap.replace(store, store.ready_path(b3(NEW)), target, tmp, move=True, keep=(b3(OLD), stat_of(target)))  # type: ignore[arg-type]
    assert kept is not None and not kept.changed
    assert target.read_bytes() == NEW and store.path(b3(OLD)).read_bytes() == OLD and moving(store) == []


# -- kill -9 at every step ----------------------------------------------------------------------

_CHILD = """
import sys
from pathlib import Path
from peervault.vault import blobswap
from peervault.vault.blobstore import BlobStore
from peervault.vault.fsops import stat_of
store = BlobStore(Path(sys.argv[1]))
target, old, new, op = Path(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
if op == "replace":
    blobswap.replace(store, store.ready_path(new), target, Path(sys.argv[1]) / "tmp", move=True, keep=(old, stat_of(target)))
else:
    blobswap.keep(store, target, (old, stat_of(target)))
"""


def _killed_at(step: str, store: BlobStore, target: Path, op: str) -> None:
    env = {**os.environ, "PEERVAULT_CRASH_AT": step}
    args = [str(store.root.parent), str(target), b3(OLD), b3(NEW), op]
    res = subprocess.run([sys.executable, "-c", _CHILD, *args], env=env, capture_output=True, timeout=60)
    assert res.returncode == -9, res.stderr.decode()


def _on_disk(store: BlobStore, target: Path) -> list[bytes]:
    """Every copy of either version, wherever it is: the vault file, the store, ready/, moving/."""
    found = [target.read_bytes()] if target.exists() else []
    found += [p.read_bytes() for p in store.root.rglob("*") if p.is_file() and not p.name.endswith(".json")]
    return found


def test_kill_after_the_link_before_the_rename_then_recovery_undoes(setup: tuple[BlobStore, Path, Path]) -> None:
    store, target, tmp = setup
    _killed_at("swap:staged", store, target, "replace")
    assert target.read_bytes() == OLD  # the vault file is untouched, and both versions are on disk
    assert OLD in _on_disk(store, target) and NEW in _on_disk(store, target) and len(moving(store)) == 2
    assert blobswap.recover(store) == []
    assert moving(store) == [] and target.read_bytes() == OLD and not store.has(b3(OLD))
    assert target.stat().st_nlink == 1  # no name of the store shares the vault file any more
    blobswap.replace(store, store.ready_path(b3(NEW)), target, tmp, move=True, keep=(b3(OLD), stat_of(target)))  # type: ignore[arg-type]
    assert target.read_bytes() == NEW and store.path(b3(OLD)).read_bytes() == OLD  # the redone job


def test_kill_after_the_rename_then_recovery_finishes(setup: tuple[BlobStore, Path, Path]) -> None:
    store, target, _ = setup
    _killed_at("swap:replaced", store, target, "replace")
    assert target.read_bytes() == NEW and OLD in _on_disk(store, target)  # both on disk
    done = blobswap.recover(store)
    assert done == [(target, blobswap.Kept(b3(OLD), len(OLD), changed=False))]
    assert store.path(b3(OLD)).read_bytes() == OLD and moving(store) == [] and target.read_bytes() == NEW


def test_kill_while_a_deleted_file_moves_into_the_store(setup: tuple[BlobStore, Path, Path]) -> None:
    store, target, _ = setup
    _killed_at("keep:staged", store, target, "keep")
    assert not target.exists() and OLD in _on_disk(store, target)
    assert blobswap.recover(store) == [(target, blobswap.Kept(b3(OLD), len(OLD), changed=False))]
    assert store.path(b3(OLD)).read_bytes() == OLD and moving(store) == []


def test_recovery_of_a_journal_without_its_file_and_a_file_without_its_journal(setup: tuple[BlobStore, Path, Path]) -> None:
    store, target, _ = setup
    (store.moving_dir / "0011223344556677.json").write_text('{"target": "/nowhere"}')  # crashed before the link
    (store.moving_dir / "8899aabbccddeeff").write_bytes(OLD)  # (cannot happen; kept all the same)
    assert blobswap.recover(store) == [(None, blobswap.Kept(b3(OLD), len(OLD), changed=True))]
    assert moving(store) == [] and store.path(b3(OLD)).read_bytes() == OLD
