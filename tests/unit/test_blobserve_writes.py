"""sync/blobserve.py: a BLOB_GETS answer is written in pieces of at least glibc's mmap
threshold (each piece, and Iroh's copies of it, mapped on its own and handed back when sent,
not carved out of the heap), and the pieces put together are exactly the answer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from peervault import memory
from peervault.net.stream import WRITE_PIECE
from peervault.protocol.blobanswers import split_answers
from peervault.sync.blobserve import BlobServer
from peervault.vault.blobio import CHUNK


@dataclass
class _Source:
    path: Path
    expect: None = None


class _Engine:
    def __init__(self, files: dict[str, Path]) -> None:
        self.files = files

    def blob_source(self, h: str) -> _Source | None:
        return _Source(self.files[h]) if h in self.files else None

    def blob_candidates(self, h: str) -> list[Path]:
        return []


class _Send:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    async def write_all(self, data: bytes) -> None:
        self.writes.append(data)


def test_a_blob_gets_answer_goes_in_pieces_of_at_least_the_mmap_threshold(tmp_path: Path) -> None:
    sizes = [3_000, 100_000, 70_000, 0, 300_000, 50_000, 90_000, 1_000, 200_000]
    files, blobs, contents = {}, [], []
    for n, size in enumerate(sizes):
        data = bytes([n + 1]) * size
        h = bytes([n]) * 32
        p = tmp_path / f"{n}.bin"
        p.write_bytes(data)
        files[h.hex()] = p
        blobs.append(h)
        contents.append(data)
    missing = b"\xee" * 32
    blobs.insert(3, missing)
    contents.insert(3, None)
    send = _Send()
    server = BlobServer(_Engine(files), lambda: 0.0)  # type: ignore[arg-type]
    asyncio.run(server._serve_many(send, tuple(blobs)))

    answer = b"".join(send.writes)
    got = split_answers(answer, [len(c) if c is not None else 0 for c in contents])
    assert [None if g is None else bytes(g) for g in got] == contents
    assert WRITE_PIECE >= memory._MMAP_THRESHOLD
    assert len(send.writes) > 1
    for w in send.writes[:-1]:
        assert len(w) >= WRITE_PIECE
        assert len(w) < WRITE_PIECE + CHUNK + 64  # one piece at most past the size (and a header)
