"""Zero-copy attachments, on real folders and SQLite: the current version of a binary file
lives in the vault only, the store keeps the versions that were replaced (taken by rename),
files serve themselves while their stat holds, and every version history lists can be
brought back (from this device, or fetched from the one that kept it)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from peervault.config import Config
from peervault.service import history
from peervault.service.status import storage
from peervault.sync.engine import Engine
from peervault.vault import blobswap
from peervault.vault.blobio import hash_file
from twin_engines import Pair, deliver, engine, engine_pair, fetch_blob, write

V1 = b"\x89PNG version one \xff" * 500
V2 = b"\x89PNG version two, a little longer \xff" * 500
V3 = b"\x89PNG version three \xff" * 700


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    yield from engine_pair(tmp_path)


def save(e: Engine, rel: str, data: bytes) -> None:
    """An edit on `e`'s disk, and `e` looking at its folder."""
    write(e.root / rel, data)
    e.reconcile(time.time())


def carry(src: Engine, dst: Engine) -> None:
    """Deliver src's changes to dst, then fetch from src every blob dst wants."""
    deliver(src, dst)
    for h, size in dst.wanted_blobs().items():
        assert fetch_blob(src, dst, h, size), f"{h[:12]}… is not on the sending device"


def kept(e: Engine) -> dict[str, bytes]:
    """What the store holds (kept versions and waiting downloads), by digest."""
    return {h: (e.blobs.held(h) or Path("/")).read_bytes() for h in e.blobs.all_hashes()}


def h(data: bytes) -> str:
    import blake3

    return blake3.blake3(data).hexdigest()


def vault_files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file() and ".peervault" not in p.parts
    }


def restorable(pair: Pair, state_of: dict[str, Engine]) -> None:
    """Every version each device's history lists has its bytes on some device."""
    for name, e in state_of.items():
        for row in e.store.db.execute("SELECT blob FROM blob_versions"):
            assert any(x.blob_source(row[0]) for x in (pair.a, pair.b)), f"{name}: {row[0][:12]}… is nowhere"


def test_local_import_hashes_in_place_and_the_file_serves_itself(pair: Pair) -> None:
    write(pair.a.root / "img" / "pic.png", V1)
    assert pair.a.reconcile(time.time()) == 1
    assert kept(pair.a) == {}  # no second copy
    src = pair.a.blob_source(h(V1))
    assert src is not None and src.path == pair.a.root / "img" / "pic.png" and not src.move
    row = pair.a.files[next(iter(pair.a.files))]
    assert src.expect is not None and src.expect.key == row.stat
    disk = storage(pair.state_a, pair.state_a.store.files())
    assert disk["binary_files"] == 1 and disk["binary_bytes"] == len(V1) and disk["blob_store_bytes"] == 0


def test_serving_trusts_a_file_only_while_its_stat_holds(pair: Pair) -> None:
    p = pair.a.root / "pic.png"
    write(p, V1)
    pair.a.reconcile(time.time())
    st = p.stat()
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # touched: same bytes, stat moved
    assert pair.a.blob_source(h(V1)) is None and pair.a.blob_candidates(h(V1)) == [p]
    assert hash_file(p)[0] == h(V1)  # (the server re-hashes a candidate before serving it)
    p.write_bytes(V2)  # overwritten in place, not recorded yet
    assert pair.a.blob_source(h(V1)) is None and hash_file(pair.a.blob_candidates(h(V1))[0])[0] != h(V1)


def test_a_new_file_from_a_peer_is_the_download_renamed_into_place(pair: Pair) -> None:
    write(pair.a.root / "scan.pdf", V1)
    pair.a.reconcile(time.time())
    deliver(pair.a, pair.b)
    ((digest, size),) = pair.b.wanted_blobs().items()
    src = pair.a.blob_source(digest)
    assert src is not None
    pair.b.blobs.append_partial(digest, 0, src.path.read_bytes())
    assert pair.b.blobs.finish_partial(digest, size)
    ino = pair.b.blobs.ready_path(digest).stat().st_ino
    assert pair.b.blob_source(digest) is None  # verified, not yet durable: not placed
    pair.b.blobs.make_durable([digest])
    pair.b.blobs_arrived([digest], time.time())
    assert (pair.b.root / "scan.pdf").read_bytes() == V1 and (pair.b.root / "scan.pdf").stat().st_ino == ino
    assert kept(pair.b) == {} and pair.b.wanted_blobs() == {}
    assert pair.b.reconcile(time.time()) == 0 and not pair.b.take_pending()  # its own write, not an edit


def test_a_peer_version_takes_the_old_one_into_the_store_by_rename(pair: Pair) -> None:
    a, b = pair.a, pair.b
    save(a, "pic.png", V1)
    carry(a, b)
    old_ino = (b.root / "pic.png").stat().st_ino
    save(a, "pic.png", V2)  # overwritten in place on A: V1 is gone there
    carry(a, b)
    assert (b.root / "pic.png").read_bytes() == V2
    assert kept(b) == {h(V1): V1} and b.blobs.path(h(V1)).stat().st_ino == old_ino  # moved, not copied
    assert kept(a) == {}  # A keeps nothing: V1 lives on in B's store
    restorable(pair, {"A": a, "B": b})

    # A restores V1: its bytes are on B only. A makes it current and fetches it; its V2 goes into
    # its store by rename; B gets the restore, copies V1 from its store (which keeps it) and
    # moves its V2 into its store.
    service_restore = history.restore(pair.state_a, "pic.png", 1, a, time.time())
    assert service_restore.blob == h(V1) and service_restore.from_peer
    assert (a.root / "pic.png").read_bytes() == V2  # until the bytes arrive
    for digest, size in a.wanted_blobs().items():
        assert fetch_blob(b, a, digest, size)
    carry(a, b)
    assert vault_files(a.root) == vault_files(b.root) == {"pic.png": V1}
    assert kept(a) == {h(V2): V2} and kept(b) == {h(V1): V1, h(V2): V2}
    restorable(pair, {"A": a, "B": b})
    assert a.reconcile(time.time()) == 0 and b.reconcile(time.time()) == 0


def test_restore_of_a_kept_version_copies_it_and_keeps_what_the_file_held(pair: Pair) -> None:
    a, b = pair.a, pair.b
    save(a, "pic.png", V1)
    carry(a, b)
    save(a, "pic.png", V2)
    carry(a, b)  # B: V2 in the vault, V1 in its store
    v1 = next(v for v in history.versions(pair.state_b, "pic.png") if v.blob == h(V1))
    chosen = history.restore(pair.state_b, "pic.png", v1.number, b, time.time())
    assert not chosen.from_peer
    assert (b.root / "pic.png").read_bytes() == V1 and kept(b) == {h(V1): V1, h(V2): V2}  # copied; V2 moved in
    carry(b, a)  # A fetches V1 back from B, and keeps the V2 it replaces
    assert vault_files(a.root) == {"pic.png": V1} and kept(a) == {h(V2): V2}


def test_the_same_bytes_at_two_paths_are_two_independent_files(pair: Pair) -> None:
    write(pair.a.root / "a" / "logo.png", V1)
    write(pair.a.root / "b" / "logo.png", V1)
    pair.a.reconcile(time.time())
    assert kept(pair.a) == {}
    carry(pair.a, pair.b)
    one, two = pair.b.root / "a" / "logo.png", pair.b.root / "b" / "logo.png"
    assert one.read_bytes() == two.read_bytes() == V1
    assert one.stat().st_ino != two.stat().st_ino and one.stat().st_nlink == two.stat().st_nlink == 1
    assert kept(pair.b) == {}
    two.write_bytes(V2)  # an in-place edit of one changes that one only
    assert one.read_bytes() == V1


def test_a_file_a_peer_deletes_moves_into_the_store_and_comes_back(pair: Pair) -> None:
    a, b = pair.a, pair.b
    save(a, "rec.wav", V1)
    carry(a, b)
    ino = (b.root / "rec.wav").stat().st_ino
    (a.root / "rec.wav").unlink()
    a.reconcile(time.time())
    carry(a, b)
    assert not (b.root / "rec.wav").exists() and b.blobs.path(h(V1)).stat().st_ino == ino
    assert [d["path"] for d in history.deleted(pair.state_b)] == ["rec.wav"]
    history.restore(pair.state_b, "rec.wav", None, b, time.time())
    carry(b, a)
    assert vault_files(a.root) == vault_files(b.root) == {"rec.wav": V1}


def test_a_peer_moving_a_file_renames_it_here(pair: Pair) -> None:
    a, b = pair.a, pair.b
    save(a, "pic.png", V1)
    carry(a, b)
    ino = (b.root / "pic.png").stat().st_ino
    (a.root / "img").mkdir()
    os.rename(a.root / "pic.png", a.root / "img" / "pic.png")
    a.reconcile(time.time())
    carry(a, b)
    assert vault_files(b.root) == {"img/pic.png": V1} and (b.root / "img" / "pic.png").stat().st_ino == ino
    assert kept(b) == {}


def test_an_edit_made_here_before_a_peer_version_arrives_is_recorded_and_wins(pair: Pair) -> None:
    a, b = pair.a, pair.b
    save(a, "pic.png", V1)
    carry(a, b)
    save(a, "pic.png", V2)
    time.sleep(0.01)
    write(b.root / "pic.png", V3)  # not recorded by B yet when A's version arrives
    carry(a, b)
    assert (b.root / "pic.png").read_bytes() == V3  # the newer edit wins, and is recorded first
    carry(b, a)
    assert vault_files(a.root) == vault_files(b.root) == {"pic.png": V3}
    assert kept(a) == {h(V2): V2}  # A's replaced version, kept where it was replaced
    # V1, the version both devices overwrote in place, is kept nowhere (docs/STORAGE.md): the
    # one loss this layout accepts. History still lists it, as seen.
    assert a.blob_source(h(V1)) is None and b.blob_source(h(V1)) is None
    for e in (a, b):
        for (blob,) in e.store.db.execute("SELECT blob FROM blob_versions WHERE blob != ?", (h(V1),)):
            assert a.blob_source(blob) or b.blob_source(blob)


def test_joining_with_the_same_attachments_copies_nothing(tmp_path: Path) -> None:
    from peervault.state import VaultState

    sa, _ = VaultState.init(tmp_path / "A")
    sb, _ = VaultState.init(tmp_path / "B")
    for root in (sa.root, sb.root):
        write(root / "att" / "photo.jpg", V1)
    a = engine(sa)
    a.reconcile(time.time())
    b = engine(sb)
    b.reconcile(time.time())  # B imported its own copy before pairing
    sb.store.reset_for_join(sa.vault_id)
    b = engine(sb)
    ino = (sb.root / "att" / "photo.jpg").stat().st_ino
    blob = a.index_updates_since(b.index_vv())
    assert blob is not None
    b.apply_index(blob, time.time())
    assert b.wanted_blobs() == {}  # its own copy is that version: adopted, not fetched
    assert (sb.root / "att" / "photo.jpg").stat().st_ino == ino and kept(b) == {}
    sa.close()
    sb.close()


def test_gc_drops_store_copies_of_current_files_and_never_a_vault_file(pair: Pair) -> None:
    """An upgraded vault: its store holds a copy of every current version. It keeps working,
    and gc reclaims those copies (the vault file still shows the stat recorded with them)."""
    a, b = pair.a, pair.b
    save(a, "pic.png", V1)
    carry(a, b)
    save(a, "pic.png", V2)
    carry(a, b)  # B: V1 kept, V2 current
    b.blobs.add_file(b.root / "pic.png")  # what an older PeerVault stored beside it
    assert set(kept(b)) == {h(V1), h(V2)}
    save(a, "pic.png", V3)  # still works: the store had V2 already, nothing to move
    carry(a, b)
    assert (b.root / "pic.png").read_bytes() == V3 and set(kept(b)) == {h(V1), h(V2)}
    b.blobs.add_file(b.root / "pic.png")  # and a duplicate of the current one
    res = history.gc(pair.state_b, Config(), time.time())
    assert res["duplicates_removed"] == 1 and res["blobs_removed"] == 1
    assert set(kept(b)) == {h(V1), h(V2)} and (b.root / "pic.png").read_bytes() == V3
    assert [v.blob for v in history.versions(pair.state_b, "pic.png")] == [h(V1), h(V2), h(V3)]
    restorable(pair, {"A": a, "B": b})


class Killed(BaseException):
    """kill -9: nothing after it runs (no exception handler is a cleanup that a kill skips)."""


@pytest.mark.parametrize("step", ["swap:staged", "swap:replaced"])
def test_a_kill_during_the_swap_is_finished_at_the_next_start(pair: Pair, monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    a, b = pair.a, pair.b
    save(a, "pic.png", V1)
    carry(a, b)
    save(a, "pic.png", V2)
    deliver(a, b)

    def kill(at: str) -> None:
        if at == step:
            raise Killed

    monkeypatch.setattr(blobswap, "crash_point", kill)
    monkeypatch.setattr(blobswap, "_undo", lambda store, token: None)  # a killed process cleans nothing up
    with pytest.raises(Killed):
        for digest, size in b.wanted_blobs().items():
            fetch_blob(a, b, digest, size)
    monkeypatch.undo()
    on_disk = [(b.root / "pic.png").read_bytes()] + [p.read_bytes() for p in b.blobs.root.rglob("*") if p.is_file()]
    assert V1 in on_disk and V2 in on_disk  # both versions, whatever the step

    again = engine(pair.state_b)  # the next start: reconcile, then recover
    assert again.reconcile(time.time()) == 0  # not taken for an edit made here
    again.recover(time.time())
    assert (b.root / "pic.png").read_bytes() == V2 and kept(again) == {h(V1): V1}
    assert list(again.blobs.moving_dir.iterdir()) == [] and again.wanted_blobs() == {}
    assert not again.take_pending() and again.reconcile(time.time()) == 0


def test_hashing_in_the_background_records_notes_first(pair: Pair) -> None:
    a = pair.a
    queued: list[int] = []
    a.hash_in_background(lambda: queued.append(1))
    write(a.root / "video.mp4", b"\x00" * (6 * 2**20))  # above text_max_bytes: never read here
    write(a.root / "note.md", "hello\n")
    assert a.reconcile(time.time()) == 1  # the note; the video waits for a worker
    assert queued and [e.path for e in a.entries.values()] == ["note.md"]
    jobs = a.take_hash_jobs()
    assert list(jobs) == ["video.mp4"]
    digest, size = hash_file(a.root / "video.mp4")
    with open(a.root / "video.mp4", "ab") as f:
        f.write(b"more")  # changed while it was hashed: not recorded, queued again
    assert a.blob_hashed("video.mp4", jobs["video.mp4"], digest, size, time.time()) == 0
    again = a.take_hash_jobs()
    digest, size = hash_file(a.root / "video.mp4")
    assert a.blob_hashed("video.mp4", again["video.mp4"], digest, size, time.time()) == 1
    assert {e.path for e in a.entries.values()} == {"note.md", "video.mp4"} and kept(a) == {}
