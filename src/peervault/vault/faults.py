"""Crash points for the kill -9 tests.

`PEERVAULT_CRASH_AT=<step>` in the environment makes the process SIGKILL itself when it
reaches that step: a real kill -9 at the one moment a test needs (a rename takes
microseconds; no outside timing could hit it). Unset, each point costs one dict lookup.
The steps are named where they are called (vault/blobswap.py).
"""

from __future__ import annotations

import os
import signal


def crash_point(step: str) -> None:
    if os.environ.get("PEERVAULT_CRASH_AT") == step:
        os.kill(os.getpid(), signal.SIGKILL)
