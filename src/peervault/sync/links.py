"""A Link pumps one Session over one MessageStream: the thin asyncio shell around the
sans-I/O state machine. Events go to the daemon through a callback; the time the
session is given comes from the monotonic clock the daemon passes in."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from ..errors import ProtocolError
from ..net.stream import MessageStream
from ..protocol import messages as m
from ..protocol.codes import Code
from ..protocol.session import Close, Event, Session

log = logging.getLogger(__name__)


class Link:
    def __init__(
        self,
        peer: str,
        session: Session,
        stream: MessageStream,
        on_event: Callable[[Link, Event], None],
        clock: Callable[[], float],
    ) -> None:
        self.peer = peer
        self.session = session
        self.stream = stream
        self.on_event = on_event
        self.clock = clock  # monotonic (`time.monotonic` in the daemon)
        self.opened_at = clock()
        self.closed = asyncio.Event()
        self.close_reason = ""
        self.closed_here: int | None = None  # the code of a close this device decided, if it did
        self.synced = asyncio.Event()
        self._pongs = 0
        self._pong_seen = asyncio.Event()
        self._send_queue: asyncio.Queue[list[m.Message] | None] = asyncio.Queue(maxsize=1024)
        self._tasks: list[asyncio.Task[None]] = []
        self._tick_handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self.send(self.session.start(self.clock()))
        self._tasks = [asyncio.create_task(self._reader()), asyncio.create_task(self._writer())]
        self._schedule_tick()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """A task that lives as long as the link (cancelled when it closes)."""
        self._tasks.append(asyncio.create_task(coro))

    def _schedule_tick(self) -> None:
        """One timer per link, set for the session's next deadline: an idle link wakes once
        per heartbeat, not once a second."""
        if self.closed.is_set():
            return
        if self._tick_handle is not None:
            self._tick_handle.cancel()
        delay = max(self.session.next_deadline() - self.clock(), 0.0) + 0.01
        self._tick_handle = asyncio.get_running_loop().call_later(delay, self._on_tick)

    def retimed(self) -> None:
        """The session's timings changed (a profile switched live): wake at its new deadline."""
        self._schedule_tick()

    def _on_tick(self) -> None:
        self.tick()
        self._schedule_tick()

    def send(self, msgs: list[m.Message]) -> None:
        if msgs and not self.closed.is_set():
            try:
                self._send_queue.put_nowait(msgs)
            except asyncio.QueueFull:
                self.close(Code.SILENT, "peer is not reading; send queue full")

    def push(self, msg: m.IndexUpdates | m.DocUpdates | m.Presence) -> None:
        self.send(self.session.push(self.clock(), msg))

    def tick(self) -> None:
        out, events = self.session.tick(self.clock())
        self.send(out)
        for ev in events:
            self._handle(ev)

    async def barrier(self, timeout: float) -> bool:
        """True once the peer has processed everything sent so far (a ping's pong came back)."""
        seen = self._pongs
        self._pong_seen.clear()
        self.send([m.Ping()])
        deadline = self.clock() + timeout
        while self._pongs == seen and not self.closed.is_set():
            remaining = deadline - self.clock()
            if remaining <= 0:
                return False
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._pong_seen.wait(), remaining)
            self._pong_seen.clear()
        return self._pongs > seen

    async def _writer(self) -> None:
        while True:
            msgs = await self._send_queue.get()
            if msgs is None:
                return
            try:
                await self.stream.send(msgs)
            except ConnectionError as exc:
                self.close(Code.OK, f"send failed: {exc}")
                return

    async def _reader(self) -> None:
        try:
            while not self.closed.is_set():
                msgs = await self.stream.receive()
                for msg in msgs:
                    if isinstance(msg, m.Pong):
                        self._pongs += 1
                        self._pong_seen.set()
                    out, events = self.session.receive(self.clock(), msg)
                    self.send(out)
                    for ev in events:
                        self._handle(ev)
                self._schedule_tick()  # a message may bring the next deadline forward (now LIVE)
        except ProtocolError as exc:
            log.warning("peer %s broke the protocol: %s", self.peer[:10], exc)
            self.send([m.Refused(Code.PROTOCOL, str(exc)[:200])])
            await asyncio.sleep(0.05)
            self.close(Code.PROTOCOL, str(exc))
        except ConnectionError as exc:
            self.close(Code.OK, str(exc))  # the stream ended: close the connection too, or it lingers
        except Exception as exc:  # noqa: BLE001 - one bad link must not take the daemon down
            log.exception("link to %s failed", self.peer[:10])
            self.close(Code.INTERNAL, f"internal error: {exc}")

    def _handle(self, ev: Event) -> None:
        try:
            self.on_event(self, ev)
        finally:
            if isinstance(ev, Close):
                # let the Refused frame (if any) reach the peer before closing
                asyncio.get_running_loop().call_later(0.1, self.close, ev.code, ev.reason)

    def close(self, code: int, reason: str) -> None:
        if self.closed.is_set():
            return
        self.closed_here = code
        self.stream.close(code, reason)
        self._finish(reason)

    def _finish(self, reason: str) -> None:
        if self.closed.is_set():
            return
        self.close_reason = reason
        self.closed.set()
        if self._tick_handle is not None:
            self._tick_handle.cancel()
        with contextlib.suppress(asyncio.QueueFull):
            self._send_queue.put_nowait(None)
        current = asyncio.current_task()
        for t in self._tasks:
            if t is not current:
                t.cancel()
        self.on_event(self, Close(Code.OK, reason))
