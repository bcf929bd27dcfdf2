"""Small attachments travel several to a stream (BLOB_GETS), with real daemons: byte-identical,
an older device (one blob per stream) still syncs, and kill -9 in the middle of a batch loses
nothing (the next start fetches what is missing)."""

from __future__ import annotations

import os

from .conftest import Device, wait_until

SMALL = 256 * 1024  # sync/blobs.py: blobs up to this size go several to a stream


def _attachments(root) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    """60 binary files of 0 bytes to exactly SMALL (most a few KB, as pasted screenshots)."""
    sizes = [0, 1, SMALL, SMALL - 1, SMALL + 1, 200_000] + [1_000 + 3_000 * i for i in range(54)]
    out = {}
    for i, size in enumerate(sizes):
        rel = f"assets/{i % 4}/img-{i:02d}.png"
        data = (b"\x89PNG\r\n\x1a\n" + os.urandom(size))[:size]
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        out[rel] = data
    return out


def _vault_files(d: Device) -> dict[str, bytes]:
    return {rel: data for rel, data in d.files().items() if rel.startswith("assets/")}


def _log(d: Device) -> str:
    return "".join(p.read_text(errors="replace") for p in sorted(d.logs.glob(f"{d.root.name}-*.log")))


def _join(b: Device, ticket: str) -> str:
    res = b.cli("--log-level", "info", "join", str(b.root), ticket, "--bind", "127.0.0.1:0", timeout=120)
    return res.stderr


def test_small_attachments_go_several_to_a_stream(make_device) -> None:
    a, b = make_device("A"), make_device("B")
    want = _attachments(a.root)
    a.start()
    said = _join(b, a.invite())  # `join` returns once every file is in place
    assert _vault_files(b) == want
    assert "one blob per stream" not in said, said
    assert "blobs to" in _log(a) and "on one stream" in _log(a)  # served as BLOB_GETS, not one by one


def test_an_older_device_answering_one_blob_per_stream_still_syncs(make_device) -> None:
    a, b = make_device("A"), make_device("B")
    want = _attachments(a.root)
    a.start(env={"PEERVAULT_NO_BLOB_GETS": "1"})  # A resets BLOB_GETS streams, as a device from before them
    said = _join(b, a.invite())
    assert _vault_files(b) == want
    assert "answers one blob per stream (an older version)" in said, said
    assert said.count("one blob per stream") == 1  # noticed once for the connection, not per batch
    assert "unknown message type 19" in _log(a)


def test_kill_nine_in_the_middle_of_a_batch_loses_nothing(make_device) -> None:
    a, b = make_device("A"), make_device("B")
    a.start()
    b.join(a.invite())
    want = _attachments(a.root)  # arrive while B is not running
    wait_until(lambda: (a.runtime() or {}).get("pending", 1) == 0, what="A recorded the files")
    b.start(env={"PEERVAULT_CRASH_AT": "blob-batch-accepted"})  # SIGKILLs itself after a batch's first blob
    assert b.proc is not None and b.proc.wait(60) == -9
    b.proc = None
    b._log.close()
    assert all(_vault_files(b).get(rel) in (None, data) for rel, data in want.items())  # nothing torn in the vault
    b.start()
    wait_until(lambda: _vault_files(b) == want, timeout=60, what="every attachment on B after the restart")
    wait_until(lambda: b.status()["binary_transfers"]["wanted"] == 0, what="nothing left to fetch")
    assert b.status()["not_synced"] == []
    assert _vault_files(a) == want  # and A untouched
