"""Versions kept by the engine, the retention policy, and gc, on real SQLite and folders."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from peervault.config import Config
from peervault.errors import NotFound
from peervault.service import history
from peervault.service.vault import VaultService
from peervault.sync.engine import Engine
from twin_engines import Pair, deliver, engine_pair, fetch_blob

DAY = 86400.0


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    yield from engine_pair(tmp_path)


def save(pair: Pair, rel: str, data: str | bytes) -> None:
    p = pair.state_a.root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    st = os.stat(p)
    os.utime(p, ns=(st.st_mtime_ns + 1_000_000, st.st_mtime_ns + 1_000_000))  # a distinct save
    pair.a.reconcile(time.time())


def test_every_save_is_a_version_with_its_text_and_a_diff_summary(pair: Pair) -> None:
    save(pair, "n.md", "one\n")
    save(pair, "n.md", "one\ntwo\n")
    save(pair, "n.md", "two\n")
    kept = history.versions(pair.state_a, "n.md")
    assert [v.text for v in kept] == ["one\n", "one\ntwo\n", "two\n"]
    assert [v.summary for v in kept] == ["+1 −0 lines", "+1 −0 lines", "+0 −1 lines"]
    assert [v.number for v in kept] == [1, 2, 3] and all(v.origin == "local" for v in kept)


def test_the_diff_shows_what_restoring_a_version_would_change_in_the_file_now(pair: Pair) -> None:
    save(pair, "n.md", "title\nold line\nend\n")
    save(pair, "n.md", "title\nnew line\nend\n")
    shown = history.diff(pair.state_a, "n.md", 1)
    assert shown["against"] == "the file now" and not shown["binary"] and not shown["truncated"]
    assert "-new line" in shown["lines"] and "+old line" in shown["lines"] and " title" in shown["lines"]
    assert history.diff(pair.state_a, "n.md", 2)["lines"] == []  # the file holds version 2
    (pair.state_a.root / "n.md").unlink()  # gone from the folder: compared with its newest version
    assert history.diff(pair.state_a, "n.md", 1)["against"] == "version 2"
    with pytest.raises(NotFound):
        history.diff(pair.state_a, "n.md", 9)


def test_restore_writes_the_chosen_version_and_keeps_unrecorded_text_as_a_version(pair: Pair) -> None:
    save(pair, "n.md", "good\n")
    save(pair, "n.md", "bad\n")
    chosen = history.restore(pair.state_a, "n.md", None)  # newest that differs
    assert chosen.text == "good\n" and (pair.state_a.root / "n.md").read_text() == "good\n"
    pair.a.reconcile(time.time())
    (pair.state_a.root / "n.md").write_text("typed but not yet recorded\n")
    service = VaultService(pair.state_a, Config(), time.time, engine=pair.a)
    assert service.restore("n.md", 1)["version"] == 1
    assert (pair.state_a.root / "n.md").read_text() == "good\n"
    texts = [v.text for v in history.versions(pair.state_a, "n.md")]
    assert "typed but not yet recorded\n" in texts  # recorded before it was overwritten: nothing lost
    assert texts[-1] == "good\n"  # and the restore is itself a new version, sent to every device
    with pytest.raises(NotFound, match="no version 99"):
        service.restore("n.md", 99)


def test_deleted_files_are_listed_and_restorable(pair: Pair) -> None:
    save(pair, "gone.md", "keep me\n")
    (pair.state_a.root / "gone.md").unlink()
    pair.a.reconcile(time.time())
    assert [d["path"] for d in history.deleted(pair.state_a)] == ["gone.md"]
    history.restore(pair.state_a, "gone.md", None)
    pair.a.reconcile(time.time())
    assert history.deleted(pair.state_a) == []  # the same note came back, not a copy
    assert (pair.state_a.root / "gone.md").read_text() == "keep me\n"


def test_a_restored_binary_file_is_no_longer_listed_as_deleted(pair: Pair) -> None:
    """Deleted here, the picture's bytes are gone here (the vault held the only copy); B,
    which applied the delete, moved its copy into its store. A restore on A makes that
    version current again and fetches it from B."""
    save(pair, "pic.bin", b"\xff picture")
    _carry(pair.a, pair.b)
    (pair.state_a.root / "pic.bin").unlink()
    pair.a.reconcile(time.time())
    _carry(pair.a, pair.b)
    assert not (pair.state_b.root / "pic.bin").exists()
    assert [d["path"] for d in history.deleted(pair.state_a)] == ["pic.bin"]
    chosen = history.restore(pair.state_a, "pic.bin", None, pair.a, time.time())
    assert chosen.from_peer and not (pair.state_a.root / "pic.bin").exists()
    _carry(pair.b, pair.a)  # A fetches it from B's store
    _carry(pair.a, pair.b)  # and B gets the restore (copied from its store, which keeps it)
    assert history.deleted(pair.state_a) == [] == history.deleted(pair.state_b)
    assert (pair.state_a.root / "pic.bin").read_bytes() == b"\xff picture" == (pair.state_b.root / "pic.bin").read_bytes()
    assert pair.a.reconcile(time.time()) == 0 and pair.b.reconcile(time.time()) == 0


def _carry(src: Engine, dst: Engine) -> None:
    deliver(src, dst)
    for h, size in dst.wanted_blobs().items():
        assert fetch_blob(src, dst, h, size)


def test_a_note_whose_edit_won_over_a_delete_is_not_listed(pair: Pair) -> None:
    save(pair, "n.md", "one\n")
    deliver(pair.a, pair.b)
    (pair.state_a.root / "n.md").unlink()
    pair.a.reconcile(time.time())
    (pair.state_b.root / "n.md").write_text("one\nedited on B\n")
    pair.b.reconcile(time.time())
    deliver(pair.b, pair.a)
    deliver(pair.a, pair.b)
    assert (pair.state_a.root / "n.md").read_text() == "one\nedited on B\n"
    assert history.deleted(pair.state_a) == []


def test_retention_keeps_the_last_n_or_the_last_days_whichever_keeps_more(pair: Pair) -> None:
    store = pair.state_a.store
    now = 1_000 * DAY
    rows = [("f1", now - age * DAY, b"", "local", "f1.md") for age in range(40, 0, -1)]  # 40 daily versions
    rows += [("f2", now - age * DAY, b"", "local", "f2.md") for age in (100, 90, 80)]  # 3 old ones
    store.add_versions(rows)
    forgotten = store.prune_history(keep=10, keep_s=30 * DAY, now=now)
    ages = sorted(round((now - at) / DAY) for at, *_ in store.versions("f1"))
    assert ages == list(range(1, 31))  # the last 30 days win over "last 10" here
    assert len(store.versions("f2")) == 3  # older than 30 days, but the last 10 of that file
    assert forgotten == 40 - 30


def test_gc_removes_only_blobs_nothing_refers_to(pair: Pair) -> None:
    save(pair, "pic.bin", b"\xff version one")
    save(pair, "pic.bin", b"\xff version two")
    orphan, _ = pair.a.blobs.add_file(_tmp_file(pair, b"\xff never referenced"))
    res = history.gc(pair.state_a, Config(), time.time())
    assert res["blobs_removed"] == 1 and not pair.a.blobs.has(orphan)
    assert [v.size for v in history.versions(pair.state_a, "pic.bin")] == [13, 13]  # both versions stay


def _tmp_file(pair: Pair, data: bytes) -> Path:
    p = pair.state_a.root / ".peervault" / "probe"
    p.write_bytes(data)
    return p
