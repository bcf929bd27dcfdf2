"""The control API's pure rules: parameters, access, the events ring, Prometheus text,
error codes, and the OpenAPI file kept equal to the operations table."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from peervault.api import access, openapi, prometheus
from peervault.errors import BadRequest, BadTicket, Conflict, Forbidden, NotFound, PeerVaultError, Unauthorized, by_code
from peervault.service.events import EventBus
from peervault.service.operations import BY_NAME, OPERATIONS, coerce

ROOT = Path(__file__).resolve().parents[2]


def test_parameters_are_typed_and_bounded() -> None:
    op = BY_NAME["version"]
    assert coerce(op, {"path": "a.md", "n": "3"}) == {"path": "a.md", "n": 3}
    with pytest.raises(BadRequest, match="needs the parameter 'n'"):
        coerce(op, {"path": "a.md"})
    with pytest.raises(BadRequest, match="must be an integer"):
        coerce(op, {"path": "a.md", "n": "three"})
    with pytest.raises(BadRequest, match="must be an integer"):
        coerce(op, {"path": "a.md", "n": True})
    with pytest.raises(BadRequest, match="out of range"):
        coerce(op, {"path": "a.md", "n": -1})
    with pytest.raises(BadRequest, match="no parameter 'x'"):
        coerce(op, {"path": "a.md", "n": 1, "x": 1})
    with pytest.raises(BadRequest, match="must be a string"):
        coerce(op, {"path": ["a.md"], "n": 1})
    with pytest.raises(BadRequest, match="too long"):
        coerce(op, {"path": "a" * 5000, "n": 1})
    with pytest.raises(BadRequest, match="NUL"):
        coerce(op, {"path": "a\x00.md", "n": 1})


def test_every_operation_is_a_distinct_route() -> None:
    routes = [(op.method, op.path) for op in OPERATIONS]
    assert len(set(routes)) == len(routes)
    for op in OPERATIONS:  # a path parameter is also declared, so the client can fill it in
        assert set(re.findall(r"{(\w+)}", op.path)) <= {p.name for p in op.params}


def test_tcp_needs_the_token_and_web_pages_need_an_allowed_origin() -> None:
    access.check({}, over_tcp=False, expected_token="t0k", origins=())  # the owner's socket
    access.check({"authorization": "Bearer t0k"}, over_tcp=True, expected_token="t0k", origins=())
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "Basic t0k"}, {"authorization": "Bearer "}):
        with pytest.raises(Unauthorized):
            access.check(headers, over_tcp=True, expected_token="t0k", origins=())
    with pytest.raises(Forbidden, match="web page"):
        access.check({"origin": "https://evil.example", "authorization": "Bearer t0k"}, True, "t0k", ())
    with pytest.raises(Forbidden, match="web page"):
        access.check({"origin": "https://evil.example"}, False, "t0k", ("app://obsidian.md",))
    access.check({"origin": "app://obsidian.md", "authorization": "Bearer t0k"}, True, "t0k", ("app://obsidian.md",))


def test_the_token_is_made_once_and_private(tmp_path: Path) -> None:
    first = access.token(tmp_path)
    assert len(first) >= 40 and access.token(tmp_path) == first
    assert (tmp_path / access.TOKEN_FILE).stat().st_mode & 0o777 == 0o600


def test_events_are_numbered_and_a_client_that_fell_behind_is_told() -> None:
    bus = EventBus(keep=3)
    for i in range(5):
        bus.publish("local_change", float(i), paths=[f"{i}.md"])
    events, missed = bus.since(0)
    assert [e["id"] for e in events] == [3, 4, 5] and missed  # 1 and 2 were dropped
    events, missed = bus.since(3)
    assert [e["paths"] for e in events] == [["3.md"], ["4.md"]] and not missed  # event 4 is the 4th, 3.md
    assert bus.since(5) == ([], False)
    assert bus.since(99)[1]  # an id from an earlier daemon
    with pytest.raises(ValueError, match="unknown event kind"):
        bus.publish("nonsense", 0.0)


async def test_a_waiting_client_wakes_on_the_next_event() -> None:
    bus = EventBus()
    waiter = asyncio.ensure_future(bus.wait(0, timeout=5.0))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    bus.publish("peer_connected", 1.0, device="abc")
    events, _ = await asyncio.wait_for(waiter, 1.0)
    assert events[0]["kind"] == "peer_connected" and events[0]["device"] == "abc"
    assert await bus.wait(1, timeout=0.01) == ([], False)  # nothing new: the timeout, not a hang


def test_prometheus_text_has_one_typed_sample_per_metric() -> None:
    status = {
        "files": {"tracked": 12, "deleted": 1, "ignored": 2},
        "not_synced": [{"path": "big.bin", "reason": "too large"}],
        "pending_changes": 3,
        "held_deletions": {"count": 0},
        "peers": [{"connected": True}, {"connected": False}],
        "daemon": {"paused": False},
        "storage": {"binary_files": 2, "binary_bytes": 5000, "blob_store_files": 1, "blob_store_bytes": 700},
        "metrics": {"bytes_sent": 100, "memory_mb": 41.5, "phases_ms": {"x": 1}, "profile": "default"},
    }
    text = prometheus.render(status)
    samples = dict(line.split(" ") for line in text.splitlines() if not line.startswith("#"))
    assert samples["peervault_files_tracked"] == "12" and samples["peervault_peers_connected"] == "1"
    assert samples["peervault_bytes_sent_total"] == "100" and samples["peervault_memory_mb"] == "41.5"
    assert samples["peervault_binary_bytes"] == "5000" and samples["peervault_blob_store_bytes"] == "700"
    assert "# TYPE peervault_bytes_sent_total counter" in text
    assert not any("phases" in k or "profile" in k for k in samples)
    for name in samples:  # every sample is announced, as scrapers expect
        assert f"# TYPE {name} " in text


def test_error_codes_round_trip_to_their_class() -> None:
    for cls in (BadRequest, NotFound, Conflict, BadTicket, Unauthorized, Forbidden):
        assert by_code(cls.__name__) is cls
    assert by_code("SomethingNew") is PeerVaultError  # a newer daemon's error still reads as an error
    assert NotFound.http_status == 404 and Conflict.http_status == 409 and BadTicket.exit_code == 4


def test_the_committed_openapi_file_is_the_generated_one() -> None:
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert committed == json.loads(json.dumps(openapi.spec())), "run: python -m peervault.api.openapi > docs/openapi.json"
    for op in OPERATIONS:
        assert committed["paths"][op.path][op.method.lower()]["operationId"] == op.name


def test_a_login_code_works_once_within_its_minute_and_a_session_lasts_a_day() -> None:
    sessions = access.Sessions()
    code = sessions.new_code(now=1000.0)
    assert sessions.redeem("not-the-code", 1001.0) is None
    session = sessions.redeem(code, 1001.0)
    assert session and session != code
    assert sessions.redeem(code, 1002.0) is None  # used
    assert sessions.valid(session, 1002.0) and not sessions.valid(session, 1001.0 + access.SESSION_S)
    assert not sessions.valid(None, 1002.0) and not sessions.valid("", 1002.0) and not sessions.valid(code, 1002.0)
    late = sessions.new_code(now=2000.0)
    assert sessions.redeem(late, 2000.0 + access.LOGIN_CODE_S) is None  # expired


def test_sessions_beyond_the_limit_drop_the_oldest() -> None:
    sessions = access.Sessions()
    made = [sessions.redeem(sessions.new_code(float(i)), float(i)) for i in range(access.MAX_SESSIONS + 1)]
    assert not sessions.valid(made[0], 100.0)
    assert all(sessions.valid(s, 100.0) for s in made[1:])


def test_a_session_cookie_counts_only_on_the_dashboards_own_page() -> None:
    own = "http://127.0.0.1:4321"
    access.check_cookie({}, own)  # a same-origin GET carries no Origin
    access.check_cookie({"origin": own, "sec-fetch-site": "same-origin"}, own)
    for headers in ({"origin": "http://127.0.0.1:9999"}, {"origin": "null"}, {"sec-fetch-site": "same-site"},
                    {"sec-fetch-site": "cross-site"}):  # fmt: skip
        with pytest.raises(Forbidden):
            access.check_cookie(headers, own)
    assert access.cookie_name(4321) != access.cookie_name(4322)  # two vaults' dashboards, one browser
