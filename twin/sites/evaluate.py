"""Configurations checked by simulation: each becomes a scenario, replicated on common
random numbers, and compared with the existing network by paired differences.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from twin.scenario.edit import derive
from twin.sites.model import Configuration, SiteStudy, round_or_none

if TYPE_CHECKING:
    from twin.scenario import Scenario


def configuration_scenario(study: SiteStudy, config: Configuration) -> Scenario:
    """The scenario with the configuration's sites as hubs and the fleet split among
    them; for lockers, with the configuration's lockers and nothing else changed."""
    base = study.scenario
    name = f"{base.name}[k={config.k}]"
    if study.settings.kind == "locker":  # the chosen lockers; hubs and fleet unchanged
        today = {site.id: site.model_dump(mode="json") for site in base.lockers.sites}
        sites = [
            today[s.id] if s.existing else {"id": s.id, "lat": s.lat, "lon": s.lon}
            for s in config.sites
        ]
        return derive(base, {"sites": None, "lockers": {"sites": sites}}, name=name)
    template = base.hubs[0].model_dump(mode="json")
    hubs = [h.model_dump(mode="json") for h in base.hubs]  # other vehicle types stay there
    for site in config.sites:
        if not site.existing:
            hubs.append({**template, "id": site.id, "lat": site.lat, "lon": site.lon})
    fleet_type = study.fleet_type
    fleet = [e.model_dump(mode="json") for e in base.fleet if e.type != fleet_type]
    fleet += [{"type": fleet_type, "count": n, "hub": sid} for sid, n in config.fleet.items()]
    return derive(base, {"sites": None, "hubs": hubs, "fleet": fleet}, name=name)


# -- evaluation by simulation ---------------------------------------------------------------------
#: KPIs a site study reports for each configuration (the network's own figures first).
STUDY_KPIS = (
    "network_cost_per_day",
    "network_cost_per_delivery",
    "site_cost_per_day",
    "cost_per_delivery",
    "on_time_rate",
    "first_attempt_success_rate",
    "delivered",
    "km_per_delivery",
    "co2_kg_per_delivery",
    "overtime_h",
    "driver_hours_per_day",
    "km_per_day",
    "locker_share",
)


#: KPIs whose paired change against the existing network explains a saving or a loss.
CHANGE_KPIS = ("driver_hours_per_day", "km_per_day", "overtime_h", "on_time_rate")


@dataclass
class Evaluation:
    """Simulated replications of one configuration, in replication order."""

    config: Configuration
    runs: list[dict[str, float]]
    demand_digests: list[str]

    def values(self, kpi: str) -> list[float]:
        return [float(run.get(kpi, math.nan)) for run in self.runs]


def site_cost_per_day(config: Configuration) -> float:
    """Fixed costs per day of the configuration's new sites (existing ones are sunk)."""
    return float(sum(s.fixed_cost_per_day for s in config.sites if not s.existing))


def simulate(
    study: SiteStudy,
    configs: Sequence[Configuration],
    *,
    replications: int,
    workers: int = 1,
    on_run: Any = None,
) -> list[Evaluation]:
    """Simulate each configuration ``replications`` times (the same orders in each
    replication across configurations) and add the network's costs to the KPIs:
    vehicles plus the new sites' fixed costs, per day and per delivery; and the paid
    driver hours and kilometres per day, where the vehicle cost comes from."""
    from twin.experiment import PolicySpec, RunSpec, execute, execute_run

    specs = []
    for config in configs:
        scenario = configuration_scenario(study, config)
        for r in range(replications):
            specs.append(
                RunSpec(
                    run_id=f"k{config.k}-r{r}",
                    scenario=scenario,
                    policy=PolicySpec(scenario.policy.name),
                    replication=r,
                    columns={"k": config.k},
                )
            )
    by_run = {}
    for outcome in execute(specs, execute_run, workers=workers):
        by_run[outcome.spec.run_id] = outcome
        if on_run is not None:
            on_run(outcome)
    days = study.scenario.days
    evaluations = []
    for config in configs:
        runs, digests = [], []
        sites = site_cost_per_day(config)
        for r in range(replications):
            outcome = by_run[f"k{config.k}-r{r}"]
            k = dict(outcome.kpis)
            delivered = k.get("delivered", 0.0)
            vehicles = k.get("cost_per_delivery", math.nan) * delivered / days
            k["site_cost_per_day"] = sites
            k["network_cost_per_day"] = vehicles + sites
            k["network_cost_per_delivery"] = (
                (vehicles + sites) * days / delivered if delivered else math.nan
            )
            # Where the cost goes: paid driver hours (vans on the road) and distance.
            per_hour = k.get("deliveries_per_driver_hour", math.nan)
            k["driver_hours_per_day"] = delivered / per_hour / days if per_hour else math.nan
            k["km_per_day"] = k.get("km_per_delivery", math.nan) * delivered / days
            runs.append(k)
            digests.append(outcome.demand_digest)
        evaluations.append(Evaluation(config, runs, digests))
    return evaluations


def study_result(
    study: SiteStudy,
    configs: Sequence[Configuration],
    evaluations: Sequence[Evaluation],
    *,
    baseline: Configuration | None,
) -> dict[str, Any]:
    """Everything a planner reads, JSON-ready: per k the sites, the model's cost and
    service, the simulated KPIs with 95 % intervals, and the saving against the
    existing network by the model and by the simulation (paired), with a flag where
    the model's figure falls outside the simulation's interval."""
    from twin.stats import paired_difference, summarize

    by_config = {id(e.config): e for e in evaluations}
    base_eval = by_config.get(id(baseline))

    def described(config: Configuration) -> dict[str, Any]:
        row = config.to_dict()
        row["model"]["site_cost_per_day"] = site_cost_per_day(config)
        evaluation = by_config.get(id(config))
        if evaluation is not None:
            summary = summarize(evaluation.runs)
            row["simulated"] = {kpi: summary[kpi] for kpi in STUDY_KPIS if kpi in summary}
        return row

    rows = []
    for config in configs:
        row = described(config)
        evaluation = by_config.get(id(config))
        if (
            baseline is not None
            and base_eval is not None
            and evaluation is not None
            and config.solution.feasible
        ):
            model_saving = baseline.solution.total_cost - config.solution.total_cost
            diff = paired_difference(
                evaluation.values("network_cost_per_day"), base_eval.values("network_cost_per_day")
            )
            inside = diff.ci is not None and diff.ci[0] <= model_saving <= diff.ci[1]
            row["versus_existing"] = {
                "model_saving_per_day": round_or_none(model_saving),
                "simulated_saving_per_day": diff.to_dict(),
                "model_within_simulated_ci": bool(inside),
                "same_orders": evaluation.demand_digests == base_eval.demand_digests,
                # Where the simulated saving comes from: paired changes (this − existing).
                "simulated_change": {
                    kpi: paired_difference(base_eval.values(kpi), evaluation.values(kpi)).to_dict()
                    for kpi in CHANGE_KPIS
                },
            }
        rows.append(row)
    feasible = [c for c in configs if c.solution.feasible]
    best_model = min(feasible, key=lambda c: c.solution.total_cost).k if feasible else None
    simulated = [e for e in evaluations if e.config is not baseline]
    best_sim = (
        min(simulated, key=lambda e: float(np.nanmean(e.values("network_cost_per_day")))).config.k
        if simulated
        else None
    )
    s = study.settings
    return {
        "scenario": study.scenario.name,
        "kind": s.kind,
        "candidates": {
            "source": s.candidates or "generated from the map",
            "sites": [c.to_dict() for c in study.candidates],
        },
        "demand": {
            "sample_days": study.areas.sample_days,
            "areas": study.areas.n,
            "orders_per_day": round(float(study.areas.orders_per_day.sum()), 1),
        },
        "model": {
            "stops_per_trip": round(study.stops_per_trip, 2),
            "depart_h": s.depart_h,
            "service_min": s.service_min,
            "service_share": s.service_share,
        },
        "baseline": None if baseline is None else described(baseline),
        "configurations": rows,
        "best_k": {"model": best_model, "simulated": best_sim},
    }
