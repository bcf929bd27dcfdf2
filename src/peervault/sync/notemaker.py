"""New notes made on the second core during a large first import.

Making a note from a file's text (a `LoroDoc`, the insert, the commit, the export, zstd) is
about a third of a first import's CPU, and Loro's binding holds the GIL while it works, so
a thread cannot overlap it with the rest. A worker process can: the engine reads, decodes
and hashes each file as always, sends the text it decided on, and goes on with the other
files while the worker makes the notes; it stores what comes back without loading it.

Exactness: the worker gets the text itself, makes it with `notes.new_note` (the function
the engine would call), and returns the hash of the text's UTF-8 bytes beside the note;
a note whose hash is not the one the engine computed from the file is not used. A worker
that cannot start, dies or answers late costs only time: each note it did not make is
made in-process, the same way (`None` from `take`).

The worker is `python -m peervault.sync.notemaker`, not a multiprocessing child: 'spawn' and
'forkserver' run the parent's main script again in the child (a script that embeds the
engine without a `__main__` guard would run twice), and 'fork' would copy Iroh's threads.
It reads `(texts, peer)` pickles on stdin and writes a list of `Made` for each on stdout.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import IO, TYPE_CHECKING, NamedTuple

from ..crdt import notes
from ..store.packing import pack_note
from ..vault.fsops import Stat, content_hash

if TYPE_CHECKING:
    from .enginestate import EngineState

log = logging.getLogger(__name__)

MIN_NOTES = 500  # new files in a first import below which a worker is not worth its start
CHUNK_CHARS = 256 * 1024  # text sent per message: few round trips, and a short wait for the first
WAIT_S = 60.0  # a worker silent this long on one chunk is taken for hung: the rest is made here


class Made(NamedTuple):
    """A new note as the store keeps it: `stored` is `pack_note(notes.whole(doc))`."""

    stored: bytes
    vv: bytes
    frontiers: bytes
    text_hash: bytes  # content_hash of the text's UTF-8 bytes, checked by the caller


def make(texts: list[str], session_peer: int) -> list[Made]:
    """What `notes.new_note` gives for each text, as stored (runs in the worker)."""
    out = []
    for text in texts:
        d = notes.new_note(text, session_peer)
        out.append(Made(pack_note(notes.whole(d)), notes.vv_bytes(d), notes.frontiers(d), content_hash(text.encode())))
    return out


def for_import(s: EngineState, new: Iterable[Stat]) -> NoteMaker | None:
    """A worker for the new notes of a pass over the folder, if there are many (a first
    import; `new`: the stats of the files with no row)."""
    if not s.published or sum(1 for st in new if st.size <= s.cfg.text_max_bytes) < MIN_NOTES:
        return None
    try:
        return NoteMaker(s.session_peer)
    except OSError as exc:  # no process could be started: made here
        log.warning("no note worker (%s): the first import goes on in-process", exc)
        return None


class NoteMaker:
    """One worker process. Texts go in with `send`; `take` gives their notes back in the same
    order. Two threads move the pickles, so neither side ever waits on a full pipe."""

    def __init__(self, session_peer: int) -> None:
        self.session_peer = session_peer
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self._outbox: queue.SimpleQueue[list[str] | None] = queue.SimpleQueue()
        self._inbox: queue.SimpleQueue[list[Made] | None] = queue.SimpleQueue()
        proc = self._proc
        assert proc.stdin is not None and proc.stdout is not None
        threading.Thread(target=self._write, args=(proc.stdin,), name="notemaker-out", daemon=True).start()
        threading.Thread(target=self._read, args=(proc, proc.stdout), name="notemaker-in", daemon=True).start()
        self._chunk: list[str] = []
        self._chars = 0
        self._sent: list[int] = []  # texts per chunk sent, in order
        self.made = 0
        self.failed = 0

    def send(self, text: str) -> None:
        self._chunk.append(text)
        self._chars += len(text)
        if self._chars >= CHUNK_CHARS:
            self._submit()

    def take(self) -> Iterator[Made | None]:
        """The notes of every text sent since the last `take`, in order; None for each one
        the worker did not make (the caller makes it)."""
        self._submit()
        sent, self._sent = self._sent, []
        for n in sent:
            got = self._result(n)
            if got is None:
                self.failed += n
                yield from [None] * n
            else:
                self.made += n
                yield from got

    def close(self) -> None:
        """No more texts: the worker exits once its input ends (a killed engine ends it too)."""
        if self._proc is not None:
            self._outbox.put(None)
            self._proc = None

    def _submit(self) -> None:
        if self._chunk:
            if self._proc is not None:
                self._outbox.put(self._chunk)
            self._sent.append(len(self._chunk))
            self._chunk, self._chars = [], 0

    def _result(self, n: int) -> list[Made] | None:
        if self._proc is None:
            return None
        try:
            got = self._inbox.get(timeout=WAIT_S)
        except queue.Empty:
            got = None
        if got is None or len(got) != n:
            log.warning("the note worker stopped: the first import goes on in-process")
            self._proc.kill()
            self.close()
            return None
        return got

    def _write(self, pipe: IO[bytes]) -> None:
        try:
            while (chunk := self._outbox.get()) is not None:
                pickle.dump((chunk, self.session_peer), pipe, protocol=pickle.HIGHEST_PROTOCOL)
                pipe.flush()
        except OSError:
            pass  # the worker died: its reader tells `take`
        finally:
            with contextlib.suppress(OSError):
                pipe.close()

    def _read(self, proc: subprocess.Popen[bytes], pipe: IO[bytes]) -> None:
        try:
            while True:
                self._inbox.put([Made._make(m) for m in pickle.load(pipe)])
        except Exception:  # noqa: BLE001, S110 - its end (EOF) or anything broken: `take` makes the rest
            pass
        finally:
            self._inbox.put(None)
            pipe.close()
            proc.wait()  # reaped here: the worker exits when its input ends


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """The worker: a list of `Made` for each `(texts, peer)` read, until the input ends."""
    while True:
        try:
            texts, session_peer = pickle.load(stdin)
        except EOFError:
            return
        made = [tuple(m) for m in make(texts, session_peer)]  # plain tuples: `Made` here is __main__'s
        pickle.dump(made, stdout, protocol=pickle.HIGHEST_PROTOCOL)
        stdout.flush()


__all__ = ["MIN_NOTES", "Made", "NoteMaker", "for_import", "make", "serve"]

if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
