"""The blob store: streaming hashes, atomic adds with dedupe, resumable downloads, safe names."""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import blake3
import pytest

from peervault.vault import blobio
from peervault.vault.blobstore import CHUNK, BlobChanged, BlobStore, hash_file

MB = 1024 * 1024


def b3(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def store_files(store: BlobStore) -> set[str]:
    """Every file in the store (folders aside)."""
    return {str(p.relative_to(store.root)) for p in store.root.rglob("*") if p.is_file()}


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "state")


# -- hash_file ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * MB + 17])
def test_hash_file_matches_blake3_of_the_whole_content(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    f = tmp_path / "f.bin"
    f.write_bytes(data)
    assert hash_file(f) == (b3(data), size)


def test_hash_file_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        hash_file(fifo)  # would block forever on a plain open()
    with pytest.raises(OSError):
        hash_file(tmp_path)


# -- add_file ----------------------------------------------------------------------------------


def test_add_file_stores_and_returns_hash_and_size(store: BlobStore, tmp_path: Path) -> None:
    data = os.urandom(CHUNK * 2 + 5)
    src = tmp_path / "photo.jpg"
    src.write_bytes(data)
    h, size = store.add_file(src)
    assert (h, size) == (b3(data), len(data))
    assert store.has(h) and store.size(h) == len(data)
    assert store.path(h) == store.root / h[:2] / h
    assert store.path(h).read_bytes() == data
    assert list(store.all_hashes()) == [h]
    assert store_files(store) == {f"{h[:2]}/{h}"}  # no temp file left


def test_add_file_of_an_empty_file(store: BlobStore, tmp_path: Path) -> None:
    src = tmp_path / "empty"
    src.write_bytes(b"")
    assert store.add_file(src) == (b3(b""), 0)
    assert store.size(b3(b"")) == 0


def test_add_file_dedupes_without_rewriting_the_blob(store: BlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = os.urandom(CHUNK + 100)
    (tmp_path / "a.pdf").write_bytes(data)
    (tmp_path / "b.pdf").write_bytes(data)
    h, _ = store.add_file(tmp_path / "a.pdf")
    os.utime(store.path(h), ns=(1_000_000_000, 1_000_000_000))  # a mark a rewrite would lose
    before = store.path(h).stat()

    fsyncs: list[int] = []
    monkeypatch.setattr(os, "fsync", fsyncs.append)
    assert store.add_file(tmp_path / "b.pdf") == (h, len(data))
    after = store.path(h).stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (before.st_ino, before.st_mtime_ns, before.st_size)
    assert fsyncs == []  # nothing new to make durable
    assert store_files(store) == {f"{h[:2]}/{h}"}


def _mutate_after_first_chunk(monkeypatch: pytest.MonkeyPatch, mutate: Callable[[], None]) -> None:
    """Run `mutate` once add_file has read its first chunk: the file changes under the copy."""
    real = blobio.chunks

    def chunks(fd: int, buf: bytearray) -> Iterator[memoryview]:
        for i, piece in enumerate(real(fd, buf)):
            yield piece
            if i == 0:
                mutate()

    monkeypatch.setattr(blobio, "chunks", chunks)


def _grow(src: Path) -> None:
    with open(src, "ab") as f:
        f.write(b"appended by an editor")


def _shrink(src: Path) -> None:
    os.truncate(src, CHUNK + 10)


def _rewrite_same_size(src: Path) -> None:
    st = src.stat()
    with open(src, "r+b") as f:
        f.seek(st.st_size - 4)
        f.write(b"EDIT")
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # the write's mtime, independent of clock granularity


def _replace(src: Path) -> None:
    new = src.with_name("new")
    new.write_bytes(src.read_bytes())
    os.replace(new, src)  # an editor's atomic save: same bytes, another file


def _delete(src: Path) -> None:
    src.unlink()


@pytest.mark.parametrize("mutate", [_grow, _shrink, _rewrite_same_size, _replace, _delete])
def test_add_file_of_a_file_changing_during_the_copy_raises_and_leaves_nothing(
    store: BlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mutate: Callable[[Path], None]
) -> None:
    src = tmp_path / "recording.wav"
    src.write_bytes(os.urandom(3 * CHUNK))
    _mutate_after_first_chunk(monkeypatch, lambda: mutate(src))
    with pytest.raises(BlobChanged) as caught:
        store.add_file(src)
    assert isinstance(caught.value, OSError)
    assert store_files(store) == set()
    assert list(store.all_hashes()) == []


def test_add_file_error_while_writing_leaves_nothing(store: BlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(3 * CHUNK))

    def disk_full(fd: int, data: memoryview | bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(blobio, "write_all", disk_full)
    with pytest.raises(OSError, match="No space"):
        store.add_file(src)
    assert store_files(store) == set()


# -- partial downloads -------------------------------------------------------------------------


def test_partial_download_resumes_across_a_restart(tmp_path: Path) -> None:
    data = os.urandom(3 * CHUNK + 123)
    h = b3(data)
    first = BlobStore(tmp_path / "state")
    assert first.partial_size(h) == 0
    assert first.append_partial(h, 0, data[:1000]) == 1000
    assert first.append_partial(h, 1000, data[1000:CHUNK]) == CHUNK
    assert not first.has(h)

    again = BlobStore(tmp_path / "state")  # the daemon restarted: the transfer picks up where it was
    assert again.partial_size(h) == CHUNK
    with pytest.raises(ValueError):
        again.append_partial(h, 0, data[:10])  # the peer resent from the start: refused, nothing written
    with pytest.raises(ValueError):
        again.append_partial(h, CHUNK + 1, data[CHUNK + 1 :])  # a gap
    assert again.partial_size(h) == CHUNK
    assert again.append_partial(h, CHUNK, data[CHUNK:]) == len(data)
    assert again.finish_partial(h, len(data)) is True
    assert again.held(h) is None  # verified, not yet made durable: not to be placed yet
    again.make_durable([h])
    assert not again.has(h)  # verified, waiting in ready/ to be moved into the vault (not kept)
    assert again.held(h) == again.ready_path(h) and again.ready_path(h).read_bytes() == data
    assert again.partial_size(h) == 0
    assert store_files(again) == {f"ready/{h}"}


def test_finish_partial_with_wrong_data_removes_it(store: BlobStore) -> None:
    data = os.urandom(CHUNK + 1)
    h = b3(data)
    store.append_partial(h, 0, data[:-1] + bytes([data[-1] ^ 1]))
    assert store.finish_partial(h, len(data)) is False
    assert store.held(h) is None and store.partial_size(h) == 0
    assert store_files(store) == set()


@pytest.mark.parametrize("claimed", [-1, 0, 99, 101])
def test_finish_partial_with_wrong_size_removes_it(store: BlobStore, claimed: int) -> None:
    data = os.urandom(100)
    h = b3(data)
    store.append_partial(h, 0, data)
    assert store.finish_partial(h, claimed) is False
    assert store.held(h) is None and store.partial_size(h) == 0
    assert store_files(store) == set()


def test_finish_partial_of_a_too_long_download_removes_it(store: BlobStore) -> None:
    data = os.urandom(100)
    h = b3(data)
    store.append_partial(h, 0, data + b"extra")
    assert store.finish_partial(h, len(data)) is False
    assert store_files(store) == set()


def test_empty_blob_needs_no_partial_file(store: BlobStore) -> None:
    h = b3(b"")
    assert store.finish_partial(h, 0) is True
    store.make_durable([h])
    assert store.size(h) == 0
    assert store.finish_partial(b3(b"x"), 0) is False  # nothing downloaded is not "x"
    assert store_files(store) == {f"ready/{h}"}


def test_a_small_blob_received_whole_waits_in_ready_once_durable(store: BlobStore) -> None:
    data = os.urandom(5000)
    h = b3(data)
    assert store.accept_whole(h, data) is True
    assert store.held(h) is None  # verified, not yet durable: not placed before make_durable
    store.make_durable([h])
    held = store.held(h)
    assert held is not None and held.read_bytes() == data
    assert store_files(store) == {f"ready/{h}"}


def test_a_small_blob_that_is_not_its_hash_leaves_nothing(store: BlobStore) -> None:
    data = os.urandom(5000)
    assert store.accept_whole(b3(data), data[:-1] + bytes([data[-1] ^ 1])) is False
    assert store_files(store) == set()
    with pytest.raises(ValueError):
        store.accept_whole("../../etc", data)  # a hash is checked before it names a file


# -- reading -----------------------------------------------------------------------------------


def test_open_chunks_from_any_offset(store: BlobStore, tmp_path: Path) -> None:
    data = os.urandom(2 * CHUNK + 777)
    src = tmp_path / "f"
    src.write_bytes(data)
    h, _ = store.add_file(src)
    whole = list(store.open_chunks(h))
    assert [len(c) for c in whole] == [CHUNK, CHUNK, 777]
    assert b"".join(whole) == data
    middle = CHUNK + 5
    assert b"".join(store.open_chunks(h, middle)) == data[middle:]
    assert all(len(c) <= CHUNK for c in store.open_chunks(h, middle))
    assert list(store.open_chunks(h, len(data))) == []
    for bad in (-1, len(data) + 1):
        with pytest.raises(ValueError):
            store.open_chunks(h, bad)  # refused at the call, before any iteration
    with pytest.raises(FileNotFoundError):
        store.open_chunks(b3(b"not stored"))


def test_copy_to_creates_parents_and_leaves_no_temp(store: BlobStore, tmp_path: Path) -> None:
    data = os.urandom(CHUNK * 2 + 1)
    src = tmp_path / "src"
    src.write_bytes(data)
    h, _ = store.add_file(src)
    vault_tmp = tmp_path / "vault" / ".peervault" / "tmp"
    target = tmp_path / "vault" / "Attachments" / "2024" / "scan.pdf"
    store.copy_to(h, target, vault_tmp)
    assert target.read_bytes() == data
    assert list(vault_tmp.iterdir()) == []
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())  # an ordinary file, not mkstemp's 0600


def test_copy_to_replaces_an_existing_file(store: BlobStore, tmp_path: Path) -> None:
    data = os.urandom(1000)
    src = tmp_path / "src"
    src.write_bytes(data)
    h, _ = store.add_file(src)
    target = tmp_path / "vault" / "img.png"
    target.parent.mkdir()
    target.write_bytes(b"old picture")
    store.copy_to(h, target, tmp_path / "tmp")
    assert target.read_bytes() == data
    assert list((tmp_path / "tmp").iterdir()) == []


def test_copy_to_failure_leaves_the_target_and_no_temp(store: BlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src"
    src.write_bytes(os.urandom(3 * CHUNK))
    h, _ = store.add_file(src)
    target = tmp_path / "vault" / "img.png"
    target.parent.mkdir()
    target.write_bytes(b"old picture")
    real = blobio.write_all
    calls = []

    def fails_midway(fd: int, data: memoryview | bytes) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(fd, data)

    monkeypatch.setattr(blobio, "write_all", fails_midway)
    with pytest.raises(OSError, match="No space"):
        store.copy_to(h, target, tmp_path / "tmp")
    assert target.read_bytes() == b"old picture"
    assert list((tmp_path / "tmp").iterdir()) == []


def test_missing_blob_cannot_be_copied(store: BlobStore, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        store.copy_to(b3(b"absent"), tmp_path / "x", tmp_path / "tmp")
    assert not (tmp_path / "x").exists()


# -- bookkeeping -------------------------------------------------------------------------------


def test_all_hashes_bytes_used_and_remove(store: BlobStore, tmp_path: Path) -> None:
    hashes = set()
    for i, n in enumerate((10, 2000, CHUNK + 3)):
        f = tmp_path / f"f{i}"
        f.write_bytes(os.urandom(n))
        hashes.add(store.add_file(f)[0])
    partial = b3(b"downloading")
    store.append_partial(partial, 0, b"down")
    (store.root / "ab").mkdir(exist_ok=True)
    (store.root / "ab" / "stray.txt").write_bytes(b"!")  # not a hash: never reported
    assert set(store.all_hashes()) == hashes  # partials and strays are not blobs
    assert store.bytes_used() == (10 + 2000 + CHUNK + 3 + 4 + 1, 5)  # everything the store occupies
    gone = next(iter(hashes))
    store.remove(gone)
    store.remove(gone)  # missing is fine
    assert not store.has(gone) and store.size(gone) is None
    assert set(store.all_hashes()) == hashes - {gone}


def test_empty_store(store: BlobStore) -> None:
    assert list(store.all_hashes()) == []
    assert store.bytes_used() == (0, 0)
    h = b3(b"nothing")
    assert not store.has(h) and store.size(h) is None and store.partial_size(h) == 0


# -- hostile hashes ----------------------------------------------------------------------------

HOSTILE = [
    "../x",
    "A" * 64,
    "a" * 63,
    "a" * 65,
    "",
    "a" * 64 + "\n",
    "../" + "a" * 61,
    "/" + "a" * 63,
    "g" * 64,
    "partial",
    b"a" * 64,
    None,
]


@pytest.mark.parametrize("h", HOSTILE, ids=repr)
def test_hostile_hashes_are_refused_and_touch_nothing(tmp_path: Path, h: Any) -> None:
    s = BlobStore(tmp_path / "state")
    (tmp_path / "victim").write_bytes(b"precious")
    before = tree(tmp_path)
    calls: list[Callable[[], object]] = [
        lambda: s.has(h),
        lambda: s.path(h),
        lambda: s.ready_path(h),
        lambda: s.held(h),
        lambda: s.size(h),
        lambda: s.partial_size(h),
        lambda: s.append_partial(h, 0, b"evil"),
        lambda: s.finish_partial(h, 4),
        lambda: s.open_chunks(h),
        lambda: s.copy_to(h, tmp_path / "out" / "x", tmp_path / "tmp"),
        lambda: s.remove(h),
    ]
    for call in calls:
        with pytest.raises(ValueError):
            call()
    assert tree(tmp_path) == before
    assert (tmp_path / "victim").read_bytes() == b"precious"


# -- memory ------------------------------------------------------------------------------------


def test_200_mb_file_is_hashed_added_served_and_copied_in_bounded_memory(store: BlobStore, tmp_path: Path) -> None:
    # Why this matters: vaults hold videos, scans and recordings of hundreds of MB, and the
    # daemon lives in ~50 MB on phones and small machines. A single read_bytes() anywhere on
    # these paths would multiply its memory by the largest file in the vault. tracemalloc
    # sees Python allocations only (the buffers that would grow); the C side is constant.
    size = 200 * MB
    src = tmp_path / "video.mp4"
    block = os.urandom(MB)
    expected = blake3.blake3()
    with open(src, "wb") as f:
        for i in range(size // MB):
            piece = i.to_bytes(8, "big") + block[8:]  # every MB distinct, none held beyond this one
            f.write(piece)
            expected.update(piece)
    del block, piece
    want = expected.hexdigest()

    limit = 8 * MB

    def peak_of(what: str, fn: Callable[[], object]) -> object:
        tracemalloc.start()
        try:
            result = fn()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < limit, f"{what}: peak {peak / MB:.1f} MB"
        return result

    def served() -> str:
        h = blake3.blake3()
        for piece in store.open_chunks(want, 0):
            h.update(piece)
        return h.hexdigest()

    assert peak_of("hash_file", lambda: hash_file(src)) == (want, size)
    assert peak_of("add_file", lambda: store.add_file(src)) == (want, size)
    src.unlink()
    assert peak_of("open_chunks", served) == want
    target = tmp_path / "vault" / "video.mp4"
    peak_of("copy_to", lambda: store.copy_to(want, target, tmp_path / "vault-tmp"))
    assert target.stat().st_size == size
    store.remove(want)
    assert peak_of("hash_file of the copy", lambda: hash_file(target)) == (want, size)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_download_found_in_ready_after_a_restart_is_hashed_again_before_it_is_trusted(tmp_path: Path) -> None:
    """Downloads are made durable a batch at a time: a power cut may leave a torn one in
    ready/. A new process trusts one only after hashing it, and removes one that is not its blob."""
    good, torn = os.urandom(1000), os.urandom(1000)
    first = BlobStore(tmp_path / "state")
    for data in (good, torn):
        first.append_partial(b3(data), 0, data)
        assert first.finish_partial(b3(data), len(data))
    first.make_durable([b3(good), b3(torn)])
    first.ready_path(b3(torn)).write_bytes(torn[:500])  # what a power cut could leave
    again = BlobStore(tmp_path / "state")
    assert again.ready(b3(good)) == again.ready_path(b3(good))
    assert again.ready(b3(torn)) is None and not again.ready_path(b3(torn)).exists()


def test_asking_for_a_download_that_is_not_there_loads_no_blake3(tmp_path: Path) -> None:
    """A device serving a join asks `ready` of every blob it sends: a missing file must not
    cost BLAKE3's module (0.5 MB resident for the daemon's life, docs/PERFORMANCE.md)."""
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; from peervault.vault.blobstore import BlobStore; "
        f"s = BlobStore(Path({str(tmp_path)!r})); assert s.ready('ab' * 32) is None; "
        "assert 'blake3' not in sys.modules, 'blake3 loaded'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
