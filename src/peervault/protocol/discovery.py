"""LAN discovery's pure rules: what an mDNS announcement says, and which ones are believed.

An announcement carries only an opaque vault tag, the endpoint id, and where it listens:

    instance  pv-<endpoint id, first 40 chars>-<vault tag, first 12>._peervault._udp.local.
    TXT       v=1, vt=<vault tag: 32 hex>, id=<endpoint id>
    SRV, A    the port and this device's IPv4 addresses (host name: the instance's, not the machine's)

The vault tag is HMAC-SHA256(vault id, "peervault lan tag v1"), cut to 16 bytes: only a device
that knows the vault's random id (its paired devices, and whoever holds one of its pairing
tickets) can compute it or tell which vault it stands for; two vaults' tags are unrelated.
An announcement is only a hint: it adds addresses to dial, and the dial itself is
authenticated by the endpoint id (iroh's TLS), so a forged one can at worst waste a dial.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from enum import Enum

SERVICE_TYPE = "_peervault._udp.local."
VERSION = b"1"
TAG_LABEL = b"peervault lan tag v1"
MAX_ADDRS = 8  # more than a device has on a LAN; bounds what a stranger's announcement can add


def vault_tag(vault_id: bytes) -> str:
    """The vault's opaque name on the LAN (32 hex characters)."""
    return hmac.new(vault_id, TAG_LABEL, hashlib.sha256).hexdigest()[:32]


def instance_name(endpoint_id: str, tag: str) -> str:
    """A DNS label is at most 63 bytes: the id's first 40 characters are unique enough; the
    tag's start tells apart the vaults that share one endpoint (daemon/router.py)."""
    return f"pv-{endpoint_id[:40]}-{tag[:12]}"


def properties(tag: str, endpoint_id: str) -> dict[str, str]:
    return {"v": VERSION.decode(), "vt": tag, "id": endpoint_id}


@dataclass(frozen=True)
class Announcement:
    tag: str
    endpoint_id: str
    addrs: tuple[str, ...]  # "ip:port", as the dialer takes them


def parse(props: dict[bytes, bytes | None], addresses: list[str], port: int | None) -> Announcement | None:
    """An announcement from the TXT properties and resolved addresses, or None if it is not
    one of ours (another version, missing fields, no usable address)."""
    if props.get(b"v") != VERSION or not port or not 0 < port < 65536:
        return None
    tag, eid = props.get(b"vt"), props.get(b"id")
    if not tag or not eid:
        return None
    try:
        tag_s, eid_s = tag.decode("ascii"), eid.decode("ascii")
    except UnicodeDecodeError:
        return None
    if len(tag_s) != 32 or not eid_s.isalnum() or len(eid_s) > 128:
        return None
    addrs: list[str] = []
    for a in addresses:
        try:
            ip = ipaddress.ip_address(a)
        except ValueError:
            continue
        if ip.is_loopback or ip.is_multicast or ip.is_unspecified:
            continue
        addrs.append(f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}")
    if not addrs:
        return None
    return Announcement(tag_s, eid_s, tuple(dict.fromkeys(addrs))[:MAX_ADDRS])


class Verdict(Enum):
    ACCEPT = "accepted"
    OTHER_VAULT = "another vault"
    SELF = "this device"
    UNPAIRED = "not a paired device"
    FORGOTTEN = "removed from the vault"


def judge(ann: Announcement, *, tag: str, me: str, paired: set[str], forgotten: set[str]) -> Verdict:
    """Only a paired, not removed device of this vault is believed."""
    if not hmac.compare_digest(ann.tag, tag):
        return Verdict.OTHER_VAULT
    if ann.endpoint_id == me:
        return Verdict.SELF
    if ann.endpoint_id in forgotten:
        return Verdict.FORGOTTEN
    if ann.endpoint_id not in paired:
        return Verdict.UNPAIRED
    return Verdict.ACCEPT
