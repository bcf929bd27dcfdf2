"""The reason another device gave for closing, out of the transport's text (net/endpoint.py)."""

from __future__ import annotations

import pytest

from peervault.net.endpoint import peer_words

LOST = 'STREAM: ConnectionLost(ApplicationClosed(ApplicationClose {{ error_code: 291, reason: b"{}" }}))'


@pytest.mark.parametrize(
    ("printed", "said"),
    [
        (LOST.format("sync is paused on that device"), "sync is paused on that device"),
        (LOST.format(r"caf\xc3\xa9 \"quoted\" \\ end"), 'café "quoted" \\ end'),  # Rust escapes non-ASCII
        (LOST.format(r"cut in a character \xc3"), "cut in a character \ufffd"),
    ],
)
def test_the_reason_alone(printed: str, said: str) -> None:
    assert peer_words(printed) == said


@pytest.mark.parametrize("printed", [LOST.format(""), "TIMEOUT: TimedOut", "connection closed (stream finished)"])
def test_other_text_as_it_is(printed: str) -> None:
    assert peer_words(printed) == printed
