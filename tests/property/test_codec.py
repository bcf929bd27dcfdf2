"""Property tests for the wire codec: frames and messages."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from peervault.errors import ProtocolError
from peervault.protocol import entryrows
from peervault.protocol import messages as m
from peervault.protocol.frames import FrameDecoder, encode_frame

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ids = st.binary(min_size=m.ID_LEN, max_size=m.ID_LEN)
blobs = st.binary(max_size=300)
texts = st.text(max_size=40)
u16 = st.integers(0, 0xFFFF)
pairs = st.lists(st.tuples(ids, blobs), max_size=6).map(tuple)

MESSAGE_STRATEGIES: dict[type, st.SearchStrategy[m.Message]] = {
    m.Pair: st.builds(m.Pair, ids, ids),
    m.PairOk: st.builds(m.PairOk, ids),
    m.Refused: st.builds(m.Refused, u16, texts),
    m.Hello: st.builds(
        m.Hello,
        u16,
        ids,
        st.lists(texts, max_size=5).map(tuple),
        blobs,
        st.binary(min_size=m.BUCKETS * 8, max_size=m.BUCKETS * 8),
    ),
    m.IndexUpdates: st.builds(m.IndexUpdates, st.binary(max_size=2000)),
    m.DocVersions: st.builds(m.DocVersions, st.binary(max_size=m.BUCKETS), pairs),
    m.DocUpdates: st.builds(m.DocUpdates, pairs),
    m.Done: st.just(m.Done()),
    m.DoneAck: st.just(m.DoneAck()),
    m.Ping: st.just(m.Ping()),
    m.Pong: st.just(m.Pong()),
    m.DocBatch: st.builds(m.DocBatch, st.integers(0, 2**32 - 1), pairs),
    m.BatchAck: st.builds(m.BatchAck, st.integers(0, 2**32 - 1)),
    m.BlobGet: st.builds(m.BlobGet, st.binary(min_size=32, max_size=32), st.integers(0, 2**64 - 1)),
    m.BlobHave: st.builds(m.BlobHave, st.booleans(), st.integers(0, 2**64 - 1)),
    m.Presence: st.builds(m.Presence, ids, st.binary(max_size=m.MAX_PRESENCE)),
    m.IdMoved: st.builds(
        m.IdMoved, ids, st.binary(min_size=m.KEY_LEN, max_size=m.KEY_LEN), st.binary(min_size=m.SIG_LEN, max_size=m.SIG_LEN)
    ),
    m.IdMovedOk: st.builds(m.IdMovedOk, st.binary(min_size=m.KEY_LEN, max_size=m.KEY_LEN)),
    m.BlobGets: st.builds(
        m.BlobGets, st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=m.MAX_BLOB_GETS).map(tuple)
    ),
    m.IndexSnapshot: st.builds(
        m.IndexSnapshot, blobs, st.binary(max_size=2000), st.integers(0, 2**64 - 1), st.lists(texts, max_size=3).map(tuple), blobs
    ),
}
any_message = st.one_of(*MESSAGE_STRATEGIES.values())


def test_every_message_type_has_a_strategy() -> None:
    kinds = {cls.kind for cls in MESSAGE_STRATEGIES}
    all_types = set(m.Message.__args__)  # type: ignore[attr-defined]
    assert set(MESSAGE_STRATEGIES) == all_types
    assert kinds == set(range(1, 21))


# ------------------------------------------------------------------------------- frames
@FAST
@given(st.lists(st.one_of(st.binary(max_size=3000), st.text(max_size=2000).map(str.encode)), max_size=6), st.data())
def test_decoder_returns_same_bodies_for_any_chunking(bodies: list[bytes], data: st.DataObject) -> None:
    wire = b"".join(encode_frame(b) for b in bodies)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=20)))
    dec = FrameDecoder()
    out: list[bytes] = []
    prev = 0
    for c in [*cuts, len(wire)]:
        out.extend(dec.feed(wire[prev:c]))
        prev = c
    assert out == bodies
    assert dec.buffered == 0


@FAST
@given(st.binary(max_size=5000), st.integers(0, 6000))
def test_frame_round_trip_any_threshold(body: bytes, threshold: int) -> None:
    frame = encode_frame(body, threshold=threshold)
    if len(body) < threshold:
        assert frame[4] == 0
    if frame[4] == 1:
        assert len(body) >= threshold
        assert len(frame) - 5 <= len(body) * 0.9
    assert FrameDecoder().feed(frame) == [body]


@FUZZ
@given(st.binary(max_size=400))
def test_decoder_on_random_bytes_raises_only_protocol_error(data: bytes) -> None:
    dec = FrameDecoder()
    try:
        bodies = dec.feed(data)
    except ProtocolError:
        return
    assert all(isinstance(b, bytes) for b in bodies)


# ------------------------------------------------------------------------------- messages
@FAST
@given(any_message)
def test_message_round_trip(msg: m.Message) -> None:
    body = m.encode(msg)
    assert body[0] == msg.kind
    assert m.decode(body) == msg
    # and through a frame
    assert FrameDecoder().feed(encode_frame(body)) == [body]


@settings(max_examples=60, deadline=None)
@given(any_message)
def test_every_truncation_raises_protocol_error(msg: m.Message) -> None:
    body = m.encode(msg)
    for cut in range(len(body)):
        try:
            m.decode(body[:cut])
        except ProtocolError:
            continue
        raise AssertionError(f"prefix of {cut}/{len(body)} bytes of {msg!r} decoded")


@FAST
@given(any_message, st.binary(min_size=1, max_size=20))
def test_trailing_bytes_raise_protocol_error(msg: m.Message, extra: bytes) -> None:
    with_extra = m.encode(msg) + extra
    try:
        decoded = m.decode(with_extra)
    except ProtocolError:
        return
    raise AssertionError(f"{with_extra!r} decoded to {decoded!r} despite trailing bytes")


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_protocol_error(data: bytes) -> None:
    try:
        msg = m.decode(data)
    except ProtocolError:
        return
    # Whatever decodes must re-encode to exactly the input (the encoding is canonical).
    assert m.encode(msg) == data


@FUZZ
@given(st.sampled_from(range(1, 16)), st.binary(max_size=300))
def test_random_bodies_with_valid_kind_raise_only_protocol_error(kind: int, rest: bytes) -> None:
    data = bytes([kind]) + rest
    try:
        msg = m.decode(data)
    except ProtocolError:
        return
    assert m.encode(msg) == data


@FAST
@given(any_message, st.data())
def test_mutated_encodings_raise_only_protocol_error(msg: m.Message, data: st.DataObject) -> None:
    body = bytearray(m.encode(msg))
    assume(len(body) > 1)
    i = data.draw(st.integers(1, len(body) - 1))
    body[i] = data.draw(st.integers(0, 255))
    try:
        decoded = m.decode(bytes(body))
    except ProtocolError:
        return
    assert m.encode(decoded) == bytes(body)


def test_huge_count_is_refused_without_allocation() -> None:
    body = bytes([m.DocUpdates.kind]) + (0xFFFFFFFF).to_bytes(4, "big")
    try:
        m.decode(body)
    except ProtocolError:
        return
    raise AssertionError("a list of 4 billion items was accepted")


def test_invalid_utf8_string_is_protocol_error() -> None:
    body = bytes([m.Refused.kind]) + (400).to_bytes(2, "big") + (2).to_bytes(4, "big") + b"\xff\xfe"
    try:
        m.decode(body)
    except ProtocolError as exc:
        assert "UTF-8" in str(exc)
        return
    raise AssertionError("invalid UTF-8 accepted")


def test_message_dataclasses_are_frozen() -> None:
    for cls in MESSAGE_STRATEGIES:
        assert dataclasses.is_dataclass(cls)
        assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------- entry rows
ints = st.integers(0, entryrows.ROW_INT_MAX)
rows = st.lists(st.tuples(texts, texts, texts, st.integers(0, 1), st.binary(max_size=40), texts, ints, ints, ints), max_size=8)


@given(rows)
def test_entry_rows_round_trip(r: list[tuple]) -> None:  # type: ignore[type-arg]
    assert list(entryrows.iter_rows(entryrows.encode_rows(r))) == r


@given(rows, st.data())
def test_damaged_entry_rows_raise_only_protocol_error(r: list[tuple], data: st.DataObject) -> None:  # type: ignore[type-arg]
    raw = bytearray(entryrows.encode_rows(r))
    cut = data.draw(st.integers(0, len(raw)))
    for damaged in (bytes(raw[:cut]), bytes(raw[:cut]) + data.draw(st.binary(min_size=1, max_size=8)) + bytes(raw[cut:])):
        try:
            list(entryrows.iter_rows(damaged))
        except ProtocolError:
            pass
