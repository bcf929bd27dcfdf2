"""Per-tier time limits (pytest-timeout): a hung test fails with a stack dump instead of
stalling CI. Unit tests are pure and fast; property tests run many examples; integration
tests start real daemons and wait on real networks. An explicit @pytest.mark.timeout wins."""

from __future__ import annotations

import os
import tempfile

import pytest

# The API of every vault of a `peervault run` lives in the per-user runtime folder: tests
# (and the daemons they start, which inherit the environment) never touch the real one.
os.environ.setdefault("PEERVAULT_RUNTIME_DIR", tempfile.mkdtemp(prefix="peervault-run-"))

# about five times the slowest test of each tier measured here (1.6 s, 12 s, 25 s), for a
# slower CI machine and PEERVAULT_PROPERTY_EXAMPLES=1000
TIER_TIMEOUT_S = {"unit": 20, "property": 180, "integration": 120}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = item.path.parent.name
        if tier in TIER_TIMEOUT_S and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TIER_TIMEOUT_S[tier]))
