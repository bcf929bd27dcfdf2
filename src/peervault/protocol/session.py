"""The sync session state machine, sans I/O.

One Session per connection. It takes decoded messages and the current time in,
and returns messages to send plus events for the engine; it never touches a
socket, a file or a clock. Vault data comes from a `Replica` (the engine in
production, an in-memory fake in tests).

    dialer, paired      HELLO ───────────────────────────────► (acceptor) HELLO, at the dialer's version
    dialer, pairing     PAIR ──► (acceptor checks secret) ──► PAIR_OK; HELLO ─► HELLO
    on HELLO            INDEX_UPDATES (if peer lacks index ops; INDEX_SNAPSHOT instead to a
                        version-4 peer with no index, when the index is saved whole),
                        DOC_VERSIONS (differing buckets)
    on DOC_VERSIONS     DOC_BATCH (what the peer lacks, newest notes first), one at first, then
                        each BATCH_ACK lets one more go, and another until `window` are
                        unacknowledged; DONE after the last ack
    on DONE             DONE_ACK            both DONE and DONE_ACK seen ──► Synced event
    live                INDEX_UPDATES / DOC_UPDATES pushed as changes happen
    always              PING when quiet for heartbeat_interval (an acceptor: only when the dialer's
                        PINGs are late); Close when silent for silent_timeout
    unpaired            nothing but the pairing exchange and REFUSED; closed pair_timeout after the
                        session opened, whatever the peer sends (a PING gets REFUSED, not PONG)

See docs/PROTOCOL.md for the diagram and limits.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from ..errors import PeerVaultError, ProtocolError
from . import messages as m
from .codes import REMOVED_REASON, Code, stranger_refusal


class Replica(Protocol):
    """What a session needs from the vault engine."""

    vault_id: bytes

    def index_vv(self) -> bytes: ...
    def index_updates_since(self, vv: bytes) -> bytes | None: ...
    def index_saved_whole(self, vv: bytes) -> m.IndexSnapshot | None:
        """For a peer at index version `vv`: the index as saved, if the peer has none and the
        database holds it whole (its snapshot, the entries beside it, nothing logged after)."""
        ...

    def bucket_digests(self) -> bytes: ...
    def doc_versions(self, buckets: bytes) -> list[tuple[bytes, bytes]]: ...
    def doc_batches(self, buckets: bytes, peer_versions: dict[bytes, bytes]) -> Iterator[list[tuple[bytes, bytes]]]:
        """What the peer lacks, in batches, in priority order; produced lazily, one batch per
        acknowledgement, so the sender never holds a whole vault's updates in memory."""
        ...

    def local_addrs(self) -> list[str]: ...
    def accept_pairing(self, peer: str, vault_id: bytes, secret: bytes) -> bool: ...


class State(enum.Enum):
    AWAIT_PAIR = "await-pair"  # acceptor, unknown endpoint: only PAIR is acceptable
    AWAIT_PAIR_OK = "await-pair-ok"  # dialer that is pairing
    AWAIT_HELLO = "await-hello"
    SYNCING = "syncing"  # hellos exchanged, initial exchange under way
    LIVE = "live"  # initial exchange finished both ways
    CLOSED = "closed"


@dataclass(frozen=True)
class Received:
    """Event: apply these updates from the peer (and forward them to other peers)."""

    message: m.IndexUpdates | m.DocUpdates | m.IndexSnapshot


@dataclass(frozen=True)
class PresenceReceived:
    """Event: an editor on the peer moved its cursor in an open note (relay, don't store)."""

    message: m.Presence


@dataclass(frozen=True)
class Paired:
    vault_id: bytes


@dataclass(frozen=True)
class PeerHello:
    addrs: tuple[str, ...]


@dataclass(frozen=True)
class Synced:
    """Initial exchange complete: each side has what the other had at HELLO time."""


@dataclass(frozen=True)
class Moving:
    """Event: the peer says its vault moves to another endpoint id, or confirms our move
    (daemon/moving.py checks and applies it: the signature needs the network library)."""

    message: m.IdMoved | m.IdMovedOk


@dataclass(frozen=True)
class Close:
    code: int  # a `Code`, or whatever number the peer's REFUSED carried
    reason: str
    by_peer: bool = False  # the peer's REFUSED, not our own decision: 410 means *we* were removed


Event = Received | PresenceReceived | Paired | PeerHello | Synced | Moving | Close

_UNPAIRED = (State.AWAIT_PAIR, State.AWAIT_PAIR_OK)
ACCEPTOR_PING_AFTER = 1.5  # heartbeat intervals without a message before an acceptor pings (Session._ping_at)


class Session:
    def __init__(
        self,
        replica: Replica,
        *,
        peer: str,
        dialer: bool,
        paired: bool,
        now: float,
        pair_secret: bytes | None = None,
        heartbeat_interval: float = 5.0,
        silent_timeout: float = 15.0,
        window: int = 3,
        idle_suspend: float | None = None,
        pair_timeout: float = 5.0,
        removed: bool = False,
        hello_version: int = m.PROTOCOL_VERSION,
    ) -> None:
        self.replica = replica
        # The version a dialer's HELLO announces (lower for a peer that refused a newer one:
        # `fall_back`); an acceptor answers with the dialer's, so an older dialer reads it.
        self.hello_version = hello_version
        self.peer = peer
        self.dialer = dialer
        self.heartbeat_interval = heartbeat_interval
        self.silent_timeout = silent_timeout
        self.last_sent = now
        self.last_received = now
        self.idle_suspend = idle_suspend
        self.last_data = now  # vault data sent or received: what keeps a low-power link up
        self._pair_secret = pair_secret
        self._paired = paired
        # Fixed at opening: an unpaired peer cannot keep the connection by sending (PING, say).
        self.pair_timeout = pair_timeout
        self.pair_deadline = now + pair_timeout
        # An acceptor whose peer the vault removed refuses it with 410, so it learns why.
        self._refusal = (Code.REMOVED, REMOVED_REASON) if removed else (Code.UNKNOWN_PEER, "unknown device")
        self._done_received = False
        self._done_acked = False
        self._hello_sent = False
        self.window = window  # DOC_BATCHes in flight (the spec's "max concurrent syncs")
        # ... opened one at a time: the first batches go out with INDEX_SNAPSHOT still being
        # sent, and a window's worth of notes read at once came on top of it (the `real`
        # tier's A: +3 MB at its peak; docs/PERFORMANCE.md, "A's peak while it serves a join")
        self._room = 1
        self.inflight = 0
        self._outbox: Iterator[list[tuple[bytes, bytes]]] | None = None
        self._seq = 0
        self._done_sent = False
        self.peer_version = 0  # the protocol version of the peer's HELLO, once received
        if dialer:
            self.state = State.AWAIT_HELLO if paired else State.AWAIT_PAIR_OK
        else:
            self.state = State.AWAIT_HELLO if paired else State.AWAIT_PAIR

    # -- outputs -------------------------------------------------------------------------
    def start(self, now: float) -> list[m.Message]:
        """Messages to send as soon as the connection is up."""
        if self.dialer and not self._paired:
            if self._pair_secret is None:
                raise ValueError("pairing dial needs the ticket secret")
            return self._sent(now, [m.Pair(self.replica.vault_id, self._pair_secret)])
        if self._paired and self.dialer:
            return self._sent(now, [self._hello()])
        return []  # an acceptor sends its HELLO in answer to the dialer's, at the dialer's version

    def tick(self, now: float) -> tuple[list[m.Message], list[Event]]:
        """Heartbeat and liveness: call every second or so."""
        if self.state is State.CLOSED:
            return [], []
        if self.state in _UNPAIRED and now >= self.pair_deadline:
            return self._pair_expired(now)
        if now - self.last_received > self.silent_timeout:
            self.state = State.CLOSED
            return [], [Close(Code.SILENT, f"no message from peer for {self.silent_timeout:.0f} s")]
        if self.state in _UNPAIRED:
            return [], []  # no heartbeat before pairing: the deadline bounds the wait
        if self.idle_suspend is not None and self.state is State.LIVE and now - self.last_data >= self.idle_suspend:
            return self._refuse(now, Code.IDLE, f"idle for {self.idle_suspend:.0f} s: suspended until the next change")
        if now >= self._ping_at():
            return self._sent(now, [m.Ping()]), []
        return [], []

    def _ping_at(self) -> float:
        """When to PING. The dialer keeps an idle link alive: a PING once it has sent nothing
        for heartbeat_interval. The acceptor answers those and pings only when they are late
        (nothing received for 1.5 intervals: a peer whose profile pings less often, or an
        older one), so an idle link carries one PING and one PONG per interval; when both
        sides pinged on their own timers, which fire together, it carried two of each. A dead
        peer is still noticed after silent_timeout, on either side."""
        at = self.last_sent + self.heartbeat_interval
        if not self.dialer:
            late = min(self.heartbeat_interval * ACCEPTOR_PING_AFTER, self.silent_timeout - self.heartbeat_interval)
            at = max(at, self.last_received + late)
        return at

    def next_deadline(self) -> float:
        """When `tick` next has something to do: the daemon sleeps until then (no polling)."""
        if self.state in _UNPAIRED:
            return min(self.pair_deadline, self.last_received + self.silent_timeout)
        due = min(self._ping_at(), self.last_received + self.silent_timeout)
        if self.idle_suspend is not None and self.state is State.LIVE:
            due = min(due, self.last_data + self.idle_suspend)
        return due

    def push(self, now: float, msg: m.IndexUpdates | m.DocUpdates | m.Presence) -> list[m.Message]:
        """A live update to send, if the peer may receive vault data yet."""
        if not self._hello_sent or self.state is State.CLOSED:
            return []  # the HELLO exchange will cover it
        self.last_data = now
        return self._sent(now, [msg])

    @property
    def live(self) -> bool:
        return self.state is State.LIVE

    @property
    def paired(self) -> bool:
        """The peer is known or has paired: it may get more than the pairing exchange."""
        return self._paired

    # -- input ---------------------------------------------------------------------------
    def receive(self, now: float, msg: m.Message) -> tuple[list[m.Message], list[Event]]:
        if self.state is State.CLOSED:
            return [], []
        if self.state in _UNPAIRED and now >= self.pair_deadline:
            return self._pair_expired(now)  # the timer may fire late; the deadline does not move
        self.last_received = now
        if isinstance(msg, (m.IndexUpdates, m.DocUpdates, m.DocBatch, m.IndexSnapshot)):
            self.last_data = now
        try:
            out, events = self._dispatch(msg)
        except (ProtocolError, PeerVaultError) as exc:  # (a garbage version vector, say)
            return self._refuse(now, Code.PROTOCOL, str(exc))
        return self._sent(now, out), events

    def _dispatch(self, msg: m.Message) -> tuple[list[m.Message], list[Event]]:
        if isinstance(msg, m.Refused):
            self.state = State.CLOSED
            return [], [Close(msg.code, f"peer refused: {msg.reason}", by_peer=True)]
        st = self.state
        if st is State.AWAIT_PAIR:  # anything but PAIR (a PING too) is refused at once
            if (
                not isinstance(msg, m.Pair)
                or msg.vault_id != self.replica.vault_id
                or not self.replica.accept_pairing(self.peer, msg.vault_id, msg.secret)
            ):
                return self._refuse_now(*stranger_refusal(msg, self._refusal))
            self._paired = True
            self.state = State.AWAIT_HELLO
            return [m.PairOk(self.replica.vault_id)], [Paired(msg.vault_id)]
        if st is State.AWAIT_PAIR_OK:
            if not isinstance(msg, m.PairOk) or msg.vault_id != self.replica.vault_id:
                raise ProtocolError(f"expected PAIR_OK, got {type(msg).__name__}")
            self._paired = True
            self.state = State.AWAIT_HELLO
            return [self._hello()], [Paired(msg.vault_id)]
        if isinstance(msg, m.Ping):
            return [m.Pong()], []
        if isinstance(msg, m.Pong):
            return [], []
        if st is State.AWAIT_HELLO:
            if not isinstance(msg, m.Hello):
                raise ProtocolError(f"expected HELLO, got {type(msg).__name__}")
            if not m.OLDEST_VERSION <= msg.version <= m.PROTOCOL_VERSION:
                return self._refuse_now(Code.VERSION, f"protocol version {msg.version} is not supported")
            self.peer_version = msg.version
            if not self.dialer:
                self.hello_version = msg.version  # answered in kind: an older dialer reads our HELLO
            if msg.vault_id != self.replica.vault_id:
                return self._refuse_now(Code.WRONG_VAULT, "this device belongs to a different vault")
            self.state = State.SYNCING
            return self._answer_hello(msg), [PeerHello(msg.addrs)]
        # SYNCING or LIVE
        if isinstance(msg, m.DocVersions):
            if self._outbox is not None or self._done_sent:
                raise ProtocolError("DOC_VERSIONS sent twice")
            self._outbox = iter(self.replica.doc_batches(msg.buckets, dict(msg.entries)))
            return self._fill(), []
        if isinstance(msg, m.BatchAck):
            if not 0 < msg.seq <= self._seq or self.inflight == 0:
                raise ProtocolError(f"BATCH_ACK {msg.seq} for a batch never sent")
            self.inflight -= 1
            self._room = min(self._room + 1, self.window)
            return self._fill(), []
        if isinstance(msg, m.DocBatch):
            return [m.BatchAck(msg.seq)], [Received(m.DocUpdates(msg.entries))]
        if isinstance(msg, (m.IndexUpdates, m.DocUpdates)):
            return [], [Received(msg)]
        if isinstance(msg, m.IndexSnapshot):
            if self.peer_version < m.INDEX_SNAPSHOT_VERSION:
                raise ProtocolError(f"INDEX_SNAPSHOT from a version-{self.peer_version} peer")
            return [], [Received(msg)]
        if isinstance(msg, m.Presence):
            return [], [PresenceReceived(msg)]
        if isinstance(msg, (m.IdMoved, m.IdMovedOk)):
            return [], [Moving(msg)]
        if isinstance(msg, m.Done):
            self._done_received = True
            return [m.DoneAck()], self._maybe_synced()
        if isinstance(msg, m.DoneAck):
            self._done_acked = True
            return [], self._maybe_synced()
        raise ProtocolError(f"unexpected {type(msg).__name__} in state {st.value}")

    def _answer_hello(self, hello: m.Hello) -> list[m.Message]:
        out: list[m.Message] = []
        if not self._hello_sent:
            out.append(self._hello())
        whole = self.replica.index_saved_whole(hello.index_vv) if hello.version >= m.INDEX_SNAPSHOT_VERSION else None
        if whole is not None:
            out.append(whole)
        elif index := self.replica.index_updates_since(hello.index_vv):
            out.append(m.IndexUpdates(index))
        mine = self.replica.bucket_digests()
        differing = bytes(i for i in range(m.BUCKETS) if mine[i * 8 : i * 8 + 8] != hello.buckets[i * 8 : i * 8 + 8])
        versions = self.replica.doc_versions(differing) if differing else []
        out.append(m.DocVersions(differing, tuple(versions)))
        return out

    def _fill(self) -> list[m.Message]:
        """Send batches while the window has room; DONE once the last one is acknowledged."""
        out: list[m.Message] = []
        while self._outbox is not None and self.inflight < min(self._room, self.window):
            batch = next(self._outbox, None)
            if batch is None:
                self._outbox = None
                break
            self._seq += 1
            self.inflight += 1
            out.append(m.DocBatch(self._seq, tuple(batch)))
        if self._outbox is None and self.inflight == 0 and not self._done_sent:
            self._done_sent = True
            out.append(m.Done())
        return out

    def _maybe_synced(self) -> list[Event]:
        if self._done_received and self._done_acked and self.state is State.SYNCING:
            self.state = State.LIVE
            return [Synced()]
        return []

    def fall_back(self, close: Close) -> int | None:
        """After this dialer's session closed with `close`: the version to announce when
        dialing that peer again, if it refused ours as too new (a peer from before it
        compares versions for equality); None otherwise."""
        if not self.dialer or not close.by_peer or close.code != Code.VERSION:
            return None
        heard = self.peer_version  # an older acceptor sends its HELLO before reading ours
        version = heard if 0 < heard < self.hello_version else self.hello_version - 1
        return version if version >= m.OLDEST_VERSION else None

    def _hello(self) -> m.Hello:
        self._hello_sent = True
        return m.Hello(
            self.hello_version,
            self.replica.vault_id,
            tuple(self.replica.local_addrs()),
            self.replica.index_vv(),
            self.replica.bucket_digests(),
        )

    def _pair_expired(self, now: float) -> tuple[list[m.Message], list[Event]]:
        if self.dialer:  # the inviter never answered our PAIR
            return self._refuse(now, Code.SILENT, f"no PAIR_OK within {self.pair_timeout:.0f} s")
        return self._refuse(now, *stranger_refusal(None, self._refusal, self.pair_timeout))

    def _refuse_now(self, code: int, reason: str) -> tuple[list[m.Message], list[Event]]:
        self.state = State.CLOSED
        return [m.Refused(code, reason)], [Close(code, reason)]

    def _refuse(self, now: float, code: int, reason: str) -> tuple[list[m.Message], list[Event]]:
        out, events = self._refuse_now(code, reason)
        return self._sent(now, out), events

    def _sent(self, now: float, out: list[m.Message]) -> list[m.Message]:
        if out:
            self.last_sent = now
        return out
