"""The calibration report: what was fitted, and simulated against historical KPIs.

One offline HTML file (figures inlined) plus the PNGs, ``fit.json`` and
``validation.json`` next to it. The travel figure is computed from the road
network's free-flow times, so it carries the map's attribution.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from twin.experiment import json_safe
from twin.maps.network import ROAD_CLASSES, RoadNetwork
from twin.report.html import _CSS, _fmt, _png
from twin.report.plots import _axes, add_attribution

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_presence", "plot_travel", "plot_validation", "write_calibration_report"]


def plot_presence(fits: dict[str, Any], *, ax: Axes | None = None) -> Axes:
    """Share of attempts that met someone, by hour, with 95 % intervals, and the fit."""
    ax = _axes(ax, (8, 3.5))
    rows = [r for r in fits["presence"]["by_hour"] if r["attempts"]]
    hours = [r["hour"] + 0.5 for r in rows]
    rate = [r["rate"] for r in rows]
    err = [[r["rate"] - r["ci"][0] for r in rows], [r["ci"][1] - r["rate"] for r in rows]]
    ax.errorbar(hours, rate, yerr=err, fmt="o", color="#1f618d", label="history (95 % CI)")
    fitted = fits["presence"]["at_home_by_hour"]
    ax.step(np.arange(25), [*fitted, fitted[-1]], where="post", color="#e67e22", label="calibrated")
    ax.set(xlabel="hour of arrival", ylabel="met someone", ylim=(0, 1), xlim=(0, 24))
    ax.legend(loc="lower right", fontsize=8)
    return ax


def plot_travel(fits: dict[str, Any], network: RoadNetwork, *, ax: Axes | None = None) -> Axes:
    """Calibrated travel-time multipliers by hour for the road classes the legs used."""
    ax = _axes(ax, (8, 3.5))
    travel = fits["travel"]
    shares = travel.get("class_share_of_free_flow", {})
    for c in ROAD_CLASSES:
        if shares.get(c, 0) >= 0.05:
            ax.plot(np.arange(24) + 0.5, travel["hourly"][c], marker=".", label=c)
    ax.set(xlabel="hour", ylabel="x free-flow time", xlim=(0, 24))
    ax.legend(fontsize=8)
    add_attribution(ax, network)
    return ax


def plot_validation(validation: dict[str, Any], *, ax: Axes | None = None) -> Axes:
    """Each KPI's historical value against the simulated band, relative to the mean.

    The thick bar is the 95 % prediction band for one history of the same length
    (what a correct model allows), the thin bar inside it the CI of the simulated
    mean.
    """
    rows = [r for r in validation["kpis"] if r["simulated_mean"]]
    ax = _axes(ax, (8, 0.45 * len(rows) + 1))
    for i, r in enumerate(rows):
        mean = r["simulated_mean"]
        for key, width, alpha in (("band", 6, 0.35), ("ci", 2, 0.9)):
            lo, hi = r.get(key) or (None, None)
            if lo is not None:
                ax.plot([lo / mean, hi / mean], [i, i], color="#1f618d", lw=width, alpha=alpha)
        colour = {True: "#27ae60", False: "#c0392b"}.get(r["inside"], "#777")
        ax.plot(r["historical"] / mean, i, "o", color=colour)
    ax.set_yticks(range(len(rows)), [r["kpi"] for r in rows])
    ax.axvline(1.0, color="#999", lw=0.5)
    ax.set_xlabel(
        "relative to the simulated mean (wide bar: 95 % band for one history; "
        "thin: CI of the mean; dot: history)"
    )
    return ax


def _interval(pair: list[float] | None) -> str:
    lo, hi = pair or (None, None)
    return "—" if lo is None else f"{_fmt(lo)} – {_fmt(hi)}"


def write_calibration_report(
    out_dir: Path,
    *,
    fits: dict[str, Any],
    validation: dict[str, Any] | None,
    network: RoadNetwork,
    source: str,
) -> Path:
    """Write ``report.html``, the figures, ``fit.json`` and ``validation.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "fit.json").write_text(json.dumps(json_safe(fits), indent=2))
    figures = out_dir / "figures"
    figures.mkdir(exist_ok=True)
    presence = _png(plot_presence(fits).figure, figures / "presence.png")
    travel = _png(plot_travel(fits, network).figure, figures / "travel.png")
    service = fits["service"]["scenario"]
    arrivals = fits["arrivals"]
    parts = [
        f"<h1>Calibration</h1><p class='note'>History: {html.escape(source)}; "
        f"{arrivals['days']} day(s), {arrivals['orders_per_day']} orders a day.</p>",
        "<h2>Service time at a stop</h2><table><tr><th>parameter</th><th>fitted</th></tr>",
        *(f"<tr><td>{k}</td><td>{_fmt(v)}</td></tr>" for k, v in service.items()),
        "</table><table><tr><th>option</th><th>outcome</th><th>area</th><th>n</th>"
        "<th>mean s</th><th>CV</th><th>P50 s</th><th>P90 s</th></tr>",
        *(
            f"<tr><td>{g['option']}</td><td>{g['outcome']}</td><td>{html.escape(str(g['area']))}"
            f"</td><td>{g['n']}</td><td>{_fmt(g.get('mean_s'))}</td><td>{_fmt(g.get('cv'))}</td>"
            f"<td>{_fmt(g.get('p50_s'))}</td><td>{_fmt(g.get('p90_s'))}</td></tr>"
            for g in fits["service"]["groups"]
        ),
        "</table><p class='note'>Parking and walking are not told apart by a stop's "
        "duration; their ratio is the base scenario's.</p>",
        f"<h2>Customer presence</h2><img src='data:image/png;base64,{presence}'>",
        "<table><tr><th>area</th><th>attempts</th><th>met someone</th><th>95 % CI</th></tr>",
        *(
            f"<tr><td>{html.escape(str(a['area']))}</td><td>{a['attempts']}</td>"
            f"<td>{_fmt(a['rate'])}</td><td>{_fmt(a['ci'][0])} – {_fmt(a['ci'][1])}</td></tr>"
            for a in fits["presence"]["by_area"]
        ),
        "</table>",
        f"<h2>Travel times</h2><p class='note'>{fits['travel']['legs']} stop-to-stop legs; "
        f"leg noise CV {_fmt(fits['travel'].get('noise_cv'))}.</p>"
        f"<img src='data:image/png;base64,{travel}'>",
        "<h2>Order arrivals</h2><table>",
        *(
            f"<tr><td>{k}</td><td>{html.escape(json.dumps(v))}</td></tr>"
            for k, v in arrivals.items()
            if k != "arrival_weights"
        ),
        "</table>",
    ]
    if validation is not None:
        (out_dir / "validation.json").write_text(json.dumps(json_safe(validation), indent=2))
        chart = _png(plot_validation(validation).figure, figures / "validation.png")
        parts += [
            f"<h2>Validation: simulated ({validation['replications']} replications of "
            f"{validation['days']} day(s)) vs historical</h2>"
            "<p>Each replication is as long as the history, so the <em>band</em> (95 % "
            "prediction interval, mean ± t·sd·√(1 + 1/n)) is where the history's value "
            "should fall if the calibrated model is right. The CI of the simulated mean "
            "narrows as replications grow and is shown for reference only.</p>"
            "<table><tr><th>KPI</th><th>historical</th><th>simulated mean</th>"
            "<th>95 % band</th><th>inside</th><th>z</th><th>95 % CI of mean</th></tr>",
            *(
                f"<tr><td>{r['kpi']}</td><td>{_fmt(r['historical'])}</td>"
                f"<td>{_fmt(r['simulated_mean'])}</td><td>{_interval(r['band'])}</td>"
                f"<td>{ {True: 'yes', False: 'no', None: '—'}[r['inside']] }</td>"
                f"<td>{_fmt(r['z'])}</td><td>{_interval(r['ci'])}</td></tr>"
                for r in validation["kpis"]
            ),
            f"</table><img src='data:image/png;base64,{chart}'>",
        ]
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Calibration</title>"
        f"<style>{_CSS}</style></head><body>{''.join(parts)}"
        "<p class='note'>Road data © OpenStreetMap contributors (ODbL) where the map is "
        "from OpenStreetMap.</p></body></html>"
    )
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
