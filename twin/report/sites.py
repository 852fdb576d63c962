"""The network-design report: trade-off chart, catchment maps and a table per configuration.

``twin sites`` writes ``index.html`` (self-contained: images inline), the charts
as PNG files beside it and ``sites.json`` (the same figures the CLI prints).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from twin.report.html import _CSS, _fmt, _png
from twin.report.plots import _axes, add_attribution, plot_network

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from twin.sites.model import Configuration, SiteStudy

__all__ = ["plot_catchments", "plot_tradeoff", "write_sites_report"]


def _stat(row: Mapping[str, Any], kpi: str) -> tuple[float | None, float | None]:
    """Mean and CI half-width of a simulated KPI (None where not simulated)."""
    stat = (row.get("simulated") or {}).get(kpi)
    if not stat or stat.get("mean") is None:
        return None, None
    return stat["mean"], stat.get("half_width")


def plot_tradeoff(result: Mapping[str, Any], *, ax: Axes | None = None) -> Axes:
    """Cost per day against service, per configuration: the model's figures (share of
    demand within the service time) and the simulation's (on-time rate), with 95 %
    intervals. Points on the lower right are better; the labels are the k values."""
    ax = _axes(ax, figsize=(8.0, 5.5))
    rows = ([result["baseline"]] if result.get("baseline") else []) + list(result["configurations"])
    for row in rows:
        label = "existing" if row is result.get("baseline") else f"k={row['k']}"
        model = row["model"]
        if (
            model["total_cost_per_day"] is not None
            and model["share_within_service_time"] is not None
        ):
            x, y = model["total_cost_per_day"], model["share_within_service_time"]
            ax.plot(x, y, "o", color="#2e86c1", zorder=3)
            ax.annotate(label, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
        cost, cost_hw = _stat(row, "network_cost_per_day")
        on_time, on_time_hw = _stat(row, "on_time_rate")
        if cost is not None and on_time is not None:
            ax.errorbar(
                cost,
                on_time,
                xerr=cost_hw or 0.0,
                yerr=on_time_hw or 0.0,
                fmt="s",
                color="#c0392b",
                capsize=3,
                zorder=3,
            )
            ax.annotate(
                label, (cost, on_time), textcoords="offset points", xytext=(5, -10), fontsize=8
            )
    ax.plot([], [], "o", color="#2e86c1", label="model: site cost + stem trips; share within T")
    ax.errorbar([], [], fmt="s", color="#c0392b", label="simulated: network cost; on-time (95% CI)")
    ax.set_xlabel("cost per day ($)")
    ax.set_ylabel("service (share)")
    ax.set_title("Cost against service per configuration")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return ax


def plot_catchments(study: SiteStudy, config: Configuration, *, ax: Axes | None = None) -> Axes:
    """The road network with each delivery point coloured by the site serving it
    (the model's assignment), sites as stars (existing ones as squares)."""
    import matplotlib.pyplot as plt

    network = study.network
    ax = _axes(ax)
    plot_network(network, ax=ax, show_features=True)
    index = {c.id: j for j, c in enumerate(study.candidates)}
    colours = plt.get_cmap("tab10")
    site_of_area = config.solution.assignment
    unit = "parcels/day" if study.settings.kind == "locker" else "orders/day"
    areas = study.areas
    idx = network.index(areas.nodes)
    for n, site in enumerate(config.sites):
        j = index[site.id]
        members = site_of_area[areas.node_area] == j
        colour = colours(n % 10)
        ax.scatter(
            network.lon[idx[members]],
            network.lat[idx[members]],
            s=4 + 30 * areas.node_orders[members] / max(float(areas.node_orders.max()), 1e-9),
            color=colour,
            alpha=0.6,
            linewidths=0,
            zorder=4,
        )
        ax.scatter(
            [site.lon],
            [site.lat],
            marker="s" if site.existing else "*",
            s=120 if site.existing else 260,
            color=colour,
            edgecolors="black",
            linewidths=0.8,
            zorder=6,
            label=f"{site.id} ({config.load.get(site.id, 0):.0f} {unit})",
        )
    served = np.isin(site_of_area[areas.node_area], [index[s.id] for s in config.sites])
    if not served.all():  # lockers: customers left to the doorstep
        ax.scatter(
            network.lon[idx[~served]],
            network.lat[idx[~served]],
            s=3,
            color="#9a9a9a",
            alpha=0.5,
            linewidths=0,
            zorder=3,
            label="doorstep only",
        )
    unused = [c for c in study.candidates if c.id not in {s.id for s in config.sites}]
    if unused:
        ax.scatter(
            [c.lon for c in unused],
            [c.lat for c in unused],
            marker="x",
            s=30,
            color="#555555",
            zorder=5,
            label="candidate not chosen",
        )
    west, south, east, north = _extent(study)
    ax.set_xlim(west, east)
    ax.set_ylim(south, north)
    title = "existing network" if config.k == 0 else f"k = {config.k} new sites"
    ax.set_title(f"{network.meta.name}: catchments, {title}")
    ax.legend(fontsize=7, loc="upper left")
    add_attribution(ax, network)
    return ax


def _extent(study: SiteStudy) -> tuple[float, float, float, float]:
    """The demand and the candidates, with a margin: the map beyond is not the question."""
    network = study.network
    idx = network.index(study.areas.nodes)
    lon = np.concatenate([network.lon[idx], [c.lon for c in study.candidates]])
    lat = np.concatenate([network.lat[idx], [c.lat for c in study.candidates]])
    pad_x, pad_y = 0.08 * np.ptp(lon) + 0.005, 0.08 * np.ptp(lat) + 0.005
    return lon.min() - pad_x, lat.min() - pad_y, lon.max() + pad_x, lat.max() + pad_y


def _interval(stat: Mapping[str, Any] | None, digits: int = 3) -> str:
    if not stat or stat.get("mean") is None:
        return "—"
    mean, hw = stat["mean"], stat.get("half_width")
    text = f"{mean:.{digits}g}" if abs(mean) < 1 else f"{mean:,.1f}"
    return text + (f" ± {hw:.2g}" if hw is not None else "")


def _table(result: Mapping[str, Any]) -> str:
    head = (
        "<tr><th>config</th><th>sites (orders/day, vehicles)</th><th>model $/day</th>"
        "<th>model within T</th><th>sim network $/day</th><th>sim $/delivery</th>"
        "<th>sim on-time</th><th>saving $/day: model</th><th>saving $/day: simulated</th>"
        "<th>agree?</th></tr>"
    )
    rows = ([result["baseline"]] if result.get("baseline") else []) + list(result["configurations"])
    body = []
    for row in rows:
        name = "existing" if row is result.get("baseline") else f"k = {row['k']}"
        sites = ", ".join(
            f"{html.escape(s['id'])} ({s['orders_per_day']:.0f}, {s['vehicles']})"
            for s in row["sites"]
        ) or html.escape(row["status"])
        sim = row.get("simulated") or {}
        versus = row.get("versus_existing") or {}
        saving = versus.get("simulated_saving_per_day") or {}
        ci = saving.get("ci")
        sim_saving = (
            f"{saving['mean']:,.0f} [{ci[0]:,.0f}, {ci[1]:,.0f}]"
            if saving.get("mean") is not None and ci
            else "—"
        )
        agree = (
            "—" if not versus else ("yes" if versus["model_within_simulated_ci"] else "<b>no</b>")
        )
        body.append(
            f"<tr><td>{name}</td><td>{sites}</td>"
            f"<td>{_fmt(row['model']['total_cost_per_day'])}</td>"
            f"<td>{_fmt(row['model']['share_within_service_time'])}</td>"
            f"<td>{_interval(sim.get('network_cost_per_day'))}</td>"
            f"<td>{_interval(sim.get('network_cost_per_delivery'))}</td>"
            f"<td>{_interval(sim.get('on_time_rate'))}</td>"
            f"<td>{_fmt(versus.get('model_saving_per_day'))}</td>"
            f"<td>{sim_saving}</td><td>{agree}</td></tr>"
        )
    return f"<table>{head}{''.join(body)}</table>"


def write_sites_report(
    study: SiteStudy,
    result: Mapping[str, Any],
    configs: Sequence[Configuration],
    baseline: Configuration | None,
    folder: Path,
) -> Path:
    """Write the report into ``folder``; returns the path of ``index.html``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tradeoff = _png(plot_tradeoff(result).figure, folder / "tradeoff.png")
    maps = []
    for config in ([baseline] if baseline else []) + [c for c in configs if c.solution.feasible]:
        name = (
            f"catchments_k{config.k}.png" if config is not baseline else "catchments_existing.png"
        )
        maps.append((config, _png(plot_catchments(study, config).figure, folder / name)))
    (folder / "sites.json").write_text(json.dumps(result, indent=2, default=str))
    model = result["model"]
    best = result["best_k"]
    synthetic = (
        '<p class="synthetic">The map is synthetic (a stylised city): sites and travel '
        "times illustrate the method, they are not survey data.</p>"
        if study.network.meta.synthetic
        else ""
    )
    images = "".join(
        f"<h3>{'Existing network' if c is baseline else f'k = {c.k}'}</h3>"
        f'<img alt="catchments" src="data:image/png;base64,{png}">'
        for c, png in maps
    )
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>Sites: {html.escape(result["scenario"])}</title><style>{_CSS}</style></head><body>
<h1>Network design: {html.escape(result["scenario"])}</h1>{synthetic}
<p>{len(result["candidates"]["sites"])} sites ({html.escape(str(result["candidates"]["source"]))}),
demand from {result["demand"]["sample_days"]} sampled days in {result["demand"]["areas"]} areas,
{result["demand"]["orders_per_day"]:,} orders per day. Model: stem trips at
{model["depart_h"]:g}:00 shared by {model["stops_per_trip"]:g} stops per trip; service
constraint {model["service_share"]:.0%} of demand within {model["service_min"]:g} minutes.
Best k by the model: {best["model"]}; by the simulation (network cost per day):
{best["simulated"]}.</p>
<h2>Configurations</h2>{_table(result)}
<p class="note">Model costs are the new sites' fixed costs plus stem trips; the
simulated network cost is every vehicle's cost plus the new sites' fixed costs, so
the two differ by the local tours and vehicle fixed costs the model leaves out.
Savings compare each configuration with the existing network on the same orders
(paired replications, 95 % interval); "agree?" says whether the model's saving lies
inside the simulated interval.</p>
<h2>Cost against service</h2><img alt="trade-off" src="data:image/png;base64,{tradeoff}">
<h2>Catchments</h2>{images}
<p class="note">Map data {html.escape(study.network.meta.attribution)}.</p>
</body></html>"""
    path = folder / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
