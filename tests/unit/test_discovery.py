"""LAN discovery's pure rules (protocol/discovery.py): the vault tag, reading an announcement,
and which announcements are believed."""

from __future__ import annotations

import subprocess
import sys

from peervault.protocol import discovery as disc

VAULT = bytes.fromhex("00112233445566778899aabbccddeeff")
ME = "a" * 64
PEER = "b" * 64


def props(tag: str = "", eid: str = PEER, v: bytes = b"1") -> dict[bytes, bytes | None]:
    return {b"v": v, b"vt": (tag or disc.vault_tag(VAULT)).encode(), b"id": eid.encode()}


def test_vault_tag_is_stable_opaque_and_differs_between_vaults() -> None:
    tag = disc.vault_tag(VAULT)
    assert tag == disc.vault_tag(VAULT) and len(tag) == 32 and int(tag, 16) >= 0
    assert VAULT.hex() not in tag and VAULT.hex()[:8] not in tag
    other = disc.vault_tag(bytes.fromhex("00112233445566778899aabbccddeefe"))  # one bit apart
    assert other != tag and sum(x == y for x, y in zip(other, tag, strict=True)) < 16


def test_announced_properties_are_only_version_tag_and_endpoint_id() -> None:
    p = disc.properties(disc.vault_tag(VAULT), ME)
    assert set(p) == {"v", "vt", "id"} and p["id"] == ME
    name = disc.instance_name(ME, disc.vault_tag(VAULT))
    assert len(name) <= 63 and name.startswith(f"pv-{ME[:40]}-")
    assert name != disc.instance_name(ME, disc.vault_tag(bytes(16)))  # two vaults on one endpoint: two names


def test_parse_reads_an_announcement_and_its_addresses() -> None:
    ann = disc.parse(props(), ["10.0.0.7", "192.168.1.4", "10.0.0.7"], 4242)
    assert ann == disc.Announcement(disc.vault_tag(VAULT), PEER, ("10.0.0.7:4242", "192.168.1.4:4242"))
    v6 = disc.parse(props(), ["fe80::1"], 4242)
    assert v6 is not None and v6.addrs == ("[fe80::1]:4242",)


def test_parse_drops_useless_addresses_and_bounds_their_number() -> None:
    assert disc.parse(props(), ["127.0.0.1", "0.0.0.0", "224.0.0.251", "not an ip"], 4242) is None
    many = [f"10.0.0.{i}" for i in range(1, 50)]
    ann = disc.parse(props(), many, 4242)
    assert ann is not None and len(ann.addrs) == disc.MAX_ADDRS


def test_parse_refuses_what_is_not_an_announcement_of_this_version() -> None:
    addrs, port = ["10.0.0.7"], 4242
    assert disc.parse(props(v=b"2"), addrs, port) is None
    assert disc.parse({b"v": b"1", b"id": PEER.encode()}, addrs, port) is None  # no tag
    assert disc.parse({b"v": b"1", b"vt": disc.vault_tag(VAULT).encode(), b"id": None}, addrs, port) is None
    assert disc.parse(props(tag="short"), addrs, port) is None
    assert disc.parse(props(eid="x y;"), addrs, port) is None
    assert disc.parse({**props(), b"id": b"\xff\xfe"}, addrs, port) is None
    for bad_port in (None, 0, 70000):
        assert disc.parse(props(), addrs, bad_port) is None


def judge(
    ann: disc.Announcement, paired: frozenset[str] = frozenset({PEER}), forgotten: frozenset[str] = frozenset()
) -> disc.Verdict:
    return disc.judge(ann, tag=disc.vault_tag(VAULT), me=ME, paired=set(paired), forgotten=set(forgotten))


def test_only_a_paired_device_of_this_vault_is_believed() -> None:
    ours = disc.Announcement(disc.vault_tag(VAULT), PEER, ("10.0.0.7:1",))
    assert judge(ours) is disc.Verdict.ACCEPT
    assert judge(ours, paired=set()) is disc.Verdict.UNPAIRED  # same vault's tag, but never paired here
    assert judge(ours, forgotten={PEER}) is disc.Verdict.FORGOTTEN  # removed from the vault
    theirs = disc.Announcement(disc.vault_tag(b"\x01" * 16), PEER, ("10.0.0.7:1",))
    assert judge(theirs) is disc.Verdict.OTHER_VAULT  # even with a paired device's endpoint id
    mine = disc.Announcement(disc.vault_tag(VAULT), ME, ("10.0.0.7:1",))
    assert judge(mine, paired={PEER, ME}) is disc.Verdict.SELF


def test_zeroconf_is_not_loaded_unless_discovery_runs() -> None:
    """`--no-mdns` costs nothing: the daemon and CLI modules load without zeroconf."""
    code = "import sys, peervault.cli.main, peervault.daemon.root; print('zeroconf' in sys.modules, 'ifaddr' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
