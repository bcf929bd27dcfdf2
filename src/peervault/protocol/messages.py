"""Message types and their binary encoding (no I/O).

Every message body starts with a one-byte type. Fields are fixed-size integers,
or byte strings / UTF-8 strings / lists prefixed with a u32 count. Decoding
checks every length against what is left, so a truncated or hostile body gives
a ProtocolError, never an IndexError or a huge allocation.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ProtocolError
from .wire import Reader, Writer

PROTOCOL_VERSION = 4  # 2: catch-up in acknowledged DOC_BATCHes; 3: PRESENCE; 4: INDEX_SNAPSHOT
OLDEST_VERSION = 3  # the oldest peer version a session accepts (it is sent INDEX_UPDATES only)
INDEX_SNAPSHOT_VERSION = 4  # the first version that reads INDEX_SNAPSHOT
ID_LEN = 16  # vault ids and file ids on the wire are 16 raw bytes
BUCKETS = 256  # docs are grouped by first id byte; one 8-byte digest per bucket
BLOB_ID_LEN = 32  # blake3 digest
MAX_UPDATES_PER_MESSAGE = 4 * 1024 * 1024  # split DOC_UPDATES so each frame stays far below MAX_FRAME


@dataclass(frozen=True)
class Pair:
    """Joiner -> inviter, first frame of an unpaired connection: prove the ticket secret."""

    kind = 1
    vault_id: bytes
    secret: bytes


@dataclass(frozen=True)
class PairOk:
    kind = 2
    vault_id: bytes


@dataclass(frozen=True)
class Refused:
    """Sent just before closing: why the connection is refused."""

    kind = 3
    code: int
    reason: str


@dataclass(frozen=True)
class Hello:
    """Opens a sync: what this side has, summarised in a few KB whatever the vault size."""

    kind = 4
    version: int
    vault_id: bytes
    addrs: tuple[str, ...]
    index_vv: bytes
    buckets: bytes  # BUCKETS x 8-byte digests


@dataclass(frozen=True)
class IndexUpdates:
    kind = 5
    blob: bytes


@dataclass(frozen=True)
class IndexSnapshot:
    """To a peer whose index is empty (a device joining), instead of INDEX_UPDATES: the
    sender's index as its database holds it, its snapshot in the stored form
    (store/packing.py, not inflated), and the entries kept beside it (protocol/entryrows.py),
    so the receiver saves both without decoding the index (docs/PROTOCOL.md)."""

    kind = 20
    vv: bytes  # the snapshot's version vector
    snapshot: bytes  # the stored form: b"pvzs" + a zstd frame, or Loro's bytes
    size: int  # the snapshot's size once inflated
    forgotten: tuple[str, ...]  # the devices removed from the vault, as in the snapshot
    rows: bytes  # entryrows.encode_rows, zstd-compressed (store/packing.pack_rows)


@dataclass(frozen=True)
class DocVersions:
    """For the buckets whose digests differ: every doc id there and its version vector."""

    kind = 6
    buckets: bytes  # bucket numbers, one byte each
    entries: tuple[tuple[bytes, bytes], ...]  # (doc id, encoded version vector)


@dataclass(frozen=True)
class DocUpdates:
    kind = 7
    entries: tuple[tuple[bytes, bytes], ...]  # (doc id, loro updates blob)


@dataclass(frozen=True)
class Done:
    """Everything this side owes after the handshake has been sent."""

    kind = 8


@dataclass(frozen=True)
class DoneAck:
    """Everything before the peer's Done has been applied."""

    kind = 9


@dataclass(frozen=True)
class Ping:
    kind = 10


@dataclass(frozen=True)
class Pong:
    kind = 11


@dataclass(frozen=True)
class DocBatch:
    """Catch-up updates, most recently modified notes first. At most a window of batches is
    unacknowledged at a time, so a big initial sync never floods the receiver."""

    kind = 12
    seq: int
    entries: tuple[tuple[bytes, bytes], ...]  # (doc id, loro updates blob or snapshot)


@dataclass(frozen=True)
class BatchAck:
    """DOC_BATCH `seq` has been applied: the sender may send another."""

    kind = 13
    seq: int


@dataclass(frozen=True)
class BlobGet:
    """First frame of a blob stream (a new bi stream on a paired connection): send blob
    `blob` (blake3 digest) from byte `offset` on (a transfer that was cut resumes)."""

    kind = 14
    blob: bytes  # 32 bytes
    offset: int


@dataclass(frozen=True)
class BlobHave:
    """The answer: `size` bytes follow as raw stream data from the requested offset, then
    the stream ends. found=False: this device does not have that blob."""

    kind = 15
    found: bool
    size: int


@dataclass(frozen=True)
class Presence:
    """Who is where in an open note: a Loro EphemeralStore update (cursors, selections, the
    device's name) from an editor bound to the note. Relayed to editors, never stored."""

    kind = 16
    file_id: bytes  # ID_LEN
    data: bytes


@dataclass(frozen=True)
class BlobGets:
    """First frame of a blob stream asking for several blobs, each whole: the holder answers
    each in order, as BLOB_GET from offset 0 is answered (BLOB_HAVE, then its bytes if found),
    then ends the stream. Per blob, one stream's four calls into the transport on each side
    were most of a join's cost for thousands of small attachments. A device from before it
    resets the stream (unknown type): the fetcher then asks that connection one blob per
    stream (docs/PROTOCOL.md, "Blob streams")."""

    kind = 19
    blobs: tuple[bytes, ...]  # BLOB_ID_LEN each, at most MAX_BLOB_GETS


MAX_BLOB_GETS = 64
MAX_PRESENCE = 64 * 1024  # cursors and names of a few editors: far below this
KEY_LEN = 32  # an endpoint id (ed25519 public key), raw
SIG_LEN = 64  # an ed25519 signature


@dataclass(frozen=True)
class IdMoved:
    """This device's vault moves to another endpoint id (the per-user device key): signed by
    the key the peer knows (`moved_statement`), sent on a live link. Nothing else changes."""

    kind = 17
    vault_id: bytes  # ID_LEN
    new_id: bytes  # KEY_LEN
    signature: bytes  # SIG_LEN


@dataclass(frozen=True)
class IdMovedOk:
    """The peer checked IdMoved and stored the new id: it will accept it as this device."""

    kind = 18
    new_id: bytes  # KEY_LEN


MOVED_LABEL = b"peervault id moved v1"


def moved_statement(vault_id: bytes, old_id: bytes, new_id: bytes) -> bytes:
    """What the old key signs: labelled, and naming the vault and both ids, so a signature
    cannot be replayed for another vault or another move."""
    return MOVED_LABEL + vault_id + old_id + new_id


Message = (
    Pair
    | PairOk
    | Refused
    | Hello
    | IndexUpdates
    | DocVersions
    | DocUpdates
    | Done
    | DoneAck
    | Ping
    | Pong
    | DocBatch
    | BatchAck
    | BlobGet
    | BlobHave
    | Presence
    | IdMoved
    | IdMovedOk
    | BlobGets
    | IndexSnapshot
)


def encode(msg: Message) -> bytes:
    return _written(msg).done()


def encode_parts(msg: Message) -> list[bytes]:
    """The body of `msg` as its fields' parts, not joined (frames.raw_frame)."""
    return _written(msg).parts


def _written(msg: Message) -> Writer:
    w = Writer(msg.kind)
    if isinstance(msg, Pair):
        w.fixed(msg.vault_id, ID_LEN)
        w.fixed(msg.secret, ID_LEN)
    elif isinstance(msg, PairOk):
        w.fixed(msg.vault_id, ID_LEN)
    elif isinstance(msg, Refused):
        w.u16(msg.code)
        w.text(msg.reason)
    elif isinstance(msg, Hello):
        w.u16(msg.version)
        w.fixed(msg.vault_id, ID_LEN)
        w.u32(len(msg.addrs))
        for a in msg.addrs:
            w.text(a)
        w.blob(msg.index_vv)
        w.fixed(msg.buckets, BUCKETS * 8)
    elif isinstance(msg, IndexUpdates):
        w.blob(msg.blob)
    elif isinstance(msg, IndexSnapshot):
        w.blob(msg.vv)
        w.blob(msg.snapshot)
        w.u64(msg.size)
        w.u32(len(msg.forgotten))
        for device in msg.forgotten:
            w.text(device)
        w.blob(msg.rows)
    elif isinstance(msg, DocVersions):
        w.blob(msg.buckets)
        _pairs(w, msg.entries)
    elif isinstance(msg, DocUpdates):
        _pairs(w, msg.entries)
    elif isinstance(msg, DocBatch):
        w.u32(msg.seq)
        _pairs(w, msg.entries)
    elif isinstance(msg, BatchAck):
        w.u32(msg.seq)
    elif isinstance(msg, BlobGet):
        w.fixed(msg.blob, BLOB_ID_LEN)
        w.u64(msg.offset)
    elif isinstance(msg, BlobHave):
        w.u16(1 if msg.found else 0)
        w.u64(msg.size)
    elif isinstance(msg, Presence):
        w.fixed(msg.file_id, ID_LEN)
        w.blob(msg.data)
    elif isinstance(msg, IdMoved):
        w.fixed(msg.vault_id, ID_LEN)
        w.fixed(msg.new_id, KEY_LEN)
        w.fixed(msg.signature, SIG_LEN)
    elif isinstance(msg, IdMovedOk):
        w.fixed(msg.new_id, KEY_LEN)
    elif isinstance(msg, BlobGets):
        w.u32(len(msg.blobs))
        for blob in msg.blobs:
            w.fixed(blob, BLOB_ID_LEN)
    return w


def sent_raw(msg: Message) -> bool:
    """A message whose frame goes uncompressed, its parts written as they are (frames.raw_frame):
    INDEX_SNAPSHOT's bulk is already compressed (compressing it again, or joining it into a
    body and a frame, costs the sender copies and a context, for nothing)."""
    return isinstance(msg, IndexSnapshot)


def _pairs(w: Writer, entries: tuple[tuple[bytes, bytes], ...]) -> None:
    w.u32(len(entries))
    for doc_id, data in entries:
        w.fixed(doc_id, ID_LEN)
        w.blob(data)


def _read_pairs(r: Reader) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((r.fixed(ID_LEN), r.blob()) for _ in range(r.count()))


def decode(body: bytes) -> Message:
    if not body:
        raise ProtocolError("empty message")
    r = Reader(body)
    kind = body[0]
    msg: Message
    if kind == Pair.kind:
        msg = Pair(r.fixed(ID_LEN), r.fixed(ID_LEN))
    elif kind == PairOk.kind:
        msg = PairOk(r.fixed(ID_LEN))
    elif kind == Refused.kind:
        msg = Refused(r.u16(), r.text())
    elif kind == Hello.kind:
        version, vault_id = r.u16(), r.fixed(ID_LEN)
        addrs = tuple(r.text() for _ in range(r.count()))
        msg = Hello(version, vault_id, addrs, r.blob(), r.fixed(BUCKETS * 8))
    elif kind == IndexUpdates.kind:
        msg = IndexUpdates(r.blob())
    elif kind == IndexSnapshot.kind:
        vv, snapshot, size = r.blob(), r.blob(), r.u64()
        msg = IndexSnapshot(vv, snapshot, size, tuple(r.text() for _ in range(r.count())), r.blob())
    elif kind == DocVersions.kind:
        msg = DocVersions(r.blob(), _read_pairs(r))
    elif kind == DocUpdates.kind:
        msg = DocUpdates(_read_pairs(r))
    elif kind == Done.kind:
        msg = Done()
    elif kind == DoneAck.kind:
        msg = DoneAck()
    elif kind == Ping.kind:
        msg = Ping()
    elif kind == Pong.kind:
        msg = Pong()
    elif kind == DocBatch.kind:
        msg = DocBatch(r.u32(), _read_pairs(r))
    elif kind == BatchAck.kind:
        msg = BatchAck(r.u32())
    elif kind == BlobGet.kind:
        msg = BlobGet(r.fixed(BLOB_ID_LEN), r.u64())
    elif kind == BlobHave.kind:
        found = r.u16()
        if found > 1:
            raise ProtocolError(f"BLOB_HAVE flag {found} is not 0 or 1")
        msg = BlobHave(bool(found), r.u64())
    elif kind == Presence.kind:
        msg = Presence(r.fixed(ID_LEN), r.blob())
        if len(msg.data) > MAX_PRESENCE:
            raise ProtocolError(f"PRESENCE of {len(msg.data)} bytes is over {MAX_PRESENCE}")
    elif kind == IdMoved.kind:
        msg = IdMoved(r.fixed(ID_LEN), r.fixed(KEY_LEN), r.fixed(SIG_LEN))
    elif kind == IdMovedOk.kind:
        msg = IdMovedOk(r.fixed(KEY_LEN))
    elif kind == BlobGets.kind:
        count = r.count()
        if not 0 < count <= MAX_BLOB_GETS:
            raise ProtocolError(f"BLOB_GETS of {count} blobs (1 to {MAX_BLOB_GETS})")
        msg = BlobGets(tuple(r.fixed(BLOB_ID_LEN) for _ in range(count)))
    else:
        raise ProtocolError(f"unknown message type {kind}")
    r.end()
    return msg


def batch_updates(entries: list[tuple[bytes, bytes]]) -> list[list[tuple[bytes, bytes]]]:
    """Split (doc id, update) pairs into DOC_UPDATES-sized groups."""
    batches: list[list[tuple[bytes, bytes]]] = []
    size = MAX_UPDATES_PER_MESSAGE
    for entry in entries:
        if size + len(entry[1]) > MAX_UPDATES_PER_MESSAGE:
            batches.append([])
            size = 0
        batches[-1].append(entry)
        size += len(entry[1]) + 32
    return batches
