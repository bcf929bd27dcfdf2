"""The HTTP/1.1 server (api/httpserver.py) against arbitrary bytes: the parser returns a
request or an HttpError with a 4xx/5xx status, never another exception; over a real
socket, whatever a client sends is answered with a well-formed status line (or the
connection is closed), and the server answers a valid request afterwards."""

from __future__ import annotations

import asyncio
import socket

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peervault.api.httpserver import HttpError, HttpServer, Request, Response, parse_head

VALID = b"POST /vaults/abc/files?x=1 HTTP/1.1\r\nHost: pv\r\nContent-Length: 2\r\nCookie: a=b\r\n\r\n{}"


def mutations() -> st.SearchStrategy[bytes]:
    """A valid request with bytes replaced, inserted or cut, or random bytes."""
    pos = st.integers(0, len(VALID))
    junk = st.binary(min_size=0, max_size=12)
    return st.one_of(
        st.binary(max_size=300),
        st.tuples(pos, junk).map(lambda t: VALID[: t[0]] + t[1] + VALID[t[0] :]),
        st.tuples(pos, pos, junk).map(lambda t: VALID[: min(t[:2])] + t[2] + VALID[max(t[:2]) :]),
        st.lists(
            st.sampled_from([b"GET", b" ", b"/", b"\r\n", b":", b"HTTP/1.1", b"%", b"?", b"Content-Length: ", b"9"]), max_size=30
        ).map(b"".join),  # fmt: skip
    )


@settings(max_examples=500, deadline=None)
@given(mutations())
def test_the_parser_returns_a_request_or_a_clear_refusal(data: bytes) -> None:
    head = data.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    try:
        req = parse_head(head)
    except HttpError as exc:
        assert 400 <= exc.status < 600 and str(exc)
    else:
        assert req.path.startswith("/") and req.content_length >= 0 and req.method.isascii()


async def answer(request: Request) -> Response:
    body = await request.read()
    return Response(body=b"ok " + str(len(body)).encode(), headers={"Content-Type": "text/plain"})


def refuse(status: int, message: str) -> Response:
    return Response(status, message.encode())


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(mutations(), min_size=1, max_size=4))
def test_whatever_a_client_sends_the_server_answers_the_next_one(sent: list[bytes]) -> None:
    async def run() -> None:
        server = HttpServer(answer, refuse, max_body=100)
        sock = socket.create_server(("127.0.0.1", 0))
        await server.listen(sock)
        port = sock.getsockname()[1]
        try:
            for data in sent:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(data)
                writer.write_eof()  # the client is done sending: a head left open is cut, not waited for
                got = await asyncio.wait_for(reader.read(), 15)
                writer.close()
                if got:
                    assert got.startswith(b"HTTP/1.1 ") and got[9:12].isdigit(), got[:80]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
            assert (await asyncio.wait_for(reader.read(), 15)).startswith(b"HTTP/1.1 200")
            writer.close()
        finally:
            await server.close(0.2)

    asyncio.run(run())
