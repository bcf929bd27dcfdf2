"""A large first import's new files read, hashed and made into notes on the second core.

Making a note from a file's text (a `LoroDoc`, the insert, the commit, the export, zstd) is
about a third of a first import's CPU, reading and hashing the files another tenth, and
Loro's binding holds the GIL, so a thread cannot overlap them with the rest. A worker
process can: the engine sends the paths of a step's new files ahead, and for each the worker
reads the file, hashes it and, if it is UTF-8 text, makes its note with `notes.new_note`
(the function the engine would call). The engine does the bookkeeping meanwhile and stores
what comes back without loading it.

Exactness: the worker reads a file between an `fstat` of the open file and a `stat` of its
path, and answers only if both are the stat the engine's walk saw (`Looked.key`); the engine
uses an answer only if that is still the stat it is recording (the same test its own
read would pass: it records the walk's stat beside the hash of what it read). Anything else
(a file changing, a worker that cannot start, dies or answers late) costs only time: the
engine reads that file itself, the same way as without a worker.

The worker is `python -m peervault.sync.notemaker`, not a multiprocessing child: 'spawn' and
'forkserver' run the parent's main script again in the child (a script that embeds the
engine without a `__main__` guard would run twice), and 'fork' would copy Iroh's threads.
It reads `(root, paths, peer, text_max)` pickles on stdin and writes a list of answers
(plain tuples) for each on stdout.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, NamedTuple

from ..crdt import notes
from ..memory import child_command
from ..store.packing import pack_note
from ..vault.blobio import hasher
from ..vault.fsops import content_hash, stat_of

if TYPE_CHECKING:
    from .enginestate import EngineState

log = logging.getLogger(__name__)

MIN_FILES = 500  # new files in a pass below which a worker is not worth its start
CHUNK = 64  # paths per message: few round trips, and a short wait for the first answer
AHEAD = 32  # messages the worker may be ahead of the engine (2,048 files, two steps): its
# answers wait in memory until the engine gets to them
WAIT_S = 10.0  # a worker silent this long is taken for hung (the event loop waits meanwhile): the rest is read here


class Made(NamedTuple):
    """A new note as the store keeps it: `stored` is `pack_note(notes.whole(doc))`."""

    stored: bytes
    vv: bytes
    frontiers: bytes


class Looked(NamedTuple):
    """What the worker found at a path when it showed the stat `key`: a note's `made` and the
    `content_hash` of its bytes, or (`made` None) a binary file's BLAKE3 `digest` and size."""

    key: tuple[int, int, int, int]
    digest: bytes | str
    size: int
    made: Made | None


def look(root: str, rels: list[str], session_peer: int, text_max: int) -> list[Looked | None]:
    """The worker's answer for each path (None: changing, gone, or not a file to import)."""
    return [_look(f"{root}/{rel}", session_peer, text_max) for rel in rels]


def _look(path: str, session_peer: int, text_max: int) -> Looked | None:
    try:
        with open(path, "rb") as f:
            before = os.fstat(f.fileno())
            data = f.read()
    except OSError:
        return None
    after = stat_of(path)
    if after is None or len(data) > text_max:
        return None
    if (before.st_size, before.st_mtime_ns, before.st_ino, before.st_ctime_ns) != after.key:
        return None  # changing, or replaced at its path: the engine reads it itself
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        digest = hasher()
        digest.update(data)
        return Looked(after.key, digest.hexdigest(), len(data), None)
    d = notes.new_note(text, session_peer)
    return Looked(
        after.key, content_hash(data), len(data), Made(pack_note(notes.whole(d)), notes.vv_bytes(d), notes.frontiers(d))
    )


def for_import(s: EngineState) -> NoteMaker | None:
    """A worker for a pass over the folder with many new files (a first import)."""
    if not sys.executable:  # an embedded interpreter that cannot start another one
        return None
    try:
        return NoteMaker(os.fspath(s.root), s.session_peer, s.cfg.text_max_bytes)
    except OSError as exc:  # no process could be started: read here
        log.warning("no first-import worker (%s): the import goes on in-process", exc)
        return None


class NoteMaker:
    """One worker process. Paths go in with `send`, in the order `get` will ask for them. Two
    threads move the pickles, so neither side ever waits on a full pipe."""

    def __init__(self, root: str, session_peer: int, text_max: int) -> None:
        self._args = (root, session_peer, text_max)
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            child_command(__name__), stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self._outbox: queue.SimpleQueue[list[str] | None] = queue.SimpleQueue()
        self._inbox: queue.SimpleQueue[list[Looked | None] | None] = queue.SimpleQueue()
        proc = self._proc
        assert proc.stdin is not None and proc.stdout is not None
        threading.Thread(target=self._write, args=(proc.stdin,), name="notemaker-out", daemon=True).start()
        threading.Thread(target=self._read, args=(proc, proc.stdout), name="notemaker-in", daemon=True).start()
        self._unsent: deque[list[str]] = deque()  # to send once the worker is less far ahead
        self._chunks: deque[list[str]] = deque()  # sent, not yet answered, in order
        self._wanted: set[str] = set()
        self._ready: dict[str, Looked] = {}
        self.used = 0  # answers given to the engine

    def send(self, rels: list[str]) -> None:
        if self._proc is None:
            return
        for i in range(0, len(rels), CHUNK):
            chunk = rels[i : i + CHUNK]
            self._unsent.append(chunk)
            self._wanted.update(chunk)
        self._pump()

    def _pump(self) -> None:
        while self._unsent and len(self._chunks) < AHEAD:
            chunk = self._unsent.popleft()
            self._outbox.put(chunk)
            self._chunks.append(chunk)

    def get(self, rel: str) -> Looked | None:
        """The answer for `rel` (waiting for it), or None if it has none."""
        while rel in self._wanted and (self._chunks or self._unsent):
            if not self._chunks:
                self._pump()  # (what was skipped is not waited for: the next messages go out)
            self._receive()
        self._wanted.discard(rel)
        got = self._ready.pop(rel, None)
        self.used += got is not None
        return got

    def forget(self, rels: Iterable[str]) -> None:
        """These paths' answers are not needed (their step is over)."""
        for rel in rels:
            self._wanted.discard(rel)
            self._ready.pop(rel, None)

    def close(self) -> None:
        """No more paths: the worker exits once its input ends (a killed engine ends it too),
        at once if it still has paths no one will ask for (an import that stopped halfway)."""
        if self._proc is not None:
            if self._chunks or self._unsent:
                self._proc.kill()
            self._outbox.put(None)
            self._proc = None
        self._unsent.clear()
        self._chunks.clear()
        self._wanted.clear()
        self._ready.clear()

    def _receive(self) -> None:
        chunk = self._chunks.popleft()
        try:
            got = self._inbox.get(timeout=WAIT_S)
        except queue.Empty:
            got = None
        if got is None or len(got) != len(chunk):
            log.warning("the first-import worker stopped: the import goes on in-process")
            if self._proc is not None:
                self._proc.kill()
            self.close()
            return
        for rel, answer in zip(chunk, got, strict=True):
            if rel in self._wanted:
                self._wanted.discard(rel)
                if answer is not None:
                    self._ready[rel] = answer
        self._pump()

    def _write(self, pipe: IO[bytes]) -> None:
        import pickle  # here: an idle daemon never loads it (0.2 MB of RSS)

        root, peer, text_max = self._args
        try:
            while (chunk := self._outbox.get()) is not None:
                pickle.dump((root, chunk, peer, text_max), pipe, protocol=pickle.HIGHEST_PROTOCOL)
                pipe.flush()
        except OSError:
            pass  # the worker died: its reader tells `get`
        finally:
            with contextlib.suppress(OSError):
                pipe.close()

    def _read(self, proc: subprocess.Popen[bytes], pipe: IO[bytes]) -> None:
        import pickle

        try:
            while True:
                answers = pickle.load(pipe)
                self._inbox.put([None if a is None else _looked(a) for a in answers])
        except Exception:  # noqa: BLE001, S110 - its end (EOF) or anything broken: `get` reads the rest here
            pass
        finally:
            self._inbox.put(None)
            pipe.close()
            proc.wait()  # reaped here: the worker exits when its input ends


def _looked(a: tuple[tuple[int, int, int, int], bytes | str, int, tuple[bytes, bytes, bytes] | None]) -> Looked:
    return Looked(a[0], a[1], a[2], None if a[3] is None else Made._make(a[3]))


def _plain(answer: Looked | None) -> tuple[object, ...] | None:
    """An answer as plain tuples: `Looked` in the worker is `__main__`'s, unknown to the engine."""
    if answer is None:
        return None
    return (answer.key, answer.digest, answer.size, None if answer.made is None else tuple(answer.made))


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """The worker: answers for each `(root, paths, peer, text_max)` read, until the input ends."""
    import pickle

    while True:
        try:
            root, rels, session_peer, text_max = pickle.load(stdin)
        except EOFError:
            return
        answers = [_plain(a) for a in look(root, rels, session_peer, text_max)]
        pickle.dump(answers, stdout, protocol=pickle.HIGHEST_PROTOCOL)
        stdout.flush()


__all__ = ["CHUNK", "MIN_FILES", "Looked", "Made", "NoteMaker", "for_import", "look", "serve"]

if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
