"""Close and refusal codes: the one table of them, shared with the peer.

A code travels in a REFUSED message and in the QUIC close frame, so both ends must read
a number the same way: every place in `src/` that refuses, closes or resets a stream takes
its code from here. HTTP-like where an HTTP status fits (a reader guesses right); 0 is a
normal close, and 290 is no error at all (a low-power link put to sleep). docs/PROTOCOL.md
lists them.
"""

from __future__ import annotations

import enum

from . import messages as m


class Code(enum.IntEnum):
    """A close or refusal code; `meaning` says what it tells the other side."""

    meaning: str

    def __new__(cls, value: int, meaning: str) -> Code:
        member = int.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        return member

    OK = 0, "closed normally: shutting down, or the stream ended"
    IDLE = 290, "low-power: an idle link suspended; the next change on either side reconnects"
    PAUSED = 291, "the closing device paused sync (`peervault pause`); it dials again when it resumes"
    PROTOCOL = 400, "protocol violation, or an update that could not be applied"
    UNKNOWN_PEER = 403, "unknown device, or a pairing ticket that is invalid, used or expired"
    WRONG_VAULT = 404, "the device belongs to a different vault"
    SILENT = 408, "the peer is silent (no message, PAIR_OK or stream in time) or not reading"
    DUPLICATE = 409, "duplicate connection: both dialled at once, the other link is kept"
    REMOVED = 410, "this device was removed from the vault (`peervault forget`): pair again"
    VERSION = 426, "protocol version not supported"
    INTERNAL = 500, "internal error on the closing side"
    UNAVAILABLE = 503, "an update could not be stored here (a full disk); it is sent again on reconnect"


class StreamCode(enum.IntEnum):
    """A blob stream's reset code (QUIC stream codes are apart from connection codes)."""

    REFUSED = 1  # the blob request could not be served; the connection stays up


# Refusals a dialler reports as the outcome of `join`/`sync`: dialling again would not help.
FINAL = frozenset({Code.UNKNOWN_PEER, Code.WRONG_VAULT, Code.VERSION, Code.REMOVED})

# The reason sent with REMOVED: `status` and the CLI show it to the user of the removed device.
REMOVED_REASON = "this device was removed from the vault"


STRANGER = (Code.UNKNOWN_PEER, "unknown device")  # the refusal of a device not paired


def stranger_refusal(first: m.Message | None, refusal: tuple[int, str] = STRANGER, pair_timeout: float = 5.0) -> tuple[int, str]:
    """What an acceptor answers a device that is not (or no longer) paired, given its first
    message (None: nothing by the pairing deadline). The one text for every case where no
    pairing happens, so that on a shared endpoint (daemon/router.py) a vault this device
    does not serve and a vault the peer is not paired for are answered alike."""
    code, why = refusal
    if first is None:
        return code, f"{why}: did not pair within {pair_timeout:.0f} s"
    if not isinstance(first, m.Pair):
        return code, f"{why}: pair with a ticket first"
    return Code.UNKNOWN_PEER, "pairing ticket is invalid, used or expired"
