"""Binary files with real daemons: byte-identical, beside note sync, resumable, bounded memory."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import psutil

from .conftest import pair_running, wait_until

BIG = 200 * 1024 * 1024


def _write_big(path: Path, size: int) -> str:
    """A file of `size` bytes written a chunk at a time (never whole in memory); its sha256."""
    digest = hashlib.sha256()
    block = os.urandom(1024 * 1024)
    with open(path, "wb") as f:
        for i in range(size // len(block)):
            chunk = i.to_bytes(8, "big") + block[8:]
            f.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def _sha256(path: Path) -> str | None:
    try:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1024 * 1024):
                digest.update(chunk)
        return digest.hexdigest()
    except OSError:
        return None


def test_images_and_pdfs_sync_byte_identical(make_device):
    a, b = make_device("A"), make_device("B")
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(50_000)
    pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + os.urandom(300_000)
    (a.root / "attachments").mkdir()
    (a.root / "attachments" / "photo.png").write_bytes(png)
    many = {f"attachments/scan-{i:02d}.jpg": os.urandom(300_000) for i in range(12)}  # fetched side by side
    for rel, data in many.items():
        (a.root / rel).write_bytes(data)
    a.start()
    b.join(a.invite())  # `join` returns only once every file is in place, binaries too
    assert all((b.root / rel).read_bytes() == data for rel, data in many.items())
    b.start()
    wait_until(lambda: (b.root / "attachments" / "photo.png").exists(), what="image on B")
    assert (b.root / "attachments" / "photo.png").read_bytes() == png
    wait_until(lambda: b.status()["daemon"]["running"], what="B's daemon reporting")
    assert b.status()["metrics"]["local_changes"] == 0  # the image it received is not its own edit
    (b.root / "paper.pdf").write_bytes(pdf)  # and the other way, live
    wait_until(lambda: (a.root / "paper.pdf").exists() and (a.root / "paper.pdf").read_bytes() == pdf, what="PDF on A")
    assert b.status()["not_synced"] == []


def test_a_large_file_does_not_hold_up_notes_and_resumes_after_a_kill(make_device):
    a, b = make_device("A"), make_device("B")
    a.start()
    pair_running(a, b)
    b.stop()
    want = _write_big(a.root / "video.mp4", BIG)
    wait_until(lambda: (a.runtime() or {}).get("pending", 1) == 0, timeout=60, what="A recorded the large file")
    b.start()
    partial_dir = b.root / ".peervault" / "blobs" / "partial"
    wait_until(
        lambda: partial_dir.exists() and any(p.stat().st_size > 0 for p in partial_dir.iterdir()),
        timeout=60,
        what="the transfer under way",
    )
    b.proc.kill()  # mid-transfer, no goodbye
    b.proc.wait()
    b.proc = None
    b._log.close()
    got_before = sum(p.stat().st_size for p in partial_dir.iterdir())
    assert 0 < got_before < BIG
    assert not (b.root / "video.mp4").exists()  # a half-received file never appears
    b.start()
    peak = [0.0]
    stop = threading.Event()

    def watch_rss() -> None:
        while not stop.is_set():
            try:
                pid = (b.runtime() or {}).get("pid")
                if pid:
                    peak[0] = max(peak[0], psutil.Process(pid).memory_info().rss / 2**20)
            except (psutil.Error, ValueError):
                pass
            time.sleep(0.05)

    sampler = threading.Thread(target=watch_rss)
    sampler.start()
    try:
        a.write("meanwhile.md", "written while the large file travels\n")
        wait_until(lambda: b.read("meanwhile.md") == "written while the large file travels\n", what="note during the transfer")
        arrived_early = not (b.root / "video.mp4").exists()
        wait_until(lambda: _sha256(b.root / "video.mp4") == want, timeout=240, what="the large file complete on B")
    finally:
        stop.set()
        sampler.join()
    resumed = b.status()
    assert resumed["not_synced"] == [] and resumed["binary_transfers"]["wanted"] == 0
    received = b.runtime()["blobs"]["bytes_received"]
    assert received <= BIG - got_before  # resumed where it stopped, not from the start
    assert peak[0] < 200, f"peak RSS {peak[0]:.0f} MB while receiving 200 MB"
    print(f"\n200 MB file: peak RSS of the receiver {peak[0]:.0f} MB; note arrived before the file: {arrived_early}")
