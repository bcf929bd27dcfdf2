"""Benchmark results: medians, budgets, the JSON file and the regression gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from peervault.bench.report import SCHEMA, Comparison, Result, Skipped, compare, load, table, to_json

RESULT_KEYS = {
    "key",
    "title",
    "unit",
    "kind",
    "runs",
    "budget",
    "goal",
    "note",
    "method",
    "extra",
    "median",
    "passed",
    "met_goal",
}


def result(key: str = "x", *, kind: str = "time", unit: str = "ms", runs: list[float] | None = None, **kw: Any) -> Result:
    return Result(key, f"title of {key}", unit, kind, [1.0] if runs is None else runs, **kw)


def doc(figures: dict[str, tuple[str, str, float]], reference_ms: float | None = 100.0) -> dict[str, Any]:
    """A bench JSON file reduced to what `compare` reads: key -> (kind, unit, median)."""
    out: dict[str, Any] = {
        "results": {k: {"kind": kind, "unit": unit, "median": med} for k, (kind, unit, med) in figures.items()}
    }
    if reference_ms is not None:
        out["reference_ms"] = reference_ms
    return out


def judge(kind: str, unit: str, baseline: float, current: float, ref_then: float = 100.0, ref_now: float = 100.0) -> Comparison:
    [c] = compare(doc({"k": (kind, unit, current)}, ref_now), doc({"k": (kind, unit, baseline)}, ref_then))
    assert c.key == "k" and c.baseline == baseline and c.current == current
    return c


# ------------------------------------------------------------------------------- Result
def test_median_of_odd_and_even_runs() -> None:
    assert result(runs=[3.0, 1.0, 2.0]).median == 2.0
    assert result(runs=[4.0, 1.0, 3.0, 2.0]).median == 2.5
    assert result(runs=[7.0]).median == 7.0


def test_passed_and_met_goal() -> None:
    r = result(runs=[10.0, 30.0, 20.0], budget=20.0, goal=15.0)
    assert r.passed is True  # the median equal to the budget passes
    assert r.met_goal is False
    assert result(runs=[21.0], budget=20.0, goal=25.0).passed is False
    assert result(runs=[21.0], budget=20.0, goal=25.0).met_goal is True
    assert result(runs=[15.0], goal=15.0).met_goal is True


def test_no_budget_or_goal_is_none_not_false() -> None:
    r = result(runs=[1e9])
    assert r.passed is None and r.met_goal is None


# ------------------------------------------------------------------------------- compare
def test_counts_are_strict() -> None:
    assert judge("count", "files", 5, 6).regression is True
    assert judge("count", "files", 5, 5).regression is False
    assert judge("count", "files", 5, 4).regression is False
    assert judge("count", "files", 5, 6).limit == 5


def test_bytes_have_64_bytes_of_slack() -> None:
    assert judge("bytes", "B", 1000, 1064).regression is False
    assert judge("bytes", "B", 1000, 1065).regression is True
    assert judge("bytes", "B", 1000, 1000).limit == 1064


def test_time_tolerance_is_twice_plus_50_ms() -> None:
    assert judge("time", "ms", 100, 240).regression is False
    assert judge("time", "ms", 100, 250).regression is False
    assert judge("time", "ms", 100, 260).regression is True
    assert judge("time", "ms", 100, 240).limit == 250


def test_time_limit_scales_with_a_slower_reference() -> None:
    # this machine is twice as slow today: the baseline's scaled part doubles, the slack does not
    c = judge("time", "ms", 100, 440, ref_then=100, ref_now=200)
    assert c.limit == 100 * 2 * 2 + 50 and c.regression is False
    assert judge("time", "ms", 100, 460, ref_then=100, ref_now=200).regression is True
    # the same 260 ms that fails on an equally fast machine passes on a slower one
    assert judge("time", "ms", 100, 260, ref_then=100, ref_now=200).regression is False


def test_time_limit_is_not_tightened_by_a_faster_reference() -> None:
    c = judge("time", "ms", 100, 240, ref_then=200, ref_now=100)
    assert c.limit == 250 and c.regression is False
    assert judge("time", "ms", 100, 260, ref_then=200, ref_now=100).regression is True


def test_time_slack_in_seconds_is_50_ms() -> None:
    c = judge("time", "s", 1.0, 2.04)
    assert c.limit == pytest.approx(2.05) and c.regression is False
    assert judge("time", "s", 1.0, 2.06).regression is True
    # scaled by the reference too
    assert judge("time", "s", 1.0, 4.04, ref_then=100, ref_now=200).regression is False
    assert judge("time", "s", 1.0, 4.1, ref_then=100, ref_now=200).regression is True


def test_missing_reference_means_no_scaling() -> None:
    [c] = compare(doc({"k": ("time", "ms", 240)}, None), doc({"k": ("time", "ms", 100)}, None))
    assert c.limit == 250 and not c.regression
    [c] = compare(doc({"k": ("time", "ms", 240)}, 0.0), doc({"k": ("time", "ms", 100)}, 0.0))
    assert c.limit == 250 and not c.regression


def test_memory_tolerance_is_1_1_times_plus_3_mb() -> None:
    c = judge("memory", "MB", 100, 113)
    assert c.limit == pytest.approx(113) and c.regression is False
    assert judge("memory", "MB", 100, 113.5).regression is True
    # the reference (a time) does not scale memory
    assert judge("memory", "MB", 100, 113.5, ref_then=100, ref_now=300).regression is True


def test_cpu_tolerance_is_three_times_plus_0_3() -> None:
    c = judge("cpu", "%", 1.0, 3.2)
    assert c.limit == pytest.approx(3.3) and c.regression is False
    assert judge("cpu", "%", 1.0, 3.4).regression is True


def test_figures_missing_on_one_side_are_skipped() -> None:
    current = doc({"both": ("count", "files", 1), "only_now": ("count", "files", 99)})
    baseline = doc({"both": ("count", "files", 1), "only_then": ("count", "files", 0)})
    out = compare(current, baseline)
    assert [c.key for c in out] == ["both"]
    assert compare({}, baseline) == []
    assert compare(current, {}) == []


def test_compare_reports_every_shared_figure_with_its_own_tolerance() -> None:
    current = doc({"t": ("time", "ms", 260), "n": ("count", "files", 5), "b": ("bytes", "B", 2000)})
    baseline = doc({"t": ("time", "ms", 100), "n": ("count", "files", 5), "b": ("bytes", "B", 1000)})
    by_key = {c.key: c for c in compare(current, baseline)}
    assert set(by_key) == {"t", "n", "b"}
    assert {k for k, c in by_key.items() if c.regression} == {"t", "b"}


# ------------------------------------------------------------------------------- JSON
def sample() -> tuple[list[Result], list[Skipped]]:
    results = [
        result("startup", runs=[120.0, 100.0, 110.0], budget=200.0, goal=105.0, note="cold", extra={"p95": 130.5}),
        result("files", kind="count", unit="files", runs=[10.0]),
        result("rss", kind="memory", unit="MB", runs=[80.0, 90.0], budget=50.0),
    ]
    skipped = [Skipped("netem", "lossy link", "needs root for network namespaces")]
    return results, skipped


def test_to_json_round_trips_with_stable_keys(tmp_path: Path) -> None:
    results, skipped = sample()
    data = to_json(results, skipped, reference_ms=12.3456, quick=True)
    text = json.dumps(data, sort_keys=True)
    assert json.loads(text) == data
    assert set(data) == {"schema", "quick", "machine", "reference_ms", "results", "skipped"}
    assert data["schema"] == SCHEMA and data["quick"] is True
    assert data["reference_ms"] == 12.35
    assert set(data["machine"]) == {"python", "cpus", "system"}
    assert list(data["results"]) == ["startup", "files", "rss"]
    for entry in data["results"].values():
        assert set(entry) == RESULT_KEYS
    startup = data["results"]["startup"]
    assert startup["median"] == 110.0 and startup["passed"] is True and startup["met_goal"] is False
    assert startup["runs"] == [120.0, 100.0, 110.0] and startup["extra"] == {"p95": 130.5} and startup["note"] == "cold"
    assert data["results"]["rss"]["passed"] is False and data["results"]["rss"]["met_goal"] is None
    assert data["results"]["files"]["passed"] is None
    assert data["skipped"] == {"netem": {"title": "lossy link", "reason": "needs root for network namespaces"}}

    path = tmp_path / "bench.json"
    path.write_text(text)
    assert load(path) == data


def test_json_output_feeds_compare() -> None:
    results, skipped = sample()
    baseline = json.loads(json.dumps(to_json(results, skipped, reference_ms=10.0, quick=False)))
    slower = [
        result("startup", runs=[300.0]),  # limit 110 * 2 + 50 = 270
        result("files", kind="count", unit="files", runs=[10.0]),
        result("rss", kind="memory", unit="MB", runs=[90.0]),
    ]
    current = json.loads(json.dumps(to_json(slower, [], reference_ms=10.0, quick=False)))
    by_key = {c.key: c for c in compare(current, baseline)}
    assert by_key["startup"].limit == 270 and by_key["startup"].regression is True
    assert by_key["files"].regression is False
    assert by_key["rss"].regression is False  # 90 <= 85 * 1.3 + 8


# ------------------------------------------------------------------------------- table
def test_table_renders_results_and_skips() -> None:
    results, skipped = sample()
    console = Console(record=True, width=200)
    console.print(table(results, skipped))
    text = console.export_text()
    assert "peervault bench" in text
    assert "FAIL" in text and "pass" in text
    assert "title of startup" in text and "title of rss" in text
    assert "lossy link" in text and "skipped" in text
    assert "not yet" in text  # startup missed its goal


def test_table_of_nothing_renders() -> None:
    console = Console(record=True, width=200)
    console.print(table([], []))
    text = console.export_text()
    assert "peervault bench" in text and "FAIL" not in text
