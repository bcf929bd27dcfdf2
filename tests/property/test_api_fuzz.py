"""Nothing the control API is sent takes it down: random methods, paths, queries, bodies
and headers get a 2xx or a 4xx with a JSON error, never a 500, and the vault's notes are
untouched by every request that was refused."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import time
from pathlib import Path
from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peervault.api import access
from peervault.api.app import build
from peervault.api.httpserver import HttpServer
from peervault.config import Config
from peervault.service.operations import OPERATIONS
from peervault.service.vault import VaultService
from twin_engines import engine_pair

PATHS = [op.path.replace("{device}", "abc") for op in OPERATIONS] + ["/metrics", "/events", "/", "/nope", "/peers/", "/%00"]
PARAM_NAMES = sorted({p.name for op in OPERATIONS for p in op.params} | {"since", "timeout", "junk"})
values = st.one_of(st.text(max_size=30), st.integers(-5, 2**40), st.booleans(), st.none(), st.lists(st.integers(), max_size=2))
bodies = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(PARAM_NAMES), values, max_size=3).map(json.dumps),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
    st.just("[1, 2]"),
    st.just('{"path": "a.md"'),
)
requests = st.tuples(
    st.sampled_from(["GET", "POST", "DELETE", "PUT", "PATCH"]),
    st.sampled_from(PATHS),
    st.dictionaries(st.sampled_from(PARAM_NAMES), st.text(max_size=20), max_size=3),
    bodies,
    st.sampled_from([None, "https://evil.example", "app://obsidian.md"]),
    st.booleans(),
)


def test_random_requests_get_json_answers_and_change_nothing(tmp_path: Path) -> None:
    pair = next(engine_pair(tmp_path))
    root = pair.state_a.root
    (root / "a.md").write_text("kept\n")
    pair.a.reconcile(time.time())
    service = VaultService(pair.state_a, Config(), time.time, engine=pair.a)
    token = access.token(pair.state_a.dir)

    def send(port: int, method: str, target: str, body: str | None, headers: dict[str, str]) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request(method, target, body=None if body is None else body.encode("utf-8", "surrogatepass"), headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read().decode()
        finally:
            conn.close()

    async def run_all(batch: list[tuple[str, str, dict[str, str], str | None, str | None, bool]]) -> list[str]:
        app = build(lambda: service, token, ("app://obsidian.md",))
        server = HttpServer(app.handle, app.refused, app.max_body)
        sock = socket.create_server(("127.0.0.1", 0))
        await server.listen(sock)  # over TCP: every request needs the token
        port = sock.getsockname()[1]
        try:
            problems = []
            for method, path, query, body, origin, with_token in batch:
                headers = {"Authorization": f"Bearer {token}"} if with_token else {}
                if origin:
                    headers["Origin"] = origin
                if path == "/events":
                    query = {**query, "timeout": "0"}
                target = path + ("?" + urlencode(query) if query else "")
                status, text = await asyncio.to_thread(send, port, method, target, body, headers)
                if status >= 500:
                    problems.append(f"{method} {path} {query} {body!r}: {status} {text[:200]}")
                elif status >= 400 and "error" not in json.loads(text):
                    problems.append(f"{method} {path}: {status} without a JSON error")
                elif status < 400 and not with_token:
                    problems.append(f"{method} {path}: answered without the token")
            return problems
        finally:
            await server.close(0.5)

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(requests, min_size=1, max_size=8))
    def check(batch: list[tuple[str, str, dict[str, str], str | None, str | None, bool]]) -> None:
        assert asyncio.run(run_all(batch)) == []
        assert (root / "a.md").read_text() == "kept\n"  # restore needs a version that differs: none does

    check()
