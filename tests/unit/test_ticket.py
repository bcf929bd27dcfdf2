"""Pairing tickets: one pasteable line, and clear errors for anything else."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from iroh import EndpointAddr, EndpointId, EndpointTicket

from peervault.errors import BadTicket
from peervault.net.endpoint import endpoint_id_of, new_secret_key, parse_endpoint_ticket
from peervault.protocol.ticket import PREFIX, Ticket, decode_ticket, encode_ticket


@pytest.fixture(scope="module")
def endpoint_ticket() -> str:
    endpoint = EndpointId.from_string(endpoint_id_of(new_secret_key()))
    return str(EndpointTicket.from_addr(EndpointAddr(endpoint, None, ["127.0.0.1:4433", "[::1]:4433"])))


def _ticket(endpoint: str) -> Ticket:
    return Ticket(vault_id=os.urandom(16), secret=os.urandom(16), expires_at=1_900_000_000, endpoint=endpoint)


def test_round_trip(endpoint_ticket: str) -> None:
    t = _ticket(endpoint_ticket)
    s = encode_ticket(t)
    assert s.startswith(PREFIX)
    assert s == s.strip() and "\n" not in s and "=" not in s
    assert s[len(PREFIX) :].islower() or s[len(PREFIX) :].isdigit()
    assert decode_ticket(s) == t


def test_round_trip_keeps_a_usable_endpoint_ticket(endpoint_ticket: str) -> None:
    t = decode_ticket(encode_ticket(_ticket(endpoint_ticket)))
    eid, addrs = parse_endpoint_ticket(t.endpoint)
    assert len(eid) == 64
    assert "127.0.0.1:4433" in addrs


def test_surrounding_whitespace_and_uppercase_are_tolerated(endpoint_ticket: str) -> None:
    t = _ticket(endpoint_ticket)
    s = encode_ticket(t)
    assert decode_ticket(f"  {s}\n") == t
    assert decode_ticket(PREFIX + s[len(PREFIX) :].upper()) == t


@settings(max_examples=50, deadline=None)
@given(
    st.binary(min_size=16, max_size=16),
    st.binary(min_size=16, max_size=16),
    st.integers(0, 2**64 - 1),
    st.text(max_size=80).map(lambda s: "endpoint" + s),
)
def test_round_trip_property(vault_id: bytes, secret: bytes, expires: int, endpoint: str) -> None:
    t = Ticket(vault_id, secret, expires, endpoint)
    assert decode_ticket(encode_ticket(t)) == t


@pytest.mark.parametrize("bad", ["", "pv2abcdef", "PV1abc", "hello", "endpointabc", " xpv1"])
def test_bad_prefix(bad: str) -> None:
    with pytest.raises(BadTicket, match="pv1"):
        decode_ticket(bad)


def test_every_truncation_is_refused(endpoint_ticket: str) -> None:
    s = encode_ticket(_ticket(endpoint_ticket))
    # Cutting inside the fixed head, or leaving a base32 length that cannot exist, is "damaged";
    # cutting inside the endpoint part can still decode but must then not yield the same ticket.
    refused = 0
    for cut in range(len(PREFIX), len(s)):
        try:
            t = decode_ticket(s[:cut])
        except BadTicket:
            refused += 1
            continue
        assert t != decode_ticket(s)
    head_chars = (16 + 16 + 8) * 8 // 5  # 64 base32 chars for the 40-byte head
    for cut in range(len(PREFIX), len(PREFIX) + head_chars + 1):
        with pytest.raises(BadTicket):
            decode_ticket(s[:cut])
    assert refused > head_chars


def test_prefix_only_is_damaged() -> None:
    with pytest.raises(BadTicket, match="damaged"):
        decode_ticket("pv1")


@pytest.mark.parametrize("garbage", ["pv1!!!!", "pv1" + "0" * 80, "pv1" + "8" * 80, "pv1é" * 10, "pv1abc def"])
def test_garbage_is_damaged(garbage: str) -> None:
    with pytest.raises(BadTicket):
        decode_ticket(garbage)


def test_ticket_without_endpoint_is_refused() -> None:
    t = Ticket(os.urandom(16), os.urandom(16), 0, "")
    with pytest.raises(BadTicket, match="address"):
        decode_ticket(encode_ticket(t))


def test_non_utf8_endpoint_part_is_damaged() -> None:
    import base64
    import struct

    raw = struct.pack(">16s16sQ", os.urandom(16), os.urandom(16), 1) + b"endpoint\xff\xfe"
    s = PREFIX + base64.b32encode(raw).decode().rstrip("=").lower()
    with pytest.raises(BadTicket, match="damaged"):
        decode_ticket(s)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_random_text_after_prefix_raises_only_bad_ticket(rest: str) -> None:
    try:
        t = decode_ticket(PREFIX + rest)
    except BadTicket:
        return
    assert t.endpoint.startswith("endpoint")
