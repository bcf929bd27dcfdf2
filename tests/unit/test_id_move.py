"""ID_MOVED / ID_MOVED_OK (a paired vault moving to the per-user device key): the wire
format, the signed statement, and the session handing them to the daemon only once paired."""

from __future__ import annotations

from peervault.net import endpoint as netep
from peervault.protocol import messages as m

VAULT = bytes(range(16))


def test_id_moved_round_trips_and_is_checked_by_the_old_key():
    old_key, new_key = netep.new_secret_key(), netep.new_secret_key()
    old, new = netep.endpoint_id_of(old_key), netep.endpoint_id_of(new_key)
    statement = m.moved_statement(VAULT, netep.id_bytes(old), netep.id_bytes(new))
    msg = m.IdMoved(VAULT, netep.id_bytes(new), netep.sign(old_key, statement))
    back = m.decode(m.encode(msg))
    assert back == msg and netep.id_of_bytes(back.new_id) == new
    assert netep.verify(old, statement, back.signature)
    assert not netep.verify(new, statement, back.signature)  # signed by the old key, not by whoever claims it
    other_vault = m.moved_statement(bytes(16), netep.id_bytes(old), netep.id_bytes(new))
    assert not netep.verify(old, other_vault, back.signature)  # not replayable for another vault
    assert m.decode(m.encode(m.IdMovedOk(netep.id_bytes(new)))) == m.IdMovedOk(netep.id_bytes(new))
