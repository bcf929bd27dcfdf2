"""The control API's HTTP/1.1 server (api/httpserver.py) against hostile and malformed
input: every refusal is a status with a JSON error, stalled clients are cut off, and the
server keeps answering afterwards. Real sockets on loopback; the handler is a stub."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator

import pytest

from peervault.api import httpserver
from peervault.api.httpserver import HttpError, HttpServer, Request, Response, Write, parse_head


def fail(status: int, message: str) -> Response:
    return Response(status, json.dumps({"error": {"code": "BadRequest", "message": message}}).encode())


async def handle(request: Request) -> Response:
    if request.path == "/boom":
        raise RuntimeError("a bug")
    if request.path == "/badstream":

        async def broken(write: Write) -> None:
            await write(b"data: 1\n\n")
            raise RuntimeError("a bug in a stream")

        return Response(headers={"Content-Type": "text/event-stream"}, stream=broken)
    if request.path == "/stream":

        async def stream(write: Write) -> None:
            while True:
                await write(b": still here\n\n")
                await asyncio.sleep(0.05)

        return Response(headers={"Content-Type": "text/event-stream"}, stream=stream)
    body = await request.read() if request.path == "/echo" else b""
    doc = {"method": request.method, "path": request.path, "query": request.query, "body": body.decode()}
    return Response(body=json.dumps(doc).encode(), headers={"Content-Type": "application/json"})


@pytest.fixture
async def server() -> AsyncIterator[tuple[HttpServer, int]]:
    srv = HttpServer(handle, fail, max_body=1000)
    sock = socket.create_server(("127.0.0.1", 0))
    await srv.listen(sock)
    yield srv, sock.getsockname()[1]
    await srv.close(0.2)


async def exchange(port: int, data: bytes, *, read_s: float = 5.0) -> bytes:
    """Send `data`, then read until the server closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(), read_s)
    finally:
        writer.close()


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def body_of(answer: bytes) -> dict:
    return json.loads(answer.split(b"\r\n\r\n", 1)[1])


# --- the parser ---------------------------------------------------------------------------


def test_a_request_head_is_parsed() -> None:
    req = parse_head(b"GET /vaults/ab%20c/files?x=1&x=&y HTTP/1.1\r\nHost: a\r\nCookie: a=1; b=2=3\r\nX-A: 1\r\nx-a: 2\r\n\r\n")
    assert (req.method, req.path, req.query_string) == ("GET", "/vaults/ab c/files", "x=1&x=&y")
    assert req.query == [("x", "1"), ("x", ""), ("y", "")] and req.arg("x") == "1"
    assert req.cookies == {"a": "1", "b": "2=3"} and req.headers["x-a"] == "1, 2"
    assert req.keep_alive and req.content_length == 0
    assert not parse_head(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive
    assert not parse_head(b"GET / HTTP/1.0\r\n\r\n").keep_alive
    assert parse_head(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive
    assert parse_head(b"POST / HTTP/1.1\r\nContent-Length: 12\r\nContent-Length: 12\r\n\r\n").content_length == 12


@pytest.mark.parametrize(
    ("head", "status", "says"),
    [
        (b"GET /\r\n\r\n", 400, "malformed request line"),
        (b"GET  / HTTP/1.1\r\n\r\n", 400, "malformed request line"),
        (b"G(T / HTTP/1.1\r\n\r\n", 400, "malformed request line"),
        (b"GET / HTTP/2.0\r\n\r\n", 400, "malformed request line"),
        (b"GET http://evil/ HTTP/1.1\r\n\r\n", 400, "request target"),
        (b"GET /a\x00b HTTP/1.1\r\n\r\n", 400, "request target"),
        (b"\r\n\r\n", 400, "no request line"),
        (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", 400, "malformed header"),
        (b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400, "malformed header"),
        (b"GET / HTTP/1.1\r\n folded: x\r\n\r\n", 400, "malformed header"),
        (b"GET / HTTP/1.1\r\nX\n: v\r\n\r\n", 400, "malformed header"),
        (b"GET / HTTP/1.1\r\nX: a\nb\r\n\r\n", 400, "malformed header"),
        (b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n", 400, "malformed header"),
        (b"GET /a\n HTTP/1.1\r\n\r\n", 400, "request target"),
        (b"GET\n / HTTP/1.1\r\n\r\n", 400, "malformed request line"),
        (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "Content-Length"),
        (b"POST / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n", 400, "Content-Length"),
        (b"POST / HTTP/1.1\r\nContent-Length: \xb2\r\n\r\n", 400, "Content-Length"),  # "\u00b2": a digit to Python, not to HTTP
        (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400, "Content-Length"),
        (b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 400, "Content-Length"),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411, "Content-Length"),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "not supported"),
        (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * (httpserver.MAX_HEADERS + 1) + b"\r\n", 431, "headers"),
        (b"GET /" + b"a" * httpserver.MAX_HEAD + b" HTTP/1.1\r\n\r\n", 431, "longer than"),
    ],
)
def test_malformed_heads_are_refused_with_what_is_wrong(head: bytes, status: int, says: str) -> None:
    with pytest.raises(HttpError) as err:
        parse_head(head)
    assert err.value.status == status and says in str(err.value)


# --- over the wire ------------------------------------------------------------------------


async def test_keep_alive_pipelining_and_close(server: tuple[HttpServer, int]) -> None:
    _, port = server
    two = b"GET /a?q=1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
    answer = await exchange(port, two)
    first, second = answer.split(b"HTTP/1.1 ")[1:]
    assert first.startswith(b"200") and b"Connection: keep-alive" in first and b'"query": [["q", "1"]]' in first
    assert second.startswith(b"200") and b"Connection: close" in second and b'"body": "hello"' in second
    head = await exchange(port, b"HEAD /a HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and head.endswith(b"\r\n\r\n") and b"Content-Length: " in head


async def test_oversized_heads_and_bodies_are_refused_without_reading_them(server: tuple[HttpServer, int]) -> None:
    _, port = server
    answer = await exchange(port, b"GET / HTTP/1.1\r\nX: " + b"a" * (httpserver.MAX_HEAD + 10))
    assert status_of(answer) == 431 and "longer than" in body_of(answer)["error"]["message"]
    # a gigabyte declared, none of it sent: the answer comes at once, and the connection closes
    answer = await exchange(port, b"POST /echo HTTP/1.1\r\nContent-Length: 1000000000\r\n\r\n")
    assert status_of(answer) == 413 and "1000 bytes" in body_of(answer)["error"]["message"]
    answer = await exchange(port, b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    assert status_of(answer) == 411
    answer = await exchange(port, b"BREW /pot HTCPCP/1.0\r\n\r\n")
    assert status_of(answer) == 400 and "malformed request line" in body_of(answer)["error"]["message"]


async def test_an_unread_body_is_skipped_so_the_next_request_is_read_right(server: tuple[HttpServer, int]) -> None:
    _, port = server
    answer = await exchange(port, b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nGETGET /b HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert [status_of(b"HTTP/1.1 " + part) for part in answer.split(b"HTTP/1.1 ")[1:]] == [200, 200]
    assert b'"path": "/b"' in answer


async def test_silent_trickling_and_short_clients_are_cut_off(
    server: tuple[HttpServer, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, port = server
    monkeypatch.setattr(httpserver, "HEAD_TIMEOUT_S", 0.3)
    monkeypatch.setattr(httpserver, "BODY_TIMEOUT_S", 0.3)
    assert await exchange(port, b"", read_s=3) == b""  # nothing sent: closed, nothing answered
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def trickle() -> None:  # a byte every 50 ms, forever: the head never completes
        with contextlib.suppress(ConnectionError):
            for byte in b"GET / HTTP/1.1\r\nX: " + b"a" * 1000:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.05)

    sender = asyncio.create_task(trickle())
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed after the head's timeout, not after 50 s
    sender.cancel()
    writer.close()
    answer = await exchange(port, b"POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", read_s=3)
    assert status_of(answer) == 400 and "shorter than its Content-Length" in body_of(answer)["error"]["message"]


async def test_a_handlers_bug_is_a_500_and_the_server_goes_on(server: tuple[HttpServer, int]) -> None:
    _, port = server
    answer = await exchange(port, b"GET /boom HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert status_of(answer) == 500 and "RuntimeError: a bug" in body_of(answer)["error"]["message"]
    assert status_of(await exchange(port, b"GET /ok HTTP/1.1\r\nConnection: close\r\n\r\n")) == 200
    answer = await exchange(port, b"GET /badstream HTTP/1.1\r\n\r\n")  # a bug mid-stream: that connection ends
    assert status_of(answer) == 200 and answer.endswith(b"data: 1\n\n")
    assert status_of(await exchange(port, b"GET /ok HTTP/1.1\r\nConnection: close\r\n\r\n")) == 200


async def test_shutdown_ends_open_streams_and_idle_connections(
    server: tuple[HttpServer, int], caplog: pytest.LogCaptureFixture
) -> None:
    srv, port = server
    streaming = await asyncio.open_connection("127.0.0.1", port)
    streaming[1].write(b"GET /stream HTTP/1.1\r\n\r\n")
    assert (await streaming[0].readuntil(b": still here\n\n")).startswith(b"HTTP/1.1 200")
    idle = await asyncio.open_connection("127.0.0.1", port)
    await asyncio.wait_for(srv.close(0.2), 2)
    assert await asyncio.wait_for(idle[0].read(), 2) == b""
    rest = await asyncio.wait_for(streaming[0].read(), 2)  # the stream ends: EOF, not a hang
    assert rest.count(b": still here") < 20
    await asyncio.sleep(0.1)  # the connections' tasks end
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text  # no "Exception in callback"
    for _, writer in (streaming, idle):
        writer.close()
