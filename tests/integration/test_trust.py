"""Pairing and trust: only paired devices sync; bad tickets get one line and a non-zero exit."""

from __future__ import annotations

import asyncio
import time

from peervault.net import endpoint as netep
from peervault.net.stream import MessageStream
from peervault.protocol import messages as m

from .conftest import pair_running, wait_until


async def _probe(addr: str, peer_id: str, first: list[m.Message]) -> list[m.Message]:
    """An unpaired endpoint speaking our protocol: returns everything the daemon sent back."""
    ep = await netep.bind(netep.new_secret_key(), no_relay=True, bind_addr="127.0.0.1:0")
    got: list[m.Message] = []
    try:
        conn = await netep.connect(ep, peer_id, [addr], 10)
        stream = await MessageStream.open(conn)
        await stream.send(first)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                got += await asyncio.wait_for(stream.receive(), deadline - time.monotonic())
            except (TimeoutError, ConnectionError):
                break
    finally:
        await ep.close()
    return got


def test_unpaired_device_is_refused_and_learns_nothing(make_device):
    a, b = make_device("A"), make_device("B")
    a.write("secret.md", "private\n")
    a.start()
    pair_running(a, b)
    st = a.status()
    vault_id = bytes.fromhex(st["vault_id"])
    addr = st["daemon"]["addrs"][0]
    hello = m.Hello(m.PROTOCOL_VERSION, vault_id, (), b"", bytes(m.BUCKETS * 8))
    for first in ([hello], [m.Pair(vault_id, b"\x00" * 16)], [m.DocVersions(bytes(range(256)), ())]):
        got = asyncio.run(_probe(addr, st["device_id"], first))
        assert got and all(isinstance(x, m.Refused) for x in got), got
        assert got[0].code == 403
    # the daemon keeps syncing with its real peer
    a.write("after-probe.md", "still syncing\n")
    wait_until(lambda: b.read("after-probe.md") == "still syncing\n", what="sync after probes")
    assert len(a.status()["peers"]) == 1


def test_ticket_is_single_use(make_device):
    a, b, c = make_device("A"), make_device("B"), make_device("C")
    a.start()
    ticket = a.invite()
    b.join(ticket)
    res = c.join(ticket, check=False)
    assert res.returncode == 4
    assert "refused" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not c.status()["peers"]


def test_bad_input_one_line_and_nonzero(make_device, tmp_path):
    a, b = make_device("A"), make_device("B")
    a.start()
    res = b.join("definitely-not-a-ticket", check=False)
    assert res.returncode == 4 and "not a PeerVault ticket" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    res = b.join(a.invite()[:40], check=False)
    assert res.returncode == 4 and len(res.stderr.strip().splitlines()) == 1
    expired = a.invite("--ttl", "1")
    time.sleep(1.5)
    res = b.join(expired, check=False)
    assert res.returncode == 4 and "expired" in res.stderr
    plain = tmp_path / "plain"
    plain.mkdir()
    for args in (["status", str(plain)], ["run", str(plain)], ["sync", str(plain)], ["invite", str(plain)]):
        res = a.cli(*args, check=False)
        assert res.returncode == 2 and "not a PeerVault vault" in res.stderr, args
        assert len(res.stderr.strip().splitlines()) == 1


def test_init_twice_is_harmless_and_key_is_private(make_device):
    a = make_device("A")
    first = a.status()
    again = a.cli("init", str(a.root))
    assert again.stdout.strip() == first["device_id"]
    assert a.status()["vault_id"] == first["vault_id"]
    mode = (a.root / ".peervault" / "secret.key").stat().st_mode & 0o777
    assert mode == 0o600
