"""A large first import makes its new notes in a worker process (sync/notemaker.py): what it
stores must be exactly what the engine would have made itself, and a worker that dies, or
answers for another text, costs only time."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from peervault.crdt import notes
from peervault.crdt.index import file_id_for
from peervault.state import VaultState
from peervault.store.packing import pack_note, unpack_snapshot
from peervault.sync import localedits, notemaker
from peervault.sync.documents import batch
from peervault.sync.notemaker import Made, NoteMaker
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


def test_the_worker_makes_what_new_note_makes() -> None:
    peer = 12345
    made = notemaker.make(list(TEXTS.values()), peer)
    for text, got in zip(TEXTS.values(), made, strict=True):
        d = notes.new_note(text, peer)
        assert got == Made(pack_note(notes.whole(d)), notes.vv_bytes(d), notes.frontiers(d), content_hash(text.encode()))
        assert notes.text_of(notes.load_note(unpack_snapshot(got.stored), peer)) == text


def test_the_worker_process_answers_in_order_and_ends_with_its_input() -> None:
    maker = NoteMaker(7)
    proc = maker._proc
    assert proc is not None
    texts = list(TEXTS.values()) * 3
    for text in texts:
        maker.send(text)
    assert list(maker.take()) == notemaker.make(texts, 7)
    maker.close()
    assert proc.wait(timeout=10) == 0


def test_a_dead_worker_leaves_every_note_to_the_caller() -> None:
    maker = NoteMaker(7)
    assert maker._proc is not None
    maker._proc.kill()
    for text in TEXTS.values():
        maker.send(text)
    assert list(maker.take()) == [None] * len(TEXTS)
    assert maker.failed == len(TEXTS)


def _vault(tmp_path: Path, name: str) -> VaultState:
    state = VaultState.init(tmp_path / name)[0]
    for rel, text in TEXTS.items():
        write(state.root / rel, text)
    for rel, data in BINARY.items():
        (state.root / rel).write_bytes(data)
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
    every note then made here) stores the same notes, versions and file rows."""
    here, there = _vault(tmp_path, "here"), _vault(tmp_path, "there")
    assert sum(engine(here).reconcile_steps(time.time(), chunk=5)) == len(TEXTS) + len(BINARY)
    makers: list[NoteMaker] = []

    def started(peer: int) -> NoteMaker:
        maker = NoteMaker(peer)
        if kill and maker._proc is not None:
            maker._proc.kill()
        makers.append(maker)
        return maker

    monkeypatch.setattr(notemaker, "MIN_NOTES", 5)
    monkeypatch.setattr(notemaker, "CHUNK_CHARS", 200)  # several chunks per step
    monkeypatch.setattr(notemaker, "NoteMaker", started)
    e = engine(there)
    assert sum(e.reconcile_steps(time.time(), chunk=5)) == len(TEXTS) + len(BINARY)
    assert len(makers) == 1
    assert (makers[0].made, makers[0].failed) == ((0, len(TEXTS)) if kill else (len(TEXTS), 0))
    for rel, text in TEXTS.items():
        assert e.text(file_id_for(rel)) == text
    assert _stored(there) == _stored(here)
    assert e.reconcile(time.time()) == 0
    here.close()
    there.close()


def test_a_small_import_starts_no_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(peer: int) -> NoteMaker:
        raise AssertionError("a worker for a small import")

    monkeypatch.setattr(notemaker, "NoteMaker", refused)
    state = _vault(tmp_path, "small")
    assert sum(engine(state).reconcile_steps(time.time())) == len(TEXTS) + len(BINARY)
    state.close()


def test_a_note_made_for_another_text_is_not_used(tmp_path: Path) -> None:
    """The worker's hash of the text must be the one the engine took of the file: else the
    note is made here, from the file's text."""
    state = VaultState.init(tmp_path / "v")[0]
    write(state.root / "a.md", "what the file holds\n")
    e = engine(state)
    s = e._at(time.time())
    wrong = notemaker.make(["another text\n"], s.session_peer)[0]
    st = stat_of(state.root / "a.md")
    assert st is not None
    with batch(s):
        localedits.local_create(s, "a.md", "what the file holds\n", st, content_hash(b"what the file holds\n"), wrong)
    assert e.text(file_id_for("a.md")) == "what the file holds\n"
    state.close()
