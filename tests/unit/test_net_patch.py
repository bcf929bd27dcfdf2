"""The uniffi write patch: one memmove instead of a Python loop per byte (TECHNOTES 2.9).

If a new iroh binding renames the internals the patch relies on, these tests fail loudly
instead of the patch silently corrupting or slowing writes."""

from __future__ import annotations

import ctypes
import inspect
import os
import time

import iroh
import pytest

from peervault.net import endpoint

Builder = iroh.iroh_ffi._UniffiRustBufferBuilder


@pytest.fixture(autouse=True)
def patched() -> None:
    endpoint.patch_uniffi_write()


def _roundtrip(chunks: list[bytes]) -> bytes:
    builder = Builder()
    for c in chunks:
        builder.write(c)
    rbuf = builder.finalize()
    try:
        assert rbuf.len == sum(len(c) for c in chunks)
        assert rbuf.capacity >= rbuf.len
        return ctypes.string_at(rbuf.data, rbuf.len)
    finally:
        rbuf.free()


def test_binding_still_has_what_the_patch_relies_on() -> None:
    builder = Builder()
    try:
        assert hasattr(builder, "_reserve") and callable(builder._reserve)
        assert hasattr(builder, "rbuf")
        rbuf = builder.rbuf
        assert {name for name, _ in type(rbuf)._fields_} >= {"capacity", "len", "data"}
        assert isinstance(rbuf.data, ctypes.POINTER(ctypes.c_char))
        assert "num_bytes" in inspect.signature(Builder._reserve).parameters
    finally:
        builder.discard()


def test_patch_is_applied() -> None:
    assert endpoint._patched
    assert Builder.write.__module__ == endpoint.__name__
    endpoint.patch_uniffi_write()  # idempotent
    assert Builder.write.__module__ == endpoint.__name__


def test_large_write_is_byte_identical_and_fast() -> None:
    data = os.urandom(8 * 1024 * 1024 + 13)
    t = time.perf_counter()
    out = _roundtrip([data])
    elapsed = time.perf_counter() - t
    assert out == data
    assert elapsed < 1.0, f"8 MB write took {elapsed:.2f} s: the per-byte copy is back"


def test_many_writes_grow_the_buffer_and_keep_order() -> None:
    chunks = [os.urandom(n) for n in (0, 1, 15, 16, 17, 1000, 70_000, 3)]
    assert _roundtrip(chunks) == b"".join(chunks)


def test_write_accepts_bytearray_and_memoryview() -> None:
    a = bytearray(b"abc" * 1000)
    b = memoryview(b"xyz" * 500)
    assert _roundtrip([a, b]) == bytes(a) + bytes(b)  # type: ignore[list-item]


def test_patched_write_mixes_with_other_writers() -> None:
    builder = Builder()
    builder.write_u32(0xDEADBEEF)
    builder.write(b"payload")
    builder.write_u8(7)
    rbuf = builder.finalize()
    try:
        assert ctypes.string_at(rbuf.data, rbuf.len) == b"\xde\xad\xbe\xef" + b"payload" + b"\x07"
    finally:
        rbuf.free()
