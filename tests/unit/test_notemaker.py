"""A large first import reads, hashes and makes its new files in a worker process
(sync/notemaker.py): what it stores must be exactly what the engine would have stored
itself, and a worker that dies, or answers for a file that changed, costs only time."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from peervault.crdt import notes
from peervault.crdt.index import file_id_for
from peervault.state import VaultState
from peervault.store.packing import pack_note, unpack_snapshot
from peervault.sync import ingest, notemaker
from peervault.sync.notemaker import Looked, Made, NoteMaker
from peervault.vault.blobio import hasher
from peervault.vault.fsops import content_hash, stat_of
from twin_engines import engine, write

TEXTS = {
    "crlf.md": "line one\r\nline two\r\n",
    "bom.md": "\ufeff# Title\n",
    "emoji.md": "🙂 👩‍💻 \U0001f600 surrogate pairs in UTF-16\n",
    "d/Ελληνικά.md": "Καλημέρα κόσμε — Привет, мир — 日本語のテキスト\n",
    "combining.md": "e\u0301 a\u0308 \u200b zero width\n",
    "nul.md": "before\x00after\n",
    "empty.md": "",
    "long.md": "a longer note, compressed when stored\n" * 400,
    **{f"n/{i:02}.md": f"note {i}\n" * (i + 1) for i in range(20)},
}
BINARY = {"img.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "bad utf8.md": b"caf\xe9\n"}


def _files(root: Path) -> None:
    for rel, text in TEXTS.items():
        write(root / rel, text)
    for rel, data in BINARY.items():
        (root / rel).write_bytes(data)


def test_the_worker_reads_hashes_and_makes_what_the_engine_would(tmp_path: Path) -> None:
    _files(tmp_path)
    peer = 12345
    rels = [*TEXTS, *BINARY]
    for rel, got in zip(rels, notemaker.look(str(tmp_path), rels, peer, 5 * 2**20), strict=True):
        assert got is not None
        data = (tmp_path / rel).read_bytes()
        st = stat_of(tmp_path / rel)
        assert st is not None and got.key == st.key and got.size == len(data)
        if rel in TEXTS:
            d = notes.new_note(TEXTS[rel], peer)
            assert got == Looked(
                st.key, content_hash(data), len(data), Made(pack_note(notes.whole(d)), notes.vv_bytes(d), notes.frontiers(d))
            )
            assert got.made is not None
            assert notes.text_of(notes.load_note(unpack_snapshot(got.made.stored), peer)) == TEXTS[rel]
        else:
            digest = hasher()
            digest.update(data)
            assert got == Looked(st.key, digest.hexdigest(), len(data), None)
    too_big = notemaker.look(str(tmp_path), ["long.md", "gone.md"], peer, 100)
    assert too_big == [None, None]  # above text_max (a blob, hashed elsewhere), and no such file


def test_the_worker_process_answers_in_order_and_ends_with_its_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """It is never more than AHEAD messages ahead of what was asked for: its answers wait in
    the engine's memory."""
    _files(tmp_path)
    rels = [*TEXTS, *BINARY]
    monkeypatch.setattr(notemaker, "CHUNK", 2)
    monkeypatch.setattr(notemaker, "AHEAD", 3)
    maker = NoteMaker(str(tmp_path), 7, 5 * 2**20)
    proc = maker._proc
    assert proc is not None
    maker.send(rels)
    assert len(maker._chunks) == 3 and maker._unsent
    assert [maker.get(rel) for rel in rels] == notemaker.look(str(tmp_path), rels, 7, 5 * 2**20)
    assert maker.get("not sent.md") is None
    maker.close()
    assert proc.wait(timeout=10) == 0


def test_a_dead_worker_leaves_every_file_to_the_engine(tmp_path: Path) -> None:
    _files(tmp_path)
    maker = NoteMaker(str(tmp_path), 7, 5 * 2**20)
    assert maker._proc is not None
    maker._proc.kill()
    maker.send(list(TEXTS))
    assert [maker.get(rel) for rel in TEXTS] == [None] * len(TEXTS)


def _vault(tmp_path: Path, name: str) -> VaultState:
    state = VaultState.init(tmp_path / name)[0]
    _files(state.root)
    return state


def _stored(state: VaultState) -> dict[str, Any]:
    """Everything a first import stores about notes and files, as comparable values."""
    db = state.store.db
    docs = {
        d: (unpack_snapshot(bytes(s)), bytes(v), p)
        for d, s, v, p in db.execute("SELECT doc_id, snapshot, vv, published FROM docs")
    }
    versions = sorted((f, bytes(fr), o, p) for f, fr, o, p in db.execute("SELECT file_id, frontiers, origin, path FROM versions"))
    files = {f: (r.path, r.size, r.hash, r.base) for f, r in state.store.files().items()}
    return {"docs": docs, "versions": versions, "files": files}


@pytest.mark.parametrize("kill", [False, True])
def test_an_import_through_the_worker_stores_what_one_made_here_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kill: bool
) -> None:
    """The same vault imported with and without the worker (or with one that dies at once:
    every file then read here) stores the same notes, versions, blobs and file rows."""
    here, there = _vault(tmp_path, "here"), _vault(tmp_path, "there")
    assert sum(engine(here).reconcile_steps(time.time(), chunk=5)) == len(TEXTS) + len(BINARY)
    makers: list[NoteMaker] = []

    def started(*args: Any) -> NoteMaker:
        maker = NoteMaker(*args)
        if kill and maker._proc is not None:
            maker._proc.kill()
        makers.append(maker)
        return maker

    monkeypatch.setattr(notemaker, "MIN_FILES", 5)
    monkeypatch.setattr(notemaker, "CHUNK", 3)  # several messages per step
    monkeypatch.setattr(notemaker, "AHEAD", 2)  # and more of them than the worker may be ahead
    monkeypatch.setattr(notemaker, "NoteMaker", started)
    e = engine(there)
    assert sum(e.reconcile_steps(time.time(), chunk=5)) == len(TEXTS) + len(BINARY)
    assert len(makers) == 1
    assert makers[0].used == (0 if kill else len(TEXTS) + len(BINARY))
    for rel, text in TEXTS.items():
        assert e.text(file_id_for(rel)) == text
    assert _stored(there) == _stored(here)
    assert e.reconcile(time.time()) == 0
    here.close()
    there.close()


class _Answers:
    """A worker's answers, as given: to test what the engine does with them."""

    def __init__(self, answers: dict[str, Looked]) -> None:
        self.answers = answers

    def get(self, rel: str) -> Looked | None:
        return self.answers.get(rel)


def test_an_answer_for_another_stat_or_a_taken_id_is_not_used(tmp_path: Path) -> None:
    """The file changed since the walk (the answer's stat is not the one recorded): read
    here. A path whose note id is taken (a note deleted, then its text put back: the same
    note, restored) needs its text: read here too."""
    state = VaultState.init(tmp_path / "v")[0]
    e = engine(state)
    write(state.root / "back.md", "restored text\n")
    assert e.reconcile(time.time()) == 1
    (state.root / "back.md").unlink()
    assert e.reconcile(time.time()) == 1
    assert e.entries[file_id_for("back.md")].deleted
    write(state.root / "back.md", "restored text\n")
    write(state.root / "new.md", "what the file holds now\n")
    stale = notemaker.look(str(state.root), ["new.md", "back.md"], 7, 5 * 2**20)
    other = notemaker.look(str(state.root), ["back.md"], 7, 5 * 2**20)[0]
    assert stale[0] is not None and stale[1] is not None and other is not None
    wrong = {"new.md": stale[0]._replace(key=(0, 0, 0, 0), made=other.made), "back.md": stale[1]}
    s = e._at(time.time())
    present = {rel: st for rel in ("new.md", "back.md") if (st := stat_of(state.root / rel)) is not None}
    assert ingest.ingest(s, present, set(), final=True, maker=_Answers(wrong)) == 2  # type: ignore[arg-type]
    assert e.text(file_id_for("new.md")) == "what the file holds now\n"
    assert e.text(file_id_for("back.md")) == "restored text\n"
    assert not e.entries[file_id_for("back.md")].deleted
    state.close()


def test_a_small_import_starts_no_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: Any) -> NoteMaker:
        raise AssertionError("a worker for a small import")

    monkeypatch.setattr(notemaker, "NoteMaker", refused)
    state = _vault(tmp_path, "small")
    assert sum(engine(state).reconcile_steps(time.time())) == len(TEXTS) + len(BINARY)
    state.close()


def test_no_interpreter_to_start_means_no_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = _vault(tmp_path, "v")
    monkeypatch.setattr(notemaker, "MIN_FILES", 5)
    monkeypatch.setattr(sys, "executable", "")
    e = engine(state)
    assert sum(e.reconcile_steps(time.time(), chunk=5)) == len(TEXTS) + len(BINARY)
    assert all(e.text(file_id_for(rel)) == text for rel, text in TEXTS.items())
    state.close()


def test_a_worker_left_with_paths_is_ended_at_close(tmp_path: Path) -> None:
    _files(tmp_path)
    maker = NoteMaker(str(tmp_path), 7, 5 * 2**20)
    proc = maker._proc
    assert proc is not None
    maker.send(list(TEXTS) * 50)
    maker.close()
    assert proc.wait(timeout=10) != 0  # killed, not left to read paths no one asks for
