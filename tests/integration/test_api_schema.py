"""The API against its own OpenAPI file, from outside: schemathesis generates requests for
every operation in docs/openapi.json (valid and malformed) and sends them to a live daemon
over loopback TCP with the token. No request may get a 5xx or an answer the schema does not
describe, the daemon must survive all of them, and the notes in the vault are untouched."""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import wait_until
from .test_control_api import free_port, unix

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
EXAMPLES = 25  # per operation: 2 x 25 operations and /vaults, bounded so the test stays under a minute
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_every_operation_holds_to_the_schema_and_nothing_crashes_the_daemon(make_device):
    a = make_device("A")
    notes = {"n.md": "one\n", "dir/m.md": "two\n"}
    for rel, text in notes.items():
        a.write(rel, text)
    port = free_port()
    a.start("--api", f"127.0.0.1:{port}")
    wait_until(lambda: unix(a, "GET", "/files")[1]["total"] == 2, what="the notes tracked")
    token = (a.root / ".peervault" / "api-token").read_text().strip()
    vault = unix(a, "GET", "/vaults")[1][0]["id"]  # the routes under /vaults/ID/ reach the vault, not only a 404
    schema = schemathesis.openapi.from_path(str(SCHEMA))
    base_url = f"http://127.0.0.1:{port}"
    sent: dict[str, int] = {}
    expected: set[str] = set()

    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.endswith("/events"):
            continue  # a long poll: waits up to 25 s per request; its input rules are unit-tested

        # valid requests and malformed ones (wrong types, missing fields, bad paths)
        modes = [operation.as_strategy(generation_mode=mode) for mode in GenerationMode]

        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(case=st.one_of(modes))
        def exercise(case: schemathesis.Case) -> None:
            if case.path_parameters and "vault" in case.path_parameters and sent.get(operation.label, 0) % 4:
                case.path_parameters["vault"] = vault  # most requests to the real vault; some to any id (404)
            case.call_and_validate(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS, timeout=30)
            sent[operation.label] = sent.get(operation.label, 0) + 1

        expected.add(operation.label)
        exercise()

    assert len(expected) >= 50 and set(sent) == expected, sorted(expected - set(sent))
    assert a.proc.poll() is None, "the daemon died"
    status, body = unix(a, "GET", "/status")
    assert status == 200 and body["daemon"]["pid"] == a.proc.pid
    for rel, text in notes.items():
        assert a.read(rel) == text, rel
