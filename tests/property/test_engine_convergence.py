"""Two engines doing random local edits, renames and deletes with random exchanges always
converge to the same folder once everything has been delivered."""

from __future__ import annotations

import itertools
import os
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peervault.sync.engine import SETTLE_S
from twin_engines import deliver, engine, twin_vaults

ALL = bytes(range(256))
NAMES = ["a.md", "b.md", "d/c.md", "d/e/f.md"]
LINES = ["alpha", "beta", "gamma", "delta", "ünï ✓", ""]
_clock = itertools.count(time.time_ns(), 1_000_000)

texts = st.lists(st.sampled_from(LINES), min_size=0, max_size=4).map(lambda ls: "".join(line + "\n" for line in ls))
sides = st.sampled_from([0, 1])
names = st.sampled_from(NAMES)
ops = st.one_of(
    st.tuples(st.just("write"), sides, names, texts),
    st.tuples(st.just("append"), sides, names, st.sampled_from(LINES)),
    st.tuples(st.just("delete"), sides, names),
    st.tuples(st.just("rename"), sides, names, names),
    st.tuples(st.just("send"), sides),
)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    t = next(_clock)
    os.utime(path, ns=(t, t))


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.relative_to(root).parts[0] != ".peervault"
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, max_size=14))
def test_two_engines_converge(script: list[tuple]) -> None:  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as tmp:
        sa, sb = twin_vaults(Path(tmp))
        try:
            engines = [engine(sa), engine(sb)]
            roots = [sa.root, sb.root]
            for op in script:
                kind, side = op[0], op[1]
                root, eng = roots[side], engines[side]
                if kind == "write":
                    _write(root / op[2], op[3])
                elif kind == "append":
                    p = root / op[2]
                    _write(p, (p.read_text(encoding="utf-8") if p.is_file() else "") + op[3] + "\n")
                elif kind == "delete":
                    if (root / op[2]).is_file():
                        (root / op[2]).unlink()
                elif kind == "rename":
                    src, dst = root / op[2], root / op[3]
                    if src.is_file() and not dst.exists():
                        dst.parent.mkdir(parents=True, exist_ok=True)
                        os.rename(src, dst)
                elif kind == "send":
                    eng.reconcile()
                    deliver(eng, engines[1 - side])
            # deliver everything, both ways, until quiet; files settle (held-back writes land)
            for _ in range(6):
                for e in engines:
                    e.settle(time.time() + 10 * SETTLE_S)
                    e.reconcile()
                deliver(engines[0], engines[1])
                deliver(engines[1], engines[0])
                if not any(e.pending() for e in engines):
                    break
            assert not any(e.pending() for e in engines), "exchange did not go quiet"
            ta, tb = _tree(sa.root), _tree(sb.root)
            assert ta == tb
            assert engines[0].entries == engines[1].entries
            assert engines[0].bucket_digests() == engines[1].bucket_digests()
            assert engines[0].reconcile() == 0 and engines[1].reconcile() == 0
            # the folder is what the notes say
            for e, t in zip(engines, (ta, tb), strict=True):
                assert {path: e.text(fid) for fid, path in e.layout().items()} == t
        finally:
            sa.close()
            sb.close()
