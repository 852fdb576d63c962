"""twin in a notebook: :func:`simulate` a scenario and read the result as tables.

``twin run`` is for the command line and writes files; this is the same run
(:func:`twin.experiment.run_replications`, the same KPIs and warnings) kept in
memory, for analysts who want DataFrames and figures::

    import twin
    run = twin.simulate("scenarios/small_grid.yaml", replications=5)
    run.kpis                        # one row per KPI: mean, interval, unit, group
    run.orders, run.vehicles, run.events   # measured days, every replication
    run.plot_routes()
    more = twin.simulate("scenarios/small_grid.yaml", variant="three_vans", replications=5)
    more.versus(run)                # paired change of every KPI

The tables are those every KPI is computed on (the warm-up days left out),
with a ``replication`` column; :meth:`Run.result` gives one replication's
whole :class:`~twin.sim.SimResult`, warm-up included.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from twin.experiment.runs import ReplicationSet, run_replications
from twin.experiment.versus import versus as paired_change
from twin.kpi_catalog import display, grouped
from twin.maps import RoadNetwork, load_network
from twin.scenario import Scenario, load_scenario
from twin.scenario.edit import with_overrides

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from twin.sim import SimResult

__all__ = ["Run", "simulate"]


def simulate(
    scenario: str | Path | Scenario,
    *,
    variant: str | None = None,
    days: int | None = None,
    warmup_days: int | None = None,
    replications: int = 1,
    seed: int | None = None,
    map_ref: str | None = None,
    network: RoadNetwork | None = None,
) -> Run:
    """Simulate a scenario (a YAML file or a :class:`~twin.scenario.Scenario`).

    The overrides are ``twin run``'s (``--days``, ``--warmup``, ``--seed``,
    ``--map``, ``--variant``); ``network`` reuses a map already loaded (several
    runs on one map load it once).
    """
    if isinstance(scenario, Scenario):
        loaded = scenario.variant(variant) if variant else scenario
    else:
        loaded = load_scenario(scenario, variant=variant)
    resolved, _ = with_overrides(
        loaded, days=days, warmup_days=warmup_days, seed=seed, map_ref=map_ref
    )
    if network is None:
        network = load_network(resolved.map.ref, network_type=resolved.map.network_type)
    return Run(run_replications(resolved, replications=replications, network=network), network)


@dataclass(frozen=True)
class Run:
    """A simulated scenario: its replications and the map they ran on."""

    replications: ReplicationSet
    network: RoadNetwork

    @property
    def scenario(self) -> Scenario:
        return self.replications.scenario

    @functools.cached_property
    def kpis(self) -> pd.DataFrame:
        """One row per KPI (index), by group as the report shows them: ``mean``,
        ``ci_low``, ``ci_high`` (95 %, None with one replication), ``n``, its ``group``
        and ``unit``. Rates are fractions."""
        summary = self.replications.summary
        order = [name for _, names in grouped(list(summary)) for name in names]
        rows = {
            name: {
                "mean": s["mean"],
                "ci_low": s["ci"][0],
                "ci_high": s["ci"][1],
                "n": s["n"],
                "group": display(name).group,
                "unit": display(name).unit,
            }
            for name, s in ((n, summary[n]) for n in order)
        }
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("kpi")

    @property
    def per_replication(self) -> pd.DataFrame:
        """Every KPI of every replication (one row each)."""
        return pd.DataFrame(self.replications.per_run).rename_axis("replication")

    @property
    def warnings(self) -> list[dict[str, Any]]:
        """The shortcuts the numbers depend on (a solver cap hit, orders left unplanned...)."""
        return self.replications.warnings

    def result(self, replication: int = 0) -> SimResult:
        """One replication's whole result: event log, tables, routes (warm-up included)."""
        return self.replications.results[replication]

    def _measured(self, which: int) -> pd.DataFrame:
        frames = [
            r.measured()[which].assign(replication=k)
            for k, r in enumerate(self.replications.results)
        ]
        return pd.concat(frames, ignore_index=True)

    @functools.cached_property
    def orders(self) -> pd.DataFrame:
        """The orders of the measured days (due on them or later), every replication."""
        return self._measured(0)

    @functools.cached_property
    def vehicles(self) -> pd.DataFrame:
        """One row per vehicle and measured day, every replication."""
        return self._measured(1)

    @functools.cached_property
    def events(self) -> pd.DataFrame:
        """The event log of the measured days, every replication."""
        return self._measured(2)

    def versus(self, base: Run) -> pd.DataFrame:
        """Every KPI's change from ``base``, paired by replication (run both with the
        same seed and replications): ``base``, ``variant``, ``change``, ``ci_low``,
        ``ci_high``, ``p_holm`` and ``verdict``, one row per KPI."""
        data = paired_change(base.replications, self.replications)
        rows = {
            name: {
                "base": k["base"],
                "variant": k["variant"],
                "change": k["change"],
                "ci_low": None if k["ci"] is None else k["ci"][0],
                "ci_high": None if k["ci"] is None else k["ci"][1],
                "p_holm": k["p_holm"],
                "verdict": k["verdict"],
            }
            for name, k in data["kpis"].items()
        }
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("kpi")

    def plot_routes(self, *, day: int | None = None, replication: int = 0) -> Axes:
        """The routes of one measured day (default: the first) on the map."""
        from twin.report.plots import plot_routes

        first = self.scenario.warmup if day is None else day
        return plot_routes(self.result(replication), self.network, day=first)

    def plot_timeline(self, *, day: int | None = None, replication: int = 0) -> Axes:
        """What each vehicle did, hour by hour, on one measured day (default: the first)."""
        from twin.report.plots import plot_gantt

        result = self.result(replication)
        first = self.scenario.warmup if day is None else day
        return plot_gantt(result.events, day=first, orders=result.orders)

    def report(self, out_dir: str | Path) -> Path:
        """Write the HTML report (as ``twin run`` does) into ``out_dir``; return its path."""
        from twin.report.html import write_report

        return write_report(self.replications, self.network, Path(out_dir))
