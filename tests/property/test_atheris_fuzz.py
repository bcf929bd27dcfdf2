"""Coverage-guided fuzzing (atheris, libFuzzer) of the frame decoder and the message parser,
for a bounded number of runs: any exception other than ProtocolError is a crash."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("atheris", reason="atheris did not install on this machine")

TARGET = textwrap.dedent(
    """
    import sys
    import atheris

    with atheris.instrument_imports():
        from peervault.errors import ProtocolError
        from peervault.protocol import messages as m
        from peervault.protocol.frames import FrameDecoder

    def one_input(data: bytes) -> None:
        decoder = FrameDecoder()
        try:
            for cut in (len(data) // 3, len(data)):  # arbitrary chunking too
                for body in decoder.feed(data[: cut] if cut < len(data) else data[len(data) // 3 :]):
                    m.decode(body)
        except ProtocolError:
            pass
        try:
            msg = m.decode(data)
        except ProtocolError:
            return
        assert m.encode(msg) == data, "decoding is not canonical"

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
    """
)


def test_decoder_and_parser_survive_fuzzing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    res = subprocess.run(
        [sys.executable, "-c", TARGET, "-runs=200000", "-max_len=4096", f"-artifact_prefix={tmp_path}/"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Done 200000 runs" in res.stderr
