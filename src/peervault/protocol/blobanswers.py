"""The answer on a BLOB_GETS stream, read whole by the fetcher and split here (no I/O).

    answer := ( BLOB_HAVE frame | raw bytes of the blob if found ) per blob asked, in order

The fetcher knows the size of every blob it asks for (the index says it), so the whole
answer is at most `answer_limit` bytes and a peer that announces another size, cuts the
stream short or sends anything after the last answer is refused with one error naming it.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from ..errors import ProtocolError
from . import messages as m
from .frames import FrameDecoder, encode_frame

# A BLOB_HAVE frame as this side encodes it (small bodies are never compressed): 16 bytes.
ANSWER_HEADER = len(encode_frame(m.encode(m.BlobHave(True, 0))))
MAX_HEADER_FRAME = 1024  # a peer's BLOB_HAVE frame above this is not one


def answer_limit(sizes: Sequence[int]) -> int:
    """The most bytes a correct answer to a BLOB_GETS for blobs of these sizes can take."""
    return sum(sizes) + len(sizes) * ANSWER_HEADER


def split_answers(data: bytes, sizes: Sequence[int]) -> list[memoryview | None]:
    """Each blob's bytes (None: the peer does not have it), in the order asked, as views of
    `data` (no copy); ProtocolError if `data` is not exactly one answer per size."""
    view = memoryview(data)
    out: list[memoryview | None] = []
    pos = 0
    for n, size in enumerate(sizes, 1):
        if len(data) - pos < 4:
            raise ProtocolError(f"blob answer {n} of {len(sizes)} is missing (stream cut short)")
        (length,) = struct.unpack_from(">I", data, pos)
        end = pos + 4 + length
        if not 1 <= length <= MAX_HEADER_FRAME or end > len(data):
            raise ProtocolError(f"blob answer {n} of {len(sizes)} has no valid BLOB_HAVE header")
        bodies = FrameDecoder().feed(data[pos:end])
        header = m.decode(bodies[0]) if bodies else None
        if not isinstance(header, m.BlobHave):
            raise ProtocolError(f"blob answer {n} of {len(sizes)} is not a BLOB_HAVE")
        pos = end
        if not header.found:
            out.append(None)
            continue
        if header.size != size:
            raise ProtocolError(f"peer announced {header.size} bytes for a blob of {size}")
        if pos + size > len(data):
            raise ProtocolError(f"blob answer {n} of {len(sizes)} cut at {len(data) - pos} of {size} bytes")
        out.append(view[pos : pos + size])
        pos += size
    if pos != len(data):
        raise ProtocolError(f"{len(data) - pos} bytes after the last blob answer")
    return out
