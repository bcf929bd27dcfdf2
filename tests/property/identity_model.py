"""Note identity, modelled for the engine property tests (issue 9: a rename paired with the
wrong note when notes share their text).

The model knows, for every device, which *identity* (a note as the user sees it) each
Markdown file holds. An identity is born when a step creates a file; it follows the renames
and moves the user makes; an edit appends a marker owned by the identity of the file it went
into. Each engine call on a device is wrapped in `Identities.call`, which compares the files
the engine tracks (`Engine.files`: path -> file id) with the model:

* a path the engine has just looked at (the watcher reported it, or a full reconcile) must
  be tracked as the note of the identity the model puts there. A new file may become a new
  note, or the note of an identity this device no longer shows anywhere (a delete and a
  create the engine reads as a rename: identical text, a reused inode, a restore, the same
  path created elsewhere): the two identities are one from then on. It may never take the
  note of an identity that is still in a file of its own on this device.
* what the engine writes (a peer's change, a held-back write) moves the model along: the
  file it wrote holds the note it wrote.
* at the end, every marker that nobody destroyed (a device deleting or overwriting a file
  that showed it) is in the file of its identity's note.

Renames are exact when the watcher saw them (`local_paths(..., moves=...)`), except onto a
name whose note the engine still tracks (deleted, waiting out its settle period: like a
move over a tracked note, that may be an edit of that note). Seen by nobody (the daemon
stopped, a watcher without cookies), a rename is exact when the engine looks at both names
and the file kept the inode, size and mtime the engine last recorded for it (`os.rename`
keeps them; with a new mtime the inode may have been freed and reused by another file).
Otherwise the identities involved are *uncertain* and no longer checked: a file renamed and
changed while nobody watched (the engine may pair it by unambiguous content, or see a
delete and a create), renamed onto a tracked name, or whose old name holds a new file (by
inode the note moved; `test_identity_by_inode.py` checks that case on its own). So are
identities hit by a race the real daemon hardly ever runs into: a peer's change written to
a path where the user changed something the engine has not looked at yet.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import stat
from collections.abc import Callable, Collection, Iterator
from pathlib import Path

from hypothesis import currently_in_test_context, event

from peervault.sync.engine import Engine

MARKER = re.compile("[\ue000-\uf8ff]")  # private use: one character per edit, no other text holds these
Files = dict[str, tuple[int, int, int, int]]  # path -> (inode, size, mtime, ctime)


def md_files(root: Path) -> Files:
    """The Markdown files of a vault (its notes in these tests; binaries are `.bin`)."""
    out: Files = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel == ".":
            dirnames[:] = [n for n in dirnames if n != ".peervault"]
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        for name in filenames:
            if name.endswith(".md"):
                try:
                    st = os.lstat(os.path.join(dirpath, name))
                except FileNotFoundError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    out[prefix + name] = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    return out


def shown(path: Path) -> set[str]:
    """The markers a file shows."""
    return set(MARKER.findall(path.read_bytes().decode("utf-8", "replace"))) if path.is_file() else set()


def note(what: str) -> None:
    """For --hypothesis-show-statistics (and nothing outside a Hypothesis test)."""
    if currently_in_test_context():
        event(what)


def under(path: str, tops: Collection[str]) -> bool:
    return any(path == t or path.startswith(t + "/") for t in tops)


class Identities:
    def __init__(self, roots: list[Path], engine_of: Callable[[int], Engine]) -> None:
        self.roots = roots
        self.engine_of = engine_of
        self.holds: list[dict[str, int]] = [{} for _ in roots]  # device -> path -> identity
        self.dirty: list[set[str]] = [set() for _ in roots]  # changed by the user, not looked at yet
        self.unseen: list[set[int]] = [set() for _ in roots]  # identities renamed unseen, not looked at yet
        self.vacated: list[dict[str, int]] = [{} for _ in roots]  # path -> identity deleted there, not looked at yet
        self._ids = itertools.count(1)
        self._parent: dict[int, int] = {}  # identities found to be one note (union-find)
        self.fid_of: dict[int, str] = {}  # identity (a root) -> its note's file id
        self._ident_of: dict[str, int] = {}
        self.uncertain: set[int] = set()  # roots no longer checked
        self.owner: dict[str, int] = {}  # marker -> identity it was appended to
        self.history: list[str] = []
        self.checked = 0  # assertions made (for the statistics)

    # ------------------------------------------------------------------ identities
    def find(self, i: int) -> int:
        while self._parent[i] != i:
            self._parent[i] = self._parent[self._parent[i]]
            i = self._parent[i]
        return i

    def _new(self) -> int:
        i = next(self._ids)
        self._parent[i] = i
        return i

    def _bind(self, c: int, fid: str) -> None:
        self.fid_of[c] = fid
        self._ident_of[fid] = c

    def _union(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        fa, fb = self.fid_of.pop(ra, None), self.fid_of.pop(rb, None)
        assert fa is None or fb is None or fa == fb, f"model error: identities {ra} and {rb} are notes {fa} and {fb}"
        self._parent[rb] = ra
        if fa or fb:
            self._bind(ra, fa or fb)  # type: ignore[arg-type]
        if rb in self.uncertain:
            self.uncertain.discard(rb)
            self.uncertain.add(ra)
        self.history.append(f"  (identities {ra} and {rb} are one note)")
        return ra

    def _of_fid(self, fid: str) -> int:
        if fid not in self._ident_of:  # a note no create step made (none expected; checked from now on)
            self._bind(self._new(), fid)
        return self.find(self._ident_of[fid])

    def doubt(self, *ids: int | None, why: str = "") -> None:
        for i in ids:
            if i is not None and self.find(i) not in self.uncertain:
                self.uncertain.add(self.find(i))
                self.history.append(f"  (identity {self.find(i)} uncertain: {why})")

    def certain(self, i: int) -> bool:
        return self.find(i) not in self.uncertain

    def at(self, d: int, path: str) -> int | None:
        return self.holds[d].get(path)

    # ------------------------------------------------------------------ the user
    def wrote(self, d: int, path: str) -> int:
        """The user wrote `path` (in place): the identity there, or a new one."""
        self.dirty[d].add(path)
        i = self.holds[d].get(path)
        if i is None:
            i = self.holds[d][path] = self._new()
            self.history.append(f"{'ABC'[d]}: create {path} (identity {i})")
            if (gone := self.vacated[d].get(path)) is not None:
                # deleted and made again before the engine looked: on disk the same as a save
                # that replaces the file (a new inode, new bytes), which is an edit of that note
                self.doubt(i, gone, why=f"{path} deleted and made again unseen")
        return i

    def appended(self, d: int, path: str, marker: str) -> None:
        self.owner[marker] = i = self.wrote(d, path)
        self.history.append(f"{'ABC'[d]}: edit {ord(marker) - 0xE000} into {path} (identity {self.find(i)})")

    def deleted(self, d: int, path: str) -> None:
        self.dirty[d].add(path)
        i = self.holds[d].pop(path, None)
        if i is not None:
            self.vacated[d][path] = i
        self.history.append(f"{'ABC'[d]}: delete {path} (identity {i})")

    def moved(self, d: int, src: str, dst: str, seen: bool) -> None:
        """A file or folder renamed. `seen`: the watcher reports it as a move (exact); else a
        reconcile (or a watcher without cookies) finds it: exact only if the engine looks at
        both names and the file is as it was (see `_inode_doubts`)."""
        held = self.holds[d]
        rows = self.engine_of(d).files
        for p in sorted(p for p in held if under(p, [src])):
            q = dst + p[len(src) :]
            held[q] = held.pop(p)
            self.dirty[d] |= {p, q}
            if not seen:
                self.unseen[d].add(held[q])
            elif (there := next((f for f, r in rows.items() if r.path == q), None)) is not None:
                # onto a note the engine still tracks there (deleted, waiting out its settle
                # period): like a move over a tracked note, that may be an edit of that note
                self.doubt(held[q], self._ident_of.get(there), why=f"moved {p} -> {q}, onto a name whose delete is not decided")
        self.dirty[d] |= {src, dst}
        self.history.append(f"{'ABC'[d]}: move {src} -> {dst} ({'seen by the watcher' if seen else 'unseen'})")

    # ------------------------------------------------------------------ the engine
    @contextlib.contextmanager
    def call(self, d: int, what: str, covers: Collection[str] = (), everything: bool = False) -> Iterator[None]:
        """Wrap one engine call on device d. `covers`: the paths (files or folders) it looks
        at; `everything`: a full reconcile."""
        before = md_files(self.roots[d])
        held = dict(self.holds[d])

        def covered(p: str) -> bool:
            return everything or under(p, covers)

        self._inode_doubts(d, before, covered)
        tracked = {fid: row.path for fid, row in self.engine_of(d).files.items()}
        yield
        after = md_files(self.roots[d])
        if not everything:  # the watcher's look: a new file still empty waits out its settle
            rows = {row.path for row in self.engine_of(d).files.values()}
            waiting = {
                p
                for p, (_, size, _, _) in after.items()
                if not size and p not in rows and (p not in held or self.find(held[p]) not in self.fid_of)
            }
            looked = covered

            def covered(p: str) -> bool:
                return looked(p) and p not in waiting

        self._after(d, what, before, held, tracked, after, covered)

    def _inode_doubts(self, d: int, disk: Files, covered: Callable[[str], bool]) -> None:
        """Before the engine looks at renames nobody saw: the ones it cannot tell. A file under
        a new name is surely the note it was if it kept its inode, size and mtime (a freed
        inode is reused at once: an inode alone, with a new mtime, may be another file), and
        only if the engine looks at its old name too."""
        rows = self.engine_of(d).files
        where = {self.find(i): p for p, i in self.holds[d].items()}
        for i in sorted(self.unseen[d]):
            p = where.get(self.find(i))
            fid = self.fid_of.get(self.find(i))
            if p is None or fid is None or fid not in rows:
                self.unseen[d].discard(i)  # deleted since, or a new file (it becomes a new note)
                continue
            row = rows[fid]
            if not covered(p) and not covered(row.path):
                continue
            self.unseen[d].discard(i)
            ino, size, mtime, _ = disk[p]
            there = next((f for f, r in rows.items() if r.path == p and f != fid), None)
            occupant = self.holds[d].get(row.path) if row.path != p else None  # a new file at the old name
            if not (covered(p) and covered(row.path)):
                self.doubt(i, occupant, why=f"renamed {row.path} -> {p} unseen, and the engine looks at one name only")
            elif (ino, size, mtime) != (row.ino, row.size, row.mtime_ns):
                self.doubt(i, why=f"renamed {row.path} -> {p} unseen and changed (inode, size or mtime)")
            elif occupant is not None:
                # the old name holds a new file: by inode the note moved, yet the engine may
                # read the old name as an edit of its note (test_identity_by_inode.py)
                self.doubt(i, occupant, why=f"renamed {row.path} -> {p} unseen, a new {row.path} made")
            elif there is not None:
                # onto the name of a note deleted meanwhile: on disk, the same as a rename
                # over it, which is an edit of that note
                self.doubt(i, self._ident_of.get(there), why=f"renamed {row.path} -> {p} unseen, onto a tracked name")

    def _after(
        self,
        d: int,
        what: str,
        before: Files,
        held: dict[str, int],
        tracked: dict[str, str],
        after: Files,
        covered: Callable[[str], bool],
    ) -> None:
        eng = self.engine_of(d)
        rows = {row.path: fid for fid, row in eng.files.items() if row.path in after}
        where = {fid: path for path, fid in rows.items()}
        self.dirty[d] = {p for p in self.dirty[d] if not covered(p)}
        self.vacated[d] = {p: i for p, i in self.vacated[d].items() if not covered(p)}
        dirty = self.dirty[d]
        changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
        problems: list[str] = []
        # 1. new files the engine just looked at: a new note, or one nobody here shows any more
        for p, i in sorted(held.items()):
            c = self.find(i)
            if not covered(p) or c in self.fid_of:
                continue
            fid = rows.get(p)
            if (q := self._moved_aside(p, before, after, rows, held)) is not None:
                # its name was claimed by another note (a rename elsewhere): the engine took the
                # new file as a note and moved it aside in the same call (and perhaps moved
                # that note's file onto the name); step 3 follows it there
                self._bind(c, rows[q])
                self.history.append(f"  (identity {c} moved aside by the engine to {q})")
                continue
            if fid is None:
                if self.certain(c):
                    problems.append(f"{p}: a new file (identity {c}) the engine looked at is not tracked")
                continue
            if fid not in self._ident_of:
                self._bind(c, fid)
                continue
            k = self._of_fid(fid)
            elsewhere = sorted(q for q, j in held.items() if q != p and self.find(j) == k)
            if elsewhere and self.certain(c) and self.certain(k):
                problems.append(
                    f"{p}: a new file (identity {c}) was taken for note {fid[:8]} of identity {k}, which is in {elsewhere[0]}"
                )
            else:
                self._union(c, k)
        # 2. a note whose file the engine itself rewrote or moved while looking at it
        for p, i in sorted(held.items()):
            c = self.find(i)
            if covered(p) and p in changed and self.certain(c) and (fid := self.fid_of.get(c)) is not None:
                q = where.get(fid)
                if q is None or (q != p and q not in changed):
                    problems.append(
                        f"{p}: identity {c} (note {fid[:8]}) was there; the engine rewrote the path and the note is "
                        + ("in no file" if q is None else f"now tracked in {q}")
                    )
        # 3. what the engine wrote: the model follows its notes there
        for q in sorted(changed):
            prev = held.get(q)
            fid = rows.get(q)
            now = None if fid is None else self._of_fid(fid)
            if q in dirty and (prev is None or now is None or self.find(prev) != now):
                if prev is not None and now is not None and self.find(prev) not in self.fid_of:
                    self._union(prev, now)  # a new local file merged into the note a peer made there
                else:
                    self.doubt(prev, now, why=f"the engine wrote {q} before looking at the user's change there")
            if fid is None and q in after:
                self.holds[d][q] = prev if prev is not None else self._new()
                dirty.add(q)
            elif fid is None:
                self.holds[d].pop(q, None)
            else:
                self.holds[d][q] = now  # type: ignore[assignment]
        for p in sorted(dirty & set(self.holds[d])):
            fid = self.fid_of.get(self.find(self.holds[d][p]))
            now_at = eng.files[fid].path if fid in eng.files else None
            if fid is not None and tracked.get(fid) != now_at and now_at not in changed:
                # a peer's change moved or deleted the note while the user's change to it waits
                self.doubt(self.holds[d][p], why=f"the engine moved or dropped the note of {p} before looking at it")
        paths_of: dict[int, list[str]] = {}
        for p, j in self.holds[d].items():
            paths_of.setdefault(self.find(j), []).append(p)
        for c, ps in paths_of.items():
            if len(ps) > 1:  # the engine wrote a note the user had moved (and it had not looked yet)
                self.doubt(c, why=f"in two files: {', '.join(sorted(ps))}")
        # 4. every path the engine has looked at holds the note the model says
        for p in sorted(after):
            if p in dirty:
                continue
            known = self.holds[d].get(p)
            if known is None:
                problems.append(f"{p}: model error: a file the model does not know")
                continue
            c = self.find(known)
            if not self.certain(c):
                continue
            fid = rows.get(p)
            self.checked += 1
            if fid is None:
                problems.append(f"{p}: holds identity {c}, but the engine tracks no note there")
            elif (k := self._of_fid(fid)) != c and self.certain(k):
                mine = self.fid_of.get(c)
                problems.append(
                    f"{p}: holds identity {c} (note {mine[:8] if mine else '-'}, "
                    + (f"tracked in {where[mine]}" if mine in where else "tracked nowhere")
                    + f"); the engine took it for note {fid[:8]} (identity {k})"
                )
        missing = set(after) ^ set(self.holds[d])
        assert not missing, f"model error on {'ABC'[d]}: {sorted(missing)}"
        if problems:
            raise AssertionError(
                f"note identity lost on {'ABC'[d]} after {what}:\n  "
                + "\n  ".join(problems)
                + "\nwhat happened (latest last):\n"
                + "\n".join(self.history[-25:])
            )
        self.history.append(f"{'ABC'[d]}: {what}")

    # ------------------------------------------------------------------ the end
    def _moved_aside(self, p: str, before: Files, after: Files, rows: dict[str, str], held: dict[str, int]) -> str | None:
        """Where the engine moved the new file at `p` (the same inode under a new, tracked name
        of a note no identity has yet), or None."""
        if p not in before or (p in after and after[p][0] == before[p][0]):
            return None  # (a new inode at `p`: another file was moved there after it left)
        ino = before[p][0]
        for q, st in after.items():
            if st[0] == ino and q not in before and q not in held and q in rows and rows[q] not in self._ident_of:
                return q
        return None

    def check_markers(self, texts: dict[str, str], layout: dict[str, str], destroyed: set[str]) -> int:
        """Every edit nobody destroyed is in the file of its identity's note (`layout`: file id
        -> path, `texts`: path -> text, of one device once all agree). Returns edits checked."""
        problems = []
        checked = 0
        for mk, i in sorted(self.owner.items()):
            c = self.find(i)
            if not self.certain(c) or mk in destroyed:
                continue
            checked += 1
            fid = self.fid_of.get(c)
            path = layout.get(fid) if fid is not None else None
            if path is not None and mk in texts.get(path, ""):
                continue
            found = sorted(p for p, t in texts.items() if mk in t)
            problems.append(
                f"edit {ord(mk) - 0xE000} of identity {c} (note {fid[:8] if fid else '-'}) should be in "
                + (path or "a live note")
                + (f"; it is in {', '.join(found)}" if found else "; it is nowhere")
            )
        if problems:
            raise AssertionError(
                "edits not in their note:\n  "
                + "\n  ".join(problems)
                + "\nwhat happened (latest last):\n"
                + "\n".join(self.history[-40:])
            )
        return checked
