"""The history schema: its tables and columns, the validating reader and the writer.

A history is a folder of tables, each a CSV or Parquet file (``docs/reference/history.md``):

- ``orders``: one row per order (where, when placed, the promised window);
- ``stops``: one row per delivery attempt (vehicle, arrival, departure, outcome);
- ``pings`` (optional): GPS positions of vehicles;
- ``breaks`` (optional): drivers' breaks, so that a leg with a break in it is not
  read as slow traffic.

:func:`read_history` checks every cell and the links between tables, and reports
every bad row with its file and line number: nothing is silently dropped. Times
are ISO 8601, local wall-clock time of the operation; a time with an offset is
converted to the history's time zone. The schema lives apart from the export of
a simulated day (:mod:`twin.live.simulated_history`) and the live events of a
history (:mod:`twin.live.history_feed`), which both build on it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from twin.errors import TwinError, time_zone
from twin.live.events import LiveClock

__all__ = [
    "OPTIONS",
    "OUTCOMES",
    "REQUIRED_TABLES",
    "SCHEMA",
    "Column",
    "History",
    "HistoryError",
    "read_history",
    "write_history",
]

OPTIONS = ("home", "safe_drop", "signature", "locker")
OUTCOMES = ("delivered", "failed")
#: Problems listed in an error message; all of them are on ``HistoryError.problems``.
_SHOWN = 25


class HistoryError(TwinError, ValueError):
    """A history folder has missing files or columns, or bad rows.

    ``problems`` lists every problem found, each naming the file, line and column.
    """

    def __init__(self, folder: Path, problems: list[str]) -> None:
        self.problems = problems
        shown = "\n  ".join(problems[:_SHOWN])
        more = f"\n  ... and {len(problems) - _SHOWN} more" if len(problems) > _SHOWN else ""
        super().__init__(
            f"History {folder} has {len(problems)} problem(s); fix them and retry "
            f"(schema: docs/reference/history.md):\n  {shown}{more}"
        )


@dataclass(frozen=True)
class Column:
    """One column of a history table: its kind, whether it is required, its bounds."""

    name: str
    kind: str  # text | float | int | time | choice
    required: bool = True
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    default: Any = None
    doc: str = ""


SCHEMA: dict[str, tuple[Column, ...]] = {
    "orders": (
        Column("order_id", "text", doc="unique id of the order"),
        Column("created_at", "time", doc="when the order was placed"),
        Column("lat", "float", low=-90, high=90, doc="delivery address, degrees"),
        Column("lon", "float", low=-180, high=180, doc="delivery address, degrees"),
        Column("window_start", "time", doc="promised window: start"),
        Column("window_end", "time", doc="promised window: end (after the start)"),
        Column("option", "choice", False, OPTIONS, default="home", doc="delivery option"),
        Column("area", "text", False, default="all", doc="zone name, for fits by area"),
        Column("parcels", "int", False, low=1, high=1000, default=1),
    ),
    "stops": (
        Column("vehicle_id", "text"),
        Column("order_id", "text", doc="an order_id of the orders table"),
        Column("attempt", "int", low=1, high=100, doc="1 for the first attempt"),
        Column("arrived_at", "time", doc="vehicle stopped at the address"),
        Column("departed_at", "time", doc="vehicle left (not before arrived_at)"),
        Column("outcome", "choice", choices=OUTCOMES),
        Column("reason", "text", False, default="", doc="why a failed attempt failed"),
        Column("driver_id", "text", False, default=""),
        Column(
            "trip",
            "int",
            False,
            low=1,
            high=100,
            default=0,
            doc="the vehicle's trip of the day (back to the hub between trips); 0 if not given",
        ),
    ),
    "pings": (
        Column("vehicle_id", "text"),
        Column("time", "time"),
        Column("lat", "float", low=-90, high=90),
        Column("lon", "float", low=-180, high=180),
    ),
    "breaks": (
        Column("vehicle_id", "text"),
        Column("start_at", "time"),
        Column("end_at", "time", doc="not before start_at"),
    ),
}
REQUIRED_TABLES = ("orders", "stops")


@dataclass(frozen=True)
class History:
    """Validated history tables; times are naive local ``datetime64`` columns."""

    orders: pd.DataFrame
    stops: pd.DataFrame
    pings: pd.DataFrame
    breaks: pd.DataFrame

    @property
    def start_date(self) -> dt.date:
        """Day 0: the date of the earliest promised window."""
        return pd.Timestamp(self.orders["window_start"].min()).date()

    def clock(self, timezone: str = "America/Chicago") -> LiveClock:
        return LiveClock(self.start_date, timezone=timezone)

    def seconds(self, times: pd.Series) -> np.ndarray:
        """Seconds since midnight of day 0 (the engine's clock) of a time column."""
        midnight = pd.Timestamp(self.start_date)
        return ((times - midnight) / pd.Timedelta(seconds=1)).to_numpy(dtype=float)


# -- reading ---------------------------------------------------------------------------
def _find(folder: Path, table: str) -> Path | None:
    for suffix in (".csv", ".parquet"):
        path = folder / f"{table}{suffix}"
        if path.exists():
            return path
    return None


def _parse_time(text: str, zone: ZoneInfo) -> dt.datetime | None:
    try:
        t = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return t.astimezone(zone).replace(tzinfo=None) if t.tzinfo else t


def _cells(raw: pd.Series) -> list[str]:
    """Cells as text ('' for missing), whatever the file format stored."""
    out = []
    for v in raw.tolist():
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            out.append("")
        elif isinstance(v, pd.Timestamp | dt.datetime):
            out.append(v.isoformat())
        else:
            out.append(str(v).strip())
    return out


def _parse_column(
    cells: list[str], col: Column, where: Callable[[int], str], zone: ZoneInfo
) -> tuple[list[Any], list[str]]:
    values: list[Any] = []
    problems: list[str] = []
    for i, text in enumerate(cells):
        if text == "":
            if col.required:
                problems.append(f"{where(i)}: {col.name} is empty; give a value")
            values.append(col.default)
            continue
        value: Any = text
        bad = ""
        if col.kind == "time":
            value = _parse_time(text, zone)
            bad = "" if value is not None else "is not an ISO 8601 time (2026-03-02T09:30:00)"
        elif col.kind in ("float", "int"):
            try:
                number = float(text)
            except ValueError:
                number = math.nan
            if not math.isfinite(number) or (col.kind == "int" and number != int(number)):
                bad = f"is not {'an integer' if col.kind == 'int' else 'a number'}"
            elif (col.low is not None and number < col.low) or (
                col.high is not None and number > col.high
            ):
                bad = f"is outside [{col.low:g}, {col.high:g}]"
            value = int(number) if col.kind == "int" and not bad else number
        elif col.kind == "choice" and text not in col.choices:
            bad = f"is not one of {', '.join(col.choices)}"
        if bad:
            problems.append(f"{where(i)}: {col.name} {text!r} {bad}")
            value = col.default
        values.append(value)
    return values, problems


def _read_table(path: Path, table: str, zone: ZoneInfo) -> tuple[pd.DataFrame, list[str]]:
    if path.suffix == ".csv":
        try:
            raw = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
            return pd.DataFrame(), [f"{path.name}: not a readable CSV file ({exc}); fix the file"]

        def where(i: int) -> str:
            return f"{path.name} line {i + 2}"  # line 1 is the header
    else:
        try:
            raw = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several types for a broken file
            return pd.DataFrame(), [f"{path.name}: not a readable Parquet file ({exc})"]

        def where(i: int) -> str:
            return f"{path.name} row {i + 1}"

    problems: list[str] = []
    columns: dict[str, list[Any]] = {}
    for col in SCHEMA[table]:
        if col.name not in raw.columns:
            if col.required:
                problems.append(f"{path.name}: missing column {col.name!r}; add it")
            else:
                columns[col.name] = [col.default] * len(raw)
            continue
        columns[col.name], bad = _parse_column(_cells(raw[col.name]), col, where, zone)
        problems.extend(bad)
    frame = pd.DataFrame(columns)
    frame.attrs["where"] = [where(i) for i in range(len(raw))]
    return frame, problems


def _check_links(tables: dict[str, pd.DataFrame]) -> list[str]:
    """Checks across rows and tables: unique ids, ordered times, known orders."""
    problems: list[str] = []
    orders, stops = tables["orders"], tables["stops"]

    def rows(frame: pd.DataFrame, mask: Iterable[bool]) -> list[str]:
        return [w for w, m in zip(frame.attrs["where"], mask, strict=True) if m]

    if "order_id" in orders:
        for w in rows(orders, orders["order_id"].duplicated(keep="first")):
            problems.append(f"{w}: order_id repeats an earlier row; give each order one row")
    if {"window_start", "window_end"} <= set(orders):
        ws, we = orders["window_start"], orders["window_end"]
        late = [a is not None and b is not None and b <= a for a, b in zip(ws, we, strict=True)]
        for w in rows(orders, late):
            problems.append(f"{w}: window_end is not after window_start; fix the window")
    if {"arrived_at", "departed_at"} <= set(stops):
        a, d = stops["arrived_at"], stops["departed_at"]
        early = [x is not None and y is not None and y < x for x, y in zip(a, d, strict=True)]
        for w in rows(stops, early):
            problems.append(f"{w}: departed_at is before arrived_at; fix the times")
    if "order_id" in stops and "order_id" in orders:
        known = set(orders["order_id"])
        unknown = [o not in known for o in stops["order_id"]]
        for w, oid in zip(rows(stops, unknown), stops["order_id"][unknown], strict=True):
            problems.append(f"{w}: order_id {oid!r} is not in the orders table; add the order")
    if {"order_id", "attempt"} <= set(stops):
        for w in rows(stops, stops.duplicated(["order_id", "attempt"], keep="first")):
            problems.append(f"{w}: this order_id and attempt repeat an earlier row")
    if {"vehicle_id", "arrived_at", "trip"} <= set(stops) and len(stops):
        problems += _trip_order_problems(stops)
    breaks = tables.get("breaks")
    if breaks is not None and len(breaks):
        s, e = breaks["start_at"], breaks["end_at"]
        bad = [x is not None and y is not None and y < x for x, y in zip(s, e, strict=True)]
        for w in rows(breaks, bad):
            problems.append(f"{w}: end_at is before start_at; fix the times")
    return problems


def _trip_order_problems(stops: pd.DataFrame) -> list[str]:
    """A vehicle's trips of a day are numbered in the order it drove them."""
    frame = pd.DataFrame(
        {
            "vehicle_id": stops["vehicle_id"],
            "arrived_at": pd.to_datetime(stops["arrived_at"]),
            "trip": stops["trip"],
            "where": stops.attrs["where"],
        }
    )
    frame = frame[(frame["trip"] > 0) & frame["arrived_at"].notna()]
    frame = frame.sort_values(["vehicle_id", "arrived_at"], kind="stable")
    day = frame["arrived_at"].dt.normalize()
    before = frame.groupby([frame["vehicle_id"], day])["trip"].shift(1)
    back = frame[frame["trip"] < before]
    return [
        f"{w}: trip {t} comes after a stop of trip {int(b)} of the same vehicle and day; "
        "number trips in the order they were driven"
        for w, t, b in zip(back["where"], back["trip"], before[back.index], strict=True)
    ]


def read_history(folder: str | Path, *, timezone: str = "America/Chicago") -> History:
    """Read and validate a history folder.

    Parameters
    ----------
    folder : str or Path
        Holds ``orders`` and ``stops``, and optionally ``pings`` and ``breaks``,
        each as ``.csv`` or ``.parquet``.
    timezone : str, optional
        IANA zone of the operation; times given with an offset are converted to it.

    Raises
    ------
    HistoryError
        Listing every problem, each with its file, line (CSV) or row (Parquet)
        and column. No row is dropped.
    """
    root = Path(folder)
    if not root.is_dir():
        raise HistoryError(root, [f"{root} is not a folder; give the folder of the history"])
    zone = time_zone(timezone)
    tables: dict[str, pd.DataFrame] = {}
    problems: list[str] = []
    for table in SCHEMA:
        path = _find(root, table)
        if path is None:
            if table in REQUIRED_TABLES:
                problems.append(f"{table}.csv (or .parquet) is missing; add it")
            tables[table] = pd.DataFrame(
                {c.name: pd.Series(dtype=object) for c in SCHEMA[table]}
            ).assign()
            tables[table].attrs["where"] = []
            continue
        tables[table], bad = _read_table(path, table, zone)
        problems.extend(bad)
    if not problems:
        problems = _check_links(tables)
    for table in REQUIRED_TABLES:
        if not problems and not len(tables[table]):
            # A header alone would calibrate a scenario of nothing (0 orders a day).
            problems.append(
                f"{table}: the table has a header but no rows; a history needs at least "
                "one day of operation"
            )
    if problems:
        raise HistoryError(root, problems)
    for frame, table in ((tables[t], t) for t in SCHEMA):
        frame.attrs.clear()
        for col in SCHEMA[table]:
            if col.kind == "time":
                frame[col.name] = pd.to_datetime(frame[col.name])
            elif col.kind == "text" or col.kind == "choice":
                frame[col.name] = frame[col.name].astype(str)
    return History(tables["orders"], tables["stops"], tables["pings"], tables["breaks"])


def write_history(history: History, folder: str | Path, *, fmt: str = "csv") -> Path:
    """Write a history folder (``fmt`` ``csv`` or ``parquet``) that :func:`read_history` reads."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    for table in SCHEMA:
        frame: pd.DataFrame = getattr(history, table).copy()
        for col in SCHEMA[table]:
            if col.kind == "time":
                frame[col.name] = pd.to_datetime(frame[col.name]).dt.strftime(
                    "%Y-%m-%dT%H:%M:%S.%f"
                )
            elif col.kind == "int" and col.default == 0 and col.name in frame:
                # 0 stands for "not given": written as an empty cell, read back as 0.
                values = frame[col.name].astype("Int64")
                frame[col.name] = values.where(values > 0)
        if fmt == "csv":
            frame.to_csv(root / f"{table}.csv", index=False)
        else:
            frame.to_parquet(root / f"{table}.parquet", index=False)
    return root
