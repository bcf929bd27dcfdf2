"""Two people typing into one note at once, each on their own lines, saving whenever they
like, with updates crossing at random moments and files often busy (merges held back until
the file is quiet): at the end both disks hold every line's last edit, exactly once."""

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

LINES = 8  # device A owns lines 0-3, device B lines 4-7
_mtime = itertools.count(time.time_ns(), 1_000_000)

steps = st.one_of(
    st.tuples(st.just("save"), st.sampled_from([0, 1]), st.integers(0, LINES // 2 - 1), st.integers(0, 99)),
    st.tuples(st.just("send"), st.sampled_from([0, 1])),
    st.tuples(st.just("wait"), st.sampled_from([0.3, 1.0, 2.5])),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(steps, max_size=25))
def test_concurrent_typing_converges_with_every_edit_once(script: list[tuple]) -> None:  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as tmp:
        sa, sb = twin_vaults(Path(tmp))
        try:
            eng = [engine(sa), engine(sb)]
            paths = [sa.root / "n.md", sb.root / "n.md"]
            expected = [f"line {i}" for i in range(LINES)]
            paths[0].write_text("".join(x + "\n" for x in expected))
            eng[0].reconcile(time.time())
            deliver(eng[0], eng[1])
            now = time.time()
            for step in script:
                if step[0] == "save":  # an editor rewrites one of its own lines in what the disk shows
                    _, side, i, token = step
                    line = i + side * (LINES // 2)
                    text = paths[side].read_text().split("\n")
                    text[line] = expected[line] = f"line {line} by {'AB'[side]}{token}"
                    paths[side].write_text("\n".join(text))
                    t = next(_mtime)
                    os.utime(paths[side], ns=(t, t))
                    eng[side].local_paths({"n.md"}, now)
                elif step[0] == "send":
                    deliver(eng[step[1]], eng[1 - step[1]])
                else:
                    now += step[1]
                    for e in eng:
                        e.settle(now)
            for _ in range(4):  # everyone stops typing: quiet files, everything delivered
                now += 2 * SETTLE_S
                for e in eng:
                    e.settle(now)
                deliver(eng[0], eng[1])
                deliver(eng[1], eng[0])
            want = "".join(x + "\n" for x in expected)
            assert paths[0].read_text() == want
            assert paths[1].read_text() == want
        finally:
            sa.close()
            sb.close()
