"""Paired comparison of policies: the statistics, common random numbers, JSON and CLI."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from twin.cli import app
from twin.dispatch import POLICIES, Plan
from twin.errors import ExperimentError, ScenarioError
from twin.experiment import (
    Comparison,
    PolicySpec,
    build_policy,
    compare,
    demand_digest,
    parse_policies,
)
from twin.metrics import KPI_DIRECTIONS, KPI_NAMES
from twin.provenance import code_digest
from twin.report.compare import write_comparison
from twin.scenario import Scenario, load_scenario
from twin.stats import PairedDifference, paired_difference, verdict

ROOT = Path(__file__).resolve().parents[2]
SMALL_GRID = ROOT / "scenarios" / "small_grid.yaml"
runner = CliRunner()

#: The policies compared on small_grid; the first is the baseline. Dynamic policies
#: join this list as they land (each must differ from the baseline in its label).
POLICIES_UNDER_TEST = (
    PolicySpec("static"),
    PolicySpec("static", {"planned_overtime_h": 0.0}, label="static-no-overtime"),
    PolicySpec("rolling_horizon"),
    PolicySpec("insertion"),
    PolicySpec("zones"),
)
VERDICTS = {
    "better",
    "worse",
    "no significant difference",
    "below the practical threshold",
    "not enough spread",
    "identical",
    "n/a",
}
#: t quantiles, 97.5 %, from tables: 1 and 3 degrees of freedom.
T_1DF = 12.706204736174698
T_3DF = 3.182446305284263


# -- paired_difference and verdicts ----------------------------------------------------------
def test_constant_shift_has_a_zero_width_interval():
    diff = paired_difference([1.0, 2.0, 5.0], [1.5, 2.5, 5.5])
    assert diff.mean == pytest.approx(0.5)
    assert diff.ci == pytest.approx((0.5, 0.5))
    assert diff.n == 3


def test_interval_matches_the_hand_computed_t_interval():
    # d = 1, 2, 3, 6: mean 3, sd sqrt(14/3), se sd/2, t(0.975, 3 df).
    diff = paired_difference([0.0, 0.0, 0.0, 0.0], [1.0, 2.0, 3.0, 6.0])
    half = T_3DF * math.sqrt(14.0 / 3.0) / 2.0
    assert diff.mean == pytest.approx(3.0)
    assert diff.ci == pytest.approx((3.0 - half, 3.0 + half))


def test_difference_is_b_minus_a():
    diff = paired_difference([10.0, 12.0], [8.0, 8.0])
    # d = -2, -4: mean -3, sd sqrt(2), se 1.
    assert diff.mean == pytest.approx(-3.0)
    assert diff.ci == pytest.approx((-3.0 - T_1DF, -3.0 + T_1DF))


def test_pairs_with_nan_are_dropped():
    diff = paired_difference([1.0, math.nan, 3.0, 4.0], [2.0, 5.0, math.nan, 6.0])
    # Kept pairs: (1, 2) and (4, 6): d = 1, 2.
    assert diff.n == 2
    assert diff.mean == pytest.approx(1.5)
    assert diff.ci == pytest.approx((1.5 - T_1DF * 0.5, 1.5 + T_1DF * 0.5))


def test_one_pair_has_no_interval():
    diff = paired_difference([1.0, math.nan], [2.0, 3.0])
    assert diff.n == 1
    assert diff.ci is None
    assert verdict("delivered", diff) == "n/a"


def test_no_pairs_at_all():
    diff = paired_difference([math.nan], [1.0])
    assert diff.n == 0
    assert math.isnan(diff.mean)
    assert diff.to_dict() == {"mean": None, "ci": None, "n": 0, "p_value": None}


def test_unequal_lengths_are_refused():
    with pytest.raises(ValueError, match="equal lengths"):
        paired_difference([1.0, 2.0], [1.0])


@pytest.mark.parametrize(
    ("kpi", "mean", "p", "expected"),
    [
        ("delivered", 20.0, 0.001, "better"),
        ("delivered", -20.0, 0.001, "worse"),
        ("cost_per_delivery", 0.5, 0.001, "worse"),
        ("cost_per_delivery", -0.5, 0.001, "better"),
        ("on_time_rate", 0.05, 0.2, "no significant difference"),
        ("on_time_rate", 0.0005, 0.001, "below the practical threshold"),
        ("orders_released", 20.0, 0.001, "n/a"),
        ("driver_utilization", 0.1, 0.001, "n/a"),
        ("share_van", 0.1, 0.001, "n/a"),
    ],
)
def test_verdict_follows_the_kpi_direction(kpi: str, mean: float, p: float, expected: str):
    from twin.stats import PRACTICAL_DIFFERENCE

    diff = PairedDifference(mean=mean, ci=(mean - 1, mean + 1), n=5, p_value=p)
    assert verdict(kpi, diff, threshold=PRACTICAL_DIFFERENCE.get(kpi, 0.0)) == expected


def test_differences_without_spread_get_no_verdict():
    shifted = paired_difference([1.0, 2.0, 5.0], [1.5, 2.5, 5.5])
    same = paired_difference([1.0, 2.0, 5.0], [1.0, 2.0, 5.0])
    assert verdict("overtime_h", shifted) == "not enough spread"
    assert verdict("overtime_h", same) == "identical"


def test_every_kpi_has_a_direction():
    assert set(KPI_DIRECTIONS) == set(KPI_NAMES)


# -- policies ---------------------------------------------------------------------------------
@dataclass
class _NoTimeLimit:
    """A policy without a time limit parameter (dynamic policies often have none)."""

    spread: float = 1.0
    name: str = "no_time_limit"

    def decide(self, state: object) -> Plan:
        return Plan(routes={})


@pytest.fixture
def grid_scenario() -> Scenario:
    return load_scenario(SMALL_GRID).model_copy(update={"days": 1})


def test_time_limit_only_goes_to_policies_that_take_it(
    grid_scenario: Scenario, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setitem(POLICIES, "no_time_limit", _NoTimeLimit)
    policy = build_policy(grid_scenario, PolicySpec("no_time_limit", {"spread": 2.0}))
    assert isinstance(policy, _NoTimeLimit)
    assert policy.spread == 2.0


def test_scenario_policy_settings_apply_to_its_own_policy(grid_scenario: Scenario):
    data = grid_scenario.model_dump(mode="json")
    data["policy"] = {"name": "static", "time_limit_s": 3.0, "params": {"drop_penalty": 123.0}}
    scenario = Scenario.model_validate(data)
    own = build_policy(scenario, PolicySpec("static"))
    overridden = build_policy(scenario, PolicySpec("static", {"drop_penalty": 7.0}))
    assert own.time_limit_s == 3.0
    assert own.drop_penalty == 123.0
    assert overridden.drop_penalty == 7.0


def test_parse_policies_reads_names_and_parameters():
    specs = parse_policies("static, static(drop_penalty=500,backend=pyvrp)")
    assert [s.name for s in specs] == ["static", "static"]
    assert specs[1].params == {"drop_penalty": 500, "backend": "pyvrp"}
    assert specs[1].key == "static(drop_penalty=500,backend=pyvrp)"


@pytest.mark.parametrize("text", ["static,", "static(drop_penalty)", "9lives"])
def test_parse_policies_rejects_bad_text(text: str):
    with pytest.raises(ExperimentError, match="--policies"):
        parse_policies(text)


def test_compare_needs_two_distinct_policies(grid_scenario: Scenario):
    with pytest.raises(ExperimentError, match="at least two"):
        compare(grid_scenario, policies=["static"], replications=2)
    with pytest.raises(ExperimentError, match="more than once"):
        compare(grid_scenario, policies=["static", "static"], replications=2)
    with pytest.raises(ScenarioError, match="unknown"):
        compare(grid_scenario, policies=["static", "nope"], replications=2)


# -- compare on small_grid --------------------------------------------------------------------
@pytest.fixture(scope="module")
def comparison() -> Comparison:
    scenario = load_scenario(SMALL_GRID).model_copy(update={"days": 1})
    return compare(scenario, policies=POLICIES_UNDER_TEST, replications=2, keep_events=True)


def _created(events: pd.DataFrame | None) -> pd.DataFrame:
    assert events is not None
    created = events[events["kind"] == "created"]
    columns = ["order_id", "time_s", "node", "details"]
    return created[columns].sort_values("order_id").reset_index(drop=True)


def test_every_policy_sees_the_same_orders_in_a_replication(comparison: Comparison):
    for r in range(comparison.replications):
        runs = [o for o in comparison.runs if o.spec.replication == r]
        assert len(runs) == len(POLICIES_UNDER_TEST)
        baseline = _created(runs[0].events)
        assert len(baseline) > 0
        for other in runs[1:]:
            pd.testing.assert_frame_equal(_created(other.events), baseline)
            assert other.demand_digest == runs[0].demand_digest
    assert comparison.demand_identical()


def test_replications_differ_and_policies_act_differently(comparison: Comparison):
    baseline = [o for o in comparison.runs if o.spec.policy.key == comparison.baseline]
    assert len({o.demand_digest for o in baseline}) == comparison.replications
    by_rep = {}
    for o in comparison.runs:
        by_rep.setdefault(o.spec.replication, set()).add(o.event_log_digest)
    assert any(len(digests) > 1 for digests in by_rep.values())


def test_demand_digest_ignores_row_order(comparison: Comparison):
    events = comparison.runs[0].events
    assert events is not None
    shuffled = events.sample(frac=1.0, random_state=1)
    assert demand_digest(shuffled) == comparison.runs[0].demand_digest


def test_comparison_json_shape(comparison: Comparison):
    data = json.loads(json.dumps(comparison.to_dict(), allow_nan=False))
    labels = [p.key for p in POLICIES_UNDER_TEST]
    assert data["baseline"] == labels[0]
    assert set(data["kpis"]) == set(labels)
    assert set(data["paired"]) == set(labels[1:])
    assert len(data["per_run"]) == 2 * len(labels)
    for label in labels[1:]:
        for kpi in KPI_NAMES:
            stat = data["paired"][label][kpi]
            assert set(stat) == {"mean", "ci", "n", "p_value", "p_holm", "verdict"}
            assert stat["verdict"] in VERDICTS
    for row in data["per_run"]:
        assert len(row["demand_digest"]) == 64
        assert len(row["event_log_digest"]) == 64
    assert data["code_digests"] == [code_digest()]  # every run, this code


def test_same_demand_means_no_difference_in_orders_released(comparison: Comparison):
    released = comparison.paired()["static-no-overtime"]["orders_released"]
    assert released["mean"] == 0.0
    assert released["ci"] == [0.0, 0.0]
    assert released["verdict"] == "n/a"


def test_write_comparison_makes_an_offline_page(comparison: Comparison, tmp_path: Path):
    from twin.maps import load_network

    network = load_network("grid-12x12")
    data = write_comparison(comparison, network, tmp_path / "cmp")
    page = (tmp_path / "cmp" / "compare.html").read_text(encoding="utf-8")
    saved = json.loads((tmp_path / "cmp" / "compare.json").read_text(encoding="utf-8"))
    assert (tmp_path / "cmp" / "kpi_means.png").stat().st_size > 10_000
    assert (tmp_path / "cmp" / "paired_differences.png").stat().st_size > 10_000
    assert page.count("data:image/png;base64,") == 2
    assert "<script" not in page
    assert "http" not in page  # self-contained: no CDN, no remote images
    assert network.meta.attribution in page
    assert 'id="paired"' in page
    assert saved["paired"] == data["paired"]
    assert len(data["event_logs"]) == 2 * len(POLICIES_UNDER_TEST)


# -- the command line -------------------------------------------------------------------------
def test_cli_compare_json_has_the_paired_section(tmp_path: Path):
    result = runner.invoke(
        app,
        [
            "compare",
            str(SMALL_GRID),
            "--policies",
            "static,static(planned_overtime_h=0)",
            "--replications",
            "2",
            "--days",
            "1",
            "--workers",
            "2",
            "--out",
            str(tmp_path),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["baseline"] == "static"
    assert data["out_dir"] == str(tmp_path)
    assert data["demand_identical"] is True
    stat = data["paired"]["static(planned_overtime_h=0)"]["on_time_rate"]
    assert len(stat["ci"]) == 2
    assert stat["n"] == 2
    assert (tmp_path / "compare.html").is_file()


@pytest.mark.parametrize(
    ("policies", "message"),
    [("static", "at least two"), ("static,nope", "'nope' is unknown"), ("static,", "cannot read")],
)
def test_cli_compare_user_errors(policies: str, message: str, tmp_path: Path):
    result = runner.invoke(
        app,
        ["compare", str(SMALL_GRID), "--policies", policies, "--out", str(tmp_path)],
    )
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_policy_whose_plans_hit_the_clock_is_named_in_the_warnings(grid_scenario: Scenario):
    # Guided local search without a solution limit stops only at the clock (0.2 s).
    gls = {"metaheuristic": "guided_local_search", "solution_limit": None, "time_limit_s": 0.2}
    result = compare(
        grid_scenario,
        policies=[PolicySpec("static"), PolicySpec("static", gls, label="capped")],
        replications=1,
    ).to_dict()
    assert list(result["warnings"]) == ["capped"]
    (warning,) = result["warnings"]["capped"]
    assert warning["code"] == "planner_time_limit_hit"
    assert warning["replications"] == [0]
    codes = {run["policy"]: run["warnings"] for run in result["per_run"]}
    assert codes == {"static": [], "capped": ["planner_time_limit_hit"]}
