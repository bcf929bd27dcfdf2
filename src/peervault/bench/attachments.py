"""Attachments for the `real` bench vault: PNG, JPEG, PDF, MP4 and SVG files of an exact size.

Real attachments are already compressed, so their payloads here are incompressible bytes
(SHAKE-128 of the file's key: fast, deterministic on every platform, and independent per
file), framed as the format is: a PNG has its signature, IHDR, IDAT and IEND chunks with
correct CRCs; a JPEG its SOI, JFIF, quantisation, frame and scan markers and EOI; a PDF its
header, objects, a stream, an xref table and trailer; an MP4 its ftyp, moov and mdat boxes.
No viewer would render them, but anything that sniffs types, hashes, compresses or copies
sees what it sees in a real vault. SVG is text (XML), and syncs as a note.
"""

from __future__ import annotations

import hashlib
import random
import struct
import zlib

KINDS = ("png", "jpg", "pdf", "mp4", "svg")


def payload(key: str, n: int) -> bytes:
    return hashlib.shake_128(key.encode()).digest(n) if n > 0 else b""


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(size: int, key: str) -> bytes:
    """Signature, IHDR (a plausible width and height), IDAT chunks of at most 64 KiB, IEND."""
    side = max(16, int((size * 1.2) ** 0.5))
    head = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", side, side * 3 // 4, 8, 6, 0, 0, 0))
    tail = _chunk(b"IEND", b"")
    left = size - len(head) - len(tail)
    n = max(1, -(-left // (65536 + 12)))
    data = payload(key, left - 12 * n)
    step = -(-len(data) // n)
    body = b"".join(_chunk(b"IDAT", data[i * step : (i + 1) * step]) for i in range(n))
    return head + body + tail


_JPEG_HEAD = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x48\x00\x48\x00\x00"
    + b"\xff\xdb\x00\x43\x00"
    + bytes(range(2, 66))
    + b"\xff\xc0\x00\x11\x08\x02\xd0\x05\x00\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    + b"\xff\xda\x00\x0c\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00"
)


def jpeg(size: int, key: str) -> bytes:
    """SOI, APP0 (JFIF), one quantisation table, a 1280x720 frame, a scan of entropy-coded
    bytes without 0xFF (an encoder stuffs those, so no marker hides in the scan), EOI."""
    n = size - len(_JPEG_HEAD) - 2
    data = payload(key, n).replace(b"\xff", b"\xfe")
    return _JPEG_HEAD + data + b"\xff\xd9"


def pdf(size: int, key: str) -> bytes:
    """Header (with the binary comment line), catalog, pages, one page, a Flate-labelled stream
    of incompressible bytes, an xref table with the objects' offsets, trailer, %%EOF."""
    n = max(0, size - 420)
    for _ in range(6):  # the lengths' digits move the total by a few bytes: converge
        out = _pdf(n, key)
        if len(out) == size:
            return out
        n = max(0, n + size - len(out))
    return (out + b"\n" * (size - len(out)))[:size] if len(out) < size else out


def _pdf(n: int, key: str) -> bytes:
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % n + payload(key, n) + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def _box(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data) + 8) + kind + data


def mp4(size: int, key: str) -> bytes:
    """ftyp (isom, avc1), a moov box with an mvhd header (moov first: `faststart`), mdat."""
    ftyp = _box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2avc1mp41")
    mvhd = _box(b"mvhd", bytes(4) + struct.pack(">IIII", 0, 0, 1000, size // 4000) + bytes(80))
    moov = _box(b"moov", mvhd + _box(b"trak", _box(b"tkhd", bytes(84))))
    n = size - len(ftyp) - len(moov) - 8
    return ftyp + moov + struct.pack(">I", n + 8) + b"mdat" + payload(key, n)


def svg(size: int, rng: random.Random, labels: list[str]) -> bytes:
    """A diagram: boxes, arrows (paths) and labels in the vault's languages, padded with
    indentation to exactly `size` bytes."""
    w, h = rng.choice(((800, 600), (1200, 800), (640, 480), (1024, 768)))
    head = f'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}">\n'
    end = "</svg>\n"
    parts, used = [head], len(head.encode()) + len(end)
    while True:
        x, y = rng.randrange(w), rng.randrange(h)
        r = rng.random()
        if r < 0.4:
            el = f'  <rect x="{x}" y="{y}" width="{rng.randrange(40, 240)}" height="{rng.randrange(20, 90)}" rx="6" fill="#{rng.randrange(1 << 24):06x}"/>\n'
        elif r < 0.7:
            pts = " ".join(f"L{rng.randrange(w)} {rng.randrange(h)}" for _ in range(rng.randint(1, 6)))
            el = f'  <path d="M{x} {y} {pts}" stroke="#333" fill="none" stroke-width="2"/>\n'
        else:
            el = f'  <text x="{x}" y="{y}" font-size="{rng.randrange(10, 24)}">{rng.choice(labels)}</text>\n'
        n = len(el.encode())
        if used + n > size:
            break
        parts.append(el)
        used += n
    parts.append(" " * (size - used) + end)
    return "".join(parts).encode()


def make(kind: str, size: int, key: str, rng: random.Random, labels: list[str]) -> bytes:
    if kind == "svg":
        return svg(size, rng, labels)
    return {"png": png, "jpg": jpeg, "pdf": pdf, "mp4": mp4}[kind](size, key)
