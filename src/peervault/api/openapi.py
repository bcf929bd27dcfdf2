"""docs/openapi.json, generated from service/operations.py (a test keeps the committed
file equal to this output): `python -m peervault.api.openapi > docs/openapi.json`."""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import PeerVaultError
from ..service.operations import OPERATIONS, Operation

_TYPES = {str: "string", int: "integer"}
_ERROR = {"$ref": "#/components/schemas/Error"}


def _error_responses() -> dict[str, Any]:
    codes = sorted({cls.http_status for cls in _all_errors()} | {401, 403, 404, 413, 500})
    out: dict[str, Any] = {
        str(c): {"description": "an error", "content": {"application/json": {"schema": _ERROR}}} for c in codes
    }
    out["503"]["headers"] = {"Retry-After": _RETRY_AFTER}
    return out


_RETRY_AFTER = {
    "description": "seconds after which asking again may succeed: given with FirstImportRunning (the vault's first "
    "import runs in a process of its own; only status and peers answer meanwhile)",
    "schema": {"type": "integer"},
}


def _all_errors() -> list[type[PeerVaultError]]:
    found, stack = [], [PeerVaultError]
    while stack:
        cls = stack.pop()
        found.append(cls)
        stack.extend(cls.__subclasses__())
    return found


_VAULT = {"name": "vault", "in": "path", "required": True, "schema": {"type": "string"},
          "description": "the vault's id from GET /vaults (or its vault_id, when one vault of the process has it)"}  # fmt: skip
_LISTING = {
    "get": {
        "operationId": "vaults",
        "summary": "every vault this API answers for: id, path, name, state (running, starting, restarting, failed, "
        "stopping) and why, vault_id, files, pending, errors, not_synced, held_deletions, paused, devices",
        "responses": {"200": {"description": "one object per vault", "content": {"application/json": {}}}},
    }
}


def _operation(op: Operation, prefix: str = "") -> dict[str, Any]:
    in_path = set(re.findall(r"{(\w+)}", op.path))
    doc: dict[str, Any] = {"operationId": f"vault_{op.name}" if prefix else op.name, "summary": op.summary}
    params = [_VAULT] if prefix else []
    params += [
        {"name": p.name, "in": "path" if p.name in in_path else "query", "required": p.required or p.name in in_path,
         "description": p.doc, "schema": {"type": _TYPES[p.kind]}}
        for p in op.params
        if p.name in in_path or op.method == "GET"
    ]  # fmt: skip
    body = [p for p in op.params if p.name not in in_path and op.method != "GET"]
    if params:
        doc["parameters"] = params
    if body:
        schema = {
            "type": "object",
            "properties": {p.name: {"type": _TYPES[p.kind], "description": p.doc} for p in body},
            "required": [p.name for p in body if p.required],
        }
        doc["requestBody"] = {"required": any(p.required for p in body), "content": {"application/json": {"schema": schema}}}
    doc["responses"] = {"200": {"description": "the operation's result", "content": {"application/json": {}}}}
    doc["responses"].update(_error_responses())
    return doc


def spec() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for prefix in ("", PREFIX):
        for op in OPERATIONS:
            paths.setdefault(prefix + op.path, {})[op.method.lower()] = _operation(op, prefix)
        paths[prefix + "/metrics"] = _metrics(prefix)
        paths[prefix + "/events"] = _events(prefix)
    paths["/vaults"] = _LISTING
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "PeerVault control API",
            "version": "1",
            "description": "A running daemon's API, on VAULT/.peervault/control.sock (the owner's alone) and, when "
            "api_port is set, on loopback TCP with `Authorization: Bearer TOKEN` (the token is in "
            ".peervault/api-token). Requests with an Origin header are refused unless it is in api_origins. "
            "The same routes are under /vaults/{vault}/ for each vault GET /vaults lists: on a vault's own socket "
            "its one vault, on the per-user socket of `peervault run` (control.sock in the runtime folder, "
            "docs/API.md) every vault of the process, which has only those routes.",
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                            "required": ["code", "message"],
                        }
                    },
                }
            },
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
        },
        "paths": paths,
    }


PREFIX = "/vaults/{vault}"


def _metrics(prefix: str) -> dict[str, Any]:
    return {"get": {"operationId": "vault_metrics" if prefix else "metrics",
                    "summary": "the status figures in Prometheus text format",
                    "parameters": [_VAULT] if prefix else [],
                    "responses": {"200": {"description": "text/plain; version=0.0.4", "content": {"text/plain": {}}},
                                  **_error_responses()}}}  # fmt: skip


def _events(prefix: str) -> dict[str, Any]:
    return {"get": {
        "operationId": "vault_events" if prefix else "events",
        "summary": "what happened: Server-Sent Events with `Accept: text/event-stream`, else one long-poll",
        "parameters": ([_VAULT] if prefix else []) + [
            {"name": "since", "in": "query", "schema": {"type": "integer"},
             "description": "events after this id (SSE: or the Last-Event-ID header)"},
            {"name": "timeout", "in": "query", "schema": {"type": "number"},
             "description": "long-poll: seconds to wait for the first event (at most 30)"},
        ],
        "responses": {"200": {"description": "events", "content": {"text/event-stream": {}, "application/json": {}}},
                      **_error_responses()},
    }}  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(spec(), indent=2))  # noqa: T201
