"""The routing benchmark harness on tiny instances whose optimum is known by enumeration."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from twin.bench.instances import read_instance
from twin.bench.routing import problem_for, run
from twin.cli import app

# Depot and four customers; one vehicle of capacity 10 can serve them all.
POINTS = [(0, 0), (3, 4), (6, 0), (3, -4), (10, 1)]


def _solomon(path: Path, points=POINTS, capacity: int = 10, vehicles: int = 2) -> Path:
    rows = []
    for i, (x, y) in enumerate(points):
        demand, due, service = (0, 1000, 0) if i == 0 else (1, 1000, 1)
        rows.append(f"{i:5d} {x:8d} {y:8d} {demand:6d} {0:6d} {due:6d} {service:6d}")
    path.write_text(
        f"{path.stem}\n\nVEHICLE\nNUMBER     CAPACITY\n  {vehicles}         {capacity}\n\n"
        "CUSTOMER\nCUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE TIME\n\n"
        + "\n".join(rows)
        + "\n"
    )
    return path


def _best_tour(points, truncate: bool) -> float:
    def d(a, b) -> float:
        x = math.dist(points[a], points[b])
        return math.floor(10 * x + 1e-9) / 10 if truncate else x

    best = math.inf
    for order in itertools.permutations(range(1, len(points))):
        tour = (0, *order, 0)
        best = min(best, sum(d(a, b) for a, b in itertools.pairwise(tour)))
    return best


def _folder(tmp_path: Path, dimacs: bool = True) -> Path:
    folder = tmp_path / "tiny"
    folder.mkdir()
    _solomon(folder / "T1.txt")
    best = _best_tour(POINTS, truncate=dimacs)
    if dimacs:
        csv = f"instance,vehicles,distance,dimacs_vehicles,dimacs_distance\nT1,1,0,1,{best:.1f}\n"
    else:
        csv = f"instance,vehicles,distance\nT1,1,{best:.4f}\n"
    (folder / "bks.csv").write_text(csv)
    return folder


def test_dimacs_convention_truncates_distances_to_one_decimal(tmp_path: Path) -> None:
    inst = read_instance(_solomon(tmp_path / "T1.txt"))
    p = problem_for(inst, "dimacs")
    assert p.distance_m[0, 4] == pytest.approx(10.0)  # sqrt(101) = 10.0499 -> 10.0
    assert p.distance_m[1, 2] == pytest.approx(5.0)
    exact = problem_for(inst, "hierarchical")
    assert exact.distance_m[0, 4] == pytest.approx(math.sqrt(101))
    assert all(v.fixed_cost > 1000 * exact.distance_m.max() for v in exact.vehicles)
    assert all(j.hard_window and j.drop_penalty is None for j in p.jobs)


@pytest.mark.parametrize("backend", ["ortools", "auto"])
@pytest.mark.parametrize("dimacs", [True, False])
def test_run_reaches_the_enumerated_optimum(tmp_path: Path, backend: str, dimacs: bool) -> None:
    result = run([_folder(tmp_path, dimacs)], backend=backend, time_limit_s=1.0)
    assert result["n_instances"] == 1
    assert result["n_feasible"] == 1
    assert result["convention"] == ("dimacs" if dimacs else "hierarchical")
    (row,) = result["instances"]
    assert row["vehicles"] == 1
    assert row["gap_pct"] == pytest.approx(0.0, abs=1e-3)
    assert result["mean_gap_pct"] == pytest.approx(0.0, abs=1e-3)
    assert result["families"]["tiny"]["at_bks"] == 1


def test_an_impossible_instance_is_reported_not_raised(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    # Four parcels, one vehicle of capacity 2: no feasible solution exists.
    _solomon(folder / "T2.txt", capacity=2, vehicles=1)
    (folder / "bks.csv").write_text("instance,vehicles,distance\nT2,2,30\n")
    result = run([folder], backend="ortools", time_limit_s=1.0)
    assert result["n_feasible"] == 0
    assert "no feasible solution" in result["instances"][0]["error"]


def test_li_lim_pairs_become_pickup_and_delivery_jobs(tmp_path: Path) -> None:
    path = tmp_path / "pd1.txt"
    path.write_text(
        "2\t10\t1\n"
        "0\t0\t0\t0\t0\t1000\t0\t0\t0\n"
        "1\t5\t0\t3\t0\t1000\t1\t0\t2\n"
        "2\t5\t5\t-3\t0\t1000\t1\t1\t0\n"
    )
    p = problem_for(read_instance(path), "hierarchical")
    assert p.pairs == ((0, 1),)
    assert p.jobs[0].pickup == (3.0,)
    assert p.jobs[1].demand == (3.0,)


def test_cli_prints_one_json_object_and_writes_csv(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    csv = tmp_path / "rows.csv"
    args = ["bench", "routing", "--instances", str(folder), "--backend", "ortools"]
    res = CliRunner().invoke(app, [*args, "--time-limit", "1", "--json", "--csv", str(csv)])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert {"mean_gap_pct", "n_instances", "n_feasible", "convention", "instances"} <= set(data)
    assert csv.read_text().startswith("instance,")


def test_cli_names_the_folder_when_it_holds_no_instances(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["bench", "routing", "--instances", str(tmp_path)])
    assert res.exit_code == 2
    assert "no Solomon, Li & Lim or VRPLIB instances" in res.output
    res = CliRunner().invoke(app, ["bench", "routing", "--backend", "gurobi"])
    assert res.exit_code == 2
    assert "--backend" in res.output


def test_tiny_enumeration_is_right() -> None:
    # A check of the test's own oracle: the square's perimeter.
    assert _best_tour([(0, 0), (0, 1), (1, 1), (1, 0)], truncate=False) == pytest.approx(4.0)
    assert np.isfinite(_best_tour(POINTS, truncate=True))


@pytest.mark.shared
@pytest.mark.parametrize(
    ("family", "name", "backend"),
    [
        ("solomon", "C101", "ortools"),
        ("solomon", "RC201", "auto"),
        ("li_lim", "lc101", "ortools"),
        ("li_lim", "lrc102", "auto"),
    ],
)
def test_shared_instances_solve_feasibly(family: str, name: str, backend: str) -> None:
    from twin.maps import shared_dir

    shared = shared_dir()
    if shared is None or not (shared / "benchmarks" / family).is_dir():
        pytest.skip("../shared/benchmarks is not beside the repository")
    result = run(
        [shared / "benchmarks" / family], backend=backend, time_limit_s=2.0, name_filter=name
    )
    (row,) = result["instances"]
    assert row["feasible"], row.get("error")
    assert row["gap_pct"] > -1e-6 or row["vehicles_delta"] > 0  # never better than the BKS
