"""The last hour's samples for the dashboard's plot (metrics.Samples): pure, time passed in."""

from __future__ import annotations

from peervault.metrics import Samples

T0 = 1_000_000.0  # a multiple of 10: the first step starts here


def test_latencies_make_a_median_and_a_max_per_ten_seconds() -> None:
    s = Samples()
    for ms, at in ((5.0, T0 + 1), (7.0, T0 + 2), (300.0, T0 + 9), (2.0, T0 + 10)):
        s.latency(ms, at)
    out = s.series(T0 + 15)
    assert len(out["t"]) == 360 and out["t"][-1] == T0 + 10 and out["t"][-2] == T0 and out["step_s"] == 10
    assert out["latency_median_ms"][-2:] == [7.0, 2.0]
    assert out["latency_max_ms"][-2:] == [300.0, 2.0]
    assert out["latency_median_ms"][0] is None  # nothing received then


def test_traffic_counts_the_bytes_since_the_last_look_in_the_step_of_now() -> None:
    s = Samples()
    s.traffic(1000, 500, T0)  # the first look only sets the baseline
    s.traffic(1600, 500, T0 + 3)
    s.traffic(1700, 900, T0 + 12)
    out = s.series(T0 + 12)
    assert out["bytes_sent"][-2:] == [600, 100]
    assert out["bytes_received"][-2:] == [0, 400]
    assert sum(out["bytes_sent"]) == 700


def test_only_the_last_hour_is_kept_and_a_clock_stepping_back_loses_nothing() -> None:
    s = Samples()
    s.latency(1.0, T0)
    s.latency(9.0, T0 + 3600)  # an hour later: the first step has left the window
    out = s.series(T0 + 3600)
    assert out["latency_max_ms"].count(None) == 359 and out["latency_max_ms"][-1] == 9.0
    s.latency(4.0, T0 + 3590)  # the clock stepped back: counted in the newest step
    assert s.series(T0 + 3600)["latency_max_ms"][-1] == 9.0
    assert max(len(s._steps), 0) <= 360
