"""Matplotlib figures of networks and results (``ax=None`` style, no global state).

Every figure drawn from map data carries the map's attribution: "© OpenStreetMap
contributors" for OSM data, a "synthetic" label for generated maps.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from twin.airspace import Airspace
from twin.constants import DAY_S, HOUR_S
from twin.maps.network import ROAD_CLASSES, RoadNetwork

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "MODE_COLORS",
    "add_attribution",
    "plot_flights",
    "plot_mode_mix_by_hour",
    "plot_network",
]

#: One colour per delivery mode, the same in every chart; other modes get grey.
MODE_COLORS = {
    "van": "#2e86c1",
    "cargo_bike": "#27ae60",
    "autonomous_van": "#8e44ad",
    "robot": "#f39c12",
    "drone": "#d81b60",
    "crowd": "#16a085",
}

_CLASS_STYLE = {
    "motorway": ("#c0392b", 2.2),
    "trunk": ("#d35400", 1.8),
    "primary": ("#e67e22", 1.4),
    "secondary": ("#7f8c8d", 0.9),
    "tertiary": ("#95a5a6", 0.7),
    "residential": ("#bdc3c7", 0.4),
    "other": ("#d5dbdb", 0.3),
}


#: Roads under routes: light enough that a route of any colour reads above them.
_MUTED_ROAD = "#dfe3e6"


def _axes(ax: Axes | None, figsize: tuple[float, float] = (9.0, 9.0)) -> Axes:
    if ax is not None:
        return ax
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    _, new_ax = plt.subplots(figsize=figsize)
    return new_ax


def add_attribution(ax: Axes, network: RoadNetwork) -> None:
    """Write the map's credit line in the lower-right corner of ``ax``."""
    ax.text(
        0.995,
        0.005,
        network.meta.attribution,
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=7,
        color="#333333",
        bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 1.5},
    )


def plot_network(
    network: RoadNetwork,
    *,
    ax: Axes | None = None,
    show_features: bool = True,
    muted: bool = False,
) -> Axes:
    """Draw the road network coloured by road class, with crossings, zones and schools.

    Parameters
    ----------
    network : RoadNetwork
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure is made when omitted.
    show_features : bool, optional
        Draw border crossings, zones, schools and the border line (default True).
    muted : bool, optional
        Every road in pale grey (widths still by class), as a backdrop that routes
        drawn over it stand out from (default False: coloured by class).
    """
    from matplotlib.collections import LineCollection

    ax = _axes(ax)
    lon, lat = network.lon, network.lat
    for code in range(len(ROAD_CLASSES) - 1, -1, -1):
        mask = network.edge_class == code
        if not mask.any():
            continue
        segs = np.stack(
            [
                np.column_stack((lon[network.edge_u[mask]], lat[network.edge_u[mask]])),
                np.column_stack((lon[network.edge_v[mask]], lat[network.edge_v[mask]])),
            ],
            axis=1,
        )
        color, width = _CLASS_STYLE[ROAD_CLASSES[code]]
        if muted:
            color, width = _MUTED_ROAD, 0.5 * width + 0.2
        ax.add_collection(LineCollection(list(segs), colors=color, linewidths=width, zorder=1))
    meta = network.meta
    if show_features:
        _draw_features(ax, network)
    ax.set_xlim(lon.min() - 0.005, lon.max() + 0.005)
    ax.set_ylim(lat.min() - 0.005, lat.max() + 0.005)
    ax.set_aspect(1.0 / np.cos(np.radians(lat.mean())))
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    title = meta.name + (" (synthetic)" if meta.synthetic else "")
    ax.set_title(title)
    add_attribution(ax, network)
    return ax


def _draw_features(ax: Axes, network: RoadNetwork) -> None:
    meta = network.meta
    if meta.border:
        border = np.asarray(meta.border)
        ax.plot(
            border[:, 1],
            border[:, 0],
            color="#2e86c1",
            lw=3,
            alpha=0.6,
            zorder=0,
            label="border (river)",
        )
    for zone in meta.zones:
        ring = np.asarray(zone.ring)
        ax.fill(ring[:, 1], ring[:, 0], color="#a569bd", alpha=0.25, zorder=0, label=zone.name)
    schools = meta.schools
    if schools:
        ax.scatter(
            [s.lon for s in schools],
            [s.lat for s in schools],
            s=10,
            marker="^",
            color="#27ae60",
            zorder=3,
            label="schools",
        )
    if meta.crossings:
        kw: dict[str, Any] = {"s": 60, "marker": "s", "zorder": 4, "edgecolor": "black"}
        ax.scatter(
            [c.lon for c in meta.crossings],
            [c.lat for c in meta.crossings],
            color="#f1c40f",
            label="border crossings",
            **kw,
        )
        # Alternate label sides: neighbouring crossings (e.g. downtown bridges) stay legible.
        for i, c in enumerate(meta.crossings):
            ax.annotate(
                c.name.replace(" International Bridge", ""),
                (c.lon, c.lat),
                fontsize=7,
                xytext=(6, 4) if i % 2 else (-6, -10),
                ha="left" if i % 2 else "right",
                textcoords="offset points",
            )
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=7)


def plot_routes(result: Any, network: RoadNetwork, *, day: int = 0, ax: Axes | None = None) -> Axes:
    """Routes of one day drawn along the roads each vehicle drove, one colour per vehicle.

    The paths are the simulated legs (``path`` of each route), so the map shows the
    roads taken at the times they were driven, not fastest paths computed afresh.
    They are drawn over a muted road network with the map's features (border river,
    crossings, zones such as the airport, schools) and the scenario's no-fly areas.
    """
    import matplotlib.pyplot as plt

    ax = plot_network(network, ax=ax, muted=True)
    for area in result.scenario.airspace.no_fly:  # the scenario's own no-fly areas
        ring = np.asarray(area.points)
        ax.fill(
            ring[:, 1], ring[:, 0], facecolor="none", edgecolor="#8e44ad", hatch="//",
            zorder=0, label=f"no-fly: {area.name}",
        )  # fmt: skip
    routes = [r for r in result.routes if r["day"] == day]
    cmap = plt.get_cmap("tab20")
    for k, route in enumerate(routes):
        path = route["path"]
        if len(path) < 2:  # a drone's day: it flew, the roads show nothing
            continue
        arr = np.asarray(network.path_coords(path))
        ax.plot(arr[:, 1], arr[:, 0], color=cmap(k % 20), lw=1.6, alpha=0.9, zorder=2)
    if routes:
        ax.plot([], [], color=cmap(0), lw=1.6, label="routes (a colour per vehicle)")
    orders = result.orders
    done = orders[orders["final_state"] == "delivered"]
    failed = orders[orders["attempts"] > 0]
    failed = failed[failed["final_state"] != "delivered"]
    ax.scatter(done["lon"], done["lat"], s=4, color="#1e8449", zorder=3, label="delivered")
    ax.scatter(failed["lon"], failed["lat"], s=8, color="#c0392b", zorder=3, label="not delivered")
    for hub, node in result.hubs.items():
        i = network.index(node)[0]
        ax.scatter(
            [network.lon[i]],
            [network.lat[i]],
            s=120,
            marker="*",
            color="black",
            zorder=4,
            label=f"hub {hub}",
        )
    ax.legend(loc="upper right", fontsize=7)
    ax.set_title(
        f"Routes, day {day} — {network.meta.name}"
        + (" (synthetic map)" if network.meta.synthetic else "")
    )
    return ax


def plot_outcomes_by_hour(events: Any, *, ax: Axes | None = None) -> Axes:
    """Deliveries and failed attempts by hour of the day."""
    ax = _axes(ax, (8.0, 3.5))
    hours = np.arange(24)
    for kind, color in (("delivered", "#1e8449"), ("failed", "#c0392b")):
        t = events.loc[events["kind"] == kind, "time_s"].to_numpy()
        counts = np.bincount(((t % DAY_S) // HOUR_S).astype(int), minlength=24)[:24]
        offset = -0.2 if kind == "delivered" else 0.2
        ax.bar(hours + offset, counts, width=0.4, color=color, label=kind)
    ax.set_xlabel("hour of day")
    ax.set_ylabel("orders")
    ax.set_xticks(hours)
    ax.legend()
    ax.set_title("Deliveries and failures by hour (measured days, replication 1)")
    return ax


#: Timeline states and their colours, in drawing order within a layer.
_TIMELINE = {
    "waiting": "#d5dbdb",
    "at stops": "#58d68d",
    "driving": "#2e86c1",
    "loading": "#566573",
    "break": "#f5b041",
}
#: Vehicles shown in a timeline; a city's fleet would be hundreds of unreadable rows.
TIMELINE_ROWS = 60


def timeline_spans(events: Any, orders: Any = None) -> Any:
    """One vehicle-day's states as spans: ``vehicle_id``, ``state``, ``start_s``, ``end_s``.

    Read off the event log: on duty from ``shift_start`` to ``shift_end`` is
    *waiting* unless something else happens; each trip is *at stops* from
    ``depart`` to ``return_to_hub`` (or the shift's end after a breakdown), with its
    legs (each ``arrive`` event's ``drive_s`` before it) *driving*, the wait for a
    window to open (``orders``' ``window_start_s`` after the arrival) *waiting*,
    ``load_start`` to ``depart`` *loading* and ``break_start`` to ``break_end``
    *break*. ``layer`` says what covers what: the day (0) under its trips (1) under
    the rest (2), so that what is drawn on top is what the vehicle was doing. Two-trip
    days show two loadings with the wait at the hub between them.
    """
    import pandas as pd

    ev = events[events["vehicle_id"].notna()].sort_values("time_s", kind="stable")
    opens = (
        {}
        if orders is None
        else dict(zip(orders["order_id"], orders["window_start_s"], strict=True))
    )
    spans: list[tuple[str, str, float, float, int]] = []
    for vid, mine in ev.groupby("vehicle_id", sort=True):
        times = mine["time_s"].to_numpy(dtype=float)
        kinds = mine["kind"].to_numpy()
        pending: dict[str, float] = {}
        end_of_day = float(times[-1])
        for t, kind, oid, details in zip(
            times, kinds, mine["order_id"], mine["details"], strict=True
        ):
            if kind == "shift_start":
                pending["waiting"] = t
            elif kind == "shift_end" and "waiting" in pending:
                spans.append((vid, "waiting", pending.pop("waiting"), t, 0))
            elif kind in ("load_start", "break_start"):
                pending[kind] = t
            elif kind == "depart" and "load_start" in pending:
                spans.append((vid, "loading", pending.pop("load_start"), t, 2))
                pending["trip"] = t
            elif kind == "break_end" and "break_start" in pending:
                spans.append((vid, "break", pending.pop("break_start"), t, 2))
            elif kind == "return_to_hub" and "trip" in pending:
                spans.append((vid, "at stops", pending.pop("trip"), t, 1))
            elif kind == "arrive":
                drive_s = float(json.loads(details).get("drive_s", 0.0)) if details else 0.0
                spans.append((vid, "driving", t - drive_s, t, 2))
                opens_s = opens.get(oid, math.nan) if isinstance(oid, str) else math.nan
                if opens_s > t:
                    spans.append((vid, "waiting", t, float(opens_s), 2))
        if "trip" in pending:  # broken down: out until the day ends
            spans.append((vid, "at stops", pending["trip"], end_of_day, 1))
    frame = pd.DataFrame(spans, columns=["vehicle_id", "state", "start_s", "end_s", "layer"])
    return frame.sort_values(["vehicle_id", "layer", "start_s"]).reset_index(drop=True)


def plot_gantt(events: Any, *, day: int = 0, orders: Any = None, ax: Axes | None = None) -> Axes:
    """Vehicle timeline of one day: each trip's loading, driving, stops, waits and breaks
    (:func:`timeline_spans`), one row per vehicle, the first :data:`TIMELINE_ROWS`."""
    from matplotlib.patches import Patch

    ev = events[events["day"] == day]
    on_duty = ev.loc[ev["kind"] == "shift_start", "vehicle_id"].dropna()
    vehicles = sorted(str(v) for v in on_duty.unique())
    shown = vehicles[:TIMELINE_ROWS]
    spans = timeline_spans(ev[ev["vehicle_id"].isin(shown)], orders)
    ax = _axes(ax, (9.0, max(2.5, 0.28 * len(shown) + 1.2)))
    row = {vid: i for i, vid in enumerate(shown)}
    rank = {state: i for i, state in enumerate(_TIMELINE)}  # a break in a wait is a break
    groups = spans[spans["vehicle_id"].isin(row)].groupby(["layer", "state"])
    for (_, state), mine in sorted(groups, key=lambda g: (g[0][0], rank[g[0][1]])):
        ax.barh(
            mine["vehicle_id"].map(row),
            (mine["end_s"] - mine["start_s"]) / HOUR_S,
            left=(mine["start_s"] % DAY_S) / HOUR_S,
            color=_TIMELINE[str(state)],
            height=0.7,
        )
    ax.set_yticks(range(len(shown)))
    ax.set_yticklabels([v.split("/")[-1] for v in shown], fontsize=6)
    ax.invert_yaxis()
    ax.set_xlabel("hour of day")
    ax.legend(
        handles=[Patch(color=c, label=s) for s, c in _TIMELINE.items()],
        fontsize=7,
        ncol=len(_TIMELINE),
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12 if len(shown) > 10 else -0.25),
    )
    more = (
        f" (first {len(shown)} of {len(vehicles)} vehicles)" if len(vehicles) > len(shown) else ""
    )
    ax.set_title(f"Vehicle timeline, day {day}{more}")
    return ax


def plot_driver_hours(vehicles: Any, *, ax: Axes | None = None) -> Axes:
    """Working hours per driver-day against the planned shift length (days worked)."""
    ax = _axes(ax, (9.0, 3.5))
    if "status" in vehicles:
        vehicles = vehicles[vehicles["status"] == "worked"]
    frame = vehicles.sort_values(["day", "vehicle_id"])
    x = np.arange(len(frame))
    ax.bar(x, frame["working_h"] - frame["overtime_h"], color="#2e86c1", label="within shift")
    ax.bar(
        x,
        frame["overtime_h"],
        bottom=frame["working_h"] - frame["overtime_h"],
        color="#c0392b",
        label="overtime",
    )
    if len(frame):
        ax.axhline(float(frame["shift_h"].iloc[0]), color="black", ls="--", lw=1, label="shift")
    ax.set_xlabel("driver-day")
    ax.set_ylabel("hours")
    ax.legend(fontsize=7)
    ax.set_title("Driver hours vs shift (replication 1)")
    return ax


def plot_flights(
    events: Any, network: RoadNetwork, *, day: int = 0, ax: Axes | None = None
) -> Axes:
    """Drone flights of one day over the road network, with the airspace they avoided.

    Each ``flight`` event is one leg; its ``details`` hold the waypoints actually
    flown, so a leg bent around a no-fly zone is drawn bent (a straight line from
    launch to drop would hide exactly what the airspace rules cost). No-fly zones
    come from :meth:`twin.airspace.Airspace.from_map`, the rules the engine flies by.

    Parameters
    ----------
    events : pandas.DataFrame
        Event log of one run; ``flight`` and ``launch`` events of ``day`` are drawn.
    network : RoadNetwork
    day : int, optional
        Day to draw (default 0).
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure is made when omitted.

    Returns
    -------
    matplotlib Axes
        One line per flight leg, each with gid ``"flight"``.
    """
    ax = plot_network(network, ax=ax, show_features=False)
    for zone in Airspace.from_map(network.meta).zones:
        pts = np.asarray(zone.points)
        if zone.barrier:
            ax.plot(
                pts[:, 1], pts[:, 0], color="#2e86c1", lw=3, alpha=0.6, zorder=1, label=zone.name
            )
            continue
        ax.fill(pts[:, 1], pts[:, 0], color="#e74c3c", alpha=0.25, zorder=1, label="no-fly zone")
        ax.annotate(
            zone.name,
            (float(pts[:, 1].mean()), float(pts[:, 0].mean())),
            fontsize=7,
            ha="center",
            color="#922b21",
        )
    ev = events[events["day"] == day]
    flights = ev[ev["kind"] == "flight"]
    for k, details in enumerate(flights["details"]):
        path = np.asarray(json.loads(details)["path"], dtype=float)
        ax.plot(
            path[:, 1],
            path[:, 0],
            color=MODE_COLORS["drone"],
            lw=1.6,
            alpha=0.9,
            zorder=3,
            gid="flight",
            label="drone flight" if k == 0 else "_nolegend_",
        )
    launches = ev[ev["kind"] == "launch"]
    if len(launches):
        ax.scatter(
            launches["lon"],
            launches["lat"],
            s=25,
            marker="^",
            color="black",
            zorder=4,
            label="launch",
        )
    # Legend entries once per label: zones and flights repeat theirs.
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    if unique:
        ax.legend(list(unique.values()), list(unique), loc="upper right", fontsize=7)
    ax.set_title(
        f"Drone flights, day {day}: {len(flights)} leg(s) — {network.meta.name}"
        + (" (synthetic map)" if network.meta.synthetic else "")
    )
    return ax


def plot_mode_mix_by_hour(events: Any, vehicles: Any, *, ax: Axes | None = None) -> Axes:
    """Parcels handed over per hour of day, stacked by the mode of the vehicle that did it.

    A hand-over is an order's first ``delivered`` or ``in_locker`` event (see
    :func:`twin.metrics.handovers`), so a locker deposit counts where the parcel
    left the carrier's hands. Its mode is the handing vehicle's ``mode`` in the
    vehicles table ("unknown" for a vehicle not in it). All days are summed.
    """
    from twin.metrics import handovers

    ax = _axes(ax, (8.0, 3.5))
    handed = handovers(events)
    modes = (
        {str(v): str(m) for v, m in zip(vehicles["vehicle_id"], vehicles["mode"], strict=True)}
        if len(vehicles)
        else {}
    )
    mode = handed["vehicle_id"].astype(str).map(modes).fillna("unknown")
    hour = (handed["time_s"].to_numpy(dtype=float) % DAY_S // HOUR_S).astype(int)
    hours = np.arange(24)
    order = [m for m in MODE_COLORS if m in set(mode)] + sorted(set(mode) - set(MODE_COLORS))
    bottom = np.zeros(24)
    for m in order:
        counts = np.bincount(hour[(mode == m).to_numpy()], minlength=24)[:24].astype(float)
        ax.bar(hours, counts, bottom=bottom, color=MODE_COLORS.get(m, "#95a5a6"), label=m)
        bottom += counts
    ax.set_xlabel("hour of day")
    ax.set_ylabel("parcels handed over")
    ax.set_xticks(hours)
    if order:
        ax.legend(fontsize=7)
    ax.set_title("Hand-overs (door or locker) by hour and mode (all days, replication 1)")
    return ax
