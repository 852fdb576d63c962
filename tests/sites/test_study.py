"""Network design: candidate files, their errors, the study on a small city."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from twin.errors import ScenarioError
from twin.maps import RoadNetwork, grid_city
from twin.scenario import Scenario, load_scenario
from twin.sites import SiteSettings, SiteStudy, configuration_scenario, read_candidates

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = SiteSettings(candidates="sites.csv")


@pytest.fixture(scope="module")
def grid() -> RoadNetwork:
    return RoadNetwork(*grid_city(rows=12, cols=12))


def _scenario(tmp_path: Path, csv: str, **sites: object) -> Scenario:
    (tmp_path / "sites.csv").write_text(csv)
    base = load_scenario(ROOT / "scenarios" / "small_grid.yaml")
    data = base.model_dump(mode="json", exclude={"variants"})
    data["map"]["ref"] = "grid-12x12"
    data["sites"] = {"candidates": "sites.csv", "sample_days": 5, **sites}
    return Scenario.model_validate(data)


GOOD = """id,lat,lon,fixed_cost,capacity
north,27.5680,-99.4880,60,500
east,27.5590,-99.4800,50,500
south,27.5520,-99.4900,55,500
"""


def test_csv_and_geojson_give_the_same_sites(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(GOOD)
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [-99.4880, 27.5680]},
            "properties": {"id": "north", "fixed_cost": 60, "capacity": 500},
        }
    ]
    (tmp_path / "a.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features})
    )
    from_csv = read_candidates(tmp_path / "a.csv", SETTINGS)
    from_geojson = read_candidates(tmp_path / "a.geojson", SETTINGS)
    assert [c.id for c in from_csv] == ["north", "east", "south"]
    assert from_geojson[0] == from_csv[0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("id,fixed_cost\nA,50\n", r"no coordinates: give each site's latitude and longitude"),
        ("id,lat,lon\nA,27.56,\n", r"row 2 \(site 'A'\): no coordinates"),
        ("id,lat,lon\nA,-99.49,27.56\n", r"row 2 \(site 'A'\).*check the column order"),
        ("id,lat,lon,capacity\nA,27.56,-99.49,0\n", r"row 2 \(site 'A'\).*capacity > 0"),
        ("id,lat,lon\nA,27.56,-99.49\nA,27.55,-99.48\n", r"site ids \['A'\] appear more than once"),
        ("id,lat,lon\nA,north,-99.49\n", r"row 2: lat 'north' is not a number"),
    ],
)
def test_bad_site_files_get_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "sites.csv"
    path.write_text(content)
    with pytest.raises(ScenarioError, match=message):
        read_candidates(path, SETTINGS)


def test_a_site_off_the_map_is_named(tmp_path: Path, grid: RoadNetwork) -> None:
    scenario = _scenario(tmp_path, GOOD + "far,27.70,-99.30,50,500\n")
    with pytest.raises(ScenarioError, match=r"site 'far' at \(27.70000, -99.30000\) is .* m from"):
        SiteStudy.build(scenario, grid, base_dir=tmp_path)


def test_capacity_below_any_demand_is_an_error(tmp_path: Path, grid: RoadNetwork) -> None:
    scenario = _scenario(tmp_path, GOOD + "kiosk,27.5600,-99.4850,10,0.01\n")
    with pytest.raises(ScenarioError, match=r"site 'kiosk' has capacity 0.01 orders/day, below"):
        SiteStudy.build(scenario, grid, base_dir=tmp_path)


def test_too_little_capacity_in_total_is_an_error(tmp_path: Path, grid: RoadNetwork) -> None:
    small = GOOD.replace(",500", ",30")
    scenario = _scenario(tmp_path, small, existing_hubs=False)
    with pytest.raises(ScenarioError, match=r"all sites together handle 90 orders/day, less than"):
        SiteStudy.build(scenario, grid, base_dir=tmp_path)


def test_the_study_solves_each_k_and_splits_the_fleet(tmp_path: Path, grid: RoadNetwork) -> None:
    scenario = _scenario(tmp_path, GOOD)
    study = SiteStudy.build(scenario, grid, base_dir=tmp_path)
    demand = scenario.demand.orders_per_day
    assert study.areas.orders_per_day.sum() == pytest.approx(demand, rel=0.15)
    assert study.n_new == 3
    costs = []
    for k in range(4):
        config = study.solve(k)
        assert config.solution.status == "optimal"
        assert sum(not s.existing for s in config.sites) == k
        assert sum(config.fleet.values()) == sum(e.count for e in scenario.fleet)
        assert min(config.fleet.values()) >= 1
        assert sum(config.load.values()) == pytest.approx(study.areas.orders_per_day.sum())
        costs.append(config.solution.delivery_cost)
        sim = configuration_scenario(study, config)
        assert {h.id for h in sim.hubs} == {s.id for s in config.sites}
    assert all(b <= a + 1e-9 for a, b in itertools.pairwise(costs))
    assert np.isfinite(costs).all()


def test_twin_sites_prints_sites_model_cost_and_simulated_kpis(tmp_path: Path) -> None:
    """The CLI end to end on the grid city: per k the sites, the model's cost and the
    simulated KPIs with intervals; every configuration sees the same orders."""
    from typer.testing import CliRunner

    from twin.cli import app
    from twin.scenario import dump_scenario

    scenario = _scenario(tmp_path, GOOD)
    dump_scenario(scenario.model_copy(update={"days": 1}), tmp_path / "study.yaml")
    args = ["sites", str(tmp_path / "study.yaml"), "--k", "1..2", "--replications", "2"]
    result = CliRunner().invoke(app, [*args, "--json", "--out", str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [c["k"] for c in data["configurations"]] == [1, 2]
    assert data["baseline"]["simulated"]["network_cost_per_day"]["n"] == 2
    for config in data["configurations"]:
        assert len([s for s in config["sites"] if not s["existing"]]) == config["k"]
        assert config["model"]["total_cost_per_day"] > 0
        stat = config["simulated"]["on_time_rate"]
        assert stat["ci"][0] <= stat["mean"] <= stat["ci"][1]
        versus = config["versus_existing"]
        assert versus["same_orders"] is True
        assert versus["simulated_saving_per_day"]["n"] == 2
        assert set(versus["simulated_change"]) >= {"driver_hours_per_day", "km_per_day"}
        assert versus["simulated_change"]["km_per_day"]["n"] == 2
    report = Path(data["report"])
    assert report.is_file()
    assert (report.parent / "tradeoff.png").is_file()
    assert (report.parent / "catchments_k2.png").is_file()
    bad = CliRunner().invoke(app, ["sites", str(tmp_path / "study.yaml"), "--k", "1..9"])
    assert bad.exit_code == 2
    assert "only 3 candidate sites" in bad.output


def test_the_fleet_type_to_share_must_be_in_the_fleet(tmp_path: Path) -> None:
    text = (ROOT / "scenarios" / "small_grid.yaml").read_text()
    path = tmp_path / "study.yaml"
    path.write_text(text + "sites: {candidates: sites.csv, fleet_type: bike}\n")
    with pytest.raises(ScenarioError, match=r"sites.fleet_type 'bike' must be a type in the fleet"):
        load_scenario(path)


def _experiment(tmp_path: Path, body: str) -> Path:
    """A study scenario on the grid with a busier variant, and an experiment file."""
    from twin.scenario import dump_scenario

    scenario = _scenario(tmp_path, GOOD).model_copy(update={"days": 1})
    data = scenario.model_dump(mode="json")
    data["variants"] = {"busy": {"demand": {"orders_per_day": 2 * scenario.demand.orders_per_day}}}
    dump_scenario(Scenario.model_validate(data), tmp_path / "study.yaml")
    path = tmp_path / "experiment.yaml"
    path.write_text(f"name: grid_sites\nscenario: study.yaml\n{body}")
    return path


def test_an_experiment_file_runs_one_study_per_variant(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from twin.cli import app

    path = _experiment(tmp_path, "variants: [base, busy]\nk: [1]\nreplications: 2\n")
    out = tmp_path / "reports"
    result = CliRunner().invoke(app, ["sites", str(path), "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert list(data) == ["base", "busy"]
    base, busy = data["base"], data["busy"]
    assert busy["demand"]["orders_per_day"] > 1.5 * base["demand"]["orders_per_day"]
    for study in (base, busy):
        assert [c["k"] for c in study["configurations"]] == [1]
        assert study["configurations"][0]["versus_existing"]["same_orders"] is True
        assert study["baseline"]["simulated"]["delivered"]["n"] == 2
    assert (out / "base" / "index.html").is_file()
    assert (out / "busy" / "sites.json").is_file()
    # --k and --replications on the command line override the file's
    model_only = CliRunner().invoke(
        app, ["sites", str(path), "--json", "--out", str(out), "--replications", "0"]
    )
    assert model_only.exit_code == 0, model_only.output
    assert "simulated" not in json.loads(model_only.output)["busy"]["configurations"][0]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("variants: [base, rainy]\n", "variants: 'rainy' not in study.yaml; choose from 'base'"),
        ("k: 1..x\n", "k: '1..x': give the numbers of new sites as 3, a range 1..4"),
        ("replicatons: 2\n", "replicatons: unknown key; did you mean 'replications'?"),
        ("replications: -1\n", "replications: Input should be greater than or equal to 0"),
    ],
)
def test_a_bad_experiment_file_gets_one_clear_error(
    tmp_path: Path, body: str, message: str
) -> None:
    from typer.testing import CliRunner

    from twin.cli import app

    result = CliRunner().invoke(app, ["sites", str(_experiment(tmp_path, body))])
    assert result.exit_code != 0
    assert message in " ".join(result.output.split()), result.output
    assert "Traceback" not in result.output


def test_variant_belongs_in_the_experiment_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from twin.cli import app

    path = _experiment(tmp_path, "")
    result = CliRunner().invoke(app, ["sites", str(path), "--variant", "busy"])
    assert result.exit_code == 2
    assert "lists its variants itself" in " ".join(result.output.split())


LOCKERS = """id,lat,lon,fixed_cost,capacity
north,27.5680,-99.4880,20,60
east,27.5590,-99.4800,15,60
south,27.5520,-99.4900,18,60
"""


def _locker_scenario(tmp_path: Path, **sites: object) -> Scenario:
    scenario = _scenario(tmp_path, LOCKERS, kind="locker", **sites)
    data = scenario.model_dump(mode="json")
    data["lockers"] = {"sites": [{"id": "today", "lat": 27.5560, "lon": -99.4850}]}
    return Scenario.model_validate(data)


def test_locker_siting_counts_uptake_against_the_doorstep(
    tmp_path: Path, grid: RoadNetwork
) -> None:
    """Lockers: the existing bank is always open, the fleet stays put, and every
    configuration's model cost is the all-doorstep cost plus fixed costs less the
    saving on each parcel the model sends to a locker (its load)."""
    scenario = _locker_scenario(tmp_path)
    study = SiteStudy.build(scenario, grid, base_dir=tmp_path)
    s = study.settings
    demand = float(study.areas.orders_per_day.sum())
    base = study.baseline()
    assert base is not None
    assert [c.id for c in base.sites] == ["today"]
    assert base.fleet == {}
    for config in (base, study.solve(1), study.solve(2)):
        parcels = sum(config.load.values())
        assert 0 < parcels < demand
        expected = (
            demand * s.doorstep_cost_per_order
            + sum(c.fixed_cost_per_day for c in config.sites if not c.existing)
            - parcels * (s.doorstep_cost_per_order - s.locker_cost_per_order)
        )
        assert config.solution.total_cost == pytest.approx(expected, abs=0.05)
        for site in config.sites:
            assert config.load[site.id] <= site.capacity_per_day + 1e-6
    two = study.solve(2)
    assert sum(two.load.values()) > sum(base.load.values())
    sim = configuration_scenario(study, two)
    assert [site.id for site in sim.lockers.sites] == [c.id for c in two.sites]
    assert sim.fleet == scenario.fleet
    assert sim.hubs == scenario.hubs


def test_no_failed_doorsteps_means_only_chosen_lockers(tmp_path: Path, grid: RoadNetwork) -> None:
    """Redirected failures are part of a locker's uptake: without them it falls."""
    with_redirects = SiteStudy.build(_locker_scenario(tmp_path), grid, base_dir=tmp_path)
    without = SiteStudy.build(_locker_scenario(tmp_path, failed_share=0.0), grid, base_dir=tmp_path)
    assert with_redirects.problem.load is not None
    assert without.problem.load is not None
    assert (without.problem.load <= with_redirects.problem.load + 1e-12).all()
    assert without.problem.load.sum() < with_redirects.problem.load.sum()


def test_twin_sites_simulates_locker_configurations(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from twin.cli import app
    from twin.scenario import dump_scenario

    dump_scenario(
        _locker_scenario(tmp_path).model_copy(update={"days": 1}), tmp_path / "lockers.yaml"
    )
    args = ["sites", str(tmp_path / "lockers.yaml"), "--k", "2", "--replications", "2"]
    result = CliRunner().invoke(app, [*args, "--json", "--out", str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["kind"] == "locker"
    config = data["configurations"][0]
    assert config["versus_existing"]["same_orders"] is True
    base_share = data["baseline"]["simulated"]["locker_share"]["mean"]
    assert config["simulated"]["locker_share"]["mean"] >= base_share
    assert (tmp_path / "report" / "catchments_k2.png").is_file()
