"""Every operation of the vault service, in one table: its HTTP method and path on the
control API, and its parameters with their types.

The API's routes, the CLI's client and the test that checks docs/openapi.json are all
built from this table, so an operation cannot exist in one and be missing in another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import BadRequest

MAX_STRING = 4096  # a path, a ticket or a device id: nothing longer is meaningful


@dataclass(frozen=True)
class Param:
    name: str
    kind: type  # str or int
    required: bool = False
    doc: str = ""
    max_len: int = MAX_STRING  # a string's longest length (base64 data is longer)


@dataclass(frozen=True)
class Operation:
    name: str  # the VaultService method
    method: str  # GET reads; POST and DELETE change something
    path: str  # "{name}" segments are parameters taken from the path
    summary: str
    params: tuple[Param, ...] = ()
    max_body: int = 64 * 1024  # the largest JSON body it takes


_PATH = Param("path", str, True, "the file's path inside the vault, with / separators")
_CLIENT = Param("client", str, True, "the editor's own random id: events it caused carry it in `from`")
MAX_LIVE_UPDATE = 16 * 2**20  # base64 characters: an editor's catch-up after a long time offline

OPERATIONS: tuple[Operation, ...] = (
    Operation("status", "GET", "/status", "device, peers, files, pending work and the performance metrics"),
    Operation("peers", "GET", "/peers", "paired devices: connected or not, last seen, addresses"),
    Operation("forget", "DELETE", "/peers/{device}", "remove a paired device (its id or a unique prefix of it)",
              (Param("device", str, True, "endpoint id, or the start of it"),)),
    Operation("files", "GET", "/files", "tracked files with their state, the files not synced with reasons, the ignored count",
              (Param("state", str, False, "only files in this state: synced, unpublished, not_synced or held"),
               Param("offset", int, False, "skip this many files (paging)"),
               Param("limit", int, False, "at most this many files (default 1000, at most 10000)"))),
    Operation("history", "GET", "/history", "versions of a path kept on this device, oldest first", (_PATH,)),
    Operation("version", "GET", "/history/version", "one version's text (or its blob hash, for a binary file)",
              (_PATH, Param("n", int, True, "the version number from /history"))),
    Operation("diff", "GET", "/history/diff", "what restoring a version would change: a unified line diff from the file now",
              (_PATH, Param("n", int, True, "the version number from /history"))),
    Operation("restore", "POST", "/restore", "bring a version back as a new edit every device gets",
              (_PATH, Param("at", int, False, "version number (default: the newest that differs from the file now)"))),
    Operation("deleted", "GET", "/deleted", "deleted files that can be restored"),
    Operation("invite", "POST", "/invite", "create a one-line pairing ticket for another device",
              (Param("ttl", int, False, "seconds the ticket stays valid (default 3600)"),)),
    Operation("join", "POST", "/join", "pair with the device that printed a ticket",
              (Param("ticket", str, True, "the ticket from `peervault invite` on the other device"),)),
    Operation("deletions", "GET", "/deletions", "local deletions held back by the mass-deletion guard"),
    Operation("apply_deletions", "POST", "/deletions/apply", "publish the held deletions to the other devices"),
    Operation("restore_deletions", "POST", "/deletions/restore", "put the held files back from this device's copy"),
    Operation("pause", "POST", "/pause", "stop syncing (local changes are still recorded); kept across restarts"),
    Operation("resume", "POST", "/resume", "sync again after a pause"),
    Operation("samples", "GET", "/samples", "the last hour in 10 s steps: latency of changes received (median, max ms), bytes each way"),
    Operation("settings", "GET", "/settings", "the settings that may change while the daemon runs: profile, debounce, pause"),
    Operation("set_settings", "POST", "/settings", "save profile and debounce in config.toml; the debounce applies at once",
              (Param("profile", str, False, "default or low-power (applies when the daemon next starts)"),
               Param("debounce_ms", int, False, "the batch window for bursts of saves, 0 to 60000 ms"))),
    Operation("sync_now", "POST", "/sync", "look at the folder now and dial every paired device at once"),
    Operation("gc", "POST", "/gc", "forget versions beyond retention and remove unused blobs"),
    Operation("live_open", "POST", "/live/open", "bind a live editor to a note: its Loro snapshot (base64); renews the lease",
              (_PATH, _CLIENT)),
    Operation("live_update", "POST", "/live/update", "an editor's change, a Loro update (base64): saved, written, sent at once",
              (_PATH, _CLIENT, Param("update", str, True, "a Loro update, base64", MAX_LIVE_UPDATE)),
              max_body=MAX_LIVE_UPDATE + 64 * 1024),
    Operation("live_presence", "POST", "/live/presence", "an editor's cursor: Loro EphemeralStore bytes (base64), relayed",
              (_PATH, _CLIENT, Param("data", str, True, "EphemeralStore update, base64", 96 * 1024))),
    Operation("live_close", "POST", "/live/close", "the editor let go of the note", (_PATH, _CLIENT)),
)  # fmt: skip

MAX_BODY = max(op.max_body for op in OPERATIONS)

BY_NAME = {op.name: op for op in OPERATIONS}


def coerce(op: Operation, raw: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments for the service, from a query string or a JSON body, or a
    BadRequest that names the parameter and what was wrong."""
    known = {p.name: p for p in op.params}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise BadRequest(f"{op.method} {op.path} takes no parameter {unknown[0]!r}")
    out: dict[str, Any] = {}
    for p in op.params:
        if p.name not in raw or raw[p.name] is None:
            if p.required:
                raise BadRequest(f"{op.method} {op.path} needs the parameter {p.name!r} ({p.doc})")
            continue
        out[p.name] = _value(p, raw[p.name])
    return out


def _value(p: Param, v: Any) -> Any:
    if p.kind is int:
        if isinstance(v, bool) or not isinstance(v, int | str):
            raise BadRequest(f"parameter {p.name!r} must be an integer")
        try:
            n = int(v)
        except ValueError:
            raise BadRequest(f"parameter {p.name!r} must be an integer, not {str(v)[:40]!r}") from None
        if not 0 <= n < 2**31:
            raise BadRequest(f"parameter {p.name!r} is out of range")
        return n
    if not isinstance(v, str):
        raise BadRequest(f"parameter {p.name!r} must be a string")
    if len(v) > p.max_len or "\x00" in v:
        raise BadRequest(f"parameter {p.name!r} is too long or holds a NUL byte")
    return v
