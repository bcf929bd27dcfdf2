"""The only importer of loro: note documents and the vault index.

Loro raises plain BaseException (not Exception) on bad input; every call that
takes bytes from outside goes through `_guard`, which turns those into CrdtError.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TypeVar

from ..errors import PeerVaultError

T = TypeVar("T")


class CrdtError(PeerVaultError):
    """A CRDT update could not be decoded or applied."""


def guard(what: str, fn: Callable[[], T]) -> T:
    try:
        return fn()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - loro's errors are BaseException
        raise CrdtError(f"{what}: {exc}") from None


def genesis_peer(content: bytes) -> int:
    """A content-derived peer id, so identical first imports on two devices merge into one copy."""
    return int.from_bytes(hashlib.blake2b(content, digest_size=8).digest(), "big") & (2**63 - 1)
