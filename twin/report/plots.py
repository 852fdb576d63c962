"""Matplotlib figures of networks and results (``ax=None`` style, no global state).

Every figure drawn from map data carries the map's attribution: "© OpenStreetMap
contributors" for OSM data, a "synthetic" label for generated maps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from twin.maps.network import ROAD_CLASSES, RoadNetwork

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["add_attribution", "plot_network"]

_CLASS_STYLE = {
    "motorway": ("#c0392b", 2.2),
    "trunk": ("#d35400", 1.8),
    "primary": ("#e67e22", 1.4),
    "secondary": ("#7f8c8d", 0.9),
    "tertiary": ("#95a5a6", 0.7),
    "residential": ("#bdc3c7", 0.4),
    "other": ("#d5dbdb", 0.3),
}


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
    network: RoadNetwork, *, ax: Axes | None = None, show_features: bool = True
) -> Axes:
    """Draw the road network coloured by road class, with crossings, zones and schools.

    Parameters
    ----------
    network : RoadNetwork
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure is made when omitted.
    show_features : bool, optional
        Draw border crossings, zones, schools and the border line (default True).
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
