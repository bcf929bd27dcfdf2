"""The reason another device gave for closing, out of the transport's text (net/endpoint.py)."""

from __future__ import annotations

import pytest

from peervault.net.endpoint import peer_words, without_source_places

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


def test_rust_source_places_are_left_out() -> None:
    """What iroh prints with RUST_BACKTRACE set (the daemon's log line, verbatim)."""
    printed = (
        "CONNECT: ConnectError::Connecting (/github/home/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/"
        "iroh-1.4.1/src/endpoint.rs:1076:20)\nCaused by:\n    ConnectingError::ConnectionError "
        "(/rustc/58cf8f9c35b355199727627d07ae34a4e2846d67/library/core/src/task/poll.rs:258:39)\n"
        "    aborted by peer: the server refused to accept a new connection"
    )
    assert without_source_places(printed) == (
        "CONNECT: ConnectError::Connecting\nCaused by:\n    ConnectingError::ConnectionError\n"
        "    aborted by peer: the server refused to accept a new connection"
    )
    assert without_source_places("TIMEOUT: TimedOut (after 5 s)") == "TIMEOUT: TimedOut (after 5 s)"
