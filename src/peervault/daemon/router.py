"""One Iroh endpoint for every vault of the process that holds the per-user device key
(devicekey.py): one port, one relay connection, one device id for those vaults.

An incoming connection names its vault in the dialer's first message: PAIR and HELLO both
carry the vault's 16-byte random id (a dialer always writes first: Iroh shows a stream to
the acceptor only then). The router reads that message, gives it back to the stream, and
hands the stream to that vault's `Connections` (links, dialers and backoff are each vault's
own, so they are keyed by (peer, vault)). Why not an ALPN per vault: docs/PROTOCOL.md,
"One endpoint for several vaults".

A vault this device does not serve is answered exactly as a served vault answers a device
not paired with it (`stranger_refusal`): a paired device of one vault cannot learn which
other vaults the device serves. A vault restarting by its supervisor is, for that moment,
not served: its peers dial again after their backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import time
from collections.abc import Coroutine
from typing import Any

from .. import devicekey
from ..config import Config
from ..errors import PeerVaultError
from ..net import endpoint as netep
from ..net.stream import MessageStream
from ..protocol import messages as m
from ..protocol.codes import Code, stranger_refusal
from .binding import bind_key
from .connections import Connections, refuse

log = logging.getLogger(__name__)


def vault_named(first: m.Message) -> bytes | None:
    """The vault a dialer's first message is about (None: a message no dialer starts with)."""
    return first.vault_id if isinstance(first, (m.Pair, m.Hello)) else None


class Router:
    def __init__(self, ep: netep.Endpoint, cfg: Config, lock: int | None = None) -> None:
        self.ep = ep
        self._lock = lock  # devicekey.lock_endpoint's fd: this process serves the shared id
        self.cfg = cfg  # the first vault's: timeouts for the handshake before a vault is known
        self.vaults: dict[bytes, Connections] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None

    @classmethod
    async def bind(cls, secret: bytes, cfg: Config) -> Router:
        """Bind the shared endpoint on the port of its last run (kept beside the key); refused
        (VaultBusy) while another daemon serves it."""
        lock = devicekey.lock_endpoint()
        try:
            ep = await bind_key(secret, cfg, devicekey.last_port())
        except BaseException:
            os.close(lock)
            raise
        port = netep.bound_port(ep)
        if port:
            with contextlib.suppress(OSError):  # bookkeeping only: the next run may get another port
                devicekey.save_port(port)
        router = cls(ep, cfg, lock)
        # its own (empty) context: a routing log line names no vault until one is chosen
        router._loop = asyncio.create_task(router._accept_loop(), context=contextvars.Context())
        return router

    def register(self, vault_id: bytes, conns: Connections) -> None:
        """A vault is served: connections naming it go to `conns`."""
        other = self.vaults.get(vault_id)
        if other is not None and other is not conns:
            raise PeerVaultError(
                f"{conns.state.root} is the same vault as {other.state.root} (a copied folder?); serve only one of them"
            )
        self.vaults[vault_id] = conns

    def unregister(self, vault_id: bytes, conns: Connections) -> None:
        if self.vaults.get(vault_id) is conns:
            del self.vaults[vault_id]

    async def close(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ep.close(), 2.0)
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    async def _accept_loop(self) -> None:
        while True:
            inc = await self.ep.accept_next()
            if inc is None:
                return
            self._spawn(self._route(inc))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._tasks.discard)

    async def _route(self, inc: Any) -> None:
        conn = stream = None
        arrived = time.monotonic()  # the pairing deadline counts from here, in every vault
        timeout, pair_timeout = self.cfg.connect_timeout_s, self.cfg.pair_timeout_s
        try:
            acc = await asyncio.wait_for(inc.accept(), timeout)
            conn = await asyncio.wait_for(acc.connect(), timeout)
            peer = str(conn.remote_id())
            stream = await asyncio.wait_for(MessageStream.accept(conn), pair_timeout)
            first = await asyncio.wait_for(stream.receive(), max(arrived + pair_timeout - time.monotonic(), 0.0))
        except TimeoutError:
            if stream is not None:  # a stream, but no message by the deadline: as any vault answers
                refuse(stream, *stranger_refusal(None, pair_timeout=pair_timeout))
                return
            self._failed(conn, "no stream opened in time")
            return
        except Exception as exc:  # noqa: BLE001 - a failed handshake only affects that peer
            self._failed(conn, netep.describe(exc))
            return
        conns = self.vaults.get(vault_named(first[0]) or b"")
        if conns is None:
            log.info("device %s asked for a vault not served here: refused as any stranger is", peer[:10])
            refuse(stream, *stranger_refusal(first[0], pair_timeout=pair_timeout))
            return
        conns.context.run(conns.admit, peer, stream, arrived, first)  # in the vault's context: its log tag

    def _failed(self, conn: Any, why: str) -> None:
        log.info("incoming connection failed: %s", why)
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close(Code.SILENT, b"no stream opened in time")
