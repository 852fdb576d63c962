"""Charts and the HTML page of a paired policy comparison (``twin compare``).

Two figures: each headline KPI's mean with its 95% confidence interval per
policy, and a forest plot of the paired differences against the baseline with
their intervals. They are charts, not maps, but the numbers come from a road
network, so they carry the map's attribution as a footnote.

Everything here works from the comparison's JSON-ready dictionary
(:meth:`twin.experiment.Comparison.to_dict`), so the same charts can be redrawn
later from a saved ``compare.json``.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twin.metrics import HEADLINE_KPIS, KPI_DIRECTIONS
from twin.report.html import _CSS, _fmt, _png, warnings_banner
from twin.report.plots import _axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from twin.experiment import Comparison
    from twin.maps.network import RoadNetwork

__all__ = ["plot_kpi_means", "plot_paired_differences", "write_comparison"]

_VERDICT_COLOR = {
    "better": "#1e8449",
    "worse": "#c0392b",
    "no significant difference": "#566573",
    "below the practical threshold": "#566573",
    "not enough spread": "#aab7b8",
    "identical": "#aab7b8",
    "n/a": "#aab7b8",
}


def _footnote(ax: Axes, text: str | None, *, offset_pt: float = -30, left: bool = False) -> None:
    """Small text under the axes (map credit, notes), outside the data area."""
    if text:
        ax.annotate(
            text,
            xy=(0.0 if left else 1.0, 0.0),
            xycoords="axes fraction",
            xytext=(0, offset_pt),
            textcoords="offset points",
            ha="left" if left else "right",
            va="top",
            fontsize=7,
            color="#333333",
            wrap=True,
        )


def plot_kpi_means(
    kpis: Mapping[str, Mapping[str, Mapping[str, Any]]],
    kpi: str,
    *,
    ax: Axes | None = None,
    attribution: str | None = None,
) -> Axes:
    """Mean of ``kpi`` per policy with its 95% confidence interval as an error bar.

    Parameters
    ----------
    kpis : mapping
        Per policy label, :func:`twin.metrics.summarize` output (``mean``, ``ci``).
    kpi : str
        Which KPI to draw.
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure is made when omitted.
    attribution : str, optional
        Map credit written under the axes (the numbers come from that map).
    """
    ax = _axes(ax, (5.0, 3.2))
    labels = list(kpis)
    for i, label in enumerate(labels):
        stat = kpis[label].get(kpi, {})
        mean = stat.get("mean")
        if mean is None:
            continue
        low, high = stat.get("ci") or (None, None)
        error = [[mean - low], [high - mean]] if low is not None and high is not None else None
        ax.errorbar(
            i, mean, yerr=error, fmt="o", capsize=5, color="#2e86c1" if i else "#283747", lw=1.5
        )
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=15, ha="right", fontsize=8)
    ax.set_xlim(-0.6, len(labels) - 0.4)
    direction = {1: " (higher is better)", -1: " (lower is better)"}.get(
        KPI_DIRECTIONS.get(kpi, 0), ""
    )
    ax.set_title(f"{kpi}{direction}", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    _footnote(ax, f"Map data: {attribution}" if attribution else None)
    return ax


def _relative(
    stat: Mapping[str, Any], baseline_mean: float | None
) -> tuple[float, float, float] | None:
    """(mean, low, high) of a paired difference in % of the baseline mean, if defined."""
    ci = stat.get("ci")
    mean = stat.get("mean")
    if mean is None or ci is None or baseline_mean is None or baseline_mean == 0:
        return None
    scale = 100.0 / abs(baseline_mean)
    return mean * scale, ci[0] * scale, ci[1] * scale


def plot_paired_differences(
    paired: Mapping[str, Mapping[str, Mapping[str, Any]]],
    baseline_means: Mapping[str, float | None],
    *,
    kpis: Sequence[str] | None = None,
    ax: Axes | None = None,
    attribution: str | None = None,
) -> Axes:
    """Forest plot: each policy's paired difference from the baseline, per KPI, with its CI.

    KPIs have different units, so differences are drawn in % of the baseline's
    mean; a KPI whose baseline mean is 0 (no overtime at all, say) has no such
    scale and is listed as a note instead. Colours give the verdict.

    Parameters
    ----------
    paired : mapping
        Per other policy, per KPI: ``mean``, ``ci`` and ``verdict`` of
        (other - baseline), as in :meth:`twin.experiment.Comparison.paired`.
    baseline_means : mapping
        Baseline mean of each KPI.
    kpis : sequence of str, optional
        KPIs to show (default: every KPI with a better direction).
    ax : matplotlib Axes, optional
    attribution : str, optional
        Map credit written under the axes.
    """
    names = list(kpis) if kpis is not None else [k for k, d in KPI_DIRECTIONS.items() if d]
    policies = list(paired)
    n_rows = len(names) * max(1, len(policies))
    ax = _axes(ax, (8.0, max(3.0, 0.32 * n_rows + 1.2)))
    ticks: list[float] = []
    tick_labels: list[str] = []
    skipped: list[str] = []
    row = 0.0
    for kpi in names:
        for label in policies:
            stat = paired[label].get(kpi)
            rel = _relative(stat or {}, baseline_means.get(kpi))
            if stat is None or rel is None:
                skipped.append(f"{kpi} ({label})" if len(policies) > 1 else kpi)
                continue
            mean, low, high = rel
            color = _VERDICT_COLOR.get(str(stat.get("verdict")), "#aab7b8")
            ax.plot([low, high], [row, row], color=color, lw=2)
            ax.plot(mean, row, "o", color=color, ms=5)
            ticks.append(row)
            tick_labels.append(kpi if len(policies) == 1 else f"{kpi} — {label}")
            row += 1
        if len(policies) > 1:
            row += 0.5  # a gap between KPIs when several policies share a row block
    ax.axvline(0.0, color="#17202a", lw=0.8)
    ax.set_yticks(ticks)
    ax.set_yticklabels(tick_labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("paired difference vs baseline, % of the baseline mean (95% CI)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("Paired differences (green better, red worse, grey no significant difference)")
    if skipped:
        note = "not drawn (baseline mean 0 or no interval): " + ", ".join(skipped)
        _footnote(ax, note, offset_pt=-42, left=True)
    _footnote(ax, f"Map data: {attribution}" if attribution else None)
    return ax


def write_comparison(comparison: Comparison, network: RoadNetwork, out_dir: Path) -> dict[str, Any]:
    """Write ``compare.json``, the two charts (PNG) and ``compare.html`` into ``out_dir``.

    Event logs kept on the runs (``keep_events``) go to ``events/<policy>_r<r>.parquet``.
    Returns the comparison's dictionary with the paths written added.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    data = comparison.to_dict()
    attribution = network.meta.attribution
    data["map"] = {"name": network.meta.name, "attribution": attribution}
    data["out_dir"] = str(out_dir)

    names = [k for k in HEADLINE_KPIS if any(k in s for s in data["kpis"].values())]
    cols = 3
    rows = max(1, math.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, kpi in zip(axes.flat, names, strict=False):
        plot_kpi_means(data["kpis"], kpi, ax=ax)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    fig.suptitle(f"{data['scenario']}: KPI means with 95% CI, {data['replications']} replications")
    fig.tight_layout()
    fig.text(0.995, 0.002, f"Map data: {attribution}", ha="right", va="bottom", fontsize=7)
    means_png = _png(fig, out_dir / "kpi_means.png")

    baseline = data["baseline"]
    baseline_means = {k: s["mean"] for k, s in data["kpis"][baseline].items()}
    forest = plot_paired_differences(data["paired"], baseline_means, attribution=attribution)
    forest_png = _png(forest.figure, out_dir / "paired_differences.png")

    events_dir = out_dir / "events"
    for run in comparison.runs:
        if run.events is not None:
            events_dir.mkdir(exist_ok=True)
            name = f"{_file_safe(run.spec.policy.key)}_r{run.spec.replication}.parquet"
            run.events.to_parquet(events_dir / name, index=False)
            data.setdefault("event_logs", []).append(str(events_dir / name))

    data["files"] = {
        "json": str(out_dir / "compare.json"),
        "html": str(out_dir / "compare.html"),
        "kpi_means": str(out_dir / "kpi_means.png"),
        "paired_differences": str(out_dir / "paired_differences.png"),
    }
    (out_dir / "compare.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    (out_dir / "compare.html").write_text(
        _page(data, means_png=means_png, forest_png=forest_png), encoding="utf-8"
    )
    return data


def _file_safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.=" else "_" for c in text)


def _interval(ci: Sequence[float | None] | None) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return "—"
    return f"[{_fmt(float(ci[0]))}, {_fmt(float(ci[1]))}]"


def _page(data: Mapping[str, Any], *, means_png: str, forest_png: str) -> str:
    """The comparison as one offline HTML page (images inlined)."""
    baseline = data["baseline"]
    others = list(data["paired"])
    head = "".join(
        f'<th colspan="3">{html.escape(o)} − {html.escape(baseline)}</th>' for o in others
    )
    sub = "<th>difference</th><th>95% CI</th><th>verdict</th>" * len(others)
    kpi_names = list(next(iter(data["paired"].values()), data["kpis"][baseline]))
    rows = []
    for kpi in kpi_names:
        cells = []
        for other in others:
            stat = data["paired"][other].get(kpi, {})
            verdict = str(stat.get("verdict", "n/a"))
            color = _VERDICT_COLOR.get(verdict, "#555")
            cells.append(
                f"<td>{_fmt(stat.get('mean'))}</td><td>{_interval(stat.get('ci'))}</td>"
                f'<td style="color:{color}">{html.escape(verdict)}</td>'
            )
        rows.append(f"<tr><td>{html.escape(kpi)}</td>{''.join(cells)}</tr>")
    means_head = "".join(f"<th>{html.escape(p)}</th>" for p in data["kpis"])
    means_rows = "".join(
        f"<tr><td>{html.escape(kpi)}</td>"
        + "".join(
            f"<td>{_fmt(s.get(kpi, {}).get('mean'))} {_interval(s.get(kpi, {}).get('ci'))}</td>"
            for s in data["kpis"].values()
        )
        + "</tr>"
        for kpi in kpi_names
    )
    crn = (
        "Every replication saw identical demand under every policy (common random numbers)."
        if data["demand_identical"]
        else "<b>Warning:</b> demand differed between policies in some replication; "
        "the pairing is not valid."
    )
    title = f"twin compare: {html.escape(data['scenario'])}"
    warnings = warnings_banner(
        [
            {**w, "message": f"{label}: {w['message']}"}
            for label, merged in data.get("warnings", {}).items()
            for w in merged
        ]
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>{_CSS}</style></head><body>
<h1>{title}</h1>
<p class="note">{data["replications"]} paired replication(s) × {data["days"]} day(s), seed
{data["seed"]}; baseline <b>{html.escape(baseline)}</b>. {crn}</p>
{warnings}<h2>Verdicts: other − baseline</h2>
<table id="paired"><tr><th rowspan="2">KPI</th>{head}</tr><tr>{sub}</tr>{"".join(rows)}</table>
<p class="note">Paired Student-t intervals over replications. "better"/"worse": the paired
t-test rejects "no difference" after Holm's correction across all KPIs with a direction (5 %
family-wise), and the difference reaches the KPI's practical threshold; "below the practical
threshold": significant but smaller than that; "not enough spread": every replication differs
by the same amount, which a t-test cannot judge; "n/a": neutral KPI or fewer than two
replications.</p>
<img alt="paired differences" src="data:image/png;base64,{forest_png}">
<h2>KPI means (95% CI)</h2>
<table id="means"><tr><th>KPI</th>{means_head}</tr>{means_rows}</table>
<img alt="KPI means" src="data:image/png;base64,{means_png}">
<p class="note">Map data: {html.escape(data["map"]["attribution"])}. Generated by twin.</p>
</body></html>
"""
