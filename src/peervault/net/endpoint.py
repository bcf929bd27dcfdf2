"""Iroh endpoint for one vault: persisted identity, no-relay mode, and the uniffi patch.

iroh's Python bindings copy written bytes into Rust one byte at a time (~4 MB/s,
blocking the event loop; TECHNOTES 2.9). `patch_uniffi_write` replaces that copy
with one memmove; tests/unit/test_net_patch.py fails if the binding's internals change.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import ctypes
import logging
import re

import iroh
from iroh import (
    Connection,
    EndpointAddr,
    EndpointId,
    EndpointOptions,
    EndpointTicket,
    IrohError,
    RelayMode,
    SecretKey,
    Signature,
    preset_minimal,
    preset_n0,
)
from iroh import (
    Endpoint as Endpoint,  # re-exported: the daemon holds one
)

from ..config import ALPN

log = logging.getLogger(__name__)
_patched = False


def patch_uniffi_write() -> None:
    global _patched
    if _patched:
        return
    builder = iroh.iroh_ffi._UniffiRustBufferBuilder

    def write(self: object, value: bytes) -> None:
        n = len(value)
        with self._reserve(n):  # type: ignore[attr-defined]
            rbuf = self.rbuf  # type: ignore[attr-defined]
            ctypes.memmove(ctypes.addressof(rbuf.data.contents) + rbuf.len, bytes(value), n)

    builder.write = write  # type: ignore[method-assign]  # the one deliberate patch of iroh's private class
    _patched = True


def describe(exc: BaseException) -> str:
    """IrohError prints as an empty string; this gives its kind and message, or, when the
    other side closed the connection with a reason, that reason alone."""
    if isinstance(exc, IrohError):
        with contextlib.suppress(Exception):
            return peer_words(without_source_places(f"{exc.kind().name}: {exc.message()}"))
    return str(exc) or type(exc).__name__


# where in Rust's sources an error was made, which iroh's messages add when RUST_BACKTRACE
# is set: " (/github/home/.cargo/registry/src/.../iroh-1.4.1/src/endpoint.rs:1076:20)"
_SOURCE_PLACE = re.compile(r" \([^()\n]*\.rs:\d+:\d+\)")


def without_source_places(text: str) -> str:
    """The message as a user reads it, without the Rust source files and lines in it."""
    return _SOURCE_PLACE.sub("", text)


# how iroh prints a connection the other side closed on purpose (Rust's Debug of quinn's
# ApplicationClose: the reason as a byte-string literal, non-ASCII bytes as \xNN)
_PEER_CLOSED = re.compile(r'ApplicationClosed\(ApplicationClose \{ error_code: \d+, reason: b"((?:[^"\\]|\\.)*)" \}\)')


def peer_words(text: str) -> str:
    """The reason the other device gave when it closed the connection ("sync is paused on
    that device"), out of the transport's text around it; any other text as it is."""
    found = _PEER_CLOSED.search(text)
    if found is None or not found[1]:
        return text
    try:
        raw = codecs.escape_decode(found[1].encode("ascii", "backslashreplace"))[0]
    except ValueError:
        return text
    return bytes(raw).decode("utf-8", "replace")


def new_secret_key() -> bytes:
    return bytes(SecretKey.generate().to_bytes())


def endpoint_id_of(secret: bytes) -> str:
    return str(SecretKey.from_bytes(secret).public())


def sign(secret: bytes, data: bytes) -> bytes:
    """An ed25519 signature by the endpoint key `secret` (64 bytes)."""
    return bytes(SecretKey.from_bytes(secret).sign(data).to_bytes())


def verify(endpoint_id: str, data: bytes, signature: bytes) -> bool:
    """Whether `signature` over `data` was made by the key of `endpoint_id`."""
    try:
        EndpointId.from_string(endpoint_id).verify(data, Signature.from_bytes(signature))
    except IrohError:
        return False
    return True


def id_bytes(endpoint_id: str) -> bytes:
    return bytes(EndpointId.from_string(endpoint_id).to_bytes())


def id_of_bytes(raw: bytes) -> str:
    return str(EndpointId.from_bytes(raw))


async def bind(secret: bytes, *, no_relay: bool, bind_addr: str | None) -> Endpoint:
    patch_uniffi_write()
    # uniffi annotates BaseEventLoop, but only calls call_soon_threadsafe: any running loop does
    iroh.iroh_ffi.uniffi_set_event_loop(asyncio.get_running_loop())  # type: ignore[arg-type]
    opts = EndpointOptions(
        preset=preset_minimal() if no_relay else preset_n0(),
        relay_mode=RelayMode.disabled() if no_relay else RelayMode.default_mode(),
        secret_key=secret,
        alpns=[ALPN],
        bind_addr=bind_addr or None,  # None: iroh's default (any port)
    )
    return await Endpoint.bind(opts)


def direct_addrs(ep: Endpoint) -> list[str]:
    return [str(a) for a in ep.addr().direct_addresses()]


def bound_port(ep: Endpoint) -> int | None:
    for s in ep.bound_sockets():
        if not s.startswith("["):
            return int(s.rsplit(":", 1)[1])
    return None


def ticket_for(ep: Endpoint) -> str:
    return str(EndpointTicket.from_addr(ep.addr()))


def parse_endpoint_ticket(s: str) -> tuple[str, list[str]]:
    try:
        addr = EndpointTicket.from_string(s).endpoint_addr()
    except IrohError as exc:
        from ..errors import BadTicket

        raise BadTicket(f"the device address in the ticket is invalid ({describe(exc)})") from None
    return str(addr.id()), [str(a) for a in addr.direct_addresses()]


def round_trip_ms(conn: Connection) -> int:
    """The transport's round-trip estimate on the path in use (0 if none is known: closed)."""
    try:
        return max((p.rtt_ms for p in conn.paths() if p.is_selected), default=0)
    except Exception:  # noqa: BLE001 - the connection is gone: its fetches fail on their own
        return 0


async def connect(ep: Endpoint, endpoint_id: str, addrs: list[str], timeout: float) -> Connection:
    """Dial a peer; iroh hangs ~30 s on dead addresses, so this gives up after `timeout`."""
    target = EndpointAddr(EndpointId.from_string(endpoint_id), None, addrs)
    return await asyncio.wait_for(ep.connect(target, ALPN), timeout)
