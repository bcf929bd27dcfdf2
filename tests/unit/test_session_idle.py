"""Low-power idle suspension of a live session, and `next_deadline`, sans I/O with a fake replica."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from peervault.protocol import messages as m
from peervault.protocol.codes import Code
from peervault.protocol.session import Close, Received, Session, State

VAULT = bytes(range(16))
HEARTBEAT, SILENT, IDLE = 60.0, 150.0, 300.0


@dataclass
class FakeReplica:
    """An empty vault: the handshake carries no vault data, so only live pushes do."""

    vault_id: bytes = VAULT

    def index_vv(self) -> bytes:
        return b""

    def index_updates_since(self, vv: bytes) -> bytes | None:
        return None

    def index_saved_whole(self, vv: bytes) -> m.IndexSnapshot | None:
        return None

    def bucket_digests(self) -> bytes:
        return bytes(m.BUCKETS * 8)

    def doc_versions(self, buckets: bytes) -> list[tuple[bytes, bytes]]:
        return []

    def doc_batches(self, buckets: bytes, peer_versions: dict[bytes, bytes]) -> Iterator[list[tuple[bytes, bytes]]]:
        yield from ()

    def local_addrs(self) -> list[str]:
        return []

    def accept_pairing(self, peer: str, vault_id: bytes, secret: bytes) -> bool:
        return False


@dataclass
class Link:
    """Two sessions and the messages each has sent, delivered at once through the real codec."""

    d: Session
    a: Session
    events: dict[str, list[object]] = field(default_factory=lambda: {"d": [], "a": []})
    sent: dict[str, list[m.Message]] = field(default_factory=lambda: {"d": [], "a": []})

    def side(self, name: str) -> tuple[Session, Session, str]:
        return (self.d, self.a, "a") if name == "d" else (self.a, self.d, "d")

    def deliver(self, name: str, now: float, out: list[m.Message]) -> None:
        """`name` sent `out` at `now`: the other side receives it, and so on until quiet."""
        self.flow(now, [(name, msg) for msg in out])

    def flow(self, now: float, queue: list[tuple[str, m.Message]]) -> None:
        """Deliver (sender, message) pairs in order, and the replies after them, until quiet."""
        while queue:
            sender, msg = queue.pop(0)
            self.sent[sender].append(msg)
            _, peer, peer_name = self.side(sender)
            reply, events = peer.receive(now, m.decode(m.encode(msg)))
            self.events[peer_name] += events
            queue += [(peer_name, r) for r in reply]

    def tick(self, name: str, now: float) -> tuple[list[m.Message], list[object]]:
        me, _, _ = self.side(name)
        out, events = me.tick(now)
        self.events[name] += events
        self.deliver(name, now, out)
        return out, events

    def push(self, name: str, now: float, msg: m.IndexUpdates | m.DocUpdates) -> None:
        me, _, _ = self.side(name)
        self.deliver(name, now, me.push(now, msg))


def session(*, dialer: bool, idle: float | None, heartbeat: float = HEARTBEAT, silent: float = SILENT) -> Session:
    return Session(
        FakeReplica(),
        peer="a" if dialer else "d",
        dialer=dialer,
        paired=True,
        now=0.0,
        heartbeat_interval=heartbeat,
        silent_timeout=silent,
        idle_suspend=idle,
    )


def live_link(idle: float | None = IDLE, heartbeat: float = HEARTBEAT, silent: float = SILENT) -> Link:
    """Both sides LIVE at t=1 after a handshake without vault data (last data: t=0)."""
    link = Link(
        session(dialer=True, idle=idle, heartbeat=heartbeat, silent=silent),
        session(dialer=False, idle=idle, heartbeat=heartbeat, silent=silent),
    )
    # both sides say HELLO as soon as the connection is up, then messages cross
    link.flow(1.0, [("d", x) for x in link.d.start(1.0)] + [("a", x) for x in link.a.start(1.0)])
    assert link.d.state is State.LIVE and link.a.state is State.LIVE
    assert link.d.last_data == link.a.last_data == 0.0
    link.events = {"d": [], "a": []}
    link.sent = {"d": [], "a": []}
    return link


def run_quiet(link: Link, start: float, end: float, step: float = 10.0) -> None:
    """Tick both sides from `start` up to (not including) `end`: only heartbeats may flow."""
    before = {name: len(link.sent[name]) for name in ("d", "a")}
    t = start
    while t < end:
        for name in ("d", "a"):
            out, events = link.tick(name, t)
            assert events == []
            assert all(isinstance(x, m.Ping) for x in out)
        t += step
    for name in ("d", "a"):
        assert all(isinstance(x, (m.Ping, m.Pong)) for x in link.sent[name][before[name] :])
        assert link.events[name] == []
    assert link.d.live and link.a.live


def assert_suspended(link: Link, name: str, now: float) -> None:
    me, peer, peer_name = link.side(name)
    out, events = link.tick(name, now)
    assert len(out) == 1 and isinstance(out[0], m.Refused) and out[0].code == Code.IDLE
    assert len(events) == 1 and isinstance(events[0], Close) and events[0].code == Code.IDLE
    assert me.state is State.CLOSED
    # the peer learns why and closes too, with the same code
    assert peer.state is State.CLOSED
    assert [e.code for e in link.events[peer_name] if isinstance(e, Close)] == [Code.IDLE]


# ------------------------------------------------------------------------------- suspension
def test_quiet_live_session_only_pings_until_idle_then_suspends() -> None:
    link = live_link()
    run_quiet(link, 10.0, IDLE)
    pings = [x for x in link.sent["d"] if isinstance(x, m.Ping)]
    assert len(pings) >= 4  # heartbeats flowed every HEARTBEAT s without keeping the link up
    out, events = link.d.tick(IDLE - 0.001)
    assert events == [] and all(isinstance(x, m.Ping) for x in out)
    assert_suspended(link, "d", IDLE)


def test_pings_are_sent_only_as_due() -> None:
    sess = live_link(silent=10_000.0).d
    last = sess.last_sent
    assert sess.tick(last + HEARTBEAT - 0.01) == ([], [])
    assert sess.tick(last + HEARTBEAT) == ([m.Ping()], [])
    assert sess.tick(last + HEARTBEAT + 1.0) == ([], [])
    assert sess.tick(last + 2 * HEARTBEAT) == ([m.Ping()], [])
    assert sess.live


def test_idle_suspension_is_reported_even_when_a_ping_is_due() -> None:
    sess = live_link(silent=10_000.0).d
    out, events = sess.tick(IDLE + 5 * HEARTBEAT)
    assert len(out) == 1 and isinstance(out[0], m.Refused) and out[0].code == Code.IDLE
    assert len(events) == 1 and isinstance(events[0], Close) and events[0].code == Code.IDLE
    assert sess.tick(IDLE + 6 * HEARTBEAT) == ([], [])  # closed for good


UPDATES = [
    m.IndexUpdates(b"index-ops"),
    m.DocUpdates(((b"\x07" * 16, b"doc-ops"),)),
]


@pytest.mark.parametrize("msg", UPDATES, ids=["index", "docs"])
def test_pushing_and_receiving_vault_data_resets_the_idle_clock(msg: m.IndexUpdates | m.DocUpdates) -> None:
    link = live_link()
    run_quiet(link, 10.0, 200.0)
    link.push("d", 200.0, msg)
    assert link.d.last_data == 200.0  # pushed
    assert link.a.last_data == 200.0  # received
    assert link.events["a"] == [Received(msg)]
    link.events["a"] = []
    run_quiet(link, 210.0, 200.0 + IDLE)  # well past the first idle deadline
    assert_suspended(link, "a", 200.0 + IDLE)


@pytest.mark.parametrize("msg", UPDATES, ids=["index", "docs"])
def test_pushing_alone_keeps_the_pusher_up(msg: m.IndexUpdates | m.DocUpdates) -> None:
    sess = live_link(silent=10_000.0).d
    assert sess.push(250.0, msg) == [msg]
    assert sess.tick(IDLE)[1] == []
    assert sess.tick(250.0 + IDLE - 0.01)[1] == []
    assert [e.code for e in sess.tick(250.0 + IDLE)[1] if isinstance(e, Close)] == [Code.IDLE]


@pytest.mark.parametrize("msg", UPDATES, ids=["index", "docs"])
def test_receiving_alone_keeps_the_receiver_up(msg: m.IndexUpdates | m.DocUpdates) -> None:
    sess = live_link(silent=10_000.0).a
    out, events = sess.receive(250.0, msg)
    assert out == [] and events == [Received(msg)]
    assert sess.tick(IDLE)[1] == []
    assert [e.code for e in sess.tick(250.0 + IDLE)[1] if isinstance(e, Close)] == [Code.IDLE]


def test_heartbeats_do_not_reset_the_idle_clock() -> None:
    sess = live_link(silent=10_000.0).d
    for t in (50.0, 100.0, 150.0, 200.0, 250.0, 299.0):
        assert sess.receive(t, m.Ping()) == ([m.Pong()], [])
        sess.receive(t, m.Pong())
    assert sess.last_data == 0.0
    assert [e.code for e in sess.tick(IDLE)[1] if isinstance(e, Close)] == [Code.IDLE]


def test_without_idle_suspend_a_quiet_session_is_never_suspended() -> None:
    link = live_link(idle=None)
    run_quiet(link, 10.0, 20 * IDLE, step=25.0)
    assert link.d.live and link.a.live
    assert not any(isinstance(x, m.Refused) for x in link.sent["d"] + link.sent["a"])


def test_a_session_still_syncing_is_not_suspended() -> None:
    sess = session(dialer=False, idle=IDLE, silent=10_000.0)
    sess.start(0.0)
    sess.receive(0.0, m.Hello(m.PROTOCOL_VERSION, VAULT, (), b"", bytes(m.BUCKETS * 8)))
    assert sess.state is State.SYNCING
    for t in (IDLE, 2 * IDLE, 3 * IDLE):
        out, events = sess.tick(t)
        assert events == [] and all(isinstance(x, m.Ping) for x in out)
    assert sess.state is State.SYNCING


# ------------------------------------------------------------------------------- next_deadline
def test_next_deadline_is_the_heartbeat_when_that_comes_first() -> None:
    sess = live_link().d
    assert sess.last_sent == 1.0 and sess.last_received == 1.0 and sess.last_data == 0.0
    assert sess.next_deadline() == 1.0 + HEARTBEAT


def test_next_deadline_is_the_silence_timeout_when_that_comes_first() -> None:
    sess = live_link(heartbeat=1000.0, silent=100.0).d
    assert sess.next_deadline() == 1.0 + 100.0


def test_next_deadline_is_the_idle_suspension_when_that_comes_first() -> None:
    sess = live_link(heartbeat=1000.0, silent=2000.0).d
    assert sess.next_deadline() == 0.0 + IDLE
    # and tick does act at that deadline, not before
    assert sess.tick(sess.next_deadline() - 0.01) == ([], [])
    assert [e.code for e in sess.tick(IDLE)[1] if isinstance(e, Close)] == [Code.IDLE]


def test_next_deadline_follows_the_latest_activity() -> None:
    sess = live_link(heartbeat=1000.0, silent=2000.0).d
    sess.push(120.0, m.IndexUpdates(b"x"))  # sends and counts as data
    assert sess.next_deadline() == 120.0 + IDLE
    sess.receive(130.0, m.Ping())  # answered with a Pong at 130
    assert sess.next_deadline() == min(130.0 + 1000.0, 130.0 + 2000.0, 120.0 + IDLE)
    assert sess.next_deadline() == 420.0


def test_next_deadline_ignores_idle_when_not_live() -> None:
    sess = session(dialer=False, idle=IDLE, heartbeat=1000.0, silent=2000.0)
    assert sess.state is State.AWAIT_HELLO
    assert sess.next_deadline() == 0.0 + 1000.0
    sess.receive(5.0, m.Hello(m.PROTOCOL_VERSION, VAULT, (), b"", bytes(m.BUCKETS * 8)))  # replies at 5
    assert sess.state is State.SYNCING
    assert sess.next_deadline() == 5.0 + 1000.0


def test_next_deadline_without_idle_suspend() -> None:
    sess = live_link(idle=None, heartbeat=1000.0, silent=2000.0).d
    assert sess.next_deadline() == 1.0 + 1000.0
