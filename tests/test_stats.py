"""Intervals that respect a KPI's range, Holm's adjustment, verdicts over many KPIs."""

from __future__ import annotations

import math

import pytest

from twin.stats import (
    MIN_REPLICATIONS,
    compare_kpis,
    holm,
    kpi_range,
    paired_difference,
    replication_warning,
    summarize,
)


def test_a_rate_interval_stays_within_0_and_1_with_two_replications():
    # Student t on the raw values: 0.99 +- 12.7 * 0.0071 -> [0.90, 1.08]: past 1.
    out = summarize([{"on_time_rate": 0.98}, {"on_time_rate": 1.0}])["on_time_rate"]
    low, high = out["ci"]
    assert 0.0 <= low <= out["mean"] <= high <= 1.0
    assert out["mean"] == pytest.approx(0.99)


def test_a_failure_rate_near_0_does_not_go_negative():
    runs = [{"failed_delivery_rate": v} for v in (0.0, 0.02)]
    low, high = summarize(runs)["failed_delivery_rate"]["ci"]
    assert 0.0 <= low < 0.01 < high <= 1.0


def test_satisfaction_stays_between_1_and_5():
    runs = [{"customer_satisfaction": v} for v in (4.9, 5.0)]
    low, high = summarize(runs)["customer_satisfaction"]["ci"]
    assert low >= 1.0
    assert high <= 5.0


def test_a_count_interval_is_cut_at_0_and_unbounded_kpis_keep_the_t_interval():
    overtime = summarize([{"overtime_h": 0.0}, {"overtime_h": 3.0}])["overtime_h"]
    assert overtime["ci"][0] == 0.0
    # d: 10, 14 -> mean 12, sd 2*sqrt(2), se 2, t(0.975, 1) = 12.706.
    cost = summarize([{"cost_per_delivery": 10.0}, {"cost_per_delivery": 14.0}])
    assert cost["cost_per_delivery"]["ci"] == pytest.approx([0.0, 12.0 + 12.706204736 * 2])


def test_a_rate_interval_is_close_to_the_t_interval_away_from_the_bounds():
    values = [0.48, 0.50, 0.52, 0.49, 0.51]
    low, high = summarize([{"on_time_rate": v} for v in values])["on_time_rate"]["ci"]
    half = 2.776445105 * math.sqrt(0.00025) / math.sqrt(5)  # t(0.975, 4) * sd / sqrt(n)
    assert low == pytest.approx(0.5 - half, abs=1e-3)
    assert high == pytest.approx(0.5 + half, abs=1e-3)


def test_ranges():
    assert kpi_range("on_time_rate") == (0.0, 1.0)
    assert kpi_range("share_drone") == (0.0, 1.0)
    assert kpi_range("customer_satisfaction") == (1.0, 5.0)
    assert kpi_range("cost_per_delivery") == (0.0, math.inf)


def test_few_replications_are_warned_about():
    assert replication_warning(1) is None
    assert replication_warning(MIN_REPLICATIONS) is None
    warning = replication_warning(2)
    assert warning is not None
    assert warning["code"] == "few_replications"


def test_holm_multiplies_by_the_rank_and_keeps_the_order():
    # Sorted: 0.01 (x3 = 0.03), 0.02 (x2 = 0.04), 0.04 (x1 = 0.04).
    assert holm({"a": 0.04, "b": 0.01, "c": 0.02}) == pytest.approx(
        {"a": 0.04, "b": 0.03, "c": 0.04}
    )
    # Monotone: a later smaller product is raised to the earlier one; capped at 1.
    assert holm({"a": 0.01, "b": 0.011, "c": 0.9}) == pytest.approx(
        {"a": 0.03, "b": 0.03, "c": 0.9}
    )
    assert holm({"a": 0.6, "b": 0.7}) == {"a": 1.0, "b": 1.0}


def test_a_difference_significant_alone_is_not_once_many_kpis_are_tested():
    # On-time differs by 0.03, 0, 0.04, 0.01, 0.03: mean 0.022, t = 2.99 on 4 df,
    # p = 0.04 alone. 4 other directed KPIs share the test and Holm multiplies the
    # smallest p by 5: no verdict.
    base = {"on_time_rate": [0.90, 0.91, 0.92, 0.93, 0.94]}
    other = {"on_time_rate": [0.93, 0.91, 0.96, 0.94, 0.97]}
    for kpi in ("km_per_delivery", "cost_per_delivery", "eta_mae_min", "overtime_h"):
        base[kpi] = [1.0, 2.0, 3.0, 4.0, 5.0]
        other[kpi] = [1.1, 1.9, 3.2, 3.8, 5.0]
    alone = paired_difference(base["on_time_rate"], other["on_time_rate"])
    assert 0.03 < alone.p_value < 0.05
    out = compare_kpis(base, other)
    assert out["on_time_rate"]["p_holm"] == pytest.approx(min(1.0, 5 * alone.p_value))
    assert out["on_time_rate"]["verdict"] == "no significant difference"
    only = compare_kpis(
        {"on_time_rate": base["on_time_rate"]}, {"on_time_rate": other["on_time_rate"]}
    )
    assert only["on_time_rate"]["verdict"] == "better"


def test_identical_runs_give_no_verdict():
    runs = {"on_time_rate": [0.9, 0.95, 0.97], "cost_per_delivery": [3.0, 3.2, 2.9]}
    out = compare_kpis(runs, runs)
    assert {v["verdict"] for v in out.values()} == {"identical"}


def test_a_threshold_can_be_set_per_kpi():
    base = {"cost_per_delivery": [3.0, 3.1, 3.2, 3.3]}
    other = {"cost_per_delivery": [2.9, 2.99, 3.11, 3.2]}  # about 0.1 cheaper, tight
    assert compare_kpis(base, other)["cost_per_delivery"]["verdict"] == "better"
    raised = compare_kpis(base, other, thresholds={"cost_per_delivery": 0.5})
    assert raised["cost_per_delivery"]["verdict"] == "below the practical threshold"
