"""Which OR-Tools to pin: one fixed routing problem, solved under the installed version.

OR-Tools 9.13 and later were reported (issue 21) to copy the whole travel
matrix on every move check when the transit is a registered matrix, which is
how :mod:`twin.routing.ortools` registers it. This script measures that on a
problem that does not change between versions: the Laredo baseline's measured
day (after its warm-up), morning plan, as OR-Tools would get it. Run from the
repository root::

    # once: record the problem (any OR-Tools version)
    .venv/bin/python experiments/ortools_versions.py --save /tmp/laredo_day.pkl
    # then under each version to compare (e.g. a second venv with ortools==9.12.4544)
    .venv/bin/python experiments/ortools_versions.py --solve /tmp/laredo_day.pkl

``--solve`` prints the OR-Tools version, wall and CPU seconds of the solve (greedy
descent, 100 improving solutions: the work budget of twin's OR-Tools plans), the
plan's cost and a digest of its routes: equal digests mean identical plans.
It measures and prints; nothing here gates a test.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def save(path: Path) -> None:
    """Record the measured day's morning routing problem of the baseline under OR-Tools."""
    from plan_quality import _Recorder

    from twin.dispatch import build_policy
    from twin.dispatch.planning import _one_profile, _Routing, _vehicle_spec, servable_today
    from twin.maps import load_network
    from twin.scenario import load_scenario
    from twin.scenario.edit import derive
    from twin.sim import Simulation

    base = load_scenario(ROOT / "scenarios" / "laredo_baseline.yaml")
    params = {"backend": "ortools", "window_margin_s": 1800}
    scenario = derive(base, {"policy": {"time_limit_s": 3600, "params": params}})
    network = load_network(scenario.map.ref)
    policy = build_policy(scenario.policy)
    recorder = _Recorder(policy, first_day=scenario.warmup)
    Simulation(scenario, network, policy=recorder).run()
    state = recorder.first_state
    assert state is not None
    vehicles, travel = _one_profile(state, [v for v in state.vehicles if not v.committed])
    specs = {v.id: _vehicle_spec(v, 0, policy) for v in vehicles}
    routing = _Routing(state, travel, policy, specs, False, False)
    problem = routing.problem(vehicles, servable_today(state))
    path.write_bytes(pickle.dumps(problem))
    print(f"saved {len(problem.jobs)} jobs, {len(problem.vehicles)} vehicles to {path}")


def solve(path: Path) -> None:
    """Solve the recorded problem with the installed OR-Tools and print the figures."""
    from importlib.metadata import version

    from twin.routing import solve as solve_problem

    problem = pickle.loads(path.read_bytes())  # written by --save on this machine
    started, cpu = time.perf_counter(), time.process_time()
    solution = solve_problem(problem, backend="ortools", solution_limit=100, time_limit_s=3600.0)
    routes = json.dumps([list(r) for r in solution.routes])
    print(
        json.dumps(
            {
                "ortools": version("ortools"),
                "jobs": len(problem.jobs),
                "wall_s": round(time.perf_counter() - started, 2),
                "cpu_s": round(time.process_time() - cpu, 2),
                "cost": round(solution.cost, 2),
                "dropped": len(solution.dropped),
                "routes_digest": hashlib.sha256(routes.encode()).hexdigest()[:16],
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--save", type=Path, help="record the problem to this file")
    group.add_argument("--solve", type=Path, help="solve the problem recorded in this file")
    args = parser.parse_args()
    if args.save:
        save(args.save)
    else:
        solve(args.solve)


if __name__ == "__main__":
    main()
