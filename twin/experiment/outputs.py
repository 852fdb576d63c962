"""What results look like when written: JSON-ready values, the store's rows, and the
files of a scenario run (``twin run``: event logs, tables, the resolved scenario,
``kpis.json`` and the report).

Kept apart from the code that runs things so that every writer (the CLI, the
reports, the sweep's store) writes the same shapes. :func:`run_scenario_file`
does everything ``twin run`` does but printing, so notebooks and tests get the
same files as the command line.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from twin.experiment.runs import RunOutcome, run_replications
from twin.experiment.versus import BASE, base_of, versus
from twin.fleet import CROWD
from twin.geojson import routes_table, sites_table
from twin.maps import RoadNetwork, load_network
from twin.metrics import KPI_NAMES, cost_breakdown, failures_by_reason
from twin.modes import MODES
from twin.provenance import code_digest
from twin.scenario import dump_scenario, load_scenario
from twin.scenario.edit import with_overrides

__all__ = [
    "clear_earlier_run",
    "default_out_dir",
    "json_safe",
    "run_row",
    "run_scenario_file",
    "write_outputs",
]


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


#: KPI columns of every store row: the KPIs, then each mode's share of deliveries
#: (NaN where the run has no vehicle of that mode), so that all rows have the same
#: columns whatever the fleet.
STORE_KPIS = (*KPI_NAMES, *(f"share_{mode}" for mode in (*MODES, CROWD)))


def run_row(outcome: RunOutcome) -> dict[str, Any]:
    """One run as a row of the result store: its id, its columns (variant,
    factors, ...), the policy, every KPI of :data:`STORE_KPIS` (NaN where a run has
    none, so every row has the same columns), digests and where and how long it ran."""
    spec = outcome.spec
    return {
        "run_id": spec.run_id,
        **spec.columns,
        "policy": spec.policy.name,
        "policy_label": spec.policy.key,
        "params": json.dumps(dict(spec.policy.params), sort_keys=True),
        "replication": spec.replication,
        **{k: float(outcome.kpis.get(k, math.nan)) for k in STORE_KPIS},
        **{k: v for k, v in sorted(outcome.kpis.items()) if k not in STORE_KPIS},
        "event_log_digest": outcome.event_log_digest,
        "demand_digest": outcome.demand_digest,
        "code_digest": outcome.code_digest,
        "wall_s": outcome.wall_s,
        "hostname": outcome.hostname,
        "pid": outcome.pid,
        # The codes of the run's warnings ("" for none): a capped or incomplete plan.
        "warnings": ",".join(w["code"] for w in outcome.warnings),
    }


def _breakdowns(result_set: Any) -> tuple[list[Any], list[Any], list[Any]]:
    """Per replication, over its measured days: failed attempts by reason (records),
    the cost KPI by component (component -> total, per delivery; sums to the KPI) and
    the vehicles used of the fleet by mode (:func:`twin.report.fleet.fleet_use`)."""
    from twin.report.fleet import fleet_use

    failures, costs, use = [], [], []
    for result, k in zip(result_set.results, result_set.per_run, strict=True):
        _, vehicles, events = result.measured()
        failures.append(failures_by_reason(events).to_dict("records"))
        use.append(fleet_use(vehicles).to_dict("index"))
        frame = cost_breakdown(vehicles, k["deliveries_made"])
        costs.append(
            {
                str(name): {"total": float(total), "per_delivery": float(per)}
                for name, total, per in zip(
                    frame.index, frame["total"], frame["per_delivery"], strict=True
                )
            }
        )
    return failures, costs, use


def write_outputs(
    result_set: Any, out_dir: Path, *, fmt: str, network: RoadNetwork
) -> dict[str, Any]:
    """Write event logs, tables, the routes as driven, the sites and the resolved
    scenario; return the KPI summary."""
    out_dir.mkdir(parents=True, exist_ok=True)
    dump_scenario(result_set.scenario, out_dir / "scenario.resolved.yaml")
    for r, result in enumerate(result_set.results):
        result.log.save(out_dir / f"events_r{r}.{fmt}", fmt=fmt)
        result.orders.to_parquet(out_dir / f"orders_r{r}.parquet", index=False)
        result.vehicles.to_parquet(out_dir / f"vehicles_r{r}.parquet", index=False)
        routes = routes_table(result, network, replication=r)
        routes.to_parquet(out_dir / f"routes_r{r}.parquet", index=False)
    sites_table(result_set.results[0], network).to_parquet(out_dir / "sites.parquet", index=False)
    failures, costs, use = _breakdowns(result_set)
    summary = {
        "scenario": result_set.scenario.name,
        "replications": len(result_set.results),
        "days": result_set.scenario.days,
        # Simulated before the measured days and left out of every KPI.
        "warmup_days": result_set.scenario.warmup,
        "seed": result_set.scenario.seed,
        "map": result_set.scenario.map.ref,
        "map_attribution": network.meta.attribution,
        "policy": result_set.scenario.policy.name,
        "kpis": result_set.summary,
        "per_replication": result_set.per_run,
        "conservation": result_set.conservation(),
        "failures_by_reason": failures,
        "cost_breakdown": costs,
        "fleet_use": use,
        "warnings": result_set.warnings,
        "event_log_digests": [r.log.digest() for r in result_set.results],
        # The code that made these numbers (twin's source and the result libraries).
        "code_digest": code_digest(),
        "out_dir": str(out_dir),
    }
    return summary


#: The files a run writes into its output folder (and clears there first).
RUN_OUTPUTS = (
    "events_r*.parquet",
    "events_r*.csv",
    "orders_r*.parquet",
    "vehicles_r*.parquet",
    "routes_r*.parquet",
    "sites.parquet",
    "kpis.json",
    "scenario.resolved.yaml",
    "report.html",
    "day.html",
    "figures/*.png",
)


def default_out_dir(scenario: Any, *, map_ref: str | None = None) -> Path:
    """``<outputs.dir>/<scenario>[-<variant>][-<map>]``: a variant or another map never
    writes into the folder of the scenario as shipped."""
    name = scenario.name.replace("[", "-").rstrip("]")
    if map_ref is not None:
        name += "-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(map_ref).stem)
    return Path(scenario.outputs.dir) / name


def clear_earlier_run(out_dir: Path) -> list[str]:
    """Remove an earlier run's files from ``out_dir`` (only the files a run writes,
    :data:`RUN_OUTPUTS`; anything else stays) so that no stale replication or figure
    sits beside the new results. Returns a note when something was removed."""
    if not out_dir.is_dir():
        return []
    stale = sorted(p for pattern in RUN_OUTPUTS for p in out_dir.glob(pattern) if p.is_file())
    for path in stale:
        path.unlink()
    if not stale:
        return []
    return [f"cleared {len(stale)} file(s) of an earlier run from {out_dir}"]


#: Opens a progress display for (description, total) and gives the function that
#: advances it by one.
Track = Callable[[str, int], AbstractContextManager[Callable[[], None]]]


@contextmanager
def _no_progress(description: str, total: int) -> Iterator[Callable[[], None]]:
    yield lambda: None


def run_scenario_file(
    path: Path,
    *,
    days: int | None = None,
    warmup_days: int | None = None,
    replications: int = 1,
    seed: int | None = None,
    map_ref: str | None = None,
    variant: str | None = None,
    vs: str | None = None,
    out_dir: Path | None = None,
    report: bool = True,
    say: Callable[[str], Any] | None = None,
    track: Track | None = None,
) -> dict[str, Any]:
    """Everything ``twin run`` does but printing; returns the KPI summary.

    Parameters
    ----------
    vs : str, optional
        The case to compare with (:func:`twin.experiment.versus.base_of`): a variant
        is compared with the scenario as written unless ``vs`` names another variant
        or ``"none"``. The base is run with the same overrides and replications,
        and the summary's ``vs`` holds every KPI's paired change.
    say : callable, optional
        Receives the notes and the map line (rich markup); default: silent.
    track : callable, optional
        Progress display for the replications; default: none. The command line
        passes its rich progress bar; notebooks and tests leave both out.
    """
    started = time.perf_counter()
    base_name = base_of(variant, vs)
    overrides: dict[str, Any] = {
        "days": days,
        "warmup_days": warmup_days,
        "seed": seed,
        "map_ref": map_ref,
    }
    loaded = load_scenario(path, variant=variant)
    scenario, notes = with_overrides(loaded, **overrides)
    base = None
    if base_name is not None:  # loaded first: a wrong name fails before any simulation
        base_loaded = load_scenario(path, variant=None if base_name == BASE else base_name)
        base = with_overrides(base_loaded, **overrides)[0]
    other_map = map_ref if map_ref is not None and map_ref != loaded.map.ref else None
    say = say or (lambda *a, **k: None)
    for note in notes:
        say(f"[yellow]note:[/] {note}")
    network = load_network(scenario.map.ref, network_type=scenario.map.network_type)
    say(f"map {network.meta.name}: {network.n_nodes} routable nodes ({network.meta.attribution})")
    out_dir = out_dir or default_out_dir(scenario, map_ref=other_map)
    for note in clear_earlier_run(out_dir):
        say(f"[yellow]note:[/] {note}")

    def simulate(case: Any, net: RoadNetwork, label: str) -> Any:
        with (track or _no_progress)(label, replications) as advance:
            return run_replications(
                case, replications=replications, network=net, on_progress=lambda r, res: advance()
            )

    result_set = simulate(scenario, network, f"simulating {scenario.name}")
    summary = write_outputs(
        result_set, out_dir, fmt=scenario.outputs.event_log_format, network=network
    )
    if base is not None:
        same_map = base.map == scenario.map
        base_network = (
            network if same_map else load_network(base.map.ref, network_type=base.map.network_type)
        )
        base_set = simulate(base, base_network, f"simulating {base.name} (to compare)")
        summary["vs"] = json_safe(versus(base_set, result_set))
    if report:
        from twin.report.html import write_report

        summary["report"] = str(write_report(result_set, network, out_dir, vs=summary.get("vs")))
    summary["wall_s"] = round(time.perf_counter() - started, 2)
    (out_dir / "kpis.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary
