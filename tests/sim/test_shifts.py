"""Fleets per hub on named shifts: each van works its own shift, break rule and pay."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from twin.constants import DAY_S, HOUR_S
from twin.errors import ScenarioError
from twin.maps import load_network
from twin.scenario import Scenario, load_scenario
from twin.sim import Simulation

ROOT = Path(__file__).resolve().parents[2]


def _two_hubs_two_shifts(network) -> dict:
    data = load_scenario(ROOT / "scenarios" / "small_grid.yaml").model_dump(mode="json")
    corner = int(network.lat.argmin() + 0)  # a second hub at the grid's edge
    data.update(days=1, warmup_days=0, variants={})
    data["hubs"] = [
        {"id": "centre"},
        {"id": "edge", "lat": float(network.lat[corner]), "lon": float(network.lon[corner])},
    ]
    data["drivers"].update(shift_start_h=8.0, shift_end_h=16.0, cost_per_hour=20.0)
    data["shifts"] = {
        "late": {"shift_start_h": 12.0, "shift_end_h": 20.0, "cost_per_hour": 30.0},
    }
    data["demand"].update(day_window_h=[8.0, 20.0], orders_per_day=320)
    data["fleet"] = [
        {"type": "van", "count": 2, "hub": "centre"},
        {"type": "van", "count": 2, "hub": "centre", "shift": "late"},
        {"type": "van", "count": 2, "hub": "edge"},
        {"type": "van", "count": 2, "hub": "edge", "shift": "late"},
    ]
    return data


@pytest.fixture(scope="module")
def run():
    network = load_network("grid-12x12")
    scenario = Scenario.model_validate(_two_hubs_two_shifts(network))
    return Simulation(scenario, network).run()


def test_vehicle_ids_name_their_hub_and_shift(run) -> None:
    ids = sorted(run.vehicles["vehicle_id"].unique())
    assert ids == [
        "centre/van-01",
        "centre/van-02",
        "centre/van-late-01",
        "centre/van-late-02",
        "edge/van-01",
        "edge/van-02",
        "edge/van-late-01",
        "edge/van-late-02",
    ]


def test_each_van_works_its_own_shift(run) -> None:
    ev = run.events
    starts = ev[ev["kind"] == "shift_start"].set_index("vehicle_id")["time_s"]
    for vid, t in starts.items():
        expected_h = 12.0 if "-late-" in vid else 8.0
        assert t == pytest.approx(expected_h * HOUR_S), vid
    work = ev[ev["kind"].isin(["load_start", "depart", "arrive", "attempted"])]
    late = work[work["vehicle_id"].str.contains("-late-")]
    assert late["time_s"].min() >= 12 * HOUR_S  # no work before the late shift starts
    worked = run.vehicles[run.vehicles["status"] == "worked"]
    assert (worked["shift_h"] == 8.0).all()


def test_both_shifts_deliver_from_both_hubs(run) -> None:
    ev = run.events
    done = ev[ev["kind"] == "delivered"].dropna(subset=["vehicle_id"])
    groups = pd.DataFrame(
        {
            "hub": done["vehicle_id"].str.split("/").str[0],
            "late": done["vehicle_id"].str.contains("-late-"),
        }
    ).value_counts()
    assert set(groups.index) == {
        ("centre", False),
        ("centre", True),
        ("edge", False),
        ("edge", True),
    }
    late_done = done[done["vehicle_id"].str.contains("-late-")]
    assert (late_done["time_s"] % DAY_S > 12 * HOUR_S).all()


def test_each_shift_is_paid_its_own_rate(run) -> None:
    worked = run.vehicles[(run.vehicles["status"] == "worked") & (run.vehicles["overtime_h"] == 0)]
    rate = worked["driver_cost"] / worked["working_h"]
    late = worked["vehicle_id"].str.contains("-late-")
    assert rate[late].to_numpy() == pytest.approx(30.0)
    assert rate[~late].to_numpy() == pytest.approx(20.0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["fleet"][1].update(shift="lat"), "fleet[1].shift 'lat' is not among shifts"),
        (
            lambda d: d["shifts"]["late"].update(shift_end_h=11.0),
            "shifts.late: shift_end_h must be after shift_start_h",
        ),
        (
            lambda d: d["fleet"][3].update(shift="late") or d["fleet"][3].update(hub="centre"),
            "fleet[3] has the hub, type and shift of fleet[1]",
        ),
    ],
)
def test_bad_shifts_are_one_clear_error(change, message, tmp_path: Path) -> None:
    import yaml

    data = _two_hubs_two_shifts(load_network("grid-12x12"))
    change(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_scenario(path)


def test_laredo_two_hubs_works_both_shifts_from_both_hubs() -> None:
    # The shipped scenario, one cold day on a small planning budget: each hub's early
    # and late vans go out, and the late ones only from 12:00.
    data = load_scenario(ROOT / "scenarios" / "laredo_two_hubs.yaml").model_dump()
    data.update(days=1, warmup_days=0)
    data["policy"]["params"] = {**data["policy"]["params"], "iterations": 50}
    scenario = Scenario.model_validate(data)
    result = Simulation(scenario, load_network(scenario.map.ref)).run()
    ev = result.events
    departs = ev[ev["kind"] == "depart"]
    hub_and_shift = set(
        zip(
            departs["vehicle_id"].str.split("/").str[0],
            departs["vehicle_id"].str.contains("-late-"),
            strict=True,
        )
    )
    assert hub_and_shift == {("north", False), ("north", True), ("south", False), ("south", True)}
    late = departs[departs["vehicle_id"].str.contains("-late-")]
    assert (late["time_s"] >= 12 * HOUR_S).all()
    done = ev[(ev["kind"] == "delivered") & ev["vehicle_id"].str.contains("-late-", na=False)]
    assert len(done) > 0


def _waves_per_hub(hub_wave_hours: dict) -> Scenario:
    network = load_network("grid-12x12")
    data = _two_hubs_two_shifts(network)
    data["policy"] = {
        "name": "waves",
        "time_limit_s": 120,
        "params": {"wave_hours": [], "hub_wave_hours": hub_wave_hours, "solution_limit": 20},
    }
    data["vehicle_types"]["van"]["max_trips"] = 2
    return Scenario.model_validate(data)


def test_each_hub_replans_at_its_own_waves() -> None:
    scenario = _waves_per_hub({"centre": [12.0], "edge": [14.0]})
    result = Simulation(scenario, load_network("grid-12x12")).run()
    ev = result.events
    plans = ev[ev["kind"] == "plan"]
    assigned = ev[ev["kind"] == "assigned"]
    hub = assigned["vehicle_id"].str.split("/").str[0]
    at_12 = set(hub[assigned["time_s"] == 12 * HOUR_S])
    at_14 = set(hub[assigned["time_s"] == 14 * HOUR_S])
    assert at_12 == {"centre"}  # only the hub whose wave it is gets new work
    assert at_14 == {"edge"}
    assert plans["time_s"].tolist() == [7 * HOUR_S, 12 * HOUR_S, 14 * HOUR_S]


def test_waves_for_a_hub_the_scenario_lacks_are_one_clear_error() -> None:
    scenario = _waves_per_hub({"centre": [12.0], "nowhere": [14.0]})
    with pytest.raises(ScenarioError, match=r"hub_wave_hours names \['nowhere'\]"):
        Simulation(scenario, load_network("grid-12x12")).run()
