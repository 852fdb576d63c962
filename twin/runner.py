"""``twin run``: scenario file in, event logs, tables, KPIs with CIs and a report out.

Kept apart from the CLI so that notebooks and tests can call :func:`run_scenario_cli`
directly and get the same files; the progress bar and the KPI table are the
command line's (:mod:`twin.cli.run`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from twin.experiment import run_replications
from twin.maps import load_network
from twin.scenario import Scenario, dump_scenario, load_scenario
from twin.scenario.edit import with_overrides

__all__ = ["apply_overrides", "run_scenario_cli", "write_outputs"]


def apply_overrides(
    scenario: Scenario,
    *,
    days: int | None = None,
    seed: int | None = None,
    map_ref: str | None = None,
) -> tuple[Scenario, list[str]]:
    """Scenario with command-line overrides applied, and notes on what changed.

    The old name of :func:`twin.scenario.edit.with_overrides`, which it calls.
    """
    return with_overrides(scenario, days=days, seed=seed, map_ref=map_ref)


def write_outputs(result_set: Any, out_dir: Path, *, fmt: str) -> dict[str, Any]:
    """Write event logs, tables and the resolved scenario; return the KPI summary."""
    out_dir.mkdir(parents=True, exist_ok=True)
    dump_scenario(result_set.scenario, out_dir / "scenario.resolved.yaml")
    for r, result in enumerate(result_set.results):
        result.log.save(out_dir / f"events_r{r}.{fmt}", fmt=fmt)
        result.orders.to_parquet(out_dir / f"orders_r{r}.parquet", index=False)
        result.vehicles.to_parquet(out_dir / f"vehicles_r{r}.parquet", index=False)
    summary = {
        "scenario": result_set.scenario.name,
        "replications": len(result_set.results),
        "days": result_set.scenario.days,
        "seed": result_set.scenario.seed,
        "map": result_set.scenario.map.ref,
        "policy": result_set.scenario.policy.name,
        "kpis": result_set.summary,
        "per_replication": result_set.per_run,
        "conservation": result_set.conservation(),
        "event_log_digests": [r.log.digest() for r in result_set.results],
        "out_dir": str(out_dir),
    }
    return summary


#: Opens a progress display for (description, total) and gives the function that
#: advances it by one.
Track = Callable[[str, int], AbstractContextManager[Callable[[], None]]]


@contextmanager
def _no_progress(description: str, total: int) -> Iterator[Callable[[], None]]:
    yield lambda: None


def run_scenario_cli(
    path: Path,
    *,
    days: int | None = None,
    replications: int = 1,
    seed: int | None = None,
    map_ref: str | None = None,
    variant: str | None = None,
    out_dir: Path | None = None,
    report: bool = True,
    say: Callable[[str], Any] | None = None,
    track: Track | None = None,
) -> dict[str, Any]:
    """Everything ``twin run`` does but printing; returns the KPI summary.

    Parameters
    ----------
    say : callable, optional
        Receives the notes and the map line (rich markup); default: silent.
    track : callable, optional
        Progress display for the replications; default: none. The command line
        passes its rich progress bar; notebooks and tests leave both out.
    """
    started = time.perf_counter()
    scenario = load_scenario(path, variant=variant)
    scenario, notes = with_overrides(scenario, days=days, seed=seed, map_ref=map_ref)
    say = say or (lambda *a, **k: None)
    for note in notes:
        say(f"[yellow]note:[/] {note}")
    network = load_network(scenario.map.ref, network_type=scenario.map.network_type)
    say(f"map {network.meta.name}: {network.n_nodes} routable nodes ({network.meta.attribution})")
    out_dir = out_dir or Path(scenario.outputs.dir) / scenario.name.replace("[", "-").rstrip("]")
    with (track or _no_progress)(f"simulating {scenario.name}", replications) as advance:
        result_set = run_replications(
            scenario,
            replications=replications,
            network=network,
            on_progress=lambda r, res: advance(),
        )
    summary = write_outputs(result_set, out_dir, fmt=scenario.outputs.event_log_format)
    if report:
        from twin.report.html import write_report

        summary["report"] = str(write_report(result_set, network, out_dir))
    summary["wall_s"] = round(time.perf_counter() - started, 2)
    (out_dir / "kpis.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary
