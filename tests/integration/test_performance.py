"""Profiles, metrics and the performance machinery, with real daemons over loopback."""

from __future__ import annotations

import signal

from .conftest import pair_running, wait_until

SPEC_METRICS = {
    "startup_time_ms",
    "transport_init_ms",
    "index_load_ms",
    "last_sync_duration_ms",
    "avg_sync_latency_ms",
    "sync_error_count",
    "memory_mb",
    "docs_cached",
    "cache_hit_rate",
    "bytes_sent",
    "bytes_received",
    "active_connections",
}


def _config(device, text: str) -> None:  # type: ignore[no-untyped-def]
    (device.root / ".peervault" / "config.toml").write_text(text)


def test_status_reports_every_performance_metric(make_device):
    a, b = make_device("A"), make_device("B")
    a.start()
    pair_running(a, b)
    a.write("note.md", "hello\n")
    wait_until(lambda: b.read("note.md") == "hello\n", what="note on B")
    mt = a.status()["metrics"]
    assert SPEC_METRICS <= set(mt), SPEC_METRICS - set(mt)
    assert mt["profile"] == "default"
    assert mt["active_connections"] == 1
    assert mt["bytes_sent"] > 0 and mt["bytes_received"] > 0
    assert 10 < mt["memory_mb"] < 1000
    assert mt["startup_time_ms"] > mt["transport_init_ms"] > 0
    assert mt["docs_cached"] >= 1 and 0 <= mt["cache_hit_rate"] <= 1
    human = a.cli("status", str(a.root)).stdout
    assert "Performance (default profile)" in human and "connection(s)" in human


def test_low_power_suspends_an_idle_link_and_a_change_brings_it_back(make_device):
    a, b = make_device("A"), make_device("B")
    for d in (a, b):
        _config(d, 'profile = "low-power"\nidle_suspend_s = 2.0\n')
    a.start()
    pair_running(a, b)
    wait_until(lambda: a.connected() == 0 and b.connected() == 0, timeout=30, what="idle link suspended on both sides")
    status = a.status()
    assert status["metrics"]["profile"] == "low-power"
    assert [p["state"] for p in status["peers"]] == ["suspended"]
    a.write("wake.md", "a change on A\n")
    wait_until(lambda: b.read("wake.md") == "a change on A\n", timeout=30, what="change from A after suspension")
    wait_until(lambda: a.connected() == 0 and b.connected() == 0, timeout=30, what="suspended again")
    b.write("reply.md", "and one on B\n")
    wait_until(lambda: a.read("reply.md") == "and one on B\n", timeout=30, what="change from B after suspension")


def test_debounced_changes_are_flushed_on_shutdown(make_device):
    a, b = make_device("A"), make_device("B")
    _config(a, "debounce_ms = 30000\n")  # a burst's follow-ups would wait 30 s
    a.start()
    pair_running(a, b)
    a.write("burst.md", "first save\n")
    wait_until(lambda: b.read("burst.md") == "first save\n", what="first save on B")  # a burst's first goes at once
    a.write("burst.md", "second save\n")
    wait_until(lambda: a.status()["pending_changes"] >= 1, what="the second save held back by the debounce")
    assert b.read("burst.md") == "first save\n"
    assert a.stop(signal.SIGTERM) == 0
    wait_until(lambda: b.read("burst.md") == "second save\n", timeout=10, what="held-back save delivered at shutdown")
