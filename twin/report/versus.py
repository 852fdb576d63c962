"""The report's answer to a what-if: a variant's KPIs against the base case.

Drawn from the ``vs`` part of a run's summary (:func:`twin.experiment.versus.versus`),
grouped and formatted as the KPI table is (:mod:`twin.kpi_catalog`), rates changing
in percentage points.
"""

from __future__ import annotations

import html
from typing import Any

from twin.kpi_catalog import format_change, format_interval, format_value, grouped

__all__ = ["versus_section"]

_VERDICT_CLASS = {"better": "better", "worse": "worse"}


def versus_section(vs: dict[str, Any] | None) -> str:
    """The section "Change against the base case": the what-if's answer, every KPI
    paired by replication (:func:`twin.experiment.versus.versus`); "" without ``vs``."""
    if not vs:
        return ""
    rows = []
    for group, names in grouped(list(vs["kpis"])):
        rows.append(f'<tr class="group"><th colspan="6">{html.escape(group)}</th></tr>')
        for name in names:
            k = vs["kpis"][name]
            interval = format_interval(name, k["ci"], change=True)
            verdict = html.escape(str(k["verdict"]))
            css = _VERDICT_CLASS.get(str(k["verdict"]), "")
            rows.append(
                f"<tr><td>{html.escape(name)}</td><td>{format_value(name, k['base'])}</td>"
                f"<td>{format_value(name, k['variant'])}</td>"
                f"<td>{format_change(name, k['change'])}</td><td>{interval}</td>"
                f'<td class="text {css}">{verdict}</td></tr>'
            )
    n = vs["replications"]
    pairs = (
        f"{n} paired replications: replication <i>r</i> of both cases draws from the same "
        "random streams, so the change is the variant's effect with little of the noise two "
        "independent runs would carry. Intervals are Student-t on the paired differences; "
        "verdicts test them, Holm-adjusted over the KPIs."
        if n > 1
        else "One replication: the change is one pair's and has no interval; run with "
        "<code>--replications 5</code> or more to tell an effect from noise."
    )
    demand = (
        ""
        if vs["same_demand"]
        else " The variant changes the orders themselves; each pair still shares its random "
        "streams."
    )
    base_warnings = "".join(
        f"<li>{html.escape(w['message'])}</li>" for w in vs.get("base_warnings", [])
    )
    if base_warnings:
        base_warnings = (
            f'<div class="warnings"><b>The base case warns.</b><ul>{base_warnings}</ul></div>'
        )
    return (
        f'<section id="versus"><h2>Change against the base case</h2>'
        f'<p class="note"><b>{html.escape(vs["variant"])}</b> against '
        f"<b>{html.escape(vs['base'])}</b>, same seed, days and overrides. {pairs}{demand} "
        "Rates change in percentage points (pp).</p>"
        f"{base_warnings}"
        '<table id="versus-kpis"><tr><th>KPI</th><th>base</th><th>variant</th><th>change</th>'
        f"<th>95% CI of the change</th><th>verdict</th></tr>{''.join(rows)}</table></section>\n"
    )
