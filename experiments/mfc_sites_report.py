"""Write the MFC site-study tables from ``twin sites experiments/mfc_sites.yaml --json``.

    twin sites experiments/mfc_sites.yaml --workers 2 --json > out/mfc_sites.json
    python experiments/mfc_sites_report.py out/mfc_sites.json > /tmp/tables.md

One table per study (variant): the existing hub and each k, with the model's
figures and the simulated ones (mean and 95 % Student-t half-width over the
replications). Savings and changes against the existing network are paired
(replication r of a configuration against replication r of the existing hub,
same orders): mean and 95 % interval.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _pm(stat: dict[str, Any] | None, digits: int = 0) -> str:
    if not stat or stat.get("mean") is None:
        return "—"
    half = stat.get("half_width")
    text = f"{stat['mean']:,.{digits}f}"
    return text + (f" ± {half:,.{digits}f}" if half is not None else "")


def _interval(diff: dict[str, Any] | None, digits: int = 0) -> str:
    if not diff or diff.get("mean") is None:
        return "—"
    text = f"{diff['mean']:+,.{digits}f}"
    if diff.get("ci"):
        low, high = diff["ci"]
        text += f" [{low:+,.{digits}f}, {high:+,.{digits}f}]"
    return text


def _table(name: str, study: dict[str, Any]) -> list[str]:
    demand = study["demand"]
    model = study["model"]
    lockers = study["kind"] == "locker"
    how = (
        "Model: doorstep cost less the parcels customers would send to each locker"
        if lockers
        else f"Model: stem trips shared by {model['stops_per_trip']} stops, vans leaving at "
        f"{model['depart_h']:g}:00; service constraint {model['service_share']:.0%} of orders "
        f"within {model['service_min']:g} min"
    )
    lines = [
        f"### `{name}`: {demand['orders_per_day']:,.0f} orders/day over {demand['areas']} areas "
        f"({demand['sample_days']} sampled days), candidates: {study['candidates']['source']}",
        "",
        f"{how}. Best k: model {study['best_k']['model']}, "
        f"simulation {study['best_k']['simulated']}.",
        "",
        f"| configuration | sites ({'model parcels/day' if lockers else 'vans'}) | model $/day "
        "| model within T | sim network $/day | sim $/delivery | on-time | driver h/day "
        "| km/day |" + (" locker share |" if lockers else ""),
        "|---|---|---|---|---|---|---|---|---|" + ("---|" if lockers else ""),
    ]
    rows = [("existing", study["baseline"])] + [
        (f"k = {c['k']}", c) for c in study["configurations"]
    ]
    for label, row in rows:
        sim = row.get("simulated") or {}
        if lockers:
            sites = ", ".join(f"{s['id']} ({s['orders_per_day']:.0f})" for s in row["sites"])
        else:
            sites = ", ".join(
                f"{s['id']} ({s['vehicles']})" if not s["existing"] else f"hub ({s['vehicles']})"
                for s in row["sites"]
            )
        lines.append(
            f"| {label} | {sites} | {row['model']['total_cost_per_day']:,.0f} "
            f"| {row['model']['share_within_service_time']:.2f} "
            f"| {_pm(sim.get('network_cost_per_day'))} "
            f"| {_pm(sim.get('network_cost_per_delivery'), 2)} "
            f"| {_pm(sim.get('on_time_rate'), 3)} "
            f"| {_pm(sim.get('driver_hours_per_day'), 1)} | {_pm(sim.get('km_per_day'))} |"
            + (f" {_pm(sim.get('locker_share'), 3)} |" if lockers else "")
        )
    lines += [
        "",
        "Against the existing network (paired, 95 % interval; saving > 0 is cheaper):",
        "",
        "| configuration | model saving $/day | simulated saving $/day | model inside? "
        "| Δ driver h/day | Δ km/day | Δ on-time | same orders |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for config in study["configurations"]:
        versus = config.get("versus_existing")
        if not versus:
            continue
        change = versus["simulated_change"]
        lines.append(
            f"| k = {config['k']} | {versus['model_saving_per_day']:+,.0f} "
            f"| {_interval(versus['simulated_saving_per_day'])} "
            f"| {'yes' if versus['model_within_simulated_ci'] else 'no'} "
            f"| {_interval(change['driver_hours_per_day'], 1)} "
            f"| {_interval(change['km_per_day'])} "
            f"| {_interval(change['on_time_rate'], 3)} "
            f"| {'yes' if versus['same_orders'] else 'NO'} |"
        )
    return [*lines, ""]


def main(path: Path) -> None:
    studies = json.loads(path.read_text())
    lines: list[str] = []
    for name, study in studies.items():
        lines += _table(name, study)
    print("\n".join(lines))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "out/mfc_sites.json"))
