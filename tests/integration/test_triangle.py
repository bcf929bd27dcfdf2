"""Three devices all paired with each other: an update is forwarded, but stops once every
device has it (it once circled the triangle for ever)."""

from __future__ import annotations

import json
import time

from .conftest import in_sync, pair_running, wait_until


def test_an_update_does_not_circle_a_triangle_of_devices(make_device):
    a, b, c = make_device("A"), make_device("B"), make_device("C")
    a.start()
    pair_running(a, b)
    pair_running(a, c)
    c.stop()
    c.join(b.invite())  # C pairs with B too: A-B, A-C and B-C
    c.start()
    wait_until(lambda: c.connected() >= 2 and b.connected() >= 2, what="all three links up")
    a.write("round.md", "one edit\n")
    wait_until(in_sync(a, b, c), what="the edit everywhere")
    time.sleep(3)  # an update going round would have added hundreds of versions by now
    for d in (a, b, c):
        kept = json.loads(d.cli("history", str(d.root), "round.md", "--json").stdout)
        assert len(kept) <= 2, f"{d.root.name} recorded {len(kept)} versions of one edit"
    sent = [d.status()["metrics"]["bytes_sent"] for d in (a, b, c)]
    time.sleep(3)
    again = [d.status()["metrics"]["bytes_sent"] for d in (a, b, c)]
    assert all(y - x < 2000 for x, y in zip(sent, again, strict=True)), (sent, again)  # only heartbeats
