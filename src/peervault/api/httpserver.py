"""HTTP/1.1 on asyncio streams: the control API's server, without a web framework.

aiohttp cost the daemon about 13 MB of RSS (127 modules) from its first API request on;
the API needs only a small part of HTTP, and asyncio is loaded anyway. This module reads
requests and writes responses; routing, access and JSON errors are app.py's.

It is strict with what it is sent, since any local program may connect: a request head
over MAX_HEAD bytes or MAX_HEADERS lines is 431, a malformed one 400, a chunked or other
encoded body 411/501 (our clients send Content-Length), a body over the handler's limit
413 before it is read. A client that sends nothing, or trickles its head, is closed
after HEAD_TIMEOUT_S (IDLE_TIMEOUT_S between kept-alive requests). Nothing a client does
raises out of a connection's task: a handler's bug answers 500 and the server goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qsl, unquote

log = logging.getLogger(__name__)

MAX_HEAD = 16 * 1024  # request line and headers together
MAX_HEADERS = 100
HEAD_TIMEOUT_S = 10.0  # a new connection's first request head must arrive within this
IDLE_TIMEOUT_S = 60.0  # a kept-alive connection's next request head must arrive within this
BODY_TIMEOUT_S = 30.0  # a declared body must arrive within this
DRAIN_MAX = 1024 * 1024  # a body left unread up to this is discarded so the client reads its answer
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # a method or header name (RFC 9110 token)
_TARGET = re.compile(r"/[\x21-\x7e]*")  # origin-form: printable ASCII, no spaces
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # not allowed in a header's value (a tab is)


class HttpError(Exception):
    """A request the server refuses before any handler sees it (or a handler's 404/405)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


Write = Callable[[bytes], Awaitable[None]]


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)  # each a Set-Cookie header's value
    stream: Callable[[Write], Awaitable[None]] | None = None  # a body written over time (SSE); the connection then closes


@dataclass
class Request:
    method: str
    path: str  # percent-decoded
    query_string: str
    headers: dict[str, str]  # names in lower case; a repeated header's values joined by ", "
    over_tcp: bool
    keep_alive: bool
    content_length: int
    match_info: dict[str, str] = field(default_factory=dict)  # the route's path parameters (app.py)
    _reader: asyncio.StreamReader | None = None
    _max_body: int = 0
    body_read: bool = False

    @property
    def query(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query_string, keep_blank_values=True)

    def arg(self, name: str) -> str | None:
        """The query parameter's first value."""
        return next((value for key, value in self.query if key == name), None)

    @property
    def cookies(self) -> dict[str, str]:
        pairs = (part.strip().partition("=") for part in self.headers.get("cookie", "").split(";"))
        return {name: value for name, sep, value in pairs if sep and name}

    async def read(self) -> bytes:
        """The body, at most `max_body` bytes (else 413, unread), within BODY_TIMEOUT_S."""
        if self.content_length > self._max_body:
            raise HttpError(413, f"the request body is larger than {self._max_body} bytes")
        if self.body_read or not self.content_length or self._reader is None:
            return b""
        self.body_read = True
        try:
            return await asyncio.wait_for(self._reader.readexactly(self.content_length), BODY_TIMEOUT_S)
        except (asyncio.IncompleteReadError, TimeoutError):
            self.keep_alive = False
            raise HttpError(400, "the request body is shorter than its Content-Length") from None


def parse_head(head: bytes, over_tcp: bool = False) -> Request:
    """A request from its head (request line and headers, ending in a blank line), or
    HttpError naming what is wrong with it."""
    if len(head) > MAX_HEAD:
        raise HttpError(431, f"the request line and headers are longer than {MAX_HEAD} bytes")
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        raise HttpError(400, "the request head is not text") from None
    lines = text.split("\r\n")
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise HttpError(400, "the request has no request line")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or parts[2] not in ("HTTP/1.1", "HTTP/1.0"):
        raise HttpError(400, f"malformed request line {lines[0][:80]!r}: expected 'METHOD /path HTTP/1.1'")
    method, target, version = parts
    if not _TARGET.fullmatch(target):
        raise HttpError(400, f"malformed request target {target[:80]!r}: expected a path starting with '/'")
    if len(lines) - 1 > MAX_HEADERS:
        raise HttpError(431, f"the request has more than {MAX_HEADERS} headers")
    headers: dict[str, str] = {}
    lengths: set[str] = set()
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name) or _CONTROL.search(value):
            raise HttpError(400, f"malformed header line {line[:80]!r}")
        key, value = name.lower(), value.strip(" \t")
        if key == "content-length":
            lengths.add(value)
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    if "transfer-encoding" in headers:
        if headers["transfer-encoding"].lower() == "chunked":
            raise HttpError(411, "chunked request bodies are not accepted: send the body with a Content-Length")
        raise HttpError(501, f"Transfer-Encoding {headers['transfer-encoding'][:40]!r} is not supported")
    length = lengths.pop() if lengths else "0"
    if lengths or not (length.isascii() and length.isdigit()) or len(length) > 15:  # "²" is a digit to Python
        raise HttpError(400, "the Content-Length header is not one whole number")
    raw_path, _, query = target.partition("?")
    connection = {t.strip() for t in headers.get("connection", "").lower().split(",")}
    keep = "keep-alive" in connection if version == "HTTP/1.0" else "close" not in connection
    return Request(method, unquote(raw_path, errors="replace"), query, headers, over_tcp, keep, int(length))


def render(response: Response, close: bool, head_only: bool = False) -> bytes:
    """The response's status line and headers, and its body unless it is streamed."""
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = "Status"
    lines = [f"HTTP/1.1 {response.status} {reason}"]
    headers = dict(response.headers)
    if response.stream is None:
        headers["Content-Length"] = str(len(response.body))
    headers["Connection"] = "close" if close or response.stream is not None else "keep-alive"
    lines += [f"{k}: {v}" for k, v in headers.items()] + [f"Set-Cookie: {c}" for c in response.cookies]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")
    return head if head_only or response.stream is not None else head + response.body


Handler = Callable[[Request], Awaitable[Response]]
Failure = Callable[[int, str], Response]  # the body of an error the server answers itself


class HttpServer:
    """Serves `handle` on listening sockets; `fail` renders the errors of bad requests."""

    def __init__(self, handle: Handler, fail: Failure, max_body: int) -> None:
        self.handle = handle
        self.fail = fail
        self.max_body = max_body  # the most a handler may read; each may check a lower limit first
        self._servers: list[asyncio.Server] = []
        self._idle: dict[asyncio.Task[None], bool] = {}  # each connection's task: waiting for a request?

    async def listen(self, sock: socket.socket) -> None:
        over_tcp = sock.family != socket.AF_UNIX

        async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            # close() cancels the inner task: asyncio logs a cancelled task of start_server's as an error
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.ensure_future(self._connection(reader, writer, over_tcp))

        self._servers.append(await asyncio.start_server(connected, sock=sock, limit=MAX_HEAD))

    async def close(self, grace_s: float) -> None:
        """Stop listening; end idle connections now and the others (event streams) after `grace_s`."""
        for server in self._servers:
            server.close()
        for task, idle in list(self._idle.items()):
            if idle:
                task.cancel()
        if self._idle:
            await asyncio.wait(list(self._idle), timeout=grace_s)
        for task in list(self._idle):
            task.cancel()
        if self._idle:
            await asyncio.wait(list(self._idle), timeout=grace_s)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, over_tcp: bool) -> None:
        task = asyncio.current_task()
        assert task is not None
        try:
            timeout = HEAD_TIMEOUT_S
            while True:
                self._idle[task] = True
                keep = await self._one(reader, writer, over_tcp, timeout)
                if not keep:
                    break
                timeout = IDLE_TIMEOUT_S
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass  # the client went away or stalled: nothing to answer
        except Exception:  # noqa: BLE001 - a bug here ends this connection, never the server
            log.exception("control API: a connection failed")
        finally:
            self._idle.pop(task, None)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, over_tcp: bool, timeout: float) -> bool:
        """Read one request and answer it; whether the connection may take another."""
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        except asyncio.LimitOverrunError:
            await self._refuse(writer, HttpError(431, f"the request line and headers are longer than {MAX_HEAD} bytes"))
            return False
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                await self._refuse(writer, HttpError(400, "the request head ended before its blank line"))
            return False
        task = asyncio.current_task()
        assert task is not None
        self._idle[task] = False
        try:
            request = parse_head(head, over_tcp)
        except HttpError as exc:
            await self._refuse(writer, exc)
            return False
        request._reader, request._max_body = reader, self.max_body
        try:
            response = await self.handle(request)
        except HttpError as exc:
            response = self.fail(exc.status, str(exc))
        except Exception as exc:  # noqa: BLE001 - the handler's own guard should have answered
            log.exception("control API: %s %s failed", request.method, request.path)
            response = self.fail(500, f"{type(exc).__name__}: {exc}; see the daemon's log")
        unread = 0 if request.body_read else request.content_length
        keep = request.keep_alive and unread <= DRAIN_MAX
        writer.write(render(response, not keep, head_only=request.method == "HEAD"))
        await writer.drain()
        if 0 < unread <= DRAIN_MAX:  # dropped, so the client (still sending it) reads the answer; a larger one is not waited for
            keep = await self._discard(reader, unread) and keep
        if response.stream is not None:
            await response.stream(self._writer(writer))
            return False
        return keep

    @staticmethod
    async def _discard(reader: asyncio.StreamReader, length: int) -> bool:
        """Read and drop an unread body; whether all of it came."""
        left = length
        with contextlib.suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout(BODY_TIMEOUT_S):
                while left > 0:
                    chunk = await reader.read(min(left, 64 * 1024))
                    if not chunk:
                        return False
                    left -= len(chunk)
        return left == 0

    @staticmethod
    def _writer(writer: asyncio.StreamWriter) -> Write:
        async def write(data: bytes) -> None:
            writer.write(data)
            await writer.drain()

        return write

    async def _refuse(self, writer: asyncio.StreamWriter, exc: HttpError) -> None:
        with contextlib.suppress(ConnectionError):
            writer.write(render(self.fail(exc.status, str(exc)), close=True))
            await writer.drain()
