"""A read's bodies become messages one at a time, each body let go once decoded."""

from __future__ import annotations

from peervault.net.stream import _decode_each
from peervault.protocol import messages as m


def test_bodies_are_decoded_in_order_and_let_go() -> None:
    sent = [m.Ping(), m.IndexUpdates(b"\x00" * 5000), m.DocUpdates(((bytes(16), b"u"),))]
    bodies = [m.encode(x) for x in sent]
    assert _decode_each(bodies) == sent
    assert bodies == []  # none held past its message
