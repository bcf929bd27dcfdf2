"""Resource limits with a paired but misbehaving peer: one that stops reading cannot stall
the others, and a flood of updates keeps the daemon's memory bounded."""

from __future__ import annotations

import secrets
import threading
import time

import psutil

from peervault.crdt import notes
from peervault.protocol import messages as m

from .conftest import wait_until
from .test_hostile_peers import Wire, _trio, hello


def test_a_peer_that_stops_reading_is_dropped_and_does_not_stall_others(make_device):
    a, b, peer, vault_id = _trio(make_device)

    async def script(w: Wire) -> str | None:
        await w.send(hello(vault_id))
        await w.expect(m.Hello)
        await w.stop()  # from now on this peer reads nothing and says nothing
        for i in range(20):  # meanwhile A's real peer keeps syncing, unhindered
            a.write(f"during-{i}.md", f"written while a peer stalls {i}\n" + secrets.token_hex(4000))
        for i in range(20):
            text = f"written while a peer stalls {i}\n"
            wait_until(lambda i=i, text=text: (b.read(f"during-{i}.md") or "").startswith(text), what=f"note {i} on B")
        return await w.closed(timeout=40)  # heartbeat silence (15 s) or a full send queue drops it

    why = peer.session(script)
    assert why is not None, "the daemon kept a peer that reads nothing"
    assert a.proc is not None and a.proc.poll() is None


def test_a_flood_of_updates_keeps_memory_bounded(make_device):
    a, b, peer, vault_id = _trio(make_device)
    pid = (a.runtime() or {})["pid"]
    peak = [0.0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], psutil.Process(pid).memory_info().rss / 2**20)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()

    async def script(w: Wire) -> None:
        await w.send(hello(vault_id))
        await w.expect(m.Hello)
        author = secrets.randbits(63)
        for burst in range(40):  # 4,000 notes' snapshots as fast as the stream takes them
            entries = tuple(
                (secrets.token_bytes(16), notes.snapshot(notes.new_note(f"flood {burst}/{i} " + "x" * 2000, author)))
                for i in range(100)
            )
            await w.send(m.DocUpdates(entries))
        await w.barrier()  # the daemon has processed all of it

    try:
        peer.session(script)
        a.write("after-flood.md", "still syncing\n")
        wait_until(lambda: b.read("after-flood.md") == "still syncing\n", timeout=60, what="A and B still in sync")
    finally:
        stop.set()
        sampler.join()
    assert a.proc is not None and a.proc.poll() is None
    assert peak[0] < 200, f"RSS reached {peak[0]:.0f} MB under the flood"
    print(f"\nflood of 4,000 notes: peak RSS of the daemon {peak[0]:.0f} MB")
