"""Golden text traces: every shipped scenario, one small day, byte for byte.

Each file under ``tests/golden/`` is a readable trace of one shipped scenario
run for one day with a planning budget in work units (a solution count), so no
wall-clock cap can fire and the trace is the same on any machine under any
load. It holds the counts of events by kind, digests of the whole event log and
of the orders and vehicles tables, in full the day's first events, those after
the morning plan and the day of the first vehicle to leave, and the KPIs.

A behaviour-preserving change leaves every trace byte-identical. A change of
behaviour regenerates them in its own commit that says why::

    TWIN_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden.py

On a mismatch the test shows a unified diff of the trace, so the first event
that changed is visible at once.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from twin.maps import load_network
from twin.metrics import kpis
from twin.scenario import Scenario, load_scenario
from twin.sim import Simulation

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).with_name("golden")
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
#: Events written out in full: the day's start, then the morning plan and what
#: follows it. The rest of the log is pinned by its digest.
HEAD_EVENTS = 20
PLAN_EVENTS = 200
VEHICLE_EVENTS = 300
#: The planning budget: improving solutions, not seconds. The time limit is a
#: safety net far above what these small days need, so it never fires.
SOLUTION_LIMIT = 20
#: PyVRP's budget in traces (the baseline plans with 2,000 in use; 200 keeps the
#: suite fast and pins the same engine behaviour).
ITERATIONS = 200
SAFETY_TIME_LIMIT_S = 3600.0


def small_settings(scenario: Scenario) -> Scenario:
    """The scenario at trace settings: one day, no warm-up, a planning budget in work units."""
    data = scenario.model_dump()
    data["days"] = 1
    data["warmup_days"] = 0  # a cold day: the trace pins the engine, not the steady state
    policy = data["policy"]
    policy["time_limit_s"] = SAFETY_TIME_LIMIT_S
    budget = {"solution_limit": SOLUTION_LIMIT}
    if policy["params"].get("backend") == "pyvrp":
        budget = {"iterations": ITERATIONS}
    policy["params"] = {**policy["params"], **budget}
    return Scenario.model_validate(data)


def _budget(scenario: Scenario) -> str:
    """The planning budget the trace ran on, as the header states it."""
    params = scenario.policy.params
    if params.get("backend") == "pyvrp":
        return f"iterations={params['iterations']}"
    return f"solution_limit={params['solution_limit']}"


def _number(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _table_digest(frame: pd.DataFrame) -> str:
    text = frame.to_csv(index=False, float_format="%.6f")
    return hashlib.sha256(text.encode()).hexdigest()


_HEADER = "time_s day kind order vehicle node details"


def _rows(events: pd.DataFrame) -> list[str]:
    rows = []
    for row in events.itertuples(index=False):
        node = None if pd.isna(row.node) else int(row.node)
        fields = (row.time_s, row.day, row.kind, row.order_id, row.vehicle_id, node, row.details)
        rows.append(" ".join(_number(None if pd.isna(f) else f) for f in fields).rstrip(" -"))
    return rows


def trace_text(path: Path) -> str:
    """The golden trace of the shipped scenario at ``path`` (see module docstring)."""
    scenario = small_settings(load_scenario(path))
    network = load_network(scenario.map.ref, network_type=scenario.map.network_type)
    result = Simulation(scenario, network).run()
    events = result.events
    lines = [
        f"# golden trace of scenarios/{path.name}",
        f"# days=1 seed={scenario.seed} policy={scenario.policy.name} "
        f"{_budget(scenario)} map={scenario.map.ref}",
        f"events: {len(events)}",
        f"events digest: {result.log.digest()}",
        f"orders table digest: {_table_digest(result.orders)}",
        f"vehicles table digest: {_table_digest(result.vehicles)}",
        "",
        "## events by kind",
    ]
    for kind, n in sorted(Counter(events["kind"].astype(str)).items()):
        lines.append(f"{kind:<20} {n}")
    plans = events.index[events["kind"] == "plan"]
    first_plan = int(plans[0]) if len(plans) else len(events)
    lines += ["", f"## first {HEAD_EVENTS} events", _HEADER, *_rows(events.head(HEAD_EVENTS))]
    lines += [
        "",
        f"## {PLAN_EVENTS} events from the first plan (event {first_plan})",
        _HEADER,
        *_rows(events.iloc[first_plan : first_plan + PLAN_EVENTS]),
    ]
    departs = events[events["kind"] == "depart"]
    if len(departs):
        vehicle = str(departs["vehicle_id"].iloc[0])
        own = events[events["vehicle_id"] == vehicle].head(VEHICLE_EVENTS)
        lines += ["", f"## the day of {vehicle}, the first to depart", _HEADER, *_rows(own)]
    values = kpis(result.orders, result.vehicles, events)
    rounded = {k: (None if math.isnan(v) else round(float(v), 9)) for k, v in values.items()}
    lines += ["", "## kpis", json.dumps(rounded, indent=1, sort_keys=True), ""]
    return "\n".join(lines)


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_golden_trace(path: Path) -> None:
    got = trace_text(path)
    golden = GOLDEN / f"{path.stem}.txt"
    if os.environ.get("TWIN_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(got, encoding="utf-8")
    if not golden.is_file():
        pytest.fail(f"{golden} is missing; create it with TWIN_UPDATE_GOLDEN=1 (see module doc)")
    want = golden.read_text(encoding="utf-8")
    if got != want:
        diff = difflib.unified_diff(
            want.splitlines(), got.splitlines(), "golden", "now", n=2, lineterm=""
        )
        pytest.fail(f"{path.name}: trace differs from {golden.name}:\n" + "\n".join(diff))
