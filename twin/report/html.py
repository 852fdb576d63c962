"""The HTML report: one self-contained, offline file (figures inlined, no CDN).

Sections: the warnings and the orders left open, the change against the base case
(a ``--variant`` run), KPIs by group with units and 95% confidence intervals, the
fleet used and one row per vehicle, the cost breakdown, order conservation, the
route map on the road network (with a link to the animated day,
:mod:`twin.report.day_page`), deliveries and failures by hour, failures by
reason, the vehicle timeline, driver hours against shifts, and the resolved
scenario. A run with
more than one delivery mode, or with drone flights, also gets a "Delivery modes"
section: KPIs per mode (:func:`twin.metrics.kpis_by_mode`), hand-overs by hour
and mode and, with flights, the map of the drones' flight paths; a vans-only run
gets the same report as before the modes existed. Figures are also written as
PNG files next to the report.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from twin.kpi_catalog import display, format_interval, format_value, grouped
from twin.maps.network import RoadNetwork
from twin.metrics import cost_breakdown, failures_by_reason, kpis_by_mode
from twin.provenance import code_digest
from twin.report import plots
from twin.report.day_page import write_day_page
from twin.report.fleet import fleet_use_html, per_vehicle_html
from twin.report.versus import versus_section

__all__ = ["write_report"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;
color:#222;line-height:1.4}h1{margin-bottom:.2rem}table{border-collapse:collapse;margin:1rem 0}
td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}th{background:#f4f6f7}
td:first-child,th:first-child,td.text{text-align:left}#vehicles td{white-space:nowrap}
tr.group th{text-align:left;background:#e8eef3}img{max-width:100%;border:1px solid #eee}
.note{color:#555;font-size:.9rem}pre{background:#f8f9f9;padding:1rem;overflow:auto;font-size:.8rem}
.open{background:#eaf2f8;padding:.5rem 1rem;border-left:4px solid #2e86c1;margin:1rem 0}
.synthetic{background:#fdebd0;padding:.5rem 1rem;border-left:4px solid #e67e22}
.warnings{background:#fadbd8;padding:.5rem 1rem;border-left:4px solid #c0392b}
td.better{color:#1e8449;font-weight:600}td.worse{color:#c0392b;font-weight:600}
"""


def _png(fig: Any, path: Path) -> str:
    fig.savefig(path, dpi=110, bbox_inches="tight")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:.4g}" if isinstance(value, float) else html.escape(str(value))


def _cell(value: Any) -> str:
    """A table cell: counts as integers, rates and costs to 4 digits, undefined as a dash."""
    if isinstance(value, float) and math.isnan(value):
        return "—"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e12:
        return str(int(value))
    return _fmt(value)


def _mode_table(frame: pd.DataFrame, table_id: str) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in ("mode", *frame.columns))
    body = "".join(
        f"<tr><td>{html.escape(str(mode))}</td>"
        + "".join(f"<td>{_cell(float(v))}</td>" for v in row)
        + "</tr>"
        for mode, row in zip(frame.index, frame.to_numpy(), strict=True)
    )
    return f'<table id="{table_id}"><tr>{head}</tr>{body}</table>'


def _modes_section(result_set: Any, network: RoadNetwork, figures: Path) -> str:
    """The "Delivery modes" section, or "" for a single-mode run without flights.

    Only the mixed runs get it, so that a vans-only report is unchanged and
    carries no empty section.
    """
    results = result_set.results
    orders, vehicles, events = results[0].measured()
    modes = {str(m) for r in results if "mode" in r.vehicles for m in r.vehicles["mode"].unique()}
    flights = events[events["kind"] == "flight"]
    if len(modes) <= 1 and not len(flights):
        return ""
    per_mode = kpis_by_mode(orders, vehicles, events)
    parts = [
        "<h2>Delivery modes</h2>",
        '<p class="note">Per mode, replication 1. A delivery is a parcel handed over at the '
        "door or into a locker, credited to the mode of the vehicle that handed it over; "
        "cost includes fixed, distance, driver and operating cost (remote supervision, "
        "couriers' pay) of that mode's vehicles.</p>",
        _mode_table(per_mode, "modes"),
    ]
    if len(results) > 1:
        frames = [per_mode] + [kpis_by_mode(*r.measured()) for r in results[1:]]
        mean = pd.concat(frames).groupby(level="mode", sort=False).mean()
        parts += [
            f'<p class="note">Mean over {len(results)} replications of each replication\'s '
            "value (a rate undefined in a replication is left out of its mean).</p>",
            _mode_table(mean, "modes-mean"),
        ]
    mix = _png(plots.plot_mode_mix_by_hour(events, vehicles).figure, figures / "mode_mix.png")
    parts.append(f'<img alt="hand-overs by hour and mode" src="data:image/png;base64,{mix}">')
    if len(flights):
        day = int(flights["day"].min())
        image = _png(
            plots.plot_flights(events, network, day=day).figure, figures / "drone_flights.png"
        )
        parts += [
            f"<h3>Drone flights, day {day}</h3>",
            f'<img alt="drone flight map" src="data:image/png;base64,{image}">',
        ]
    return "\n".join(parts) + "\n"


def _failures_table(events: pd.DataFrame) -> str:
    """Failed attempts by reason, parcels never tried and stolen safe drops (replication 1)."""
    frame = failures_by_reason(events)
    if not len(frame):
        return '<p class="note">No failed attempt, no parcel left untried.</p>'
    body = "".join(
        f"<tr><td>{html.escape(str(outcome))}</td><td>{html.escape(str(reason))}</td>"
        f"<td>{int(count)}</td><td>{_cell(float(share))}</td></tr>"
        for outcome, reason, count, share in zip(
            frame["outcome"], frame["reason"], frame["count"], frame["per_attempt"], strict=True
        )
    )
    return (
        '<p class="note">Replication 1, measured days. <i>failed</i>: an attempt at the door '
        "that did not hand the parcel over; <i>no_attempt</i>: a parcel taken out and brought "
        "back untried (planned again, outside every attempt KPI); <i>stolen</i>: a safe drop "
        "taken before the customer (still a delivery). Per attempt: count / all attempts.</p>"
        '<table id="failures"><tr><th>outcome</th><th>reason</th><th>count</th>'
        f"<th>per attempt</th></tr>{body}</table>"
    )


def _cost_table(vehicles: pd.DataFrame, deliveries_made: float) -> str:
    """Where the cost per delivery goes, component by component (replication 1)."""
    frame = cost_breakdown(vehicles, deliveries_made)
    body = "".join(
        f"<tr><td>{html.escape(str(name))}</td><td>{_cell(float(r['total']))}</td>"
        f"<td>{_cell(float(r['per_delivery']))}</td></tr>"
        for name, r in frame.iterrows()
    )
    sums = frame.sum()
    body += (
        f"<tr><th>total</th><th>{_cell(float(sums['total']))}</th>"
        f"<th>{_cell(float(sums['per_delivery']))}</th></tr>"
    )
    idle = int((vehicles["status"] != "worked").sum()) if "status" in vehicles else 0
    return (
        '<p class="note">Replication 1, measured days; the per-delivery column sums to '
        f"cost_per_delivery. Fixed cost includes {idle} vehicle-day(s) without work (an "
        "owned vehicle costs its fixed cost, used or not; drivers are paid only on days "
        "they work).</p>"
        '<table id="costs"><tr><th>component</th><th>total</th><th>per delivery</th></tr>'
        f"{body}</table>"
    )


def _kpi_rows(summary: dict[str, Any]) -> str:
    """The KPI table's rows, a heading row per group (service, orders, cost, ...)."""
    rows = []
    for group, names in grouped(list(summary)):
        rows.append(f'<tr class="group"><th colspan="5">{html.escape(group)}</th></tr>')
        for name in names:
            s = summary[name]
            ci = format_interval(name, s["ci"])
            rows.append(
                f"<tr><td>{html.escape(name)}</td><td>{format_value(name, s['mean'])}</td>"
                f'<td>{ci}</td><td class="text">{html.escape(display(name).unit)}</td>'
                f"<td>{s['n']}</td></tr>"
            )
    return "\n".join(rows)


#: Why orders were still open when the run ended (the parts of orders_open_at_horizon).
_OPEN_REASONS = (
    ("open_past_due", "past due with no attempt yet (a backlog)"),
    ("open_awaiting_reattempt", "awaiting a re-attempt"),
    ("open_not_yet_due", "not yet due"),
    ("open_in_locker", "in a locker, not yet collected"),
)


def open_orders_banner(summary: dict[str, Any], replications: int) -> str:
    """Orders the run left open, by why, at the top: they are in no delivery count,
    and those whose window had ended count as missed in ``service_level``."""
    total = (summary.get("orders_open_at_horizon") or {}).get("mean")
    if not total:
        return ""
    parts = [
        f"{format_value(name, summary[name]['mean'])} {label}"
        for name, label in _OPEN_REASONS
        if summary.get(name, {}).get("mean")
    ]
    mean = f" (mean of {replications} replications)" if replications > 1 else ""
    return (
        f'<div class="open" id="open-orders"><b>Orders open when the run ended:</b> '
        f"{format_value('orders_open_at_horizon', total)}{mean}: {', '.join(parts)}. They are "
        "not in <code>delivered</code>; those whose window had ended count as missed in "
        "<code>service_level</code>.</div>\n"
    )


def warnings_banner(warnings: list[dict[str, Any]]) -> str:
    """The run's warnings at the top of the report: the shortcuts its numbers depend on."""
    if not warnings:
        return ""
    # With several replications each message already says which and how many.
    items = "".join(f"<li>{html.escape(w['message'])}</li>" for w in warnings)
    return f'<div class="warnings" id="warnings"><b>Warnings.</b><ul>{items}</ul></div>\n'


def _days(scenario: Any) -> str:
    """The measured days, and the warm-up before them when there is one."""
    measured = f"{scenario.days} measured day(s)"
    if not scenario.warmup:
        return measured
    return f"{measured} after {scenario.warmup} warm-up day(s) (left out of every figure)"


def write_report(
    result_set: Any, network: RoadNetwork, out_dir: Path, *, vs: dict[str, Any] | None = None
) -> Path:
    """Write ``report.html`` (and figure PNGs) for a replication set; return its path.

    ``vs`` (:func:`twin.experiment.versus.versus`) adds the change against the base
    case, right under the warnings: the answer to the what-if."""
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = out_dir / "figures"
    figures.mkdir(exist_ok=True)
    first = result_set.results[0]
    # The report shows the measured days: the warm-up's work is left out, as in the KPIs.
    _, vehicles, events = first.measured()
    summary = result_set.summary
    scenario = result_set.scenario
    day = scenario.warmup
    images = {
        "routes": _png(plots.plot_routes(first, network, day=day).figure, figures / "routes.png"),
        "by_hour": _png(plots.plot_outcomes_by_hour(events).figure, figures / "by_hour.png"),
        "gantt": _png(
            plots.plot_gantt(events, day=day, orders=first.orders).figure, figures / "gantt.png"
        ),
        "hours": _png(plots.plot_driver_hours(vehicles).figure, figures / "driver_hours.png"),
    }
    modes = _modes_section(result_set, network, figures)
    replay = write_day_page(first, network, out_dir, day=day).name
    rows = _kpi_rows(summary)
    conservation = "".join(
        f"<tr><td>replication {r + 1}</td><td>"
        + ", ".join(f"{html.escape(k)}: {v}" for k, v in counts.items())
        + "</td></tr>"
        for r, counts in enumerate(result_set.conservation())
    )
    meta = network.meta
    synthetic = (
        f'<p class="synthetic"><b>Synthetic map.</b> {html.escape(meta.description)}. '
        "Street layout is generated; do not read it as survey data.</p>"
        if meta.synthetic
        else ""
    )
    warnings = warnings_banner(result_set.warnings)
    resolved = yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>twin report: {html.escape(scenario.name)}</title>
<style>{_CSS}</style></head><body>
<h1>{html.escape(scenario.name)}</h1>
<p class="note">{html.escape(scenario.description)}</p>
<p class="note">{len(result_set.results)} replication(s) × {_days(scenario)}, seed
{scenario.seed}, policy <b>{html.escape(scenario.policy.name)}</b>, map
<b>{html.escape(meta.name)}</b> ({network.n_nodes} routable nodes), twin code
{code_digest()}.</p>
{warnings}{open_orders_banner(summary, len(result_set.results))}{synthetic}{versus_section(vs)}
<h2>Key performance indicators</h2>
<table id="kpis"><tr><th>KPI</th><th>mean</th><th>95% confidence interval</th><th>unit</th>
<th>n</th></tr>
{rows}</table>
<p class="note">Intervals are Student-t over replications, on the logit scale for rates and
satisfaction so that they stay inside their range; with one replication none is shown.
Rates are shown as percentages (fractions in <code>kpis.json</code>); the definitions are in
<code>twin.metrics</code>.</p>
<h2>Fleet</h2>
{fleet_use_html(vehicles)}
<p class="note">Replication 1, measured days. Per vehicle: its measured days summed; the
hours split each working day (driving, at stops, loading, waiting for a window, a dock or
the next trip, on break) and sum to the hours worked; cost is fixed + distance + driver +
operating cost.</p>
{per_vehicle_html(vehicles)}
<h2>Cost per delivery by component</h2>
{_cost_table(vehicles, result_set.per_run[0]["deliveries_made"])}
<h2>Order conservation</h2><table><tr><th>run</th><th>final states</th></tr>{conservation}</table>
<h2>Routes</h2>
<p><a id="day-link" href="{replay}">Replay day {day} ▶</a> (an animated map of the day, with
a time slider; it opens offline like this report).</p>
<img alt="route map" src="data:image/png;base64,{images["routes"]}">
<h2>Deliveries and failures by hour</h2>
<img alt="outcomes by hour" src="data:image/png;base64,{images["by_hour"]}">
<h2>Why deliveries failed</h2>
{_failures_table(events)}
<h2>Vehicle timeline</h2><img alt="vehicle timeline" src="data:image/png;base64,{images["gantt"]}">
<h2>Driver hours vs shift</h2>
<img alt="driver hours" src="data:image/png;base64,{images["hours"]}">
{modes}<h2>Resolved scenario</h2><pre>{html.escape(resolved)}</pre>
<p class="note">Map: {html.escape(meta.attribution)} — {html.escape(meta.license)}.
Generated by twin.</p>
</body></html>
"""
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
