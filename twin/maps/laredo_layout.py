"""The facts behind the stylized Laredo map: river, bridges, airport, highways, districts.

Coordinates of the real structures are public facts (see :mod:`twin.maps.laredo`);
the districts are invented street grids placed where the two cities spread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.maps.network import LocalProjection

ORIGIN = (27.55, -99.50)

#: Rio Grande centre line, north-west to south-east, through the four bridges.
RIO_GRANDE = (
    (27.735, -99.800),
    (27.699716, -99.745646),  # Laredo–Colombia Solidarity bridge
    (27.672, -99.690),
    (27.645, -99.615),
    (27.618, -99.566),
    (27.597291, -99.537119),  # World Trade bridge
    (27.575, -99.531),
    (27.550, -99.528),
    (27.525, -99.522),
    (27.507, -99.514),
    (27.4997, -99.5074),  # Gateway to the Americas bridge
    (27.50022, -99.50281),  # Juárez–Lincoln bridge
    (27.4975, -99.4950),
    (27.4900, -99.4830),
    (27.4780, -99.4710),
    (27.4650, -99.4620),
    (27.4450, -99.4550),
    (27.4150, -99.4420),
)

BRIDGES = (
    ("Gateway to the Americas International Bridge", 27.4997, -99.5074, False, "primary", ""),
    ("Juárez–Lincoln International Bridge", 27.50022, -99.50281, False, "trunk", "I 35"),
    ("World Trade International Bridge", 27.597291, -99.537119, True, "trunk", "Loop 20"),
    (
        "Laredo–Colombia Solidarity International Bridge",
        27.699716,
        -99.745646,
        False,
        "primary",
        "",
    ),
)

AIRPORT = ("Laredo International Airport", 27.54389, -99.46167, 2400.0, 3000.0)

HUB_SITE = ("Distribution hub site near I-35 / Loop 20", 27.6000, -99.4900)


@dataclass(frozen=True)
class District:
    name: str
    country: str  # US | MX
    lat: float
    lon: float
    width_m: float
    height_m: float
    spacing_m: float
    kind: str  # downtown | residential | suburban | industrial
    rotation_deg: float = 0.0


DOWNTOWNS = (("Downtown", "US", 27.5085, -99.5030), ("Centro", "MX", 27.4870, -99.5110))
INDUSTRIAL = (
    ("Mines Road", "US", 27.5750, -99.5150),
    ("Parque Industrial", "MX", 27.5550, -99.5650),
)
TILE_M = 2500.0


def tile_districts(rng: np.random.Generator) -> list[District]:
    """Tile both cities with street-grid districts, densest near the old centres.

    Laredo spreads north and east of its downtown, Nuevo Laredo south and west of
    its centro; tiles that fall in the river or the airfield lose those nodes later.
    """
    out = [
        District(name, country, lat, lon, 1800, 1500, 105, "downtown", 0.0)
        for name, country, lat, lon in DOWNTOWNS
    ]
    out += [
        District(name, country, lat, lon, 2400, 3600, 320, "industrial", 12.0)
        for name, country, lat, lon in INDUSTRIAL
    ]
    regions = (
        ("US", (27.470, 27.640), (-99.530, -99.420), DOWNTOWNS[0]),
        ("MX", (27.405, 27.500), (-99.600, -99.455), DOWNTOWNS[1]),
        ("MX", (27.500, 27.585), (-99.600, -99.535), DOWNTOWNS[1]),
    )
    proj = LocalProjection(*ORIGIN)
    for country, (s, n), (w, e), (_, _, clat, clon) in regions:
        (x0, y0), (x1, y1) = proj.xy(np.array([s, n]), np.array([w, e]))
        cxy = proj.xy(np.array([clat]), np.array([clon]))[0]
        for y in np.arange(y0 + TILE_M / 2, y1, TILE_M):
            for x in np.arange(x0 + TILE_M / 2, x1, TILE_M):
                from_centre = float(np.hypot(x - cxy[0], y - cxy[1]))
                kind, spacing = (
                    ("residential", 175.0) if from_centre < 6000 else ("suburban", 240.0)
                )
                lat, lon = proj.latlon(np.array([x]), np.array([y]))
                name = f"{'Colonia' if country == 'MX' else 'Tract'} {len(out) + 1}"
                out.append(
                    District(
                        name,
                        country,
                        float(lat[0]),
                        float(lon[0]),
                        TILE_M,
                        TILE_M,
                        spacing,
                        kind,
                        float(rng.uniform(-10.0, 10.0)),
                    )
                )
    return out


# (name, ref, highway, points (lat, lon), link every n nodes)
HIGHWAYS: tuple[tuple[str, str, str, tuple[tuple[float, float], ...], int], ...] = (
    (
        "Interstate 35",
        "I 35",
        "motorway",
        (
            (27.5036, -99.5028),
            (27.515, -99.5000),
            (27.530, -99.4985),
            (27.550, -99.4975),
            (27.575, -99.4950),
            (27.606, -99.4870),
            (27.630, -99.4770),
            (27.655, -99.4640),
        ),
        3,
    ),
    (
        "Bob Bullock Loop",
        "Loop 20",
        "trunk",
        (
            (27.5990, -99.5335),
            (27.6040, -99.5100),
            (27.6060, -99.4870),
            (27.6000, -99.4600),
            (27.5850, -99.4400),
            (27.5600, -99.4320),
            (27.5350, -99.4320),
            (27.5100, -99.4350),
            (27.4900, -99.4450),
            (27.4760, -99.4560),
        ),
        1,
    ),
    (
        "Saunders Street",
        "US 59",
        "trunk",
        (
            (27.5150, -99.5000),
            (27.5165, -99.4800),
            (27.5200, -99.4550),
            (27.5220, -99.4320),
            (27.5300, -99.4000),
        ),
        1,
    ),
    (
        "Zapata Highway",
        "US 83",
        "primary",
        (
            (27.5040, -99.4950),
            (27.4920, -99.4780),
            (27.4760, -99.4560),
            (27.4500, -99.4400),
            (27.4250, -99.4300),
        ),
        1,
    ),
    (
        "Avenida Guerrero / Carretera a Monterrey",
        "MEX 85",
        "primary",
        (
            (27.4963, -99.5074),
            (27.4800, -99.5090),
            (27.4600, -99.5110),
            (27.4300, -99.5200),
            (27.4000, -99.5300),
        ),
        1,
    ),
    (
        "Autopista Nuevo Laredo–Monterrey",
        "MEX 85D",
        "motorway",
        (
            (27.5950, -99.5420),
            (27.5600, -99.5850),
            (27.5200, -99.5900),
            (27.4700, -99.5650),
            (27.4300, -99.5450),
            (27.4000, -99.5300),
        ),
        2,
    ),
)

SCHOOLS = 40
