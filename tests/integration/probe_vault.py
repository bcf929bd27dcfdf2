"""A device asking an endpoint for vaults, as a peer probing which vaults it serves would:
run as `python probe_vault.py KEYFILE ENDPOINT_TICKET CASE...`, each CASE `hello:VAULT_HEX`,
`pair:VAULT_HEX` or `silent`; prints one JSON line per case with the first answer
({"refused": [code, reason]} or {"answer": message type}). Real Iroh, a connection per case."""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
from pathlib import Path

from peervault.net import endpoint as netep
from peervault.net.stream import MessageStream
from peervault.protocol import messages as m


async def ask(ep: netep.Endpoint, peer: str, addrs: list[str], case: str) -> dict[str, object]:
    conn = await netep.connect(ep, peer, addrs, 10.0)
    stream = await MessageStream.open(conn)
    kind, _, vault = case.partition(":")
    if kind == "hello":
        await stream.send([m.Hello(m.PROTOCOL_VERSION, bytes.fromhex(vault), (), b"", bytes(m.BUCKETS * 8))])
    elif kind == "pair":
        await stream.send([m.Pair(bytes.fromhex(vault), secrets.token_bytes(16))])
    else:  # silent: the stream must exist (Iroh shows it only on a first write): a bare frame header
        await stream._send.write_all(b"\x00\x00\x00\x09")  # announces 9 bytes that never come
    try:
        first = (await asyncio.wait_for(stream.receive(), 30.0))[0]
    except ConnectionError as exc:
        return {"closed": str(exc)}
    finally:
        conn.close(0, b"probe done")
    if isinstance(first, m.Refused):
        return {"refused": [first.code, first.reason]}
    return {"answer": type(first).__name__}


async def main(key: bytes, ticket: str, cases: list[str]) -> None:
    peer, addrs = netep.parse_endpoint_ticket(ticket)
    ep = await netep.bind(key, no_relay=True, bind_addr="127.0.0.1:0")
    for case in cases:
        print(json.dumps({"case": case, **await ask(ep, peer, addrs, case)}), flush=True)  # noqa: T201
    await ep.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]).read_bytes(), sys.argv[2], sys.argv[3:]))
