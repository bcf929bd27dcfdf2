"""The sans-I/O session state machine, driven pairwise against an in-memory fake replica."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import pytest

from peervault.protocol import messages as m
from peervault.protocol import session as s
from peervault.protocol.codes import REMOVED_REASON, Code
from peervault.protocol.entryrows import encode_rows
from peervault.protocol.session import Close, Paired, PeerHello, Received, Session, State, Synced

VAULT = bytes(range(16))
OTHER_VAULT = bytes(range(16, 32))
SECRET = b"S" * 16


# ------------------------------------------------------------------------------- fake replica
def _enc(ops: Iterable[str]) -> bytes:
    return json.dumps(sorted(ops)).encode()


def _dec(b: bytes) -> set[str]:
    return set(json.loads(b)) if b else set()


@dataclass
class FakeReplica:
    """Index and docs are grow-only sets of op names; a "version" is the encoded set."""

    vault_id: bytes = VAULT
    index: set[str] = field(default_factory=set)
    docs: dict[bytes, set[str]] = field(default_factory=dict)
    invites: set[bytes] = field(default_factory=set)
    addrs: list[str] = field(default_factory=lambda: ["127.0.0.1:1"])
    paired_with: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    whole: bool = False  # the index is saved whole: a peer with none gets INDEX_SNAPSHOT

    def index_vv(self) -> bytes:
        return _enc(self.index)

    def index_updates_since(self, vv: bytes) -> bytes | None:
        missing = self.index - _dec(vv)
        return _enc(missing) if missing else None

    def index_saved_whole(self, vv: bytes) -> m.IndexSnapshot | None:
        """With `whole`: the index "as saved", to a peer with none (the engine's wholeindex.serve)."""
        if not self.whole or _dec(vv) or not self.index:
            return None
        blob = _enc(self.index)
        return m.IndexSnapshot(blob, blob, len(blob), (), encode_rows([]))

    def bucket_digests(self) -> bytes:
        buckets = [0] * m.BUCKETS
        for doc_id, ops in self.docs.items():
            buckets[doc_id[0]] ^= int.from_bytes(hashlib.blake2b(doc_id + _enc(ops), digest_size=8).digest(), "big")
        return b"".join(d.to_bytes(8, "big") for d in buckets)

    def doc_versions(self, buckets: bytes) -> list[tuple[bytes, bytes]]:
        self.calls.append(f"doc_versions {sorted(buckets)}")
        wanted = set(buckets)
        return [(d, _enc(ops)) for d, ops in sorted(self.docs.items()) if d[0] in wanted]

    def doc_batches(self, buckets: bytes, peer_versions: dict[bytes, bytes]) -> Iterator[list[tuple[bytes, bytes]]]:
        out = []
        for d, vv in self.doc_versions(buckets):
            missing = _dec(vv) - _dec(peer_versions.get(d, b""))
            if missing:
                out.append((d, _enc(missing)))
        for i in range(0, len(out), 2):  # two docs per batch: windows get exercised
            self.calls.append("batch")
            yield out[i : i + 2]

    def local_addrs(self) -> list[str]:
        return self.addrs

    def accept_pairing(self, peer: str, vault_id: bytes, secret: bytes) -> bool:
        if vault_id != self.vault_id or secret not in self.invites:
            return False
        self.invites.discard(secret)
        self.paired_with.append(peer)
        return True

    # what the engine does with Received events
    def apply(self, msg: m.IndexUpdates | m.DocUpdates | m.IndexSnapshot) -> None:
        if isinstance(msg, m.IndexSnapshot):
            self.index |= _dec(msg.snapshot)
        elif isinstance(msg, m.IndexUpdates):
            self.index |= _dec(msg.blob)
        else:
            for d, blob in msg.entries:
                self.docs.setdefault(d, set()).update(_dec(blob))


def doc_id(bucket: int, n: int) -> bytes:
    return bytes([bucket]) + n.to_bytes(15, "big")


# ------------------------------------------------------------------------------- driver
@dataclass
class Side:
    name: str
    session: Session
    replica: FakeReplica
    sent: list[m.Message] = field(default_factory=list)
    events: list[s.Event] = field(default_factory=list)


def pump(a: Side, b: Side, first: dict[str, list[m.Message]], now: float = 1.0, limit: int = 200) -> None:
    """Deliver messages both ways (FIFO, wire-encoded) until both sides are quiet."""
    queues: dict[str, list[m.Message]] = {a.name: [], b.name: []}  # messages in flight TO side
    for side, other in ((a, b), (b, a)):
        out = first.get(side.name, [])
        side.sent += out
        queues[other.name] += out
    steps = 0
    while queues[a.name] or queues[b.name]:
        steps += 1
        assert steps < limit, "sessions did not go quiet"
        for side, other in ((a, b), (b, a)):
            if not queues[side.name]:
                continue
            msg = queues[side.name].pop(0)
            msg = m.decode(m.encode(msg))  # everything goes through the real codec
            out, events = side.session.receive(now, msg)
            for ev in events:
                if isinstance(ev, Received):
                    side.replica.apply(ev.message)
            side.events += events
            side.sent += out
            queues[other.name] += out


def kinds(msgs: list[m.Message]) -> list[str]:
    return [type(x).__name__ for x in msgs]


def make_pair(
    rd: FakeReplica,
    ra: FakeReplica,
    *,
    dialer_paired: bool = True,
    acceptor_paired: bool = True,
    secret: bytes | None = None,
) -> tuple[Side, Side]:
    d = Side("dialer", Session(rd, peer="acceptor-id", dialer=True, paired=dialer_paired, now=0.0, pair_secret=secret), rd)
    a = Side("acceptor", Session(ra, peer="dialer-id", dialer=False, paired=acceptor_paired, now=0.0), ra)
    return d, a


def start(d: Side, a: Side) -> None:
    pump(d, a, {"dialer": d.session.start(0.5), "acceptor": a.session.start(0.5)})


# ------------------------------------------------------------------------------- handshake
def test_paired_handshake_identical_replicas() -> None:
    docs = {doc_id(3, 1): {"x1"}, doc_id(200, 2): {"y1", "y2"}}
    rd = FakeReplica(index={"i1"}, docs={k: set(v) for k, v in docs.items()})
    ra = FakeReplica(index={"i1"}, docs={k: set(v) for k, v in docs.items()})
    d, a = make_pair(rd, ra)
    start(d, a)
    for side in (d, a):
        assert kinds(side.sent) == ["Hello", "DocVersions", "Done", "DoneAck"]
        dv = side.sent[1]
        assert isinstance(dv, m.DocVersions) and dv.buckets == b"" and dv.entries == ()
        assert [type(e) for e in side.events] == [PeerHello, Synced]
        assert side.session.state is State.LIVE and side.session.live
    assert a.events[0] == PeerHello(("127.0.0.1:1",))
    hello = d.sent[0]
    assert isinstance(hello, m.Hello)
    assert hello.version == m.PROTOCOL_VERSION and hello.vault_id == VAULT
    assert hello.buckets == rd.bucket_digests() and hello.index_vv == rd.index_vv()


def test_paired_handshake_exchanges_what_each_side_lacks() -> None:
    rd = FakeReplica(index={"i1", "i2"}, docs={doc_id(1, 1): {"a", "b"}})
    ra = FakeReplica(index={"i1", "i3"}, docs={doc_id(1, 1): {"a", "c"}, doc_id(9, 1): {"z"}})
    d, a = make_pair(rd, ra)
    start(d, a)
    for side in (d, a):
        assert sorted(kinds(side.sent)) == sorted(
            ["Hello", "IndexUpdates", "DocVersions", "DocBatch", "BatchAck", "Done", "DoneAck"]
        )
        assert [type(e) for e in side.events] == [PeerHello, Received, Received, Synced]
        assert side.session.live
    # the dialer owed doc 1 op "b" only; the acceptor owed "c" on doc 1 and all of doc 9
    du_d = next(x for x in d.sent if isinstance(x, m.DocBatch))
    assert du_d.entries == ((doc_id(1, 1), _enc({"b"})),)
    du_a = next(x for x in a.sent if isinstance(x, m.DocBatch))
    assert dict(du_a.entries) == {doc_id(1, 1): _enc({"c"}), doc_id(9, 1): _enc({"z"})}
    assert rd.index == ra.index == {"i1", "i2", "i3"}
    assert rd.docs == ra.docs == {doc_id(1, 1): {"a", "b", "c"}, doc_id(9, 1): {"z"}}


def test_one_sided_difference_sends_no_empty_messages() -> None:
    rd = FakeReplica(index={"i1", "i2"}, docs={doc_id(1, 1): {"a", "b"}})
    ra = FakeReplica(index={"i1"}, docs={doc_id(1, 1): {"a"}})
    d, a = make_pair(rd, ra)
    start(d, a)
    assert kinds(d.sent) == ["Hello", "IndexUpdates", "DocVersions", "DocBatch", "DoneAck", "Done"]
    assert kinds(a.sent) == ["Hello", "DocVersions", "Done", "BatchAck", "DoneAck"]
    assert ra.docs == rd.docs and ra.index == rd.index
    assert Synced() in d.events and Synced() in a.events


def test_differing_bucket_sends_only_the_doc_the_peer_lacks() -> None:
    shared = {doc_id(b, n): {f"op{b}-{n}"} for b in range(0, 256, 5) for n in range(3)}
    extra = doc_id(10, 99)  # bucket 10 also holds three shared docs
    rd = FakeReplica(docs={k: set(v) for k, v in shared.items()} | {extra: {"new"}})
    ra = FakeReplica(docs={k: set(v) for k, v in shared.items()})
    d, a = make_pair(rd, ra)
    start(d, a)
    # only bucket 10 differs, and both sides list just that bucket's docs
    for side in (d, a):
        dv = next(x for x in side.sent if isinstance(x, m.DocVersions))
        assert dv.buckets == bytes([10])
    dv_a = next(x for x in a.sent if isinstance(x, m.DocVersions))
    assert {e[0] for e in dv_a.entries} == {doc_id(10, n) for n in range(3)}
    updates = [x for x in d.sent if isinstance(x, m.DocBatch)]
    assert len(updates) == 1 and len(updates[0].entries) == 1
    assert updates[0].entries[0][0] == extra
    assert not any(isinstance(x, m.DocBatch) for x in a.sent)
    assert ra.docs == rd.docs


def test_catch_up_batches_stay_within_the_window() -> None:
    rd = FakeReplica(docs={doc_id(7, n): {f"op{n}"} for n in range(10)})  # 5 batches of 2
    sender = Session(rd, peer="p", dialer=False, paired=True, now=0.0, window=3)
    sender.receive(0.0, m.Hello(m.PROTOCOL_VERSION, VAULT, (), b"", bytes(m.BUCKETS * 8)))
    out, _ = sender.receive(0.0, m.DocVersions(bytes([7]), ()))
    # one at first (INDEX_SNAPSHOT may still be on its way), then the window opens per ack
    assert kinds(out) == ["DocBatch"] and sender.inflight == 1
    assert rd.calls.count("batch") == 1  # produced lazily: nothing computed beyond the window
    out, _ = sender.receive(0.0, m.BatchAck(1))
    assert [x.seq for x in out] == [2, 3] and sender.inflight == 2  # type: ignore[union-attr]
    out, _ = sender.receive(0.0, m.BatchAck(2))
    assert [x.seq for x in out] == [4, 5] and sender.inflight == 3  # type: ignore[union-attr]
    assert rd.calls.count("batch") == 5
    for seq in (3, 4):
        out, _ = sender.receive(0.0, m.BatchAck(seq))
        assert out == []  # the last batch is still unacknowledged: no DONE yet
    out, _ = sender.receive(0.0, m.BatchAck(5))
    assert kinds(out) == ["Done"]


def test_catch_up_window_never_exceeds_its_size() -> None:
    rd = FakeReplica(docs={doc_id(7, n): {f"op{n}"} for n in range(40)})  # 20 batches of 2
    sender = Session(rd, peer="p", dialer=False, paired=True, now=0.0, window=3)
    sender.receive(0.0, m.Hello(m.PROTOCOL_VERSION, VAULT, (), b"", bytes(m.BUCKETS * 8)))
    out, _ = sender.receive(0.0, m.DocVersions(bytes([7]), ()))
    sent, acked, most = len(out), 0, sender.inflight
    while acked < sent:
        acked += 1
        out, _ = sender.receive(0.0, m.BatchAck(acked))
        sent += sum(isinstance(x, m.DocBatch) for x in out)
        most = max(most, sender.inflight)
    assert sent == 20 and most == 3 and kinds(out) == ["Done"]


def test_ack_for_a_batch_never_sent_is_a_protocol_error() -> None:
    sess = Session(FakeReplica(), peer="p", dialer=False, paired=True, now=0.0)
    sess.receive(0.0, m.Hello(m.PROTOCOL_VERSION, VAULT, (), b"", bytes(m.BUCKETS * 8)))
    out, events = sess.receive(0.0, m.BatchAck(1))
    assert kinds(out) == ["Refused"] and isinstance(events[0], s.Close) and events[0].code == 400


def test_received_batch_is_acknowledged_and_applied_as_updates() -> None:
    sess = Session(FakeReplica(), peer="p", dialer=False, paired=True, now=0.0)
    sess.receive(0.0, m.Hello(m.PROTOCOL_VERSION, VAULT, (), b"", bytes(m.BUCKETS * 8)))
    entries = ((doc_id(3, 1), _enc({"x"})),)
    out, events = sess.receive(0.0, m.DocBatch(7, entries))
    assert out == [m.BatchAck(7)] and events == [Received(m.DocUpdates(entries))]


def test_batch_updates_helper() -> None:
    assert m.batch_updates([]) == []
    big = (b"i" * 16, b"x" * (m.MAX_UPDATES_PER_MESSAGE + 1))
    small = (b"j" * 16, b"y")
    assert m.batch_updates([small, big, small]) == [[small], [big], [small]]
    assert m.batch_updates([small, small]) == [[small, small]]


# ------------------------------------------------------------------------------- pairing
def test_pairing_with_valid_secret() -> None:
    rd = FakeReplica(docs={doc_id(1, 1): {"mine"}})
    ra = FakeReplica(invites={SECRET}, docs={doc_id(2, 1): {"theirs"}})
    d, a = make_pair(rd, ra, dialer_paired=False, acceptor_paired=False, secret=SECRET)
    assert d.session.state is State.AWAIT_PAIR_OK and a.session.state is State.AWAIT_PAIR
    start(d, a)
    assert sorted(kinds(d.sent)) == sorted(["Pair", "Hello", "DocVersions", "DocBatch", "BatchAck", "Done", "DoneAck"])
    assert sorted(kinds(a.sent)) == sorted(["PairOk", "Hello", "DocVersions", "DocBatch", "BatchAck", "Done", "DoneAck"])
    pair = d.sent[0]
    assert pair == m.Pair(VAULT, SECRET)
    assert a.sent[0] == m.PairOk(VAULT)
    assert d.events[0] == Paired(VAULT) and a.events[0] == Paired(VAULT)
    assert Synced() in d.events and Synced() in a.events
    assert ra.paired_with == ["dialer-id"]
    assert ra.invites == set()  # single use
    assert rd.docs == ra.docs


def test_pairing_dial_without_secret_is_a_programming_error() -> None:
    sess = Session(FakeReplica(), peer="p", dialer=True, paired=False, now=0.0)
    with pytest.raises(ValueError):
        sess.start(0.0)


def _assert_no_vault_data(msgs: list[m.Message]) -> None:
    assert not any(isinstance(x, (m.Hello, m.IndexUpdates, m.DocVersions, m.DocUpdates, m.PairOk)) for x in msgs)


def test_unknown_peer_sending_hello_first_is_refused() -> None:
    rd = FakeReplica()
    ra = FakeReplica(docs={doc_id(5, 5): {"secret-note"}}, index={"i"})
    d, a = make_pair(rd, ra, dialer_paired=True, acceptor_paired=False)
    start(d, a)
    assert kinds(a.sent) == ["Refused"]
    refused = a.sent[0]
    assert isinstance(refused, m.Refused) and refused.code == Code.UNKNOWN_PEER == 403
    _assert_no_vault_data(a.sent)
    assert a.events == [Close(403, refused.reason)]  # our own decision
    assert d.events == [Close(403, f"peer refused: {refused.reason}", by_peer=True)]  # told by the peer
    assert a.session.state is State.CLOSED and d.session.state is State.CLOSED
    assert rd.docs == {} and rd.index == set()
    assert ra.paired_with == []


@pytest.mark.parametrize(
    "msg", [m.DocUpdates(((b"\x05" * 16, b"[]"),)), m.IndexUpdates(b"[]"), m.Done(), m.PairOk(VAULT), m.Ping(), m.Pong()]
)
def test_unknown_peer_sending_anything_but_pair_is_refused(msg: m.Message) -> None:
    """A PING included: a stranger gets no PONG, so it cannot keep itself connected."""
    ra = FakeReplica(docs={doc_id(5, 5): {"x"}})
    sess = Session(ra, peer="stranger", dialer=False, paired=False, now=0.0)
    assert sess.start(0.0) == []
    out, events = sess.receive(1.0, msg)
    assert [type(x) for x in out] == [m.Refused] and out[0].code == 403  # type: ignore[union-attr]
    assert [type(e) for e in events] == [Close]
    assert ra.docs == {doc_id(5, 5): {"x"}}
    assert sess.receive(2.0, m.Pair(VAULT, SECRET)) == ([], [])  # closed for good


def test_wrong_secret_is_refused() -> None:
    rd = FakeReplica()
    ra = FakeReplica(invites={SECRET}, docs={doc_id(1, 1): {"x"}})
    d, a = make_pair(rd, ra, dialer_paired=False, acceptor_paired=False, secret=b"W" * 16)
    start(d, a)
    assert kinds(d.sent) == ["Pair"]
    assert kinds(a.sent) == ["Refused"]
    assert a.sent[0].code == 403  # type: ignore[union-attr]
    _assert_no_vault_data(a.sent)
    assert not any(isinstance(e, Paired) for e in a.events + d.events)
    assert d.events and isinstance(d.events[-1], Close) and d.events[-1].code == 403
    assert ra.invites == {SECRET}  # not consumed
    assert rd.docs == {}


def test_pair_for_another_vault_is_refused_even_with_valid_secret() -> None:
    rd = FakeReplica(vault_id=OTHER_VAULT)
    ra = FakeReplica(invites={SECRET})
    d, a = make_pair(rd, ra, dialer_paired=False, acceptor_paired=False, secret=SECRET)
    start(d, a)
    assert kinds(a.sent) == ["Refused"] and a.sent[0].code == 403  # type: ignore[union-attr]
    assert ra.invites == {SECRET}


def test_pair_ok_for_another_vault_is_a_protocol_error() -> None:
    sess = Session(FakeReplica(), peer="p", dialer=True, paired=False, now=0.0, pair_secret=SECRET)
    sess.start(0.0)
    out, events = sess.receive(1.0, m.PairOk(OTHER_VAULT))
    assert kinds(out) == ["Refused"] and out[0].code == Code.PROTOCOL == 400  # type: ignore[union-attr]
    assert [type(e) for e in events] == [Close]
    assert sess.state is State.CLOSED


def test_wrong_vault_in_hello_is_refused() -> None:
    rd = FakeReplica(vault_id=OTHER_VAULT, docs={doc_id(1, 1): {"d"}})
    ra = FakeReplica(docs={doc_id(1, 1): {"a"}})
    d, a = make_pair(rd, ra)
    start(d, a)
    # the dialer said HELLO (no note content); the acceptor refuses it before saying its own
    assert kinds(d.sent) == ["Hello"] and kinds(a.sent) == ["Refused"]
    assert a.sent[0].code == Code.WRONG_VAULT == 404  # type: ignore[union-attr]
    assert Close(404, "this device belongs to a different vault") in a.events
    assert Close(404, "peer refused: this device belongs to a different vault", by_peer=True) in d.events
    for side in (d, a):
        assert side.session.state is State.CLOSED
        assert not any(isinstance(e, (Synced, Received)) for e in side.events)
    assert rd.docs == {doc_id(1, 1): {"d"}} and ra.docs == {doc_id(1, 1): {"a"}}


def test_protocol_version_mismatch_is_refused() -> None:
    ra = FakeReplica(docs={doc_id(1, 1): {"a"}})
    sess = Session(ra, peer="p", dialer=False, paired=True, now=0.0)
    sess.start(0.0)
    hello = m.Hello(m.PROTOCOL_VERSION + 1, VAULT, (), b"", bytes(m.BUCKETS * 8))
    out, events = sess.receive(1.0, hello)
    assert kinds(out) == ["Refused"]
    assert out[0].code == Code.VERSION == 426  # type: ignore[union-attr]
    assert events == [Close(426, f"protocol version {m.PROTOCOL_VERSION + 1} is not supported")]
    assert sess.state is State.CLOSED


def test_message_before_hello_is_a_protocol_error() -> None:
    sess = Session(FakeReplica(), peer="p", dialer=False, paired=True, now=0.0)
    sess.start(0.0)
    out, events = sess.receive(1.0, m.DocUpdates(()))
    assert kinds(out) == ["Refused"] and out[0].code == 400  # type: ignore[union-attr]
    assert [type(e) for e in events] == [Close]


def test_unexpected_message_when_live_is_a_protocol_error() -> None:
    d, a = make_pair(FakeReplica(), FakeReplica())
    start(d, a)
    assert d.session.live
    out, events = d.session.receive(2.0, m.Hello(m.PROTOCOL_VERSION, VAULT, (), b"", bytes(m.BUCKETS * 8)))
    assert kinds(out) == ["Refused"] and out[0].code == 400  # type: ignore[union-attr]
    assert [type(e) for e in events] == [Close]


def test_live_updates_are_received() -> None:
    d, a = make_pair(FakeReplica(), FakeReplica())
    start(d, a)
    msg = m.DocUpdates(((doc_id(4, 4), _enc({"live"})),))
    out = d.session.push(3.0, msg)
    assert out == [msg]
    reply, events = a.session.receive(3.1, out[0])
    assert reply == [] and events == [Received(msg)]


# ------------------------------------------------------------------------------- heartbeat
def test_heartbeat_ping_and_silent_close() -> None:
    sess = Session(FakeReplica(), peer="p", dialer=True, paired=True, now=0.0, heartbeat_interval=2.5, silent_timeout=10.0)
    sess.start(0.0)  # last_sent = 0
    assert sess.tick(1.0) == ([], [])
    assert sess.tick(2.4) == ([], [])
    assert sess.tick(2.5) == ([m.Ping()], [])
    assert sess.tick(3.0) == ([], [])  # the ping counts as sending
    assert sess.tick(5.0) == ([m.Ping()], [])
    assert sess.tick(6.0) == ([], [])
    assert sess.tick(10.0) == ([m.Ping()], [])  # silent for exactly 10 s: still only a ping
    out, events = sess.tick(10.01)
    assert out == [] and len(events) == 1
    assert isinstance(events[0], Close) and events[0].code == Code.SILENT == 408
    assert sess.state is State.CLOSED
    assert sess.tick(100.0) == ([], [])


def test_receiving_keeps_the_session_alive_and_ping_gets_pong() -> None:
    sess = Session(FakeReplica(), peer="p", dialer=True, paired=True, now=0.0, heartbeat_interval=2.5, silent_timeout=10.0)
    sess.start(0.0)
    for t in (3.0, 6.0, 9.0, 12.0, 15.0):
        out, events = sess.receive(t, m.Ping())
        assert out == [m.Pong()] and events == []
    assert sess.receive(16.0, m.Pong()) == ([], [])
    assert sess.tick(25.0)[1] == []  # last received 16.0: 9 s of silence
    assert [type(e) for e in sess.tick(26.5)[1]] == [Close]


def test_sending_pushes_back_the_heartbeat() -> None:
    sess = Session(FakeReplica(), peer="p", dialer=True, paired=True, now=0.0, heartbeat_interval=2.5)
    sess.start(0.0)
    sess.receive(0.1, m.Hello(m.PROTOCOL_VERSION, VAULT, (), b"", FakeReplica().bucket_digests()))  # replies at 0.1
    assert sess.push(2.0, m.IndexUpdates(b"[]")) == [m.IndexUpdates(b"[]")]
    assert sess.tick(4.0) == ([], [])
    assert sess.tick(4.5) == ([m.Ping()], [])


def test_an_acceptor_that_hears_the_dialers_pings_never_pings_itself() -> None:
    """So an idle link carries one PING and one PONG per interval. Both sides' timers fire
    together (each set for 5 s after its last send, and the acceptor's last send was the
    PONG to the dialer's PING): before, each side sent a PING and a PONG every interval."""
    sess = Session(FakeReplica(), peer="p", dialer=False, paired=True, now=0.0, heartbeat_interval=5.0, silent_timeout=15.0)
    t = 0.0
    for late in (0.012, 0.3, 1.0, 2.4, 0.0):  # the dialer's PINGs, a little late (its timer, the network)
        assert sess.tick(t + 5.0) == ([], [])  # the acceptor's old deadline: nothing now
        t += 5.0 + late
        assert sess.receive(t, m.Ping()) == ([m.Pong()], [])
        assert sess.next_deadline() == t + 7.5
    dialer = Session(FakeReplica(), peer="p", dialer=True, paired=True, now=0.0, heartbeat_interval=5.0, silent_timeout=15.0)
    dialer.receive(0.0, m.Ping())  # the dialer answers the acceptor's PING too, and keeps pinging
    assert dialer.tick(5.0) == ([m.Ping()], [])


def test_an_acceptor_pings_when_the_dialers_pings_are_late_and_notices_a_dead_one() -> None:
    sess = Session(FakeReplica(), peer="p", dialer=False, paired=True, now=0.0, heartbeat_interval=5.0, silent_timeout=15.0)
    assert sess.receive(1.0, m.Ping()) == ([m.Pong()], [])
    assert sess.tick(8.4) == ([], [])  # 7.4 s since the dialer was heard
    assert sess.tick(8.5) == ([m.Ping()], [])  # 7.5 s: its PINGs are late (an older or low-power peer)
    assert sess.next_deadline() == 13.5
    assert sess.tick(13.5) == ([m.Ping()], [])
    assert [type(e) for e in sess.tick(16.01)[1]] == [Close]  # silent 15 s: closed, as before


def test_an_acceptor_with_a_short_silence_pings_before_it_would_close() -> None:
    sess = Session(FakeReplica(), peer="p", dialer=False, paired=True, now=0.0, heartbeat_interval=10.0, silent_timeout=15.0)
    assert sess.next_deadline() == 10.0  # not 15 (1.5 intervals), when it would already close
    assert sess.tick(10.0) == ([m.Ping()], [])


# ------------------------------------------------------------------------------- push
def test_push_before_hello_is_dropped_and_after_passes() -> None:
    msg = m.IndexUpdates(b'["x"]')
    sess = Session(FakeReplica(), peer="p", dialer=True, paired=True, now=0.0)
    assert sess.push(0.1, msg) == []
    sess.start(0.2)
    assert sess.push(0.3, msg) == [msg]
    assert sess.last_sent == 0.3


def test_push_while_pairing_is_dropped() -> None:
    msg = m.DocUpdates(())
    dialer = Session(FakeReplica(), peer="p", dialer=True, paired=False, now=0.0, pair_secret=SECRET)
    dialer.start(0.0)
    assert dialer.push(0.1, msg) == []
    acceptor = Session(FakeReplica(invites={SECRET}), peer="p", dialer=False, paired=False, now=0.0)
    acceptor.start(0.0)
    assert acceptor.push(0.1, msg) == []
    acceptor.receive(0.2, m.Pair(VAULT, SECRET))
    assert acceptor.push(0.25, msg) == []  # paired, but it says HELLO only in answer to the dialer's
    acceptor.receive(0.28, m.Hello(m.PROTOCOL_VERSION, VAULT, (), b"", bytes(m.BUCKETS * 8)))  # now it has
    assert acceptor.push(0.3, msg) == [msg]


def test_push_after_close_is_dropped() -> None:
    sess = Session(FakeReplica(), peer="p", dialer=True, paired=True, now=0.0)
    sess.start(0.0)
    sess.receive(1.0, m.Refused(403, "go away"))
    assert sess.state is State.CLOSED
    assert sess.push(2.0, m.IndexUpdates(b"x")) == []
    assert sess.receive(3.0, m.Ping()) == ([], [])


# ------------------------------------------------------------------------------- pairing deadline
def test_unpaired_acceptor_is_closed_at_the_pairing_deadline() -> None:
    ra = FakeReplica(invites={SECRET})
    sess = Session(ra, peer="stranger", dialer=False, paired=False, now=100.0, heartbeat_interval=1.0, pair_timeout=5.0)
    assert sess.next_deadline() == 105.0  # the daemon's timer wakes for it
    for t in (101.0, 102.5, 104.99):
        assert sess.tick(t) == ([], [])  # and no heartbeat PING to a stranger meanwhile
        assert sess.next_deadline() == 105.0  # fixed at opening
    out, events = sess.tick(105.0)
    assert out == [m.Refused(403, "unknown device: did not pair within 5 s")]
    assert events == [Close(403, "unknown device: did not pair within 5 s")]
    assert sess.state is State.CLOSED


def test_pair_arriving_after_the_deadline_is_refused_even_before_the_timer_fires() -> None:
    ra = FakeReplica(invites={SECRET})
    sess = Session(ra, peer="late", dialer=False, paired=False, now=0.0, pair_timeout=5.0)
    out, events = sess.receive(5.2, m.Pair(VAULT, SECRET))  # the tick was late; the deadline is not
    assert kinds(out) == ["Refused"] and out[0].code == 403  # type: ignore[union-attr]
    assert [type(e) for e in events] == [Close]
    assert ra.invites == {SECRET} and ra.paired_with == []  # the ticket is not spent


def test_pairing_in_time_lifts_the_deadline() -> None:
    ra = FakeReplica(invites={SECRET})
    sess = Session(ra, peer="joiner", dialer=False, paired=False, now=0.0, heartbeat_interval=2.0, pair_timeout=5.0)
    out, events = sess.receive(4.9, m.Pair(VAULT, SECRET))
    assert kinds(out) == ["PairOk"] and events == [Paired(VAULT)]  # its HELLO answers the dialer's
    # the heartbeat, no longer the pairing deadline (an acceptor's: the dialer's PINGs late by half an interval)
    assert sess.paired and sess.next_deadline() == 4.9 + 2.0 * 1.5
    assert sess.tick(7.9) == ([m.Ping()], [])  # a paired peer is kept, and pinged
    assert sess.receive(8.5, m.Ping()) == ([m.Pong()], [])


def test_pairing_dialer_without_pair_ok_gives_up_at_the_deadline() -> None:
    sess = Session(FakeReplica(), peer="inviter", dialer=True, paired=False, now=10.0, pair_secret=SECRET, heartbeat_interval=1.0)
    assert kinds(sess.start(10.0)) == ["Pair"]
    assert sess.next_deadline() == 15.0
    assert sess.tick(14.0) == ([], [])
    out, events = sess.tick(15.0)
    assert out == [m.Refused(408, "no PAIR_OK within 5 s")] and events == [Close(408, "no PAIR_OK within 5 s")]


def test_ping_to_a_pairing_dialer_is_out_of_order() -> None:
    sess = Session(FakeReplica(), peer="inviter", dialer=True, paired=False, now=0.0, pair_secret=SECRET)
    sess.start(0.0)
    out, events = sess.receive(1.0, m.Ping())
    assert kinds(out) == ["Refused"] and out[0].code == 400  # type: ignore[union-attr]
    assert [e.code for e in events if isinstance(e, Close)] == [400]


# ------------------------------------------------------------------------------- removed device
def test_removed_device_is_refused_with_410_and_no_vault_data() -> None:
    rd = FakeReplica()
    ra = FakeReplica(docs={doc_id(5, 5): {"secret-note"}}, index={"i"})
    d = Side("dialer", Session(rd, peer="acceptor-id", dialer=True, paired=True, now=0.0), rd)
    a = Side("acceptor", Session(ra, peer="dialer-id", dialer=False, paired=False, now=0.0, removed=True), ra)
    start(d, a)
    assert kinds(a.sent) == ["Refused"]
    refused = a.sent[0]
    assert isinstance(refused, m.Refused) and refused.code == Code.REMOVED == 410
    assert refused.reason.startswith(REMOVED_REASON)
    _assert_no_vault_data(a.sent)
    assert a.events == [Close(410, refused.reason)]  # not "by peer": the acceptor was not removed
    assert d.events == [Close(410, f"peer refused: {refused.reason}", by_peer=True)]  # the dialer was
    assert rd.docs == {} and rd.index == set()


def test_removed_device_that_says_nothing_is_refused_with_410_at_the_deadline() -> None:
    sess = Session(FakeReplica(), peer="gone", dialer=False, paired=False, now=0.0, pair_timeout=5.0, removed=True)
    out, events = sess.tick(5.0)
    assert out == [m.Refused(410, f"{REMOVED_REASON}: did not pair within 5 s")]
    assert [(e.code, e.by_peer) for e in events if isinstance(e, Close)] == [(410, False)]


def test_removed_device_with_a_new_ticket_may_pair_again() -> None:
    ra = FakeReplica(invites={SECRET})
    sess = Session(ra, peer="back", dialer=False, paired=False, now=0.0, removed=True)
    out, events = sess.receive(1.0, m.Pair(VAULT, SECRET))
    assert kinds(out) == ["PairOk"] and events == [Paired(VAULT)]
    assert ra.paired_with == ["back"]
    bad = Session(FakeReplica(invites={SECRET}), peer="back", dialer=False, paired=False, now=0.0, removed=True)
    out, _ = bad.receive(1.0, m.Pair(VAULT, b"W" * 16))
    assert out == [m.Refused(403, "pairing ticket is invalid, used or expired")]


# ------------------------------------------------------------------------------- version 4
class Version3Session(Session):
    """A peer from before INDEX_SNAPSHOT, as far as what it announces goes."""

    def _hello(self) -> m.Hello:
        hello = super()._hello()
        return m.Hello(3, hello.vault_id, hello.addrs, hello.index_vv, hello.buckets)


def _joining(rd: FakeReplica, ra: FakeReplica, dialer_version: int = m.PROTOCOL_VERSION) -> tuple[Side, Side]:
    kind = Version3Session if dialer_version == 3 else Session
    d = Side("dialer", kind(rd, peer="acceptor-id", dialer=True, paired=True, now=0.0), rd)
    a = Side("acceptor", Session(ra, peer="dialer-id", dialer=False, paired=True, now=0.0), ra)
    return d, a


def test_a_joining_version_4_peer_gets_the_index_as_saved_instead_of_updates() -> None:
    d, a = _joining(FakeReplica(), FakeReplica(index={"i1", "i2"}, whole=True))
    start(d, a)
    assert kinds(a.sent)[:2] == ["Hello", "IndexSnapshot"] and "IndexUpdates" not in kinds(a.sent)
    assert d.replica.index == {"i1", "i2"}
    assert d.session.live and a.session.live and a.session.peer_version == m.PROTOCOL_VERSION


def test_a_version_3_peer_joining_gets_index_updates_as_before() -> None:
    d, a = _joining(FakeReplica(), FakeReplica(index={"i1", "i2"}, whole=True), dialer_version=3)
    start(d, a)
    assert a.session.peer_version == 3
    assert "IndexSnapshot" not in kinds(a.sent) and "IndexUpdates" in kinds(a.sent)
    assert d.replica.index == {"i1", "i2"} and d.session.live and a.session.live


def test_a_peer_with_an_index_or_a_server_without_it_saved_whole_gets_updates() -> None:
    d, a = _joining(FakeReplica(index={"i0"}), FakeReplica(index={"i1"}, whole=True))
    start(d, a)
    assert "IndexSnapshot" not in kinds(a.sent) and d.replica.index == {"i0", "i1"}
    d, a = _joining(FakeReplica(), FakeReplica(index={"i1"}, whole=False))
    start(d, a)
    assert "IndexSnapshot" not in kinds(a.sent) and d.replica.index == {"i1"}


def test_index_snapshot_from_a_version_3_peer_is_a_protocol_error() -> None:
    d, a = _joining(FakeReplica(), FakeReplica(), dialer_version=3)
    start(d, a)
    blob = _enc({"x"})
    out, events = a.session.receive(2.0, m.IndexSnapshot(blob, blob, len(blob), (), encode_rows([])))
    assert kinds(out) == ["Refused"] and out[0].code == 400  # type: ignore[union-attr]
    assert [type(e) for e in events] == [Close]


@pytest.mark.parametrize("version", [m.OLDEST_VERSION - 1, m.PROTOCOL_VERSION + 1])
def test_versions_outside_those_supported_are_refused(version: int) -> None:
    sess = Session(FakeReplica(), peer="p", dialer=False, paired=True, now=0.0)
    sess.start(0.0)
    out, events = sess.receive(1.0, m.Hello(version, VAULT, (), b"", bytes(m.BUCKETS * 8)))
    assert kinds(out) == ["Refused"] and out[0].code == 426  # type: ignore[union-attr]


class OldAcceptor(Session):
    """A version-3 device as an acceptor: it says HELLO at once, and refuses any other
    version with 426 (its equality check)."""

    def start(self, now: float) -> list[m.Message]:
        self.hello_version = 3
        return self._sent(now, [self._hello()])

    def receive(self, now: float, msg: m.Message) -> tuple[list[m.Message], list[s.Event]]:
        if isinstance(msg, m.Hello) and msg.version != 3:
            return self._refuse(now, Code.VERSION, f"protocol version {msg.version} is not supported")
        return super().receive(now, msg)


def test_a_dialer_refused_by_an_older_acceptor_falls_back_to_its_version() -> None:
    rd, ra = FakeReplica(), FakeReplica(index={"i1"}, whole=True)
    d = Side("dialer", Session(rd, peer="acceptor-id", dialer=True, paired=True, now=0.0), rd)
    a = Side("acceptor", OldAcceptor(ra, peer="dialer-id", dialer=False, paired=True, now=0.0), ra)
    start(d, a)
    close = next(e for e in d.events if isinstance(e, Close))
    assert close.code == 426 and close.by_peer
    older = d.session.fall_back(close)
    assert older == 3
    # dialled again with that version: a version-3 session both ways, the index as INDEX_UPDATES
    d = Side("dialer", Session(rd, peer="acceptor-id", dialer=True, paired=True, now=0.0, hello_version=older), rd)
    a = Side("acceptor", OldAcceptor(ra, peer="dialer-id", dialer=False, paired=True, now=0.0), ra)
    start(d, a)
    assert d.session.live and a.session.live and rd.index == {"i1"}
    assert "IndexSnapshot" not in kinds(a.sent)


def test_an_acceptor_answers_an_older_dialer_at_its_version() -> None:
    d, a = _joining(FakeReplica(), FakeReplica(index={"i1"}, whole=True), dialer_version=3)
    start(d, a)
    hellos = [x for x in a.sent if isinstance(x, m.Hello)]
    assert [h.version for h in hellos] == [3] and d.session.live


def test_only_a_refusal_of_the_version_makes_a_dialer_fall_back() -> None:
    sess = Session(FakeReplica(), peer="p", dialer=True, paired=True, now=0.0)
    assert sess.fall_back(Close(426, "peer refused: protocol version 4 is not supported", by_peer=True)) == 3
    assert sess.fall_back(Close(426, "protocol version 9 is not supported")) is None  # our own refusal
    assert sess.fall_back(Close(404, "peer refused: another vault", by_peer=True)) is None
    oldest = Session(FakeReplica(), peer="p", dialer=True, paired=True, now=0.0, hello_version=m.OLDEST_VERSION)
    assert oldest.fall_back(Close(426, "peer refused: no", by_peer=True)) is None  # nothing older to try
    acceptor = Session(FakeReplica(), peer="p", dialer=False, paired=True, now=0.0)
    assert acceptor.fall_back(Close(426, "peer refused: no", by_peer=True)) is None
