"""Pairing tickets: one line a person can paste.

    "pv1" + base32( vault_id[16] | secret[16] | expires_at u64 | iroh endpoint ticket (utf-8) )

The iroh part carries the inviting device's endpoint id and direct addresses;
the secret is single-use and checked by the inviter, which also enforces expiry.
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass

from ..errors import BadTicket

PREFIX = "pv1"
_HEAD = struct.Struct(">16s16sQ")


@dataclass(frozen=True)
class Ticket:
    vault_id: bytes
    secret: bytes
    expires_at: int
    endpoint: str  # iroh EndpointTicket string


def encode_ticket(t: Ticket) -> str:
    raw = _HEAD.pack(t.vault_id, t.secret, t.expires_at) + t.endpoint.encode("utf-8")
    return PREFIX + base64.b32encode(raw).decode("ascii").rstrip("=").lower()


def decode_ticket(s: str) -> Ticket:
    s = s.strip()
    if not s.startswith(PREFIX):
        raise BadTicket(
            "this is not a PeerVault ticket (it should start with 'pv1'); copy the whole line `peervault invite` printed"
        )
    body = s[len(PREFIX) :].upper()
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
        vault_id, secret, expires = _HEAD.unpack_from(raw)
        endpoint = raw[_HEAD.size :].decode("utf-8")
    except (ValueError, struct.error, UnicodeDecodeError):
        raise BadTicket("the ticket is damaged (truncated or mistyped); copy the whole line again") from None
    if not endpoint.startswith("endpoint"):
        raise BadTicket("the ticket holds no device address; ask for a new one")
    return Ticket(vault_id, secret, expires, endpoint)
